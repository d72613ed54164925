#!/usr/bin/env python3
"""Quoting benchmark: the inventory-neutral market maker on the whole 2024-08-08 L2 capture.

``inventory_neutral_mm`` (``plugins/hean-inventory-neutral-mm``) quotes Binance USDⓈ-M BTC and
ETH over the complete capture of ``../shared/data`` (2024-08-08 23:54-24:00 UTC: L2 diffs + best
bid/offer + trades of both symbols) with ``requote_move_frac: 0`` -- a new quote on **every mid
move** -- through the real engine: the pipeline decides every quote as a group, the kernel's
quote executor (:mod:`hean_framework.quotes`) keeps, amends or cancels + places the orders, the
simulated venue queues them in the recorded book and fills them from the recorded trades.  The
example's venue (Binance rules, 20 ms order and cancel latency), a 20,000 USDT account, no
analyzers (OFI unknown counts as neutral), journal off.

Printed per venue mode (``amend`` on: moved levels amended in place; off: cancel + place):

* ``events/s`` -- the feed's events (one per L2 message, BBO row and trade) over the run time
  (``engine.run(events)`` + ``engine.close()``; the events are read once beforehand, parsing is
  not timed), and CSV rows/s (L2 levels + BBO rows + trades);
* ``quotes/s`` -- quote updates (groups the executor handled) per second of run time;
* ``µs`` -- in one more, instrumented run, each step timed with ``perf_counter`` around the
  call (the ~0.2 µs of the two timer reads included): the whole group decision per quote
  (``Pipeline.process_group``: the legs' screening + the executor), the executor's path alone
  (``QuoteBook.place``: keep / amend / cancel + submit of the levels, the venue's side of it
  and the decisions' finishing) and inside it the router's ``submit`` / ``amend`` /
  ``cancel`` per order, ``_screen`` per leg and ``_finish`` per decision; ``place``'s own work
  is ``place`` minus those calls;
* ``ratio`` -- the HEAN run's time over the **plain loop**'s: the same L2 diff messages applied
  to one :class:`~hean_framework.book.OrderBook` per symbol in the same process
  (``for m in l2: books[m.symbol].apply(m)``).  Each HEAN run is paired with the plain loop
  timed right before it; the median of the pairs is printed.

The load average is printed before and after (the machine is shared).  Not a test: run it by
hand.

Usage::

    python bench/bench_quoting.py [--repeat 3] [--mode amend|cancel|both]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hean_framework.book import OrderBook  # noqa: E402
from hean_framework.config import load_setup  # noqa: E402
from hean_framework.engine import Engine  # noqa: E402
from hean_framework.feeds import CsvFeed, CsvFeedConfig  # noqa: E402
from hean_framework.groups import OrderGroup  # noqa: E402
from hean_framework.models import BookUpdate, MarketEvent, Quote, Trade  # noqa: E402
from hean_framework.pipeline import Pipeline  # noqa: E402
from hean_framework.quotes import QuoteBook  # noqa: E402
from hean_framework.router import OrderRouter  # noqa: E402
from hean_framework.testing import isolated_plugins  # noqa: E402

DATA = Path(os.environ.get("HEAN_SHARED_DATA", ROOT.parent / "shared" / "data"))
SYMBOLS = {"BTC": "BTC/USDT:USDT", "ETH": "ETH/USDT:USDT"}


def files() -> list[dict[str, str]]:
    """The data-section rows of the capture (L2 + BBO + trades of BTC and ETH)."""
    out = []
    for base, sym in SYMBOLS.items():
        out += [{"kind": "l2", "symbol": sym, "path": str(
                    DATA / f"orderbook/binance_usdm_perp_{base}USDT_l2_20240808.csv.gz")},
                {"kind": "bbo", "symbol": sym, "path": str(
                    DATA / f"orderbook/binance_usdm_perp_{base}USDT_bbo_20240808.csv.gz")},
                {"kind": "trades", "symbol": sym, "path": str(
                    DATA / f"trades/binance_usdm_perp_{base}USDT_trades_20240808.csv.gz")}]
    return out


def load() -> list[MarketEvent]:
    """Every event of the capture, validated and merged by time by the kernel's csv feed."""
    feed = CsvFeed(CsvFeedConfig(files=files()), None)
    events = list(feed.events())
    if feed.rejections():
        print(f"  note: rejected rows {feed.rejections()}")
    return events


def plain_loop(l2: list[BookUpdate]) -> float:
    """Seconds to apply the L2 diff messages to one fresh book per symbol."""
    books = {s: OrderBook(s) for s in SYMBOLS.values()}
    gc.collect()
    t0 = time.perf_counter()
    for m in l2:
        books[m.symbol].apply(m)
    return time.perf_counter() - t0


