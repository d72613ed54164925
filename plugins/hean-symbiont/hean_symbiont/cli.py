"""``hean symbiont CONFIG --strategy NAME``: the walk-forward search with its full report.

``hean optimize`` prints only the best parameters and their metric; this command runs the
config's ``symbiont`` optimizer instance (the first one of that component, else one with the
default settings) on the same problem and prints, per fold, the in-sample and out-of-sample
windows, the winner, both fitnesses of the winner and of the incumbent, the deflated Sharpe
ratio and the PBO, then the promotion verdict.  ``--json`` prints the whole result (history
included with ``--history``).  The search settings most often changed have flags
(``--generations``, ``--population``, ``--folds``, ``--backend``, ``--workers``; the others
through ``--set optimizers.<instance>.<key>=...``); like ``hean optimize`` it writes
``optimize.json`` and ``optimize.html`` into ``--out`` (default ``runs/<run.name>-optimize``)
and continues an interrupted search there with ``--resume``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import click


class _DropVerdict(logging.Filter):
    """Drops the optimizer's one-line verdict (the command prints the whole report)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("symbiont ")


def _fmt(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


@click.command("symbiont")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--strategy", required=True, help="strategy instance to optimize")
@click.option("--metric", default="sharpe", show_default=True,
              help="the problem's own metric (the result's fitness over the whole data)")
@click.option("--params", default="", help="comma-separated parameters (default: every "
              "bounded one)")
@click.option("--generations", type=click.IntRange(1, 1000), default=None,
              help="generations at most (default: the YAML's)")
@click.option("--population", type=click.IntRange(4, 1000), default=None,
              help="individuals per generation (default: the YAML's)")
@click.option("--folds", type=click.IntRange(1, 20), default=None,
              help="walk-forward folds (default: the YAML's)")
@click.option("--backend", type=click.Choice(["local", "dask"]), default=None,
              help="where backtests run (default: the YAML's)")
@click.option("--workers", type=click.IntRange(0, 256), default=None,
              help="local processes, 0: one per core (default: the YAML's)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="override a config value (repeatable)")
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="output folder (default: runs/<run.name>-optimize)")
@click.option("--resume", is_flag=True, help="continue the interrupted search in --out")
@click.option("--no-progress", is_flag=True, help="do not show the progress bar")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--history", is_flag=True, help="with --json: every backtest too")
def symbiont(config: str, strategy: str, metric: str, params: str, generations: int | None,
             population: int | None, folds: int | None, backend: str | None,
             workers: int | None, sets: tuple[str, ...], out: str | None, resume: bool,
             no_progress: bool, as_json: bool, history: bool) -> None:
    """Walk-forward genetic search of one strategy of CONFIG, with its report."""
    from pathlib import Path

    import orjson

    from hean_framework.engine import Engine
    from hean_framework.optimize import make_problem, write_result
    from hean_framework.session import prepare

    from .config import SymbiontConfig
    from .optimizer import Symbiont

    t0 = time.perf_counter()
    setup, pm = prepare(config, sets)
    eng = Engine(setup, pm, journal=False, progress=False).build()
    opt = next((o for o in eng.parts.optimizers.values() if isinstance(o, Symbiont)), None)
    if opt is None:
        opt = Symbiont(SymbiontConfig(), eng.ctx, name="symbiont")
    flags = {"generations": generations, "population": population, "folds": folds,
             "backend": backend, "workers": workers}
    chosen = {k: v for k, v in flags.items() if v is not None}
    if chosen:
        opt.config = SymbiontConfig.model_validate({**opt.config.model_dump(), **chosen})
    only = [p.strip() for p in params.split(",") if p.strip()] or None
    problem = make_problem(setup, pm, strategy, metric, params=only)
    problem.folder = Path(out) if out else Path("runs") / f"{setup.config.run.name}-optimize"
    problem.resume = resume
    problem.progress = not (no_progress or as_json)
    base = problem.evaluate(dict(problem.incumbent))
    quiet = _DropVerdict()
    opt.ctx.log.addFilter(quiet)     # this command prints the verdict itself
    try:
        res = opt.optimize(problem)
    finally:
        opt.ctx.log.removeFilter(quiet)
    doc = write_result(problem, opt.name, base, res)
    out_doc: dict[str, Any] = {
        "strategy": strategy, "metric": metric, "optimizer": opt.name,
        "incumbent": problem.incumbent, "incumbent_fitness": base, "best": res.params,
        "best_fitness": res.fitness, "evaluations": len(res.history),
        "seconds": round(time.perf_counter() - t0, 2), "folder": doc["folder"],
        "extra": res.extra}
    if as_json:
        if history:
            out_doc["history"] = res.history
        click.echo(orjson.dumps(out_doc, option=orjson.OPT_INDENT_2).decode())
        return
    extra = res.extra
    if extra.get("mode") != "walk_forward":
        click.echo(f"{strategy}: plain genetic search ({extra.get('why')}): {metric} "
                   f"{_fmt(base, '.4g')} configured, {_fmt(res.fitness, '.4g')} with "
                   f"{res.params} after {len(res.history)} evaluations")
        return
    click.echo(f"{strategy}: {extra['walk_forward']} walk-forward over {extra['span']['start']}"
               f" .. {extra['span']['end']}, seed {extra['seed']}")
    click.echo("fold  in-sample window                         out-of-sample window"
               "                      winner IS  OOS    incumbent IS  OOS    DSR    PBO")
    for f in extra["folds"]:
        click.echo(
            f"{f['fold']:>4}  {f['in_sample']['start']} .. {f['in_sample']['end']}  "
            f"{f['out_of_sample']['start']} .. {f['out_of_sample']['end']}  "
            f"{f['winner_in_sample']['fitness']:>9.3f} {f['winner_out_of_sample']['fitness']:.3f}"
            f"  {f['incumbent_in_sample']['fitness']:>12.3f} "
            f"{f['incumbent_out_of_sample']['fitness']:.3f}  {_fmt(f['dsr']['dsr'])}  "
            f"{_fmt(f['pbo']['pbo'])}")
        click.echo(f"      winner {f['winner']} ({f['evaluations']} backtests, "
                   f"{f['generations']} generations"
                   f"{', stopped early' if f['stopped_early'] else ''})")
    promo = extra["promotion"]
    verdict = "PROMOTED" if promo["promoted"] else "REFUSED"
    click.echo(f"candidate {extra['candidate']}: {verdict}"
               + ("" if promo["promoted"] else ": " + "; ".join(promo["reasons"])))
    click.echo(f"{metric} over the whole data: {_fmt(base, '.4g')} configured, "
               f"{_fmt(res.fitness, '.4g')} with {res.params}; {len(res.history)} backtests "
               f"in {out_doc['seconds']:.1f} s")
    click.echo(f"wrote {doc['folder']}/optimize.json, optimize.html")
