"""impulse_engine: two real market situations pinned to the exact signal they produce.

Invariants:

* candles (the kernel's bundled BTC/USDT:USDT 5m sample, default config): the candle closing at
  2025-03-06 12:30 UTC closes at 90,811.0, 0.456 % below the close ten candles earlier
  (91,227.4 at 11:40), beyond the 0.15 % threshold (0.3 b: the ATR is small), with the short
  volatility expanding and inside the 12:00-16:00 window; its RMS volatility is the highest of
  the last ten (percentile 100, a breakout). It is the strategy's first signal: a ``sell`` in
  breakout mode at 90,811.0 with stop 90,992.622 (+0.2 %), target 88,540.725 (-2.5 %), TP1
  89,721.268 (-1.2 %), a taker entry, size multiplier 2 x (1 - 0.4 x 25/24) = 1.1667;
* trades (the bundled 2024-08-08 BTC/ETH trades and best bid/offer, tick-scale config): the BTC
  trade 5266584035 at 23:54:18.650 UTC prints 61,804.0, 0.63 bp above the price ten trades
  earlier (threshold 0.6 bp); the quoted spread passes both spread gates; the first signal is a
  ``buy`` in breakout mode at 61,804.0, stop 61,680.392, target 63,349.1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hean_framework.models import Bar, MarketEvent, Trade

BTC = "BTC/USDT:USDT"


def test_pinned_candle_sell_breakout(btc_bars: list[Bar], replay: Callable[..., Any]) -> None:
    run = replay(btc_bars[:40])
    i, bar, s = run.signals[0]
    assert isinstance(bar, Bar)
    assert (i, bar.ts, bar.close) == (23, 1741264200000, 90811.0)
    assert btc_bars[i - 10].close == 91227.4
    assert (s.symbol, s.side, s.ts, s.entry_price) == (BTC, "sell", 1741264200000, 90811.0)
    assert s.stop_loss == pytest.approx(90992.622, abs=1e-6)
    assert s.take_profit == pytest.approx(88540.725, abs=1e-6)
    assert s.metadata["tp1"] == pytest.approx(89721.268, abs=1e-6)
    assert s.metadata["impulse_return"] == pytest.approx(90811.0 / 91227.4 - 1)
    assert s.metadata["threshold"] == pytest.approx(0.0015)
    assert s.metadata["mode"] == "breakout" and s.metadata["vol_pct"] == 100.0
    assert s.size_multiplier == pytest.approx(2.0 * (1 - 0.4 * 25 / 24))
    assert not s.prefer_maker and s.tag == "IMPULSE_BREAKOUT" and s.max_hold_ms == 300_000


def test_pinned_trade_buy_breakout(tick_events: list[MarketEvent],
                                   replay: Callable[..., Any]) -> None:
    cfg = {"use_hours": False, "base_threshold": 0.0002, "cooldown_s": 10}
    run = replay(tick_events[:1000], cfg, symbols=[BTC, "ETH/USDT:USDT"])
    i, ev, s = run.signals[0]
    assert isinstance(ev, Trade)
    assert (ev.symbol, ev.trade_id, ev.ts, ev.price) == (BTC, 5266584035, 1723161258650, 61804.0)
    assert (s.side, s.entry_price) == ("buy", 61804.0)
    assert s.stop_loss == pytest.approx(61680.392, abs=1e-6)
    assert s.take_profit == pytest.approx(63349.1, abs=1e-6)
    assert s.metadata["impulse_return"] == pytest.approx(6.3107e-5, rel=1e-4)
    assert s.metadata["threshold"] == pytest.approx(6e-5)
    assert s.metadata["mode"] == "breakout"
    btc = [e for e in tick_events[:i] if isinstance(e, Trade) and e.symbol == BTC]
    assert btc[-10].price == pytest.approx(61804.0 / (1 + s.metadata["impulse_return"]))
    st = run.ctx.market[BTC]
    assert st.ask - st.bid > 0 and (st.ask - st.bid) / st.bid * 1e4 < 12
