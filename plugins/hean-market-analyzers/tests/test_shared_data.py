"""The analyzers on the larger real data set in ``../shared/data`` (skipped when it is absent).

Invariants checked:

* OFI on the whole 6-minute L2 captures of Binance spot BTC/USDT (spot update-id chain:
  ``U == previous u + 1``) and USDT-M ETH (futures chain: ``pu == previous u``): no gap is
  reported on the gap-free recordings, and after every message OFI equals a from-scratch
  top-20 imbalance of an independently rebuilt book;
* four symbols of 1-minute candles (BTC, ETH, SOL, XRP, 30 days) through one regime detector:
  each symbol gets exactly the regimes it gets alone;
* the price-anomaly detector's GAPs on the four symbols' 1-minute candles are exactly the
  changes of 2 % to 5 % recomputed from the closes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hean_market_analyzers.facts import ANOMALY, OFI, OFI_SOURCE

from hean_framework.facts import REGIME
from hean_framework.models import Bar, BookUpdate, MarketEvent

SYMS = {"BTC": "BTC/USDT:USDT", "ETH": "ETH/USDT:USDT", "SOL": "SOL/USDT:USDT",
        "XRP": "XRP/USDT:USDT"}


@pytest.mark.parametrize(("file", "symbol"), [
    ("binance_spot_BTCUSDT_l2_20240808.csv.gz", "BTC/USDT"),
    ("binance_usdm_perp_ETHUSDT_l2_20240808.csv.gz", "ETH/USDT:USDT")])
def test_ofi_on_whole_captures(shared_data: Path, read_events: Any, make_analyzer: Any,
                               drive: Any, file: str, symbol: str) -> None:
    events = read_events([{"kind": "l2", "symbol": symbol,
                           "path": str(shared_data / "orderbook" / file)}])
    mon, ctx = make_analyzer("ofi_monitor", symbols=[symbol])
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}

    def check(ev: MarketEvent) -> None:
        assert isinstance(ev, BookUpdate)
        if ev.snapshot:
            bids.clear()
            asks.clear()
        for side, rows in ((bids, ev.bids), (asks, ev.asks)):
            for p, q in rows:
                if q > 0:
                    side[p] = q
                else:
                    side.pop(p, None)
        b = sum(bids[p] for p in sorted(bids, reverse=True)[:20])
        a = sum(asks[p] for p in sorted(asks)[:20])
        assert ctx.facts.get(OFI_SOURCE, symbol) == "book"
        assert ctx.facts.get(OFI, symbol) == pytest.approx((b - a) / (b + a), rel=1e-9,
                                                           abs=1e-12)

    drive(ctx, [mon], events, check)
    assert len(events) > 3000
    assert mon.stats()["ofi_sequence_gaps"][symbol] == 0


@pytest.fixture(scope="module")
def minute_bars(shared_data: Path, read_events: Any) -> list[Bar]:
    files = [{"kind": "bars", "symbol": sym, "path": str(p)}
             for short, sym in SYMS.items()
             for p in sorted((shared_data / "ohlcv").glob(
                 f"binance_usdm_perp_{short}USDT_1m_*.csv.gz"))]
    assert len(files) == 4
    return [e for e in read_events(files) if isinstance(e, Bar)]


def test_regime_per_symbol_on_four_symbols(minute_bars: list[Bar], make_analyzer: Any) -> None:
    bars = [b for b in minute_bars if b.ts < minute_bars[0].ts + 7 * 86_400_000]  # a week
    det, ctx = make_analyzer("regime_detector", symbols=list(SYMS.values()))
    mixed: dict[str, list[str]] = {s: [] for s in SYMS.values()}
    for b in bars:
        det.on_bar(b)
        mixed[b.symbol].append(ctx.facts.get(REGIME, b.symbol))
    for sym in SYMS.values():
        alone, c = make_analyzer("regime_detector", symbols=[sym])
        got = []
        for b in bars:
            if b.symbol == sym:
                alone.on_bar(b)
                got.append(c.facts.get(REGIME, sym))
        assert got == mixed[sym] and len(got) > 9000
    assert len({tuple(v[:2000]) for v in mixed.values()}) == 4


def test_gaps_on_minute_bars(minute_bars: list[Bar], make_analyzer: Any) -> None:
    det, ctx = make_analyzer("price_anomaly", symbols=list(SYMS.values()))
    last: dict[str, float] = {}
    expected = got = 0
    for b in minute_bars:
        ctx.now = b.ts
        det.on_bar(b)
        prev = last.get(b.symbol)
        last[b.symbol] = b.close
        if prev is None:
            continue
        is_gap = 0.02 <= abs(b.close / prev - 1) < 0.05
        expected += is_gap
        got += ctx.facts.get(ANOMALY, b.symbol) == "GAP"
        assert (ctx.facts.get(ANOMALY, b.symbol) == "GAP") == is_gap
    assert expected == got > 0
