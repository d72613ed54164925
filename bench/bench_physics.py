#!/usr/bin/env python3
"""Physics benchmark: the ``physics`` analyzer alone, and its added cost inside a full run.

Data (``../shared/data``): the Binance USDT-M BTC + ETH trades of 2024-08-08 23:54-24:00 UTC
(35,364 trades) and the BTC / ETH / SOL / XRP 1-minute candles (189,789 bars).  Events are read
once with the kernel's csv feed; the timed loops never parse.

``alone``: ``analyzer.on_trade(t)`` / ``on_bar(b)`` over the events (publication included,
default ``publish_min_interval_ms: 100``), against floors timed in the same process:

* ``loop``: the bare Python loop over the same events calling a method that does nothing;
* ``loop+deques``: the loop calling a method that does what every rolling window must do at
  least -- ``math.log`` of the price ratio, five ``deque(maxlen=100)`` appends and five running
  sums -- the cheapest O(1) per-tick work of this shape in pure Python;
* ``sorted windows``: the three bounded sorted windows alone (volume median, T and S ranks).

Then the analyzer with ``history_stride`` 4 (the histories keep every 4th tick).

``run``: the same events through the engine (``Engine.run`` on an in-memory event list, journal
off, small-capital mode off) with ``momentum_trader`` alone, and with ``physics`` added as an
analyzer (and with its filter and sizer): the difference / events = the added cost per event.
Each pair is timed back to back; medians of ``--repeat`` pairs.  Not a test: run it by hand.

Usage::

    python bench/bench_physics.py [alone|run|both] [--repeat N]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HEAN_SHARED_DATA", ROOT.parent / "shared" / "data"))
TRADES = {"BTC/USDT:USDT": "trades/binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz",
          "ETH/USDT:USDT": "trades/binance_usdm_perp_ETHUSDT_trades_20240808.csv.gz"}
BARS = {"BTC/USDT:USDT": "ohlcv/binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz",
        "ETH/USDT:USDT": "ohlcv/binance_usdm_perp_ETHUSDT_1m_20250504_20250615.csv.gz",
        "SOL/USDT:USDT": "ohlcv/binance_usdm_perp_SOLUSDT_1m_20250504_20250603.csv.gz",
        "XRP/USDT:USDT": "ohlcv/binance_usdm_perp_XRPUSDT_1m_20250504_20250603.csv.gz"}
SOL_RULES = {"type": "swap", "tick_size": 0.01, "lot_size": 0.01, "min_qty": 0.01,
             "min_notional": 5.0, "maker_fee": 0.0002, "taker_fee": 0.0004}


def read(kind: str, files: dict[str, str]) -> list[Any]:
    from hean_framework.testing import build_component, isolated_plugins, make_context

    spec = [{"kind": kind, "symbol": s, "path": str(DATA / p)} for s, p in files.items()]
    feed = build_component(isolated_plugins(), "feed", "csv", make_context(), {"files": spec})
    return list(feed.events())  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- floors


class _Nothing:
    def on_trade(self, t: Any) -> None:
        pass

    on_bar = on_trade


class _Deques:
    """The least a rolling-window analyzer does per tick, in pure Python."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.win: dict[str, list[Any]] = {}

    def tick(self, s: str, p: float, v: float) -> None:
        prev = self.last.get(s)
        self.last[s] = p
        if prev is None:
            return
        w = self.win.get(s)
        if w is None:
            w = self.win[s] = [deque(maxlen=100) for _ in range(5)] + [[0.0] * 5]
        r = math.log(p / prev)
        sums = w[5]
        for i, x in enumerate((r, r * r, v, r * v, v * v)):
            d = w[i]
            if len(d) == 100:
                sums[i] -= d[0]
            d.append(x)
            sums[i] += x

    def on_trade(self, t: Any) -> None:
        self.tick(t.symbol, t.price, t.size)

    def on_bar(self, b: Any) -> None:
        self.tick(b.symbol, b.close, b.volume)


def _sorted_windows(events: Sequence[Any], kind: str) -> Callable[[], None]:
    from hean_framework.rolling import SortedWindow

    def run() -> None:
        wins: dict[str, list[SortedWindow]] = {}
        for e in events:
            ws = wins.get(e.symbol)
            if ws is None:
                ws = wins[e.symbol] = [SortedWindow(1000) for _ in range(3)]
            p = e.price if kind == "trades" else e.close
            v = e.size if kind == "trades" else e.volume
            ws[0].push(v)
            ws[1].push(p)
            ws[1].midrank(p)
            ws[2].push(p * v)
            ws[2].midrank(p * v)

    return run


