"""The original LiquiditySweep's defects, and what this implementation does instead.

Invariants (each against the original behaviour, stated in the test):

* **levels relative to the price** (the original used absolute steps: 100 USDT for BTC, 25 for
  ETH, 50 for anything else, so a 0.1-USDT coin had no level within 2 % but 0): the same real
  BTC candles scaled to a 0.09-USDT coin (x 1e-6) and to 0.9 USDT (x 1e-5) give the same
  sweeps, sides and signal times as the original prices, with levels 0.0002 / 0.002 apart; the
  original's 50-USDT step has no level inside the ±2 % band there; on real XRP candles (about
  2 USDT, ``../shared/data``) every round level is a multiple of 0.005;
* **one signal per tick** (the original emitted one signal per qualifying level on the same
  tick): on real candles, ticks where several levels are swept at once exist, and each gives at
  most one signal, for the level nearest to the price; a constructed tick that sweeps a round
  level and a session level at once gives one signal, for the nearer;
* **session levels from completed candles, merged in %** (the original: max/min of the last
  100 ticks, a new one when it moved by more than 1 USDT): checked in ``test_levels.py``; here,
  a sweep signal on a session level always names a level that is the high or low of a session
  completed before the signal;
* **real volume required** (the original accepted a volume spike of 0, i.e. no volume data at
  all): the same real candles with their volume set to 0 give no signal -- every sweep that
  reaches the volume check is counted ``no_volume`` -- whereas with their real volume they
  trade.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hean_liquidity_sweep import LiquiditySweep, round_interval

from hean_framework.context import RunContext
from hean_framework.models import Bar, MarketEvent, Signal
from hean_framework.testing import sample_bars

Make = Callable[..., tuple[LiquiditySweep, RunContext]]
BTC = "BTC/USDT:USDT"
BARS: list[Bar] = list(sample_bars())


def replay(make: Make, bars: Sequence[Bar], config: dict[str, Any] | None = None,
           symbol: str = BTC) -> tuple[LiquiditySweep, list[tuple[int, Signal]]]:
    strat, ctx = make(config, [symbol])
    out = []
    for i, bar in enumerate(bars):
        ctx.now = bar.ts
        sig = strat.on_bar(bar)
        if sig is not None:
            out.append((i, sig))
    return strat, out


def scaled(bars: Sequence[Bar], factor: float) -> list[Bar]:
    return [dataclasses.replace(b, open=b.open * factor, high=b.high * factor,
                                low=b.low * factor, close=b.close * factor) for b in bars]


@pytest.mark.parametrize(("factor", "step"), [(1e-6, 0.0002), (1e-5, 0.002)])
def test_levels_follow_the_price_not_a_dollar_step(make: Make, factor: float,
                                                   step: float) -> None:
    _, base = replay(make, BARS)
    _, small = replay(make, scaled(BARS, factor))
    assert round_interval(0.002 * 90_000 * factor) == step
    assert len(small) == len(base) > 100
    same = sum((i, s.side, s.metadata["level_kind"]) == (j, r.side, r.metadata["level_kind"])
               for (i, s), (j, r) in zip(small, base, strict=True))
    assert same == len(base)
    for (_, s), (_, r) in zip(small, base, strict=True):
        assert s.metadata["level"] == pytest.approx(r.metadata["level"] * factor, rel=1e-9)
        assert s.entry_price == pytest.approx(r.entry_price * factor, rel=1e-12)
    # the original's absolute step for "other" symbols: 50 USDT -> levels 0, 50, 100, ...;
    # none lies within 2 % of a price near 0.09 or 0.9
    for _, s in small:
        p = s.entry_price
        original_levels = [n * 50.0 for n in range(round(p / 50) - 2, round(p / 50) + 3)]
        assert not any(abs(x / p - 1) <= 0.02 for x in original_levels if x > 0)


def test_real_xrp_levels_are_relative(make: Make, shared_data: Path,
                                      read_events: Callable[..., list[MarketEvent]]) -> None:
    sym = "XRP/USDT:USDT"
    events = read_events([{"kind": "bars", "symbol": sym, "path": str(
        shared_data / "ohlcv" / "binance_usdm_perp_XRPUSDT_5m_20250306_20250405.csv.gz")}])
    bars = [e for e in events if isinstance(e, Bar)]
    assert 1.5 < bars[0].close < 3.5
    _, sigs = replay(make, bars, symbol=sym)
    assert len(sigs) > 50
    rounds = [s for _, s in sigs if s.metadata["level_kind"] == "round"]
    assert rounds
    for s in rounds:
        step = round_interval(0.002 * s.entry_price)
        assert step in (0.005, 0.01)
        assert abs(s.metadata["level"] / step - round(s.metadata["level"] / step)) < 1e-6
        assert abs(s.metadata["level"] / s.entry_price - 1) <= 0.02


def test_one_signal_per_tick_on_real_candles(make: Make) -> None:
    strat, ctx = make()
    multi = 0
    for bar in BARS:
        ctx.now = bar.ts
        before = strat.counts["extra_levels_swept"]
        sig = strat.on_bar(bar)
        if strat.counts["extra_levels_swept"] > before:
            multi += 1
            assert sig is None or isinstance(sig, Signal)  # never a list of signals
    assert multi > 100
    assert strat.counts["entries"] <= strat.counts["sweeps"]


def _bar(i: int, high: float, low: float, close: float, volume: float = 100.0) -> Bar:
    return Bar(1_741_000_000_000 + (i + 1) * 300_000, BTC, close, high, low, close, volume,
               300_000)


def test_a_tick_sweeping_three_levels_gives_one_signal_for_the_nearest(make: Make) -> None:
    # 8 h of quiet 5m candles just under 100 (round step at 0.2 %: 0.2), one of them with a
    # high of 100.15 that becomes a session high; then one candle runs through 100.0 (round),
    # 100.15 (session high) and 100.2 (round) and closes back at 99.9 on 4 x the volume
    bars = [_bar(i, 100.15 if i == 5 else 99.8, 99.6, 99.7) for i in range(96)]
    bars.append(_bar(96, 100.5, 99.7, 99.9, volume=400.0))
    strat, sigs = replay(make, bars)
    assert round_interval(0.002 * 99.9) == 0.2
    assert len(sigs) == 1
    (_, sig), = sigs
    assert strat.counts["extra_levels_swept"] == 2  # 100.15 and 100.2: no signal of their own
    assert (sig.side, sig.metadata["level"], sig.metadata["level_kind"]) == \
        ("sell", 100.0, "round")
    assert sig.stop_loss == pytest.approx(100.0 * 1.005)
    # the original sent one sell per swept level: three signals on this tick


def test_session_signals_name_completed_sessions(make: Make) -> None:
    _, sigs = replay(make, BARS, {"use_round_levels": False})
    assert len(sigs) > 50
    length = 4 * 3_600_000
    highs: dict[int, float] = {}
    lows: dict[int, float] = {}
    for b in BARS:
        s = (b.ts - b.interval_ms) // length
        highs[s] = max(highs.get(s, -math.inf), b.high)
        lows[s] = min(lows.get(s, math.inf), b.low)
    for i, sig in sigs:
        now_session = (BARS[i].ts - BARS[i].interval_ms) // length
        book = highs if sig.metadata["level_kind"] == "session_high" else lows
        assert any(book[k] == sig.metadata["level"] for k in book if k < now_session)


def test_no_signal_without_real_volume(make: Make) -> None:
    _, with_volume = replay(make, BARS)
    assert len(with_volume) > 100
    silent = [dataclasses.replace(b, volume=0.0) for b in BARS]
    strat, sigs = replay(make, silent)
    assert sigs == []
    c = strat.counts
    assert c["no_volume"] > 100
    assert c["sweeps"] == c["no_volume"] + c["already_traded"] + c["cooldown"] + \
        c["in_position"] + c["daily_cap"]
    assert c["volume_low"] == 0 and c["entries"] == 0
