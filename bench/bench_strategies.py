#!/usr/bin/env python3
"""Five strategies benchmark: every strategy plugin, the analyzers and the gates in one run.

The run of ``examples/five_strategies.yaml`` (momentum_trader, impulse_engine, hf_scalping,
liquidity_sweep, sentiment_strategy; the capital allocator; regime_detector, price_anomaly,
multi_factor, edge_confirmation, sentiment_source; the risk_limits, inflight and governor gates
plus the small-capital defaults: market filters, trade gate, maker-chase executor) pointed at the
real data of ``../shared/data``:

* ``ticks``: Binance USDT-M BTC and ETH on 2024-08-08 23:54-24:00 UTC, trades + best bid/offer +
  the complete L2 books (1,030,790 CSV rows: 875,354 L2 levels in 13,120 book messages,
  120,072 quotes, 35,364 trades; the feed hands the engine 168,556 events, one per book
  message); ``ofi_monitor`` and ``execution_edge`` join the analyzers (they need quotes) and
  every strategy runs with its plugin defaults, which are meant for trade ticks.
* ``bars``: Binance USDT-M BTC, ETH, SOL and XRP 1-minute candles (2025-05-04 .. 06-15, 189,789
  bars) with their funding settlements, the example's settings unchanged (its time-like keys
  are sized for 5-minute candles); SOL/USDT:USDT is not in the shipped metadata and is
  defined in ``venue.instruments``.  The market analyzers listen to the bars, so the engine
  calls every strategy per bar (no batch fast path).

``sentiment_source`` reads the plugin's sample items as in the example, but they (2025-03-06 ..
04-13) cover neither period: no reading is live, so ``sentiment_strategy`` runs with its
momentum fallback on (otherwise it would only count ``no_sentiment`` / ``stale``).

Prints events/s, rows/s, ``ratio`` = the HEAN run time / the plain loop time, and peak RSS.
The plain loop parses and iterates the same events in the same process with the kernel's own
feed (``for ev in feed.events()``, nothing kept); the HEAN run is ``engine.run()`` on the CSV feed
(its parsing included) + ``engine.close()``.  Each HEAN run is paired with the plain loop timed
right before it; ``ratio`` is the median of the pairs.  ``--profile`` adds a cProfile summary
of one more run (top 15 functions by own time, and own time per package).  ``both`` runs each
mode in its own process, so each peak RSS is that mode's own.  Not a test: run it by hand.

Usage::

    python bench/bench_strategies.py [ticks|bars|both] [--no-journal] [--profile] [--repeat N]
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("HEAN_SHARED_DATA", ROOT.parent / "shared" / "data"))
EXAMPLE = ROOT / "examples" / "five_strategies.yaml"
DISTRIBUTIONS = ("hean_momentum_trader", "hean_impulse_engine", "hean_hf_scalping",
                 "hean_liquidity_sweep", "hean_sentiment", "hean_market_analyzers")
SYMBOLS = {"BTC": "BTC/USDT:USDT", "ETH": "ETH/USDT:USDT", "SOL": "SOL/USDT:USDT",
           "XRP": "XRP/USDT:USDT"}
BAR_FILES = {"BTC": "binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz",
             "ETH": "binance_usdm_perp_ETHUSDT_1m_20250504_20250615.csv.gz",
             "SOL": "binance_usdm_perp_SOLUSDT_1m_20250504_20250603.csv.gz",
             "XRP": "binance_usdm_perp_XRPUSDT_1m_20250504_20250603.csv.gz"}
FUNDING_FILES = {"BTC": "binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz",
                 "ETH": "binance_usdm_perp_ETHUSDT_funding_8h_20250306_20250615.csv.gz",
                 "SOL": "binance_usdm_perp_SOLUSDT_funding_8h_20250306_20250603.csv.gz",
                 "XRP": "binance_usdm_perp_XRPUSDT_funding_8h_20250306_20250603.csv.gz"}
#: Binance USDT-M SOLUSDT rules (tick 0.01, step 0.01, 5 USDT minimum order value), written by
#: hand: the shipped metadata has no SOL perpetual.  Fees as the shipped BTC/ETH/XRP perps.
SOL_RULES = {"type": "swap", "tick_size": 0.01, "lot_size": 0.01, "min_qty": 0.01,
             "min_notional": 5.0, "maker_fee": 0.0002, "taker_fee": 0.0004}


def _file(kind: str, symbol: str, path: Path) -> dict[str, Any]:
    return {"kind": kind, "symbol": symbol, "path": str(path)}


def tick_files() -> list[dict[str, Any]]:
    files = []
    for asset in ("BTC", "ETH"):
        sym, stem = SYMBOLS[asset], f"binance_usdm_perp_{asset}USDT"
        files += [
            _file("l2", sym, DATA / "orderbook" / f"{stem}_l2_20240808.csv.gz"),
            _file("bbo", sym, DATA / "orderbook" / f"{stem}_bbo_20240808.csv.gz"),
            _file("trades", sym, DATA / "trades" / f"{stem}_trades_20240808.csv.gz"),
        ]
    return files


def bar_files() -> list[dict[str, Any]]:
    files = [_file("bars", SYMBOLS[a], DATA / "ohlcv" / f) for a, f in BAR_FILES.items()]
    files += [_file("funding", SYMBOLS[a], DATA / "funding" / f) for a, f in FUNDING_FILES.items()]
    return files


def config(mode: str, journal: bool) -> dict[str, Any]:
    """``examples/five_strategies.yaml`` pointed at the mode's data."""
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["base_dir"] = str(EXAMPLE.parent)
    raw["run"]["name"] = f"bench_strategies_{mode}"
    raw["report"] = {"progress": False, "html": False, "equity_interval_ms": 3_600_000}
    raw["journal"] = {"enabled": journal}
    analyzers = raw["analyzers"]
    strategies = raw["strategies"]
    strategies["sentiment_strategy"]["momentum_fallback"] = True
    if mode == "ticks":
        symbols = [SYMBOLS["BTC"], SYMBOLS["ETH"]]
        raw["data"] = {"files": tick_files()}
        raw["venue"].pop("slippage_bps", None)        # fills come from the book / quotes
        # every analyzer, in the order of its README; the tick windows at their defaults
        analyzers_ticks: dict[str, Any] = {"allocator": analyzers["allocator"]}
        analyzers_ticks.update({
            "regime_detector": {}, "ofi_monitor": {}, "price_anomaly": {},
            "execution_edge": {}, "multi_factor": {}, "edge_confirmation": {},
            "sentiment_source": analyzers["sentiment_source"],
        })
        raw["analyzers"] = analyzers_ticks
        # the strategies' defaults, which are meant for trade ticks
        for name, section in strategies.items():
            keep = {"momentum_fallback"} if name == "sentiment_strategy" else set()
            strategies[name] = {k: v for k, v in section.items() if k in keep}
    else:
        symbols = list(SYMBOLS.values())
        raw["data"] = {"files": bar_files()}
        raw["venue"]["instruments"] = {SYMBOLS["SOL"]: dict(SOL_RULES)}
    for section in strategies.values():
        section["symbols"] = list(symbols)
    return raw