def _time(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _loop(obj: Any, events: Sequence[Any], kind: str) -> Callable[[], None]:
    def run() -> None:
        f = obj.on_trade if kind == "trades" else obj.on_bar
        for e in events:
            f(e)

    return run


def alone(kind: str, events: list[Any], repeat: int) -> None:
    from hean_framework.testing import build_component, isolated_plugins, make_context

    pm = isolated_plugins("hean_physics.plugin")
    syms = sorted({e.symbol for e in events})

    def analyzer(cfg: dict[str, Any]) -> Callable[[], None]:
        def run() -> None:
            a = build_component(pm, "analyzer", "physics", make_context(), cfg, symbols=syms)
            _loop(a, events, kind)()

        return run

    cases = [("loop", lambda: _loop(_Nothing(), events, kind)()),
             ("loop+deques", lambda: _loop(_Deques(), events, kind)()),
             ("sorted windows (3 x 1000)", _sorted_windows(events, kind)),
             ("physics analyzer", analyzer({})),
             ("physics, history_stride 4", analyzer({"history_stride": 4})),
             ("physics, publish every 1 h", analyzer({"publish_min_interval_ms": 3_600_000}))]
    times: dict[str, list[float]] = {n: [] for n, _ in cases}
    for _ in range(repeat):
        for name, fn in cases:
            times[name].append(_time(fn))
    n = len(events)
    print(f"\n{kind}: {n:,} events, {len(syms)} symbols, median of {repeat}")
    print(f"{'':30s} {'us/event':>9s} {'updates/s':>11s}")
    for name, _ in cases:
        t = statistics.median(times[name])
        print(f"{name:30s} {t / n * 1e6:9.2f} {n / t:11,.0f}")


# ---------------------------------------------------------------------------- in a run


def run_cost(kind: str, events: list[Any], files: dict[str, str], repeat: int) -> None:
    from hean_framework.config import load_setup
    from hean_framework.engine import Engine
    from hean_framework.testing import isolated_plugins

    pm = isolated_plugins("hean_physics.plugin", "hean_momentum_trader.plugin")
    syms = list(files)
    base: dict[str, Any] = {
        "run": {"name": "bench-physics"}, "account": {"capital": 10_000},
        "small_capital": {"enabled": False},
        "data": {"files": [{"kind": kind, "symbol": s, "path": str(DATA / p)}
                           for s, p in files.items()]},
        "strategies": {"momentum_trader": {"symbols": syms}}}
    if "SOL/USDT:USDT" in syms:
        base["venue"] = {"instruments": {"SOL/USDT:USDT": SOL_RULES}}
    variants = {
        "momentum_trader alone": {},
        "+ physics analyzer": {"analyzers": {"physics": {}}},
        "+ analyzer, filter, sizer": {"analyzers": {"physics": {}},
                                      "filters": {"physics": {}},
                                      "sizers": {"fixed_risk": {}, "physics": {}}},
    }
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(repeat):
        for name, extra in variants.items():
            setup = load_setup(None, pm.registry, raw={**base, **extra})
            eng = Engine(setup, pm, journal=False, progress=False)
            times[name].append(_time(lambda eng=eng: eng.run(events)))
    n = len(events)
    print(f"\n{kind} in a full run: {n:,} events, median of {repeat}")
    t0 = statistics.median(times["momentum_trader alone"])
    for name in variants:
        t = statistics.median(times[name])
        print(f"{name:28s} {t:7.2f} s {n / t:10,.0f} events/s   added "
              f"{(t - t0) / n * 1e6:6.2f} us/event")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", nargs="?", default="both", choices=["alone", "run", "both"])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"shared data not found at {DATA} (set HEAN_SHARED_DATA)", file=sys.stderr)
        return 2
    print(f"Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}")
    sets = {"trades": (read("trades", TRADES), TRADES), "bars": (read("bars", BARS), BARS)}
    for kind, (events, files) in sets.items():
        if args.mode in ("alone", "both"):
            alone(kind, events, args.repeat)
        if args.mode in ("run", "both"):
            run_cost(kind, events, files, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
