"""Walk-forward: the genetic search on in-sample windows, the winners scored out-of-sample.

**Backtests.**  A :class:`Study` holds what the kernel's
:class:`~hean_framework.optimize.BacktestProblem` exposes: the validated run (``RunSetup``),
the plugin manager, the strategy instance and the run's market events loaded once.
:meth:`Study.run` is the problem's ``run``: the strategy's config becomes ``configured |
params`` (validated by its model, so an illegal set is a ``ConfigError``), and a journal-less
engine replays the given events.  ``fitness(Study.run(p), metric) == evaluate(p)`` (tested).
The backtests of a generation go to a backend (:mod:`hean_symbiont.backends`: this process,
a local process pool or Dask); the results do not depend on it.

**Folds.**  The time span of the price events (bars, trades, quotes, books; funding
settlements do not stretch it) is cut into ``folds + in_sample_segments`` equal segments.
Fold ``f`` (0-based) is scored out-of-sample on segment ``in_sample_segments + f`` after
an in-sample window ending where that segment starts: from the first segment (``anchored``)
or the ``in_sample_segments`` segments just before it (``rolling``).  A window holds the
events with ``start <= ts < end`` (column blocks are cut at the same timestamps, without a
copy); every window's run starts flat, so the strategy warms up again inside it.

**Per fold.**  The genetic search (:mod:`hean_symbiont.ga`, seeded with ``problem.seed`` and
the fold number) maximises the composite fitness (:mod:`hean_symbiont.fitness`) of runs on the
in-sample window; its winner and the incumbent are then run on the out-of-sample window.  The
fold reports both scorecards on both windows, the deflated Sharpe ratio of the winner (its
in-sample per-period returns, deflated by the number and the spread of the Sharpe ratios of
every parameter set the fold's search scored) and the PBO of that search (CSCV over the
in-sample per-period returns of every scored parameter set).

**Checkpoints.**  With a folder, the state of the walk-forward (finished folds, the
current fold's genetic search, every scorecard) is written after each generation
(:mod:`hean_symbiont.checkpoint`); a resumed search continues from it and ends with exactly
the result of an uninterrupted one.

**Candidate and promotion.**  The candidate is the last fold's winner (chosen on the most
recent in-sample window).  It is promoted only when it differs from the incumbent, its DSR is
at least ``dsr_min``, the PBO is at most ``pbo_max`` and its out-of-sample fitness in the last
fold beats the incumbent's by ``min_improvement`` (strictly higher, and at least ``(1 +
min_improvement)`` times the incumbent's); otherwise the result keeps the incumbent and says
why.
"""

from __future__ import annotations

import dataclasses
import math
import random
from bisect import bisect_left
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from hean_framework.blocks import BarBlock, TradeBlock
from hean_framework.components import OptimizationProblem, Param
from hean_framework.config import RunSetup
from hean_framework.errors import HeanError
from hean_framework.models import Funding, MarkPrice
from hean_framework.optimize import BacktestProblem, run_with
from hean_framework.plugins import HeanPluginManager
from hean_framework.run import RunResult

from .backends import Backend, Result, Task
from .config import SymbiontConfig
from .fitness import Scorecard
from .ga import GAState, Outcome, Params, search
from .stats import dsr_of, mean, pbo_cscv

_NOT_PRICES = (Funding, MarkPrice)


