"""Known situations in real Binance USDT-M data that the strategy must trade, pinned.

Invariants:

* **round level, 5m candles** (the kernel's bundled BTC/USDT:USDT candles): the candle closing
  2025-03-06 12:50 UTC fell from a close of 90,369.9 to a low of 89,800.0 -- through 90,000,
  0.22 % beyond it -- on 2,655 BTC, 4.3 x the 20 candles before the window; the candle closing
  13:00 closed back above, at 90,062.7: a **buy** at 90,062.7, stop 89,550.0 (0.5 % under
  90,000), target 91,088.1 (2 x the risk, more than 1 %), time stop 15 min;
* **session high, 5m candles** (session levels only): the candle closing 2025-03-07 00:15 UTC
  opened at 89,839.9 (the close before, under the level), ran through the 90,748.0 high of a
  completed 4 h session to 91,257.7 on 9.5 x the volume and closed back at 90,165.1: a
  **sell** at 90,165.1, stop 91,201.74 (0.5 % over the level), target 88,091.82;
* **trades** (the bundled 2024-08-08 BTC trades, 10 s ticks, a 0.05 % round step, 0.1 %
  sweep): the 10 s of trades ending 23:57:59.920 UTC fell from 61,701.8 to 61,620.0 through
  61,700 on 8.7 x the volume; the tick ending 23:59:09.837 closed back above at 61,712.8: a
  **buy** decided at the next trade (23:59:10.000) at 61,712.8, stop 61,391.5; the ETH trades
  of the same minutes give no sweep;
* on the real 1m BTC and ETH candles of ``../shared/data`` (skipped when absent) the strategy
  trades both sides on both symbols and its funnel adds up.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from hean_liquidity_sweep import SKIP_REASONS, LiquiditySweep

from hean_framework.context import RunContext
from hean_framework.models import Bar, MarketEvent, Signal
from hean_framework.testing import sample_bars

Make = Callable[..., tuple[LiquiditySweep, RunContext]]
Replay = Callable[..., list[tuple[int, Signal]]]
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
BARS: list[Bar] = list(sample_bars())
UTC_2025_03_06_1300 = 1_741_266_000_000
UTC_2025_03_07_0015 = 1_741_306_500_000


def test_round_level_buy_on_5m_candles(make: Make, replay: Replay) -> None:
    strat, ctx = make()
    sigs = dict((s.ts, s) for _, s in replay(strat, ctx, BARS))
    sig = sigs[UTC_2025_03_06_1300]
    assert (sig.symbol, sig.side, sig.entry_price) == (BTC, "buy", 90_062.7)
    assert sig.stop_loss == pytest.approx(89_550.0)
    assert sig.take_profit == pytest.approx(91_088.1)
    assert sig.max_hold_ms == 900_000 and sig.tag == "SWEEP_LOW"
    md = sig.metadata
    assert (md["level"], md["level_kind"], md["swept_to"]) == (90_000.0, "round", 89_800.0)
    assert md["sweep_ts"] == UTC_2025_03_06_1300 - 600_000
    assert md["volume_spike"] == pytest.approx(4.34, abs=0.01)
    assert sig.size_multiplier == 2.0  # 1 + (4.34 - 1.5) / 2, capped at 2
    # the situation, from the candles themselves
    i = next(k for k, b in enumerate(BARS) if b.ts == md["sweep_ts"])
    assert BARS[i - 1].close > 90_000 >= BARS[i].low / 0.998 and BARS[i + 2].close > 90_000


def test_session_high_sell_on_5m_candles(make: Make, replay: Replay) -> None:
    strat, ctx = make({"use_round_levels": False})
    sigs = dict((s.ts, s) for _, s in replay(strat, ctx, BARS))
    sig = sigs[UTC_2025_03_07_0015]
    assert (sig.side, sig.entry_price, sig.tag) == ("sell", 90_165.1, "SWEEP_HIGH")
    assert (sig.metadata["level"], sig.metadata["level_kind"]) == (90_748.0, "session_high")
    assert sig.metadata["swept_to"] == 91_257.7
    assert sig.stop_loss == pytest.approx(91_201.74)
    assert sig.take_profit == pytest.approx(88_091.82)
    assert sig.metadata["volume_spike"] == pytest.approx(9.5, abs=0.01)
    assert sig.size_multiplier == 2.0  # capped
    # 90,748.0 is the high of a 4 h session completed before the signal
    length = 4 * 3_600_000
    highs: dict[int, float] = {}
    for b in BARS:
        s = (b.ts - b.interval_ms) // length
        highs[s] = max(highs.get(s, -math.inf), b.high)
    now_session = (UTC_2025_03_07_0015 - 300_000) // length
    assert 90_748.0 in [h for s, h in highs.items() if s < now_session]


def test_round_level_buy_on_real_trades(make: Make, replay: Replay, sample_data: Path,
                                        read_events: Callable[..., list[MarketEvent]]) -> None:
    config = {"trade_tick_ms": 10_000, "lookback_ticks": 10, "volume_window": 5,
              "round_min_pct": 0.0005, "sweep_pct": 0.001}
    got = {}
    for sym, name in ((BTC, "BTCUSDT"), (ETH, "ETHUSDT")):
        events = read_events([{"kind": "trades", "symbol": sym, "path": str(
            sample_data / f"binance_usdm_perp_{name}_trades_20240808.csv.gz")}])
        strat, ctx = make(config, [sym])
        got[sym] = [s for _, s in replay(strat, ctx, events)]
        assert strat.counts["ticks"] > 30
    assert got[ETH] == []
    (sig,) = got[BTC]
    assert (sig.ts, sig.side, sig.entry_price) == (1_723_161_550_000, "buy", 61_712.8)
    assert sig.stop_loss == pytest.approx(61_391.5)
    assert sig.take_profit == pytest.approx(61_712.8 + 2 * (61_712.8 - 61_391.5))
    md = sig.metadata
    assert (md["level"], md["level_kind"], md["swept_to"]) == (61_700.0, "round", 61_620.0)
    assert md["sweep_ts"] == 1_723_161_479_920
    assert md["volume_spike"] == pytest.approx(8.66, abs=0.01)


@pytest.mark.parametrize(("symbol", "name"), [(BTC, "BTCUSDT_1m_20250504_20250603"),
                                              (ETH, "ETHUSDT_1m_20250504_20250615")])
def test_one_minute_candles(make: Make, replay: Replay, shared_data: Path, symbol: str,
                            name: str, read_events: Callable[..., list[MarketEvent]]) -> None:
    events = read_events([{"kind": "bars", "symbol": symbol, "path": str(
        shared_data / "ohlcv" / f"binance_usdm_perp_{name}.csv.gz")}])
    strat, ctx = make({"session_minutes": 60}, [symbol])
    sigs = [s for _, s in replay(strat, ctx, events)]
    c = strat.stats()
    assert c["ticks"] == len(events) > 40_000
    assert c["ticks"] == c["warmup"] + c["no_sweep"] + c["sweeps"]
    assert c["sweeps"] == sum(c[r] for r in SKIP_REASONS) + c["entries"]
    assert c["entries"] == len(sigs) > 20
    assert {s.side for s in sigs} == {"buy", "sell"}
    assert {s.metadata["level_kind"] for s in sigs} >= {"round", "session_high", "session_low"}
