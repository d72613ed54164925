"""breakout: the documented rules, checked on the kernel's real BTC/USDT:USDT 5m candles.

Invariants (each against an independent plain-Python computation on the same bars):

* a ``buy`` is emitted exactly on the bars whose close is above the highest high of the
  ``lookback`` bars before them, a ``sell`` exactly where the close is below their lowest low
  (once ``max(lookback + 1, atr_period)`` bars were seen), and never otherwise;
* the stop is ``max(stop_atr * ATR, stop_pct * close)`` from the entry close on the losing
  side, the target ``reward_risk`` times that distance on the winning side, the time stop
  ``max_hold_bars`` bars (``None`` for 0);
* ``sides: long`` never sells, ``sides: short`` never buys;
* with a position open in the symbol no new entry is made;
* a regime listed in ``skip_regimes`` silences the strategy; another regime, or none
  published, changes nothing;
* the same bars and config give the same signals, field by field;
* a lookback changed by ``on_params_updated`` gives, from then on, the signals of a
  strategy started with that lookback.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hean_breakout import Breakout

from hean_framework.context import RunContext
from hean_framework.facts import REGIME
from hean_framework.models import Bar, Fill, Signal
from hean_framework.testing import build_component, isolated_plugins, make_context, sample_bars

SYMBOL = "BTC/USDT:USDT"
N_BARS = 4000
BARS: list[Bar] = list(sample_bars(N_BARS))


def make(config: dict[str, Any] | None = None,
         ctx: RunContext | None = None) -> tuple[Breakout, RunContext]:
    """A started ``breakout`` on a fresh test context."""
    ctx = ctx or make_context()
    strat = build_component(isolated_plugins("hean_breakout.plugin"), "strategy", "breakout",
                            ctx, config or {})
    assert isinstance(strat, Breakout)
    return strat, ctx


def replay(config: dict[str, Any] | None = None,
           regime: str | None = None) -> list[tuple[int, Signal]]:
    """(bar index, signal) of every signal over :data:`BARS`."""
    strat, ctx = make(config)
    if regime is not None:
        ctx.facts.set(REGIME, regime, SYMBOL)
    out = []
    for i, bar in enumerate(BARS):
        ctx.now = bar.ts
        sig = strat.on_bar(bar)
        if sig is not None:
            out.append((i, sig))
    return out


def reference(lookback: int, atr_period: int) -> list[tuple[int, str, float]]:
    """(bar index, side, ATR) of every breakout, computed directly from the bars."""
    out = []
    for i in range(max(lookback, atr_period - 1), len(BARS)):
        prev = BARS[i - lookback:i]
        ranges = []
        for j in range(i - atr_period + 1, i + 1):
            b = BARS[j]
            if j == 0:
                ranges.append(b.high - b.low)
            else:
                c = BARS[j - 1].close
                ranges.append(max(b.high - b.low, abs(b.high - c), abs(b.low - c)))
        atr = sum(ranges) / atr_period
        close = BARS[i].close
        if close > max(b.high for b in prev):
            out.append((i, "buy", atr))
        elif close < min(b.low for b in prev):
            out.append((i, "sell", atr))
    return out


@pytest.mark.parametrize(("lookback", "atr_period"), [(20, 14), (48, 30), (5, 60)])
def test_signals_exactly_on_channel_breaks(lookback: int, atr_period: int) -> None:
    got = [(i, s.side) for i, s in replay({"lookback": lookback, "atr_period": atr_period})]
    want = [(i, side) for i, side, _ in reference(lookback, atr_period)]
    assert got == want
    assert sum(side == "buy" for _, side in got) > 20
    assert sum(side == "sell" for _, side in got) > 20


def test_long_signal_only_when_close_breaks_the_lookback_high() -> None:
    lookback = 30
    sigs = replay({"lookback": lookback})
    longs = [(i, s) for i, s in sigs if s.side == "buy"]
    assert longs
    for i, s in longs:
        high = max(b.high for b in BARS[i - lookback:i])
        assert s.entry_price == BARS[i].close > high
        assert s.metadata["channel_high"] == high
        assert s.tag == "BREAKOUT_UP"
    # and a close at or below the channel high never gives a long
    signalled = {i for i, _ in longs}
    for i in range(lookback, len(BARS)):
        if BARS[i].close <= max(b.high for b in BARS[i - lookback:i]):
            assert i not in signalled


@pytest.mark.parametrize("config", [
    {"stop_atr": 2.0, "stop_pct": 0.0, "reward_risk": 2.0, "max_hold_bars": 48},
    {"stop_atr": 1.0, "stop_pct": 0.004, "reward_risk": 3.0, "max_hold_bars": 12},
    {"stop_atr": 0.5, "stop_pct": 0.05, "reward_risk": 1.5, "max_hold_bars": 0},
])
def test_stop_target_and_time_stop_as_configured(config: dict[str, Any]) -> None:
    sigs = replay(config)
    atrs = {i: atr for i, _, atr in reference(20, 14)}
    assert len(sigs) == len(atrs) > 40
    pct_bound = 0
    for i, s in sigs:
        risk = max(config["stop_atr"] * atrs[i], config["stop_pct"] * s.entry_price)
        pct_bound += risk > config["stop_atr"] * atrs[i]
        assert s.stop_loss is not None and s.take_profit is not None
        sign = 1.0 if s.side == "buy" else -1.0
        assert math.isclose(sign * (s.entry_price - s.stop_loss), risk, rel_tol=1e-9)
        assert math.isclose(sign * (s.take_profit - s.entry_price),
                            config["reward_risk"] * risk, rel_tol=1e-9)
        hold = config["max_hold_bars"] * 300_000
        assert s.max_hold_ms == (hold or None)
        assert math.isclose(s.metadata["atr"], atrs[i], rel_tol=1e-9)
    if config["stop_pct"] >= 0.004:
        assert pct_bound > 0, "the stop_pct floor should bind on some real bars"
    else:
        assert pct_bound == 0


def test_sides_long_never_sells_and_short_never_buys() -> None:
    both = replay()
    longs = replay({"sides": "long"})
    shorts = replay({"sides": "short"})
    assert longs and shorts
    assert all(s.side == "buy" for _, s in longs)
    assert all(s.side == "sell" for _, s in shorts)
    assert [i for i, _ in longs] == [i for i, s in both if s.side == "buy"]
    assert [i for i, _ in shorts] == [i for i, s in both if s.side == "sell"]


def test_no_entry_while_a_position_is_open() -> None:
    strat, ctx = make()
    sigs = []
    for bar in BARS:
        ctx.now = bar.ts
        sig = strat.on_bar(bar)
        if sig is not None:
            sigs.append(sig)
            # the entry fills: the strategy now holds a position it never closes here
            ctx.portfolio.apply_fill(Fill(ctx.next_id(), 1, strat.name, SYMBOL, sig.side,
                                          0.001, bar.close, 0.0, False, bar.ts))
    assert len(sigs) == 1
    assert strat.stats()["in_position"] > 0


def test_skipped_regime_silences_other_regimes_do_not() -> None:
    free = replay({"skip_regimes": ["RANGE"]})
    assert free
    assert replay({"skip_regimes": ["range"]}, regime="RANGE") == []
    trending = replay({"skip_regimes": ["RANGE"]}, regime="MARKUP")
    assert [(i, s.side, s.stop_loss) for i, s in trending] == \
        [(i, s.side, s.stop_loss) for i, s in free]
    assert all(s.metadata["regime"] == "" for _, s in free)


def test_deterministic_field_by_field() -> None:
    config = {"lookback": 24, "stop_pct": 0.003, "max_hold_bars": 36}
    assert replay(config) == replay(config)


def test_lookback_update_matches_a_fresh_strategy() -> None:
    switch = 2000
    strat, ctx = make({"lookback": 20})
    got = []
    for i, bar in enumerate(BARS):
        if i == switch:
            assert strat.on_params_updated({"lookback": 10}) == ["lookback"]
        ctx.now = bar.ts
        sig = strat.on_bar(bar)
        if sig is not None and i >= switch:
            got.append((i, sig.side, sig.stop_loss))
    fresh = [(i, s.side, s.stop_loss) for i, s in replay({"lookback": 10}) if i >= switch]
    assert got == fresh
    assert got