def _plugins() -> Any:
    from hean_framework.plugins import load_plugins

    return load_plugins()


def _engine(raw: dict[str, Any], out: Path, journal: bool) -> Any:
    from hean_framework.config import load_setup
    from hean_framework.engine import Engine

    pm = _plugins()
    setup = load_setup(None, pm.registry, raw=copy.deepcopy(raw))
    return Engine(setup, pm, out_dir=out, journal=journal, progress=False).build()


def plain_loop(raw: dict[str, Any], out: Path) -> tuple[float, int]:
    """Seconds to parse and iterate every event with the kernel's feed, and their count."""
    feed = _engine(raw, out, journal=False).feed
    gc.collect()
    n = 0
    t = time.perf_counter()
    for _ev in feed.events():
        n += 1
    return time.perf_counter() - t, n


def hean_run(raw: dict[str, Any], out: Path, journal: bool,
             profile: cProfile.Profile | None = None) -> tuple[float, Any]:
    """One engine run on the CSV feed (parsing included); returns (seconds, result)."""
    engine = _engine(raw, out, journal)
    gc.collect()
    t = time.perf_counter()
    if profile is not None:
        profile.enable()
    try:
        result = engine.run()
    finally:
        engine.close()
        if profile is not None:
            profile.disable()
    return time.perf_counter() - t, result


def csv_rows(raw: dict[str, Any]) -> int:
    """Data rows of the mode's files (header excluded), for rows/s."""
    import gzip

    total = 0
    for f in raw["data"]["files"]:
        with gzip.open(f["path"], "rb") as fh:
            total += sum(1 for _ in fh) - 1
    return total


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _package(filename: str) -> tuple[str, str]:
    """(package, module) of a profiled function: ``hean_framework`` split by module."""
    parts = Path(filename).parts
    for i, p in enumerate(parts):
        if p.startswith("hean_"):
            module = "/".join(parts[i:])
            pkg = p if p != "hean_framework" else "hean_framework/" + parts[i + 1]
            return pkg, module
    if filename.startswith(("~", "<")):
        return "builtins (C)", "builtin"
    return "stdlib/other", Path(filename).name


