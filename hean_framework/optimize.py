"""Optimization problems: what an optimizer plugin searches and how a candidate is scored.

:func:`make_problem` turns a validated run and one of its strategies into an
:class:`~hean_framework.components.OptimizationProblem`:

* **space** -- from the strategy's config model (:func:`space_of`): every ``int``/``float``
  field with both bounds declared (``Field(ge=..., le=...)``, ``gt``/``lt`` too: an open int
  bound moves one step in, an open float bound one ulp), every ``bool`` and ``Literal[...]``
  field as a choice.  Fields without both bounds cannot be searched and are left out (or, when
  named in ``params``, refused with the reason);
* **evaluate(params)** -- the run's engine with the strategy's config replaced by
  ``current config | params`` (validated by the model, so a value out of bounds is an error,
  not a silent clamp), **no journal**, on the data section's events **loaded once** and
  replayed for every candidate; returns the run's ``metric`` (higher is better;
  ``max_drawdown`` is negated).  A run without a value for the metric (no trade: no Sharpe)
  scores ``-inf``;
* **incumbent** -- the configured values of the searched parameters.

The problem is a :class:`BacktestProblem`: besides ``evaluate`` it exposes what an optimizer
needs to score candidates its own way -- ``run(params, events=None) -> RunResult`` (the same
journal-less run, on the loaded events or on any slice of them, e.g. a walk-forward window),
``events`` (the loaded market events), ``setup``, ``plugins``, ``metric`` -- and where the
command wants its output: ``folder`` (checkpoints, reports; None outside a command),
``resume`` (continue the run found in ``folder``) and ``progress`` (show a progress bar).

The engine is deterministic, so ``evaluate`` is a pure function of ``params``: the same
candidate scores the same every time (tested), and an optimizer seeded with ``problem.seed`` is
reproducible.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .components import OptimizationProblem, OptimizationResult, Param
from .config import ResolvedComponent, RunSetup
from .config_errors import format_errors
from .errors import ConfigError, HeanError
from .params import field_bounds
from .plugins import HeanPluginManager

if TYPE_CHECKING:
    from .run import RunResult

#: metrics an optimizer can maximise (``max_drawdown`` is minimised: its fitness is negated)
METRICS: tuple[str, ...] = ("sharpe", "sortino", "net_pnl", "total_return", "profit_factor",
                            "win_rate", "max_drawdown")


def _param(name: str, field: Any) -> Param | str:
    """The field as a :class:`Param`, or why it cannot be searched."""
    ann = field.annotation
    if ann is bool:
        return Param(name, "choice", choices=(False, True))
    if get_origin(ann) is Literal:
        return Param(name, "choice", choices=tuple(get_args(ann)))
    if ann in (int, float):
        low, high = field_bounds(field, ann is int)
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
            return "needs both bounds (Field(ge=..., le=...)) to be searched"
        if low > high:
            return f"has an empty range [{low:g}, {high:g}]"
        return Param(name, "int" if ann is int else "float", low, high)
    return f"has type {getattr(ann, '__name__', ann)!s}; only int, float, bool and Literal " \
           "fields can be searched"


def space_of(model: type[BaseModel], only: Sequence[str] | None = None) -> dict[str, Param]:
    """The searchable parameters of a config model (all of them, or those in ``only``)."""
    out: dict[str, Param] = {}
    problems = []
    for name in only if only is not None else model.model_fields:
        field = model.model_fields.get(name)
        if field is None:
            problems.append(f"{name}: not a parameter of {model.__name__}; parameters: "
                            f"{', '.join(model.model_fields)}")
            continue
        p = _param(name, field)
        if isinstance(p, Param):
            out[name] = p
        elif only is not None:
            problems.append(f"{name}: {p}")
    if problems:
        raise ConfigError(problems, hint="name bounded int/float, bool or Literal parameters")
    return out


@dataclass(slots=True)
class BacktestProblem(OptimizationProblem):
    """An :class:`OptimizationProblem` over backtests of one strategy of a run (module
    docstring): ``evaluate(params) == fitness(run(params), metric)``."""

    setup: RunSetup | None = None
    plugins: HeanPluginManager | None = None
    metric: str = "sharpe"
    #: the run's market events, loaded once (bars, trades, quotes, books, funding, blocks)
    events: list[Any] = field(default_factory=list)
    #: where the optimizer may write checkpoints and reports (the command's output folder)
    folder: Path | None = None
    #: continue the interrupted search whose checkpoint is in ``folder``
    resume: bool = False
    #: show a progress bar while searching
    progress: bool = False

    def run(self, params: dict[str, Any], events: Sequence[Any] | None = None) -> RunResult:
        """A journal-less run of the strategy with ``configured | params`` on ``events``
        (default: every loaded event); a parameter set the config model refuses is a
        :class:`~hean_framework.errors.ConfigError` naming the YAML path."""
        if self.setup is None or self.plugins is None:
            raise HeanError("this problem carries no run to replay",
                            "build it with hean_framework.optimize.make_problem")
        return run_with(self.setup, self.plugins, self.strategy, params,
                        self.events if events is None else events)


def run_with(setup: RunSetup, plugins: HeanPluginManager, strategy: str,
             params: dict[str, Any], events: Sequence[Any]) -> RunResult:
    """A journal-less run of ``setup`` with ``strategy``'s config replaced by ``configured |
    params`` (validated by its model), replaying ``events``."""
    from .engine import Engine

    rcs = setup.components["strategy"]
    target = next((rc for rc in rcs if rc.instance == strategy), None)
    if target is None:
        raise HeanError(f"no strategy {strategy!r} in the run",
                        f"strategies of the run: {', '.join(rc.instance for rc in rcs) or '-'}")
    model = target.spec.config_model
    try:
        cfg = model.model_validate({**target.config.model_dump(), **params})
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, f"strategies.{strategy}", model)) from exc
    swapped: ResolvedComponent = dataclasses.replace(target, config=cfg)
    comps = {**setup.components, "strategy": [swapped if rc is target else rc for rc in rcs]}
    eng = Engine(dataclasses.replace(setup, components=comps), plugins, journal=False,
                 progress=False, metrics_only=True)
    return eng.run(events=events)


def make_problem(setup: RunSetup, plugins: HeanPluginManager, strategy: str,
                 metric: str = "sharpe", *, params: Sequence[str] | None = None,
                 seed: int | None = None) -> BacktestProblem:
    """The optimization problem of ``strategy`` in the run ``setup`` (module docstring)."""
    from .engine import Engine

    if metric not in METRICS:
        raise HeanError(f"unknown metric {metric!r}", f"choose one of {', '.join(METRICS)}")
    rcs = setup.components["strategy"]
    target = next((rc for rc in rcs if rc.instance == strategy), None)
    if target is None:
        raise HeanError(f"no strategy {strategy!r} in the run",
                        f"strategies of the run: {', '.join(rc.instance for rc in rcs) or '-'}")
    model = target.spec.config_model
    space = space_of(model, params)
    if not space:
        raise HeanError(f"strategy {strategy!r} ({target.spec.name}) has no searchable "
                        "parameter", "declare bounds on its config fields: Field(ge=, le=)")
    loader = Engine(setup, plugins, journal=False, progress=False).build()
    if loader.feed is None:
        raise HeanError("nothing to evaluate on: the run has no data section",
                        "add data.files to the config")
    events = list(loader.feed.blocks())

    def evaluate(candidate: dict[str, Any]) -> float:
        return fitness(run_with(setup, plugins, strategy, candidate, events), metric)

    return BacktestProblem(strategy, space, evaluate,
                           {k: getattr(target.config, k) for k in space},
                           setup.config.run.seed if seed is None else seed,
                           setup=setup, plugins=plugins, metric=metric, events=events)


def write_result(problem: BacktestProblem, optimizer: str, incumbent_fitness: float,
                 result: OptimizationResult) -> dict[str, Any]:
    """Write ``optimize.json`` into ``problem.folder`` and return its content: strategy,
    metric, optimizer, seed, incumbent and its fitness, best and its fitness, the number of
    evaluations, ``history`` and ``extra`` (non-finite numbers as null; nothing that depends
    on the wall clock, so the same search writes the same file)."""
    import orjson

    if problem.folder is None:
        raise HeanError("the problem has no output folder", "set problem.folder")
    folder = Path(problem.folder)
    doc: dict[str, Any] = {
        "strategy": problem.strategy, "metric": problem.metric, "optimizer": optimizer,
        "seed": problem.seed, "incumbent": problem.incumbent,
        "incumbent_fitness": incumbent_fitness, "best": result.params,
        "best_fitness": result.fitness, "evaluations": len(result.history),
        "folder": str(folder), "history": result.history, "extra": result.extra}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "optimize.json").write_bytes(orjson.dumps(
            {k: v for k, v in doc.items() if k != "folder"},
            option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY))
    except OSError as exc:
        from .rundir import os_error

        raise os_error(exc, folder, "write optimize.json in") from exc
    return doc


def fitness(result: Any, metric: str) -> float:
    """The run's ``metric`` as a fitness (higher is better; ``-inf`` when undefined)."""
    from .metrics import compute_metrics_with_notes

    value = compute_metrics_with_notes(result)[0].get(metric)
    if value is None or not math.isfinite(float(value)):
        return -math.inf
    return -float(value) if metric == "max_drawdown" else float(value)