class Study:
    """The run, the plugins, the strategy and the loaded events of a backtest problem (module
    docstring)."""

    def __init__(self, setup: RunSetup, plugins: HeanPluginManager, strategy: str,
                 events: Sequence[Any]) -> None:
        if not any(rc.instance == strategy for rc in setup.components["strategy"]):
            raise HeanError(f"no strategy {strategy!r} in the run",
                            "strategies of the run: " + ", ".join(
                                rc.instance for rc in setup.components["strategy"]))
        self.setup = setup
        self.plugins = plugins
        self.strategy = strategy
        self.events = list(events)
        self._windows: dict[tuple[int, int], list[Any]] = {}

    @classmethod
    def from_problem(cls, problem: OptimizationProblem) -> Study | None:
        """The study of a :class:`~hean_framework.optimize.BacktestProblem` (what
        ``make_problem`` returns); ``None`` for a problem without backtests."""
        if not isinstance(problem, BacktestProblem) or problem.setup is None \
                or problem.plugins is None:
            return None
        return cls(problem.setup, problem.plugins, problem.strategy, problem.events)

    def window(self, start: int, end: int) -> list[Any]:
        """The events with ``start <= ts < end`` (cut once, then reused)."""
        key = (start, end)
        got = self._windows.get(key)
        if got is None:
            got = self._windows[key] = slice_events(self.events, start, end)
        return got

    def run(self, params: Params, events: Sequence[Any] | None = None) -> RunResult:
        """A journal-less run of the strategy with ``configured | params`` on ``events``
        (default: all the loaded events)."""
        return run_with(self.setup, self.plugins, self.strategy, params,
                        self.events if events is None else events)


# --------------------------------------------------------------------------------------------
# Time windows
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Fold:
    """In-sample ``[is_start, is_end)`` and out-of-sample ``[oos_start, oos_end)``, in ms."""

    index: int
    is_start: int
    is_end: int
    oos_start: int
    oos_end: int


def price_span(events: Sequence[Any]) -> tuple[int, int]:
    """(first, last) timestamp of the price events (funding and mark prices left out)."""
    first = last = None
    for ev in events:
        if isinstance(ev, (BarBlock, TradeBlock)):
            if ev.stop <= ev.start:
                continue
            a, b = int(ev.ts[ev.start]), int(ev.ts[ev.stop - 1])
        elif isinstance(ev, _NOT_PRICES):
            continue
        else:
            a = b = int(ev.ts)
        first = a if first is None else min(first, a)
        last = b if last is None else max(last, b)
    if first is None or last is None:
        raise HeanError("no price event to cut into walk-forward windows",
                        "data.files needs bars, trades, quotes or books")
    return first, last