def engine(amend: bool, out: Path, latency: int = 20) -> Engine:
    """The MM's engine, quote refresh on every mid move."""
    raw = {"run": {"name": "bench_quoting", "seed": 7}, "account": {"capital": 20_000},
           "venue": {"name": "sim", "exchange": "binance", "latency_ms": latency,
                     "cancel_latency_ms": latency, "amend": amend},
           "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
           "data": {"files": files()},
           "strategies": {"inventory_neutral_mm": {"symbols": list(SYMBOLS.values()),
                                                   "requote_move_frac": 0.0}},
           "report": {"progress": False, "html": False}}
    pm = isolated_plugins("hean_inventory_neutral_mm.plugin")
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    return Engine(setup, pm, out_dir=out, journal=False, progress=False)


def hean_run(events: list[MarketEvent], amend: bool) -> tuple[float, dict[str, Any]]:
    """Seconds of ``engine.run(events)`` + ``close()`` and the run's ``quotes`` counts."""
    with tempfile.TemporaryDirectory() as tmp:
        eng = engine(amend, Path(tmp))
        gc.collect()
        t0 = time.perf_counter()
        res = eng.run(events)
        eng.close()
        dt = time.perf_counter() - t0
    q = res.sections.get("quotes", {}).get("inventory_neutral_mm", {})
    mk = res.sections.get("markouts", {}).get("strategies", {}).get("inventory_neutral_mm", {})
    fills = sum(s["maker_fills"] + s["taker_fills"] for s in mk.get("symbols", {}).values())
    return dt, {**q, "fills": fills}


def timed_paths(events: list[MarketEvent], amend: bool) -> dict[str, tuple[int, float]]:
    """One instrumented run: (calls, seconds) of each step of the requote path --
    ``Pipeline.process_group`` (quote groups with legs), ``QuoteBook.place`` and, inside them,
    the router's ``submit`` / ``amend`` / ``cancel``, ``Pipeline._screen`` and ``_finish``
    (each inclusive of what it calls)."""
    steps: tuple[tuple[Any, str, str], ...] = (
        (Pipeline, "process_group", "group"), (QuoteBook, "place", "place"),
        (OrderRouter, "submit", "submit"), (OrderRouter, "amend", "amend"),
        (OrderRouter, "cancel", "cancel"), (Pipeline, "_screen", "screen"),
        (Pipeline, "_finish", "finish"))
    acc: dict[str, list[float]] = {key: [0, 0.0] for _, _, key in steps}
    saved = [(cls, name, getattr(cls, name)) for cls, name, _ in steps]
    clock = time.perf_counter

    def wrap(fn: Callable[..., Any], key: str) -> Callable[..., Any]:
        a = acc[key]
        group = key == "group"

        def timed(self: Any, *args: Any, **kw: Any) -> Any:
            if group and (args[0].kind != "quote" or not args[0].legs):
                return fn(self, *args, **kw)
            t0 = clock()
            out = fn(self, *args, **kw)
            a[1] += clock() - t0
            a[0] += 1
            return out

        return timed

    for cls, name, key in steps:
        setattr(cls, name, wrap(getattr(cls, name), key))
    try:
        hean_run(events, amend)
    finally:
        for cls, name, fn in saved:
            setattr(cls, name, fn)
    return {k: (int(v[0]), v[1]) for k, v in acc.items()}


