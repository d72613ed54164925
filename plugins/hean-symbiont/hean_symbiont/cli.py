"""``hean symbiont CONFIG --strategy NAME``: the walk-forward search with its full report.

``hean optimize`` prints only the best parameters and their metric; this command runs the
config's ``symbiont`` optimizer instance (the first one of that component, else one with the
default settings) on the same problem and prints, per fold, the in-sample and out-of-sample
windows, the winner, both fitnesses of the winner and of the incumbent, the deflated Sharpe
ratio and the PBO, then the promotion verdict.  ``--json`` prints the whole result (history
included with ``--history``).
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
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="override a config value (repeatable)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--history", is_flag=True, help="with --json: every backtest too")
def symbiont(config: str, strategy: str, metric: str, params: str, sets: tuple[str, ...],
             as_json: bool, history: bool) -> None:
    """Walk-forward genetic search of one strategy of CONFIG, with its report."""
    import orjson

    from hean_framework.engine import Engine
    from hean_framework.session import prepare

    from .config import SymbiontConfig
    from .optimizer import Symbiont
    from .walkforward import symbiont_problem

    t0 = time.perf_counter()
    setup, pm = prepare(config, sets)
    eng = Engine(setup, pm, journal=False, progress=False).build()
    opt = next((o for o in eng.parts.optimizers.values() if isinstance(o, Symbiont)), None)
    if opt is None:
        opt = Symbiont(SymbiontConfig(), eng.ctx, name="symbiont")
    only = [p.strip() for p in params.split(",") if p.strip()] or None
    problem = symbiont_problem(setup, pm, strategy, metric, params=only)
    base = problem.evaluate(dict(problem.incumbent))
    quiet = _DropVerdict()
    opt.ctx.log.addFilter(quiet)     # this command prints the verdict itself
    try:
        res = opt.optimize(problem)
    finally:
        opt.ctx.log.removeFilter(quiet)
    out: dict[str, Any] = {
        "strategy": strategy, "metric": metric, "optimizer": opt.name,
        "incumbent": problem.incumbent, "incumbent_fitness": base, "best": res.params,
        "best_fitness": res.fitness, "evaluations": len(res.history),
        "seconds": round(time.perf_counter() - t0, 2), "extra": res.extra}
    if as_json:
        if history:
            out["history"] = res.history
        click.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
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
               f"in {out['seconds']:.1f} s")
