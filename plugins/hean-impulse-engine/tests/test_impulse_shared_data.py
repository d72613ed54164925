"""impulse_engine on the shared real data set (``../shared/data``; skipped when absent).

Invariants, on 30 days of Binance USDT-M 1-minute candles of BTC, ETH and XRP (the kernel's
Binance instrument file has no SOL perpetual):

* one strategy listening to the three symbols gives, per symbol, exactly the signals of a
  strategy listening to that symbol alone (per-symbol state never leaks);
* every tick is accounted for: ``ticks == emitted + sum(rejected)``;
* the mode is ``breakout`` exactly when the volatility percentile reaches 95, on every symbol,
  and both a standard signal at x2 or more (MTF agreement) and a breakout below x2 occur;
* every signal's size multiplier is at most 2.5 and its stop is on the loss side.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hean_framework.models import MarketEvent

pytestmark = pytest.mark.shared_data

SYMBOLS = {"BTC/USDT:USDT": "BTCUSDT_1m_20250504_20250603",
           "ETH/USDT:USDT": "ETHUSDT_1m_20250504_20250615",
           "XRP/USDT:USDT": "XRPUSDT_1m_20250504_20250603"}


@pytest.fixture(scope="module")
def events(shared_data: Path,
           read_events: Callable[[list[dict[str, str]]], list[MarketEvent]]
           ) -> list[MarketEvent]:
    files = [{"kind": "bars", "symbol": s,
              "path": str(shared_data / "ohlcv" / f"binance_usdm_perp_{n}.csv.gz")}
             for s, n in SYMBOLS.items()]
    return read_events(files)


def test_three_symbols_independent_and_accounted(events: list[MarketEvent],
                                                replay: Callable[..., Any]) -> None:
    syms = list(SYMBOLS)
    together = replay(events, symbols=syms)
    st = together.strategy.stats()
    assert st["ticks"] == len(events) > 120_000
    assert st["ticks"] == st["emitted"] + sum(st["rejected"].values())
    sigs = [s for _, _, s in together.signals]
    for sym in syms:
        alone = replay([e for e in events if e.symbol == sym], symbols=[sym])
        assert [s for _, _, s in alone.signals] == [s for s in sigs if s.symbol == sym]
        assert alone.signals, sym
    for s in sigs:
        assert (s.metadata["mode"] == "breakout") == (s.metadata["vol_pct"] >= 95.0)
        assert s.size_multiplier <= 2.5
        assert (s.stop_loss < s.entry_price) if s.side == "buy" else \
            (s.stop_loss > s.entry_price)
    assert any(s.size_multiplier >= 2.0 and s.metadata["mode"] == "standard" for s in sigs)
    assert any(s.size_multiplier < 2.0 and s.metadata["mode"] == "breakout" for s in sigs)
