"""Per-event cost of each market analyzer alone, on real data (a benchmark, not a test).

    python plugins/hean-market-analyzers/bench/bench_analyzers.py [--trades 1000000]

* **trades**: the real Binance USDT-M BTC trades of 2024-08-08 (``examples/data``, 21,313 rows)
  replayed end to end until ``--trades`` events (timestamps shifted by one span per pass, so
  time keeps increasing); each analyzer's ``on_trade`` is called once per event.
* **quotes**: the real BTC best bid/offer stream of the same capture (66,088 rows), ``on_quote``.
* **book**: the real BTC L2 messages -- the whole 6-minute capture from ``../shared/data`` when
  present, else the bundled first 60 s -- ``on_book`` after the book was updated (the book
  update is the engine's cost: it is in the baseline loop, printed, and subtracted).
* **bars**: the real 1-minute candles of BTC, ETH, SOL and XRP from ``../shared/data`` when
  present (else the kernel's 5m sample replayed), ``on_bar``.

For each (analyzer, kind) the loop sets ``ctx.now`` and the symbol's market state as the engine
does and calls the analyzer; the same loop without an analyzer is the baseline, subtracted
(see :func:`run` for the clocks).  Reported: events per second and microseconds per event of
the analyzer itself (best of ``--repeat``).  On a loaded machine the numbers are upper bounds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hean_framework.book import OrderBook
from hean_framework.models import Bar, BookUpdate, MarketEvent, Quote, Trade
from hean_framework.testing import build_component, isolated_plugins, make_context, sample_bars

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "examples" / "data"
SHARED = ROOT.parent / "shared" / "data"
BTC = "BTC/USDT:USDT"
NAMES = ("regime_detector", "ofi_monitor", "price_anomaly", "execution_edge", "multi_factor",
         "edge_confirmation")
CALLBACK = {Trade: "on_trade", Quote: "on_quote", BookUpdate: "on_book", Bar: "on_bar"}


def read(files: list[dict[str, str]]) -> list[MarketEvent]:
    feed = build_component(isolated_plugins(), "feed", "csv", make_context(), {"files": files})
    return list(feed.events())  # type: ignore[attr-defined]


def trades(n: int) -> list[MarketEvent]:
    base = [e for e in read([{"kind": "trades", "symbol": BTC, "path": str(
        SAMPLE / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}]) if isinstance(e, Trade)]
    span = base[-1].ts - base[0].ts + 1000
    out: list[MarketEvent] = []
    k = 0
    while len(out) < n:
        for t in base:
            out.append(Trade(t.ts + k * span, t.symbol, t.price, t.size, t.side, t.trade_id))
            if len(out) == n:
                break
        k += 1
    return out


def quotes() -> list[MarketEvent]:
    return read([{"kind": "bbo", "symbol": BTC, "path": str(
        SAMPLE / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")}])


def books() -> tuple[list[MarketEvent], str]:
    full = SHARED / "orderbook" / "binance_usdm_perp_BTCUSDT_l2_20240808.csv.gz"
    if full.is_file():
        return read([{"kind": "l2", "symbol": BTC, "path": str(full)}]), "shared, 6 min"
    return read([{"kind": "l2", "symbol": BTC, "path": str(
        SAMPLE / "binance_usdm_perp_BTCUSDT_l2_20240808_first60s.csv.gz")}]), "bundled, 60 s"


def bars() -> tuple[list[MarketEvent], str]:
    files = sorted((SHARED / "ohlcv").glob("binance_usdm_perp_*USDT_1m_*.csv.gz")) \
        if SHARED.is_dir() else []
    if files:
        evs = read([{"kind": "bars", "symbol": f"{f.name.split('_')[3][:-4]}/USDT:USDT",
                     "path": str(f)} for f in files])
        return evs, f"shared 1m, {len(files)} symbols"
    base: list[MarketEvent] = list(sample_bars())
    return base * 10, "kernel 5m sample x10"


def run(events: list[MarketEvent], name: str | None) -> float:
    """CPU seconds (``time.process_time``: not disturbed by other processes' time slices) of
    one pass of ``events`` through a fresh analyzer (``None``: the loop alone)."""
    symbols = sorted({e.symbol for e in events})
    ctx = make_context()  # analyzers need no instrument; market state is created on use
    handler: Callable[[Any], Any] | None = None
    if name is not None:
        a = build_component(isolated_plugins("hean_market_analyzers.plugin"), "analyzer", name,
                            ctx, {}, symbols=symbols)
        handler = getattr(a, CALLBACK[type(events[0])])
    market = ctx.market
    if isinstance(events[0], BookUpdate):
        book = market[BTC].book = OrderBook(BTC)
        st = market[BTC]
        t0 = time.process_time()
        for ev in events:
            ctx.now = ev.ts
            book.apply(ev)  # type: ignore[arg-type]
            st.bid, st.ask = book.bid, book.ask
            if handler is not None:
                handler(ev)
        return time.process_time() - t0
    t0 = time.process_time()
    for ev in events:
        ctx.now = ev.ts
        st = market[ev.symbol]
        if type(ev) is Quote:
            st.bid, st.ask, st.bid_size, st.ask_size = ev.bid, ev.ask, ev.bid_size, ev.ask_size
        else:
            st.last = ev.price  # type: ignore[union-attr]
        if handler is not None:
            handler(ev)
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trades", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    bk, bk_src = books()
    br, br_src = bars()
    kinds = {
        f"trades ({args.trades:,} = real BTC trades replayed)": trades(args.trades),
        "quotes (66,088 real BTC BBO)": quotes(),
        f"book ({len(bk):,} real BTC L2 messages, {bk_src})": bk,
        f"bars ({len(br):,}, {br_src})": br,
    }
    print(f"python {sys.version.split()[0]}")
    for kind, events in kinds.items():
        base = min(run(events, None) for _ in range(args.repeat))
        print(f"\n{kind}: loop without analyzer {base / len(events) * 1e6:.2f} us/event")
        print(f"  {'analyzer':<20} {'events/s':>12} {'us/event':>9}")
        for name in NAMES:
            t = min(run(events, name) for _ in range(args.repeat)) - base
            t = max(t, 1e-9)
            print(f"  {name:<20} {len(events) / t:>12,.0f} {t / len(events) * 1e6:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
