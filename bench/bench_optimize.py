#!/usr/bin/env python3
"""Optimizer benchmarks: the optimizer-mode backtest and the genetic search's throughput.

1. **anchor** -- the anchor workload (``bench_anchor.py``: EMA cross on the shared 1m bars)
   run the way an optimizer runs every candidate: :func:`hean_framework.optimize.run_with`
   (what ``BacktestProblem.run`` calls) on events loaded once, no journal, metrics only.
   Timed in the same invocation as the shared plain loop and as the ``records`` floor of
   ``bench_floor.py`` (the plain loop plus HEAN's records of each fill, nothing else); each
   optimizer-mode run is paired with a plain loop and a floor run timed right before it, and
   the ratios are the medians of the pairs'.  Fills and PnL are checked against the anchor's
   reference.
2. **throughput** -- backtests per second of Symbiont's backends on a fixed batch of parameter
   sets (seeded draws from the searched space, whole data), MomentumTrader on the bundled
   5 weeks of BTC/ETH 5m candles (``plugins/hean-symbiont/examples/symbiont.yaml``) and
   HFScalping on a day of real BTC/ETH trades and best bid/offer
   (``symbiont_hf_scalping.yaml``): in this process (1 worker), a forked local pool of 2, and
   Dask ``LocalCluster`` s of 1, 2 and 4 worker processes (cluster start and the one scatter
   of the data timed apart from the batch).  Every backend's scores are checked equal.

Not a test: run it by hand (``python bench/bench_optimize.py [anchor|throughput|both]``).
Environment: ``PERFDATA`` and ``ANCHOR_REPEAT`` (default 5) as for the anchor;
``OPT_BATCH`` (default 8) parameter sets per throughput batch.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def anchor(repeat: int) -> None:
    """Part 1 (module docstring)."""
    from bench_anchor import REFERENCE, PlainLoop, ensure_data
    from bench_floor import recorded_loop

    from hean_framework.config import load_setup
    from hean_framework.feeds import MemoryFeed, load_bar_columns
    from hean_framework.optimize import run_with
    from hean_framework.plugins import load_plugins
    from hean_framework.testing import isolated_plugins

    perf = Path(os.environ.get("PERFDATA", ROOT / "perfdata")).resolve()
    ensure_data(perf)
    try:
        import hean_ema_cross  # noqa: F401
        pm = load_plugins()
    except ImportError:
        sys.path.insert(0, str(ROOT / "examples" / "plugins" / "hean-ema-cross"))
        pm = isolated_plugins("hean_ema_cross")
    path = perf / "bars_1m.csv"
    sets = [f"data.files=[{{kind: bars, symbol: BTC/USDT:USDT, path: {path}, interval: 1m}}]",
            "journal.enabled=false"]
    setup = load_setup(ROOT / "examples" / "bench_ema_cross.yaml", pm.registry, sets=sets)
    t0 = time.perf_counter()
    events = list(MemoryFeed.from_bar_columns(
        load_bar_columns(path, "BTC/USDT:USDT", 60_000)).blocks())
    load_s = time.perf_counter() - t0
    plain = PlainLoop("bars", perf)
    prices = plain.prices
    opt_s, plain_s, floor_s = [], [], []
    result: Any = None
    for _ in range(repeat):
        plain_s.append(plain.time(1))
        gc.collect()
        t = time.perf_counter()
        recorded_loop(prices, None)
        floor_s.append(time.perf_counter() - t)
        gc.collect()
        t = time.perf_counter()
        result = run_with(setup, pm, "ema_cross", {}, events)
        opt_s.append(time.perf_counter() - t)
    fills, pnl = result.fills, result.final_equity - result.initial_capital
    ref = REFERENCE["bars"]
    match = fills == ref[0] and round(pnl, 2) == ref[1]
    r_plain = statistics.median(o / p for o, p in zip(opt_s, plain_s, strict=True))
    r_floor = statistics.median(o / f for o, f in zip(opt_s, floor_s, strict=True))
    f_plain = statistics.median(f / p for f, p in zip(floor_s, plain_s, strict=True))
    n = len(prices)
    print(f"[anchor] {n:,} bars loaded once in {load_s:.2f}s; optimizer-mode run "
          f"{statistics.median(opt_s):.3f}s ({n / statistics.median(opt_s):,.0f} events/s), "
          f"plain loop {statistics.median(plain_s):.3f}s, records floor "
          f"{statistics.median(floor_s):.3f}s (median of {repeat})")
    print(f"[anchor] pair ratios: optimizer-mode / plain {r_plain:.2f}, optimizer-mode / "
          f"records floor {r_floor:.2f} (goal <= 1.5), floor / plain {f_plain:.2f}")
    print(f"[anchor] fills {fills} pnl {pnl:,.2f}: reference {ref[0]} / {ref[1]:,.2f} "
          f"{'MATCH' if match else 'MISMATCH'}")


def throughput(batch: int) -> None:
    """Part 2 (module docstring)."""
    import dask
    import distributed  # noqa: F401  (its config must be loaded before dask.config.set)
    from hean_symbiont.backends import DaskBackend, ProcessBackend, SerialBackend
    from hean_symbiont.config import SymbiontConfig
    from hean_symbiont.ga import narrow_space
    from hean_symbiont.walkforward import Study

    from hean_framework.optimize import make_problem
    from hean_framework.session import prepare

    examples = ROOT / "plugins" / "hean-symbiont" / "examples"
    for name, strategy in (("symbiont.yaml", "momentum_trader"),
                           ("symbiont_hf_scalping.yaml", "hf_scalping")):
        setup, pm = prepare(examples / name, ())
        raw = setup.components["optimizer"][0].config
        cfg = SymbiontConfig.model_validate(raw.model_dump())
        t0 = time.perf_counter()
        problem = make_problem(setup, pm, strategy, params=list(cfg.bounds))
        load_s = time.perf_counter() - t0
        study = Study.from_problem(problem)
        assert study is not None
        space = narrow_space(problem.space, cfg.bounds)
        rng = random.Random(1)
        tasks: list[Any] = [({k: p.sample(rng) for k, p in space.items()}, None, None)
                            for _ in range(batch)]
        print(f"[{strategy}] {len(study.events):,} events (blocks) loaded in {load_s:.1f}s; "
              f"batch of {batch} backtests of the whole data")
        reference: list[float] | None = None
        rows: list[tuple[str, Any]] = [
            ("in-process, 1 worker", lambda s=study, c=cfg: SerialBackend(s, c)),
            ("local pool, 2 workers", lambda s=study, c=cfg: ProcessBackend(s, c, 2))]
        for n in (1, 2, 4):
            dcfg = cfg.model_copy(update={"dask": cfg.dask.model_copy(
                update={"n_workers": n, "processes": True})})
            rows.append((f"Dask LocalCluster, {n} worker{'s' if n > 1 else ''}",
                         lambda s=study, d=dcfg: DaskBackend(s, d)))
        base = None
        for label, make in rows:
            with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}):
                t = time.perf_counter()
                backend = make()
                setup_s = time.perf_counter() - t
                try:
                    backend.map(tasks[:1])            # warm-up: the workers build the study
                    t = time.perf_counter()
                    res = backend.map(tasks)
                    batch_s = time.perf_counter() - t
                finally:
                    backend.close()
            fits = [r if isinstance(r, str) else r.fitness for r in res]
            reference = reference if reference is not None else fits
            eps = batch / batch_s
            base = base if base is not None else eps
            print(f"[{strategy}] {label:<28} {eps:6.2f} evaluations/s  ({batch_s:.1f}s; "
                  f"x{eps / base:.2f} vs 1 worker; start {setup_s:.1f}s)  "
                  f"{'same scores' if fits == reference else 'DIFFERENT SCORES'}")


def main() -> int:
    what = sys.argv[1] if len(sys.argv) > 1 else "both"
    if what not in ("anchor", "throughput", "both"):
        sys.exit("usage: bench_optimize.py [anchor|throughput|both]")
    if what in ("anchor", "both"):
        anchor(int(os.environ.get("ANCHOR_REPEAT", "5")))
    if what in ("throughput", "both"):
        throughput(int(os.environ.get("OPT_BATCH", "8")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
