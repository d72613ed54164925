#!/usr/bin/env python3
"""Anchor benchmark: the EMA-cross workload of ``../shared/bench`` through the real engine.

feed (memory replay of the CSV) -> ema_cross strategy plugin -> pipeline (validation, sizer,
exchange rounding, executor) -> simulated venue -> portfolio -> journal (SQLite).

Prints events/s, peak RSS and ``ratio X`` = HEAN run time / the plain loop
(``../shared/bench/bt_purepython.py``) timed in the same invocation -- each HEAN run against the
plain loop timed right before it, the median of those pair ratios -- and checks the reference
fills and PnL.  Not a test: run it by hand.

Usage::

    python bench/bench_anchor.py [bars|ticks|both] [--no-journal]

Environment: ``PERFDATA`` (default ``perfdata/``; generated with the shared ``make_data.py``
when missing; needs numpy), ``ANCHOR_N`` to cap the number of events (then the reference
answers are not checked), ``ANCHOR_REPEAT`` (default 3) runs per side, medians reported.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_BENCH = ROOT.parent / "shared" / "bench"
REFERENCE = {"bars": (36_739, -642_291.19), "ticks": (36_669, -803_010.46)}


def ensure_data(perf: Path) -> None:
    """Generate the synthetic throughput data with the shared generator when missing."""
    if (perf / "bars_1m.csv").is_file() and (perf / "ticks.csv").is_file():
        return
    print(f"generating benchmark data in {perf} ...", flush=True)
    subprocess.run([sys.executable, str(SHARED_BENCH / "make_data.py"), "--out", str(perf)],
                   check=True)


def hean_run(mode: str, perf: Path, journal: bool,
             out: Path) -> tuple[float, float, int, float, int]:
    """One engine run; returns (load_s, run_s, fills, pnl, events)."""
    from hean_framework.config import load_setup
    from hean_framework.engine import Engine
    from hean_framework.feeds import MemoryFeed, load_bar_columns
    from hean_framework.plugins import load_plugins
    from hean_framework.testing import isolated_plugins

    limit = os.environ.get("ANCHOR_N")
    try:
        import hean_ema_cross  # noqa: F401
        pm = load_plugins()
    except ImportError:
        sys.path.insert(0, str(ROOT / "examples" / "plugins" / "hean-ema-cross"))
        pm = isolated_plugins("hean_ema_cross")
    kind = "bars" if mode == "bars" else "trades"
    path = perf / ("bars_1m.csv" if mode == "bars" else "ticks.csv")
    sets = [f"data.files=[{{kind: {kind}, symbol: BTC/USDT:USDT, path: {path}"
            + (", interval: 1m" if mode == "bars" else "") + "}]",
            f"journal.enabled={str(journal).lower()}"]
    setup = load_setup(ROOT / "examples" / "bench_ema_cross.yaml", pm.registry, sets=sets)
    t0 = time.perf_counter()
    if mode == "bars":
        cols = load_bar_columns(path, "BTC/USDT:USDT", 60_000)
        feed = MemoryFeed.from_bar_columns(cols)
    else:
        engine0 = Engine(setup, pm, out_dir=out, journal=False, progress=False).build()
        assert engine0.feed is not None
        feed = MemoryFeed.from_feed(engine0.feed)
    if limit:
        evs = list(feed.events())[: int(limit)]
        feed = MemoryFeed.from_events(evs)
    load_s = time.perf_counter() - t0
    engine = Engine(setup, pm, out_dir=out, journal=journal, progress=False)
    engine.build()
    gc.collect()
    t1 = time.perf_counter()
    result = engine.run(events=feed.blocks())
    engine.close()
    run_s = time.perf_counter() - t1
    pnl = result.final_equity - result.initial_capital
    return load_s, run_s, result.fills, pnl, result.events


class PlainLoop:
    """The shared pure-Python loop (``bt_purepython.run``) on the same prices."""

    def __init__(self, mode: str, perf: Path) -> None:
        sys.path.insert(0, str(SHARED_BENCH))
        os.environ["PERFDATA"] = str(perf)
        import importlib

        import bt_purepython  # type: ignore[import-not-found, unused-ignore]
        import common  # type: ignore[import-not-found, unused-ignore]

        importlib.reload(common)
        importlib.reload(bt_purepython)
        self.run = bt_purepython.run
        self.prices = bt_purepython.load_prices(mode)
        self.result = (0, 0.0)

    def time(self, n: int = 3) -> float:
        """Median seconds of ``n`` runs (the result is kept in :attr:`result`)."""
        times = []
        for _ in range(n):
            t = time.perf_counter()
            self.result = self.run(self.prices)
            times.append(time.perf_counter() - t)
        return statistics.median(times)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", nargs="?", default="bars", choices=["bars", "ticks", "both"])
    ap.add_argument("--no-journal", action="store_true", help="run without the SQLite journal")
    a = ap.parse_args()
    perf = Path(os.environ.get("PERFDATA", ROOT / "perfdata")).resolve()
    ensure_data(perf)
    repeat = int(os.environ.get("ANCHOR_REPEAT", "3"))
    ok = True
    for mode in (["bars", "ticks"] if a.mode == "both" else [a.mode]):
        # The machine drifts: each HEAN run is paired with the plain loop timed right before
        # it (median of 3), and the ratio is the median of the pairs' ratios.
        plain = PlainLoop(mode, perf)
        runs, plains = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(repeat):
                plains.append(plain.time())
                runs.append(hean_run(mode, perf, not a.no_journal, Path(tmp) / f"r{i}"))
        pfills, ppnl = plain.result
        n = len(plain.prices)
        plain_s = statistics.median(plains)
        run_s = statistics.median(r[1] for r in runs)
        load_s = statistics.median(r[0] for r in runs)
        _, _, fills, pnl, events = runs[-1]
        pairs = [r[1] / p for r, p in zip(runs, plains, strict=True)]
        ratio = statistics.median(pairs)
        print(f"[{mode}] events {events:,}  load {load_s:.2f}s  run {run_s:.3f}s  "
              f"{events / run_s:,.0f} events/s  journal={'off' if a.no_journal else 'on'}")
        print(f"[{mode}] plain loop {plain_s:.3f}s ({n / plain_s:,.0f} events/s); "
              f"pair ratios {' '.join(f'{x:.2f}' for x in pairs)}")
        print(f"[{mode}] fills {fills} pnl {pnl:,.2f} (plain loop: {pfills} / {ppnl:,.2f})")
        if not os.environ.get("ANCHOR_N"):
            ref_fills, ref_pnl = REFERENCE[mode]
            good = fills == ref_fills and round(pnl, 2) == ref_pnl
            ok &= good
            print(f"[{mode}] reference {ref_fills} / {ref_pnl:,.2f}: "
                  f"{'MATCH' if good else 'MISMATCH'}")
        print(f"ratio {ratio:.2f}")
    print(f"peak_rss_mb {peak_rss_mb():.0f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
