"""What a run records about itself: the manifest (what produced it) and its result numbers.

The **manifest** (journaled first, and in ``report.json``) names the kernel and Python
versions, the platform, the whole validated config, every plugin with its distribution and
version, the sha256 of every data file and the exchange rules of every symbol.  The **result**
(:class:`~hean_framework.run.RunResult`) collects what the report computes metrics from; the
orders still open and the final positions are journaled when it is built.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .assembly import data_files
from .run import RunResult

if TYPE_CHECKING:
    from .engine import Engine


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def manifest(engine: Engine) -> dict[str, Any]:
    """What produced this run: config, plugins with versions, data file hashes, rules."""
    cfg = engine.config
    hashes = {}
    for f in data_files(engine.setup):
        p = engine.ctx.run.resolve(f.path)
        if p.is_file():
            hashes[f.path] = file_sha256(p)
    return {
        "hean_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "config": cfg.model_dump(mode="json", exclude={"base_dir"}),
        "plugins": [{k: p[k] for k in ("name", "distribution", "version", "enabled")}
                    for p in engine.plugins.plugin_list()],
        "data_sha256": hashes,
        "instruments": engine.instruments_info,
        "seed": cfg.run.seed,
    }


def build_result(engine: Engine, elapsed: float) -> RunResult:
    """The run's numbers (journals the open orders and the final positions first)."""
    ctx = engine.ctx
    pf = ctx.portfolio
    parts = engine.parts
    faults = parts.faults
    pipeline = parts.pipeline
    journal = ctx.journal
    if journal is not None:
        for o in parts.router.live_orders():
            journal.order(o)
        for p in pf.positions():
            journal.position(p, engine.end_ts)
    per = pf.strategy_summary()
    for name, strat in parts.strategies.items():
        per.setdefault(name, {})
        counts = pipeline.by_strategy.get(name)
        per[name]["signals"] = counts["signals"] if counts else 0
        per[name].update(strat.stats())
        if name in faults.disabled:
            per[name]["disabled_after_errors"] = faults.errors.get(name, 0)
            per[name]["disabled_why"] = faults.disabled_why.get(name, "")
    sections: dict[str, Any] = {}
    for group in parts.components.values():
        for c in group:
            if c.kind == "strategy":
                continue
            st = c.stats()
            if st:
                sections.setdefault("components", {})[f"{c.kind}:{c.name}"] = st
    if parts.router.groups.counts:
        sections["order_groups"] = dict(parts.router.groups.counts)
    for name, fn in ctx.sections.items():
        sections[name] = fn()
    cfg = engine.config
    return RunResult(
        run_name=cfg.run.name, mode=cfg.run.mode, initial_capital=cfg.account.capital,
        start_ts=engine.start_ts, end_ts=engine.end_ts, events=engine.events,
        equity_curve=list(pf.equity_curve), closed_trades=list(pf.closed_trades),
        fills=pipeline.fills, fees=pf.fees, funding=pf.funding, turnover=pf.turnover,
        final_equity=pf.equity(), final_positions=pf.positions(), per_strategy=per,
        funnel=pipeline.funnel(), rejections=_rejections(engine),
        config=cfg.model_dump(mode="json"),
        manifest={"plugins": engine.plugins.plugin_list(),
                  "instruments": engine.instruments_info}, sections=sections,
        recent_decisions=pipeline.recent_dicts(), dead_letters=faults.dead_letters,
        elapsed_s=elapsed, out_dir=engine.out_dir if engine.use_journal else None)


def _rejections(engine: Engine) -> dict[str, int]:
    """The feed's rejected rows by reason, plus the funding settlements outside prices."""
    feed = engine.parts.feed
    out = dict(feed.rejections()) if feed is not None else {}
    if engine.outside_window:
        out["funding_outside_prices"] = engine.outside_window
    return out
