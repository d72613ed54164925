"""Builtin optimizer ``random_search`` and the ``hean optimize`` command.

``random_search`` scores the incumbent (the configured parameters), then ``trials`` candidates
drawn uniformly from the space with a generator seeded by ``problem.seed``; it returns the best
(ties keep the earlier candidate, so the incumbent wins a tie).  It is the reference an
optimizer plugin (the genetic ``symbiont``) should beat, and the component the
:class:`~hean_framework.testing.contracts.OptimizerContract` is shown to pass with.

``hean optimize CONFIG --strategy NAME`` builds the problem with
:func:`hean_framework.optimize.make_problem` and runs the config's first ``optimizers:``
instance (or ``--optimizer``; ``random_search`` when the section is empty).  The problem names
the output folder (``--out``, default ``runs/<run.name>-optimize``), where the optimizer may
keep checkpoints and its own report, and asks it to continue an interrupted search there
(``--resume``) and to show progress (unless ``--no-progress`` or ``--json``).  The command
writes ``optimize.json`` into that folder (:func:`hean_framework.optimize.write_result`:
strategy, metric, optimizer, seed, incumbent and its fitness, the best and its fitness, every
evaluation, the optimizer's ``extra``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import click
from pydantic import Field

from .. import hookimpl
from ..components import ComponentConfig, OptimizationProblem, OptimizationResult, Optimizer
from ..hookspecs import RegisterCommand, RegisterComponent


class RandomSearchConfig(ComponentConfig):
    """``optimizers.random_search``: uniform random search."""

    trials: int = Field(30, ge=1, le=100_000, description="candidates scored after the "
                        "incumbent")


class RandomSearch(Optimizer):
    """Uniform random search over the problem's space, seeded by ``problem.seed``."""

    config: RandomSearchConfig

    def optimize(self, problem: OptimizationProblem) -> OptimizationResult:
        rng = random.Random(problem.seed)
        best = {k: problem.space[k].clip(v) for k, v in problem.incumbent.items()
                if k in problem.space}
        for k, p in problem.space.items():
            best.setdefault(k, p.sample(rng))
        best_fit = problem.evaluate(best)
        history: list[dict[str, Any]] = [{"params": dict(best), "fitness": best_fit}]
        for _ in range(self.config.trials):
            cand = {k: p.sample(rng) for k, p in problem.space.items()}
            fit = problem.evaluate(cand)
            history.append({"params": cand, "fitness": fit})
            if fit > best_fit:
                best, best_fit = cand, fit
        return OptimizationResult(best, best_fit, history)


@click.command("optimize")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--strategy", required=True, help="strategy instance to optimize")
@click.option("--metric", default="sharpe", show_default=True,
              help="fitness: sharpe, sortino, net_pnl, total_return, profit_factor, win_rate, "
                   "max_drawdown (minimised)")
@click.option("--params", default="", help="comma-separated parameters (default: every "
              "bounded one)")
@click.option("--optimizer", "optimizer_name", default=None,
              help="optimizers: instance to use (default: the first, else random_search)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="override a config value (repeatable)")
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="output folder for optimize.json, the optimizer's checkpoints and report "
                   "(default: runs/<run.name>-optimize)")
@click.option("--resume", is_flag=True,
              help="continue the interrupted search whose checkpoint is in the output folder")
@click.option("--no-progress", is_flag=True, help="do not show the progress bar")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def optimize(config: str, strategy: str, metric: str, params: str,
             optimizer_name: str | None, sets: tuple[str, ...], out: str | None, resume: bool,
             no_progress: bool, as_json: bool) -> None:
    """Search the parameters of one strategy of CONFIG (no journal; data loaded once);
    writes optimize.json into the output folder."""
    import orjson

    from ..engine import Engine
    from ..errors import HeanError
    from ..optimize import make_problem, write_result
    from ..session import prepare

    setup, pm = prepare(config, sets)
    eng = Engine(setup, pm, journal=False, progress=False).build()
    optimizers = eng.parts.optimizers
    if optimizer_name is not None:
        if optimizer_name not in optimizers:
            raise HeanError(f"--optimizer {optimizer_name!r} is not under optimizers:",
                            f"configured: {', '.join(optimizers) or '-'}")
        opt = optimizers[optimizer_name]
    elif optimizers:
        opt = next(iter(optimizers.values()))
    else:
        opt = RandomSearch(RandomSearchConfig(), eng.ctx, name="random_search")
    only = [p.strip() for p in params.split(",") if p.strip()] or None
    problem = make_problem(setup, pm, strategy, metric, params=only)
    problem.folder = Path(out) if out else Path("runs") / f"{setup.config.run.name}-optimize"
    problem.resume = resume
    problem.progress = not (no_progress or as_json)
    base = problem.evaluate(dict(problem.incumbent))
    res = opt.optimize(problem)
    doc = write_result(problem, opt.name, base, res)
    if as_json:
        summary = {k: doc[k] for k in ("strategy", "metric", "optimizer", "incumbent",
                                       "incumbent_fitness", "best", "best_fitness",
                                       "evaluations", "folder")}
        click.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"{strategy}: {metric} {base:.4g} with the configured parameters "
               f"{problem.incumbent}")
    click.echo(f"best by {opt.name} after {len(res.history)} evaluations: {metric} "
               f"{res.fitness:.4g} with {res.params}")
    click.echo(f"wrote {doc['folder']}/optimize.json")


@hookimpl
def hean_register_optimizers(register: RegisterComponent) -> None:
    """Register ``random_search``."""
    register("random_search", RandomSearch, config=RandomSearchConfig)


@hookimpl
def hean_register_commands(register: RegisterCommand) -> None:
    """Register ``hean optimize``."""
    register(optimize)