def micro(events: list[MarketEvent], amend: bool, n: int, rounds: int
          ) -> dict[str, float]:
    """µs per quote update on a tight loop: the engine is fed the capture's first 20,000
    events (books, quote, resting orders as in a run; order and cancel latency 0 here so every
    change takes effect at once), then the MM instance's quotes for BTC -- a bid and an ask 5
    or 6 ticks beyond the touch, alternating so every update moves both levels (``moved``), or
    the same prices every time (``kept``) -- go through ``router.route`` exactly as a
    strategy's return value does (group decision, screening, executor, venue).  The groups
    are built before the clock starts; best of ``rounds`` rounds of ``n`` updates."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        eng = engine(amend, Path(tmp), latency=0)
        eng.build()
        eng.start()
        for ev in events[:20_000]:
            eng.push(ev)
        router = eng.parts.router
        strat = eng.parts.strategies["inventory_neutral_mm"]
        sym = SYMBOLS["BTC"]
        st = eng.ctx.market[sym]
        tick = eng.ctx.instruments.get(sym).tick_size
        qty = 0.007

        def group(k: int) -> OrderGroup:
            bid, ask = round(st.bid - k * tick, 1), round(st.ask + k * tick, 1)
            return OrderGroup([strat.signal(sym, "buy", 0, bid, size=qty, order_type="limit",
                                            limit_price=bid, prefer_maker=True),
                               strat.signal(sym, "sell", 0, ask, size=qty,
                                            order_type="limit", limit_price=ask,
                                            prefer_maker=True)], kind="quote")

        route = router.route
        for label, ks in (("moved", (5, 6)), ("kept", (5, 5))):
            best = float("inf")
            for _ in range(rounds):
                groups = [group(ks[i % 2]) for i in range(n)]
                gc.collect()
                t0 = time.perf_counter()
                for g in groups:
                    route(g, 0)
                best = min(best, time.perf_counter() - t0)
            out[label] = best / n * 1e6
        eng.finish()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mode", choices=("amend", "cancel", "both"), default="both")
    ap.add_argument("--micro", type=int, default=20_000, help="updates per tight-loop round")
    a = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no data at {DATA} (set HEAN_SHARED_DATA)")
    print(f"load average {os.getloadavg()[0]:.2f} / {os.getloadavg()[1]:.2f} (1 / 5 min), "
          f"{os.cpu_count()} cores")
    t0 = time.perf_counter()
    events = load()
    l2 = [e for e in events if type(e) is BookUpdate]
    n_levels = sum(len(m.bids) + len(m.asks) for m in l2)
    n_quotes = sum(1 for e in events if type(e) is Quote)
    n_trades = sum(1 for e in events if type(e) is Trade)
    rows = n_levels + n_quotes + n_trades
    print(f"loaded {len(events):,} events in {time.perf_counter() - t0:.1f}s: {len(l2):,} L2 "
          f"messages ({n_levels:,} levels), {n_quotes:,} BBO rows, {n_trades:,} trades = "
          f"{rows:,} CSV rows")
    modes = {"amend": [True], "cancel": [False], "both": [True, False]}[a.mode]
    for amend in modes:
        name = "amend" if amend else "cancel+place"
        runs, plains, ratios = [], [], []
        info: dict[str, Any] = {}
        for _ in range(a.repeat):
            p = plain_loop(l2)
            h, info = hean_run(events, amend)
            plains.append(p)
            runs.append(h)
            ratios.append(h / p)
        paths = timed_paths(events, amend)
        h = statistics.median(runs)
        n_q = info.get("quotes", 0)
        print(f"\n[{name}] quotes {n_q:,} (kept {info.get('kept', 0):,}, amended "
              f"{info.get('amended', 0):,}, placed {info.get('placed', 0):,}, cancelled "
              f"{info.get('cancelled', 0):,}, withdrawn {info.get('withdrawn', 0):,}), fills "
              f"{info.get('fills', 0)}")
        print(f"  HEAN run     {min(runs):.3f}-{max(runs):.3f} s (median {h:.3f}): "
              f"{len(events) / h:,.0f} events/s, {rows / h:,.0f} CSV rows/s, "
              f"{n_q / h:,.0f} quote updates/s")
        print(f"  plain loop   {min(plains):.3f}-{max(plains):.3f} s (L2 apply only: "
              f"{len(l2) / statistics.median(plains):,.0f} messages/s)")
        print(f"  ratio        {statistics.median(ratios):.2f} (pairs "
              f"{', '.join(f'{r:.2f}' for r in ratios)})")
        for key, label in (("group", "per quote: process_group (screening + place)"),
                           ("place", "per quote: QuoteBook.place (keep/amend/cancel+place)"),
                           ("screen", "per leg: Pipeline._screen"),
                           ("submit", "per order: OrderRouter.submit (to the venue)"),
                           ("amend", "per order: OrderRouter.amend"),
                           ("cancel", "per order: OrderRouter.cancel"),
                           ("finish", "per decision: Pipeline._finish")):
            n, s = paths[key]
            if n:
                print(f"  µs           {s / n * 1e6:7.2f}  {label}, {n:,} calls")
        m = micro(events, amend, a.micro, a.repeat)
        print(f"  µs           {m['moved']:7.2f}  per quote update, tight loop, both levels "
              f"moved ({'amended' if amend else 'cancelled + placed'}), best of {a.repeat} x "
              f"{a.micro:,}")
        print(f"  µs           {m['kept']:7.2f}  per quote update, tight loop, nothing changed "
              "(both levels kept)")
        n_place, s_place = paths["place"]
        inner = sum(paths[k][1] for k in ("submit", "amend", "cancel", "finish"))
        if n_place:
            print(f"  µs           {(s_place - inner) / n_place * 1e6:7.2f}  per quote: "
                  "QuoteBook.place's own work (place minus the router calls and finishing)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {rss:.0f} MB; load average {os.getloadavg()[0]:.2f} / "
          f"{os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