def print_profile(profile: cProfile.Profile, wall_s: float) -> None:
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    print(f"profile: {total:.2f} s of own time under cProfile (the run took {wall_s:.2f} s "
          "with the profiler on)")
    print("  top 15 functions by own time:")
    print(f"  {'own s':>7} {'%':>5} {'calls':>10}  function")
    for (file, line, func), (_cc, nc, tt, _ct, _callers) in rows[:15]:
        where = _package(file)[1] + (f":{line}" if line else "")
        print(f"  {tt:7.3f} {100 * tt / total:5.1f} {nc:10,}  {func}  ({where})")
    per: dict[str, float] = defaultdict(float)
    for (file, _line, _func), (_cc, _nc, tt, _ct, _callers) in rows:
        per[_package(file)[0]] += tt
    print("  own time per package (top 15):")
    for pkg, tt in sorted(per.items(), key=lambda kv: kv[1], reverse=True)[:15]:
        print(f"  {tt:7.3f} {100 * tt / total:5.1f}  {pkg}")


def run_mode(mode: str, journal: bool, repeat: int, profile: bool) -> int:
    raw = config(mode, journal)
    rows = csv_rows(raw)
    plains, runs = [], []
    result = None
    n_plain = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            p_s, n_plain = plain_loop(raw, Path(tmp) / f"p{i}")
            plains.append(p_s)
            r_s, result = hean_run(raw, Path(tmp) / f"r{i}", journal)
            runs.append(r_s)
        prof_wall = 0.0
        prof = cProfile.Profile() if profile else None
        if prof is not None:
            prof_wall, _ = hean_run(raw, Path(tmp) / "profile", journal, prof)
    assert result is not None
    events = result.events
    run_s, plain_s = statistics.median(runs), statistics.median(plains)
    pairs = [r / p for r, p in zip(runs, plains, strict=True)]
    ratio = statistics.median(pairs)
    print(f"[{mode}] events {events:,} ({rows:,} CSV rows)  journal={'on' if journal else 'off'}"
          f"  runs {repeat}")
    print(f"[{mode}] HEAN run {run_s:.2f}s: {events / run_s:,.0f} events/s, "
          f"{rows / run_s:,.0f} rows/s  (runs {' '.join(f'{x:.2f}' for x in runs)})")
    print(f"[{mode}] plain loop {plain_s:.2f}s: {n_plain / plain_s:,.0f} events/s, "
          f"{rows / plain_s:,.0f} rows/s  (loops {' '.join(f'{x:.2f}' for x in plains)})")
    print(f"[{mode}] pair ratios {' '.join(f'{x:.2f}' for x in pairs)}")
    if n_plain != events:
        # the engine does not count funding settlements outside its symbol's prices
        print(f"[{mode}] the plain loop saw {n_plain:,} events, the engine counted {events:,} "
              f"({n_plain - events:,} funding settlements outside the prices, not applied)")
    m = result.per_strategy
    print(f"[{mode}] fills {result.fills}  fees {result.fees:.2f}  funding {result.funding:.2f}  "
          f"net {result.final_equity - result.initial_capital:+.2f}")
    for name in ("momentum_trader", "impulse_engine", "hf_scalping", "liquidity_sweep",
                 "sentiment_strategy"):
        s = m.get(name, {})
        print(f"[{mode}]   {name:<19} signals {s.get('signals', 0):>6}  trades "
              f"{s.get('trades', 0):>4}  fees {s.get('fees', 0.0):8.2f}  net "
              f"{s.get('net_pnl', 0.0):+9.2f}")
    print(f"ratio {ratio:.2f}")
    if prof is not None:
        print_profile(prof, prof_wall)
    print(f"peak_rss_mb {peak_rss_mb():.0f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", nargs="?", default="both", choices=["ticks", "bars", "both"])
    ap.add_argument("--no-journal", action="store_true", help="run without the SQLite journal")
    ap.add_argument("--profile", action="store_true",
                    help="one more run under cProfile: top 15 functions and packages")
    ap.add_argument("--repeat", type=int, default=3, help="pairs of runs (default 3)")
    a = ap.parse_args()
    if not DATA.is_dir():
        print(f"real market data not found at {DATA} (place ../shared beside the project root "
              "or set HEAN_SHARED_DATA)")
        return 2
    import importlib.util

    missing = [d for d in DISTRIBUTIONS if importlib.util.find_spec(d) is None]
    if missing:
        print("not installed: " + ", ".join(missing) + " (pip install -e plugins/<name>)")
        return 2
    if a.mode == "both":
        flags = [f"--repeat={a.repeat}"] + (["--no-journal"] if a.no_journal else []) + (
            ["--profile"] if a.profile else [])
        rc = 0
        for mode in ("ticks", "bars"):
            rc |= subprocess.run([sys.executable, __file__, mode, *flags], check=False).returncode
        return rc
    return run_mode(a.mode, not a.no_journal, a.repeat, a.profile)


if __name__ == "__main__":
    sys.exit(main())
