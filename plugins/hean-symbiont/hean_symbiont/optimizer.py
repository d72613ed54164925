"""The ``symbiont`` optimizer: a genetic search, plain or walk-forward.

``optimize(problem)``:

* **walk-forward** (``walk_forward: anchored`` or ``rolling``, the default) when the problem
  comes from the kernel's ``make_problem`` (``hean optimize``) or from
  :func:`hean_symbiont.symbiont_problem`: the genetic search maximises the composite fitness of
  real backtests on in-sample windows, the winners are scored out-of-sample, the last winner
  is promoted or refused (:mod:`hean_symbiont.walkforward`).  The result's ``params`` are the
  promoted candidate, or the incumbent when the candidate is refused; its ``fitness`` is
  ``problem.evaluate(params)`` (the problem's own metric over the whole data, as the kernel's
  optimizer interface asks); ``history`` has every backtest (fold, in- or out-of-sample window,
  generation, parameters, composite fitness and its numbers) and ``extra`` the per-fold
  in-sample versus out-of-sample report, the deflated Sharpe ratio, the PBO and the promotion
  verdict;
* **plain** (``walk_forward: off``, or any other problem, e.g. the contract's analytic
  landscape): the genetic search maximises ``problem.evaluate`` itself; ``fitness ==
  evaluate(params)``.

Every random number comes from generators seeded with ``problem.seed`` (per fold, the seed
and the fold number): the same problem and seed give the same result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from hean_framework.components import OptimizationProblem, OptimizationResult, Optimizer

from .config import SymbiontConfig
from .ga import narrow_space, search
from .walkforward import Study, walk_forward


@dataclass(slots=True)
class SymbiontResult(OptimizationResult):
    """:class:`OptimizationResult` with ``extra``: what the search did and found."""

    extra: dict[str, Any] = field(default_factory=dict)


class Symbiont(Optimizer):
    """Seeded genetic search over a strategy's parameters (module docstring)."""

    config: SymbiontConfig

    def optimize(self, problem: OptimizationProblem) -> SymbiontResult:
        cfg = self.config
        space = narrow_space(problem.space, cfg.bounds)
        study = Study.from_problem(problem) if cfg.walk_forward != "off" else None
        if study is None:
            return self._plain(problem, space, "walk_forward: off" if cfg.walk_forward == "off"
                               else "the problem carries no backtest study (not built by "
                                    "make_problem or symbiont_problem)")
        params, history, extra = walk_forward(study, problem, space, cfg)
        fitness = problem.evaluate(params)
        promo = extra["promotion"]
        if promo["promoted"]:
            self.ctx.log.info("symbiont %s: candidate %s promoted (DSR %.3f, PBO %.3f)",
                              problem.strategy, extra["candidate"], promo["dsr"],
                              promo["pbo"])
        else:
            self.ctx.log.warning(
                "symbiont %s: kept the configured parameters; candidate %s refused: %s "
                "(per-fold report: hean symbiont CONFIG --strategy %s)", problem.strategy,
                extra["candidate"], "; ".join(promo["reasons"]), problem.strategy)
        return SymbiontResult(params, fitness, history, extra)

    def _plain(self, problem: OptimizationProblem, space: dict[str, Any],
               why: str) -> SymbiontResult:
        out = search(space, problem.evaluate, problem.incumbent, self.config,
                     random.Random(problem.seed))
        history = [{"generation": e.generation, "params": e.params, "fitness": e.fitness,
                    "error": e.error} for e in out.evaluations]
        extra = {"mode": "plain", "why": why, "seed": problem.seed,
                 "generations": out.generations, "stopped_early": out.stopped_early,
                 "best_by_generation": out.best_by_generation,
                 "evaluations": len(out.evaluations),
                 "invalid": sum(1 for e in out.evaluations if e.error)}
        return SymbiontResult(dict(out.best), out.fitness, history, extra)