def make_folds(first: int, last: int, folds: int, in_sample_segments: int,
               mode: str) -> list[Fold]:
    """The folds over ``[first, last]`` (module docstring); ``mode`` anchored or rolling."""
    if mode not in ("anchored", "rolling"):
        raise ValueError(f"walk-forward mode must be anchored or rolling, got {mode!r}")
    n = folds + in_sample_segments
    end = last + 1
    edges = [first + (end - first) * i // n for i in range(n + 1)]
    out = []
    for f in range(folds):
        seg = in_sample_segments + f
        start = edges[0] if mode == "anchored" else edges[f]
        out.append(Fold(f, start, edges[seg], edges[seg], edges[seg + 1]))
    return out


def slice_events(events: Sequence[Any], start: int, end: int) -> list[Any]:
    """The events with ``start <= ts < end``; column blocks are cut at the same timestamps
    (new views on the same columns)."""
    out: list[Any] = []
    for ev in events:
        if isinstance(ev, (BarBlock, TradeBlock)):
            a = bisect_left(ev.ts, start, ev.start, ev.stop)
            b = bisect_left(ev.ts, end, ev.start, ev.stop)
            if b > a:
                out.append(ev if (a, b) == (ev.start, ev.stop)
                           else dataclasses.replace(ev, start=a, stop=b))
        elif start <= ev.ts < end:
            out.append(ev)
    return out


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(space: dict[str, Param], params: Params) -> tuple[Any, ...]:
    return tuple(params.get(k) for k in space)


# --------------------------------------------------------------------------------------------
# The walk-forward search
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class WalkState:
    """The walk-forward so far: what a checkpoint holds (picklable)."""

    reports: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: the current fold's genetic search and the scorecards of its parameter sets
    ga: GAState | None = None
    cards: dict[tuple[Any, ...], Scorecard] = dataclasses.field(default_factory=dict)


#: called after each generation: (fold, generation within the fold, its state)
OnGeneration = Callable[[Fold, GAState, WalkState], None]


def _card(result: Result, what: str) -> Scorecard:
    if isinstance(result, str):
        raise HeanError(f"the strategy's model refused the {what}: {result}",
                        "the configured parameters must be valid")
    return result


def walk_forward(study: Study, problem: OptimizationProblem, space: dict[str, Param],
                 cfg: SymbiontConfig, backend: Backend, *, state: WalkState | None = None,
                 on_generation: OnGeneration | None = None
                 ) -> tuple[Params, list[dict[str, Any]], dict[str, Any]]:
    """(params to run, history, extra) of the walk-forward search (module docstring);
    ``state`` continues a checkpointed one."""
    first, last = price_span(study.events)
    folds = make_folds(first, last, cfg.folds, cfg.in_sample_segments, cfg.walk_forward)
    incumbent = dict(problem.incumbent)
    ws = state if state is not None else WalkState()
    winner: Params = incumbent
    for fold in folds:
        if fold.index < len(ws.reports):
            winner = dict(ws.reports[fold.index]["winner"])
            continue
        for name, (a, b) in (("in-sample", (fold.is_start, fold.is_end)),
                             ("out-of-sample", (fold.oos_start, fold.oos_end))):
            if not any(not isinstance(e, _NOT_PRICES) for e in study.window(a, b)):
                raise HeanError(f"walk-forward fold {fold.index} has no price event in its "
                                f"{name} window",
                                "use fewer folds or in_sample_segments, or more data")
        cards = ws.cards

        def score_many(batch: Sequence[Params], _fold: Fold = fold,
                       _cards: dict[tuple[Any, ...], Scorecard] = cards) -> list[Outcome]:
            results = backend.map([(p, _fold.is_start, _fold.is_end) for p in batch])
            out: list[Outcome] = []
            for p, r in zip(batch, results, strict=True):
                if isinstance(r, str):
                    out.append((-math.inf, r))
                else:
                    _cards[_key(space, p)] = r
                    out.append((r.fitness, ""))
            return out

        def saved(ga: GAState, _fold: Fold = fold) -> None:
            ws.ga = ga
            if on_generation is not None:
                on_generation(_fold, ga, ws)

        rng = random.Random(f"symbiont:{problem.seed}:{fold.index}")
        out = search(space, None, incumbent, cfg, rng, score_many=score_many, state=ws.ga,
                     on_generation=saved)
        history: list[dict[str, Any]] = []
        for ev in out.evaluations:
            card = cards.get(_key(space, ev.params))
            history.append({"fold": fold.index, "window": "in_sample",
                            "generation": ev.generation, "params": ev.params,
                            "fitness": ev.fitness, "error": ev.error,
                            **({"score": card.summary()} if card is not None else {})})
        winner = dict(out.best)
        win_is = cards[_key(space, winner)]
        tasks: list[Task] = [(winner, fold.oos_start, fold.oos_end)]
        if winner != incumbent:
            tasks.append((incumbent, fold.oos_start, fold.oos_end))
        inc_is_known = cards.get(_key(space, incumbent))
        if inc_is_known is None:
            tasks.append((incumbent, fold.is_start, fold.is_end))
        results = backend.map(tasks)
        win_oos = _card(results[0], "winner")
        inc_oos = win_oos if winner == incumbent else _card(results[1], "incumbent")
        inc_is = inc_is_known if inc_is_known is not None else _card(results[-1], "incumbent")
        for who, params, card in (("winner", winner, win_oos), ("incumbent", incumbent,
                                                                inc_oos)):
            history.append({"fold": fold.index, "window": "out_of_sample", "role": who,
                            "params": dict(params), "fitness": card.fitness,
                            "score": card.summary()})
        trials = [c for c in cards.values() if c.sharpe is not None]
        dsr = dsr_of(win_is.returns, [c.sharpe for c in trials if c.sharpe is not None])
        pbo = pbo_cscv([c.returns for c in cards.values()], cfg.pbo_blocks)
        ws.reports.append({
            "fold": fold.index,
            "in_sample": {"start": _iso(fold.is_start), "end": _iso(fold.is_end),
                          "start_ms": fold.is_start, "end_ms": fold.is_end},
            "out_of_sample": {"start": _iso(fold.oos_start), "end": _iso(fold.oos_end),
                              "start_ms": fold.oos_start, "end_ms": fold.oos_end},
            "winner": winner,
            "evaluations": len(out.evaluations),
            "invalid": sum(1 for e in out.evaluations if e.error),
            "generations": out.generations,
            "stopped_early": out.stopped_early,
            "best_by_generation": out.best_by_generation,
            "winner_in_sample": win_is.summary(),
            "winner_out_of_sample": win_oos.summary(),
            "incumbent_in_sample": inc_is.summary(),
            "incumbent_out_of_sample": inc_oos.summary(),
            "dsr": dsr.as_dict(),
            "pbo": pbo.as_dict(),
        })
        ws.history.extend(history)
        ws.ga, ws.cards = None, {}
    reports = ws.reports
    promotion = _promotion(winner, incumbent, reports[-1], cfg)
    is_fit = [r["winner_in_sample"]["fitness"] for r in reports]
    oos_fit = [r["winner_out_of_sample"]["fitness"] for r in reports]
    extra = {
        "mode": "walk_forward",
        "walk_forward": cfg.walk_forward,
        "seed": problem.seed,
        "span": {"start": _iso(first), "end": _iso(last), "start_ms": first, "end_ms": last},
        "folds": reports,
        "mean_in_sample_fitness": mean(is_fit),
        "mean_out_of_sample_fitness": mean(oos_fit),
        "out_of_sample_over_in_sample": mean(oos_fit) / mean(is_fit) if mean(is_fit) > 0
        else None,
        "candidate": winner,
        "incumbent": incumbent,
        "promotion": promotion,
        "evaluations": len(ws.history),
    }
    return (winner if promotion["promoted"] else incumbent), list(ws.history), extra


def _promotion(candidate: Params, incumbent: Params, fold: dict[str, Any],
               cfg: SymbiontConfig) -> dict[str, Any]:
    """Whether the last fold's winner replaces the incumbent, and why not."""
    reasons: list[str] = []
    if candidate == incumbent:
        reasons.append("the search found nothing better than the incumbent in-sample")
    dsr = fold["dsr"]["dsr"]
    pbo = fold["pbo"]["pbo"]
    if dsr is None:
        reasons.append("deflated Sharpe ratio undefined (the winner's returns do not vary)")
    elif dsr < cfg.dsr_min:
        reasons.append(f"deflated Sharpe ratio {dsr:.3f} < dsr_min {cfg.dsr_min:g}")
    if pbo is None:
        reasons.append("probability of backtest overfitting undefined (fewer than 2 scored "
                       f"parameter sets or fewer than 2 periods per block of "
                       f"{cfg.pbo_blocks})")
    elif pbo > cfg.pbo_max:
        reasons.append(f"probability of backtest overfitting {pbo:.3f} > pbo_max "
                       f"{cfg.pbo_max:g}")
    cand = fold["winner_out_of_sample"]["fitness"]
    inc = fold["incumbent_out_of_sample"]["fitness"]
    need = inc * (1.0 + cfg.min_improvement) if inc > 0 else inc
    if not (cand > inc and cand >= need):
        reasons.append(f"out-of-sample fitness {cand:.4g} does not beat the incumbent's "
                       f"{inc:.4g} by {cfg.min_improvement:.0%}")
    return {"promoted": not reasons, "reasons": reasons, "dsr": dsr, "pbo": pbo,
            "dsr_min": cfg.dsr_min, "pbo_max": cfg.pbo_max,
            "candidate_out_of_sample_fitness": cand,
            "incumbent_out_of_sample_fitness": inc}
