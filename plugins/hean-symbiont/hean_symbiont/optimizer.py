"""The ``symbiont`` optimizer: a genetic search, plain or walk-forward.

``optimize(problem)``:

* **walk-forward** (``walk_forward: anchored`` or ``rolling``, the default) when the problem
  is the kernel's :class:`~hean_framework.optimize.BacktestProblem` (``make_problem``,
  ``hean optimize``): the genetic search maximises the composite fitness of
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
and the fold number): the same problem and seed give the same result, on any backend
(:mod:`hean_symbiont.backends`) and with any number of workers.  When the problem names a
``folder`` (the command's ``--out``), a checkpoint is written there after every generation
(``resume`` continues from it, :mod:`hean_symbiont.checkpoint`) and the HTML report
``optimize.html`` at the end (:mod:`hean_symbiont.report`); ``progress`` shows a bar.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from hean_framework.components import OptimizationProblem, OptimizationResult, Optimizer
from hean_framework.errors import HeanError
from hean_framework.optimize import BacktestProblem

from .backends import make_backend
from .checkpoint import Checkpoint, fingerprint
from .config import SymbiontConfig
from .ga import GAState, narrow_space, search
from .progress import SearchProgress
from .walkforward import Fold, Study, WalkState, walk_forward

#: the result type of ``symbiont`` (the kernel's result carries ``extra`` itself)
SymbiontResult = OptimizationResult

log = logging.getLogger("hean.symbiont")


class Symbiont(Optimizer):
    """Seeded genetic search over a strategy's parameters (module docstring)."""

    config: SymbiontConfig

    def optimize(self, problem: OptimizationProblem) -> OptimizationResult:
        cfg = self.config
        space = narrow_space(problem.space, cfg.bounds)
        study = Study.from_problem(problem) if cfg.walk_forward != "off" else None
        if study is None:
            return self._plain(problem, space, "walk_forward: off" if cfg.walk_forward == "off"
                               else "the problem carries no backtests (not built by "
                                    "make_problem)")
        bp = problem if isinstance(problem, BacktestProblem) else None
        folder = bp.folder if bp is not None else None
        ckpt = Checkpoint(folder, fingerprint(problem, space, cfg)) if folder else None
        resume = bp is not None and bp.resume
        if resume and ckpt is None:
            raise HeanError("--resume needs the folder of the interrupted search",
                            "pass --out FOLDER --resume")
        state = ckpt.load() if ckpt is not None and resume else None
        progress = SearchProgress(cfg.folds, cfg.generations) \
            if bp is not None and bp.progress else None

        def on_generation(fold: Fold, ga: GAState, ws: WalkState) -> None:
            if ckpt is not None:
                ckpt.save(ws)
            if progress is not None:
                progress.generation(fold.index, len(ga.curve) - 1, ga.best_fit, ga.done)

        backend = make_backend(study, cfg)
        log.info("symbiont %s: backtests on %s with %d worker(s)", problem.strategy,
                 cfg.backend, backend.workers)
        try:
            params, history, extra = walk_forward(study, problem, space, cfg, backend,
                                                  state=state, on_generation=on_generation)
        finally:
            backend.close()
            if progress is not None:
                progress.close()
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
        result = OptimizationResult(params, fitness, history, extra)
        if folder is not None:
            from .report import write_report

            write_report(folder, problem.strategy, bp.metric if bp is not None else "", result,
                         {k: (p.low, p.high, p.choices) for k, p in space.items()})
        return result

    def _plain(self, problem: OptimizationProblem, space: dict[str, Any],
               why: str) -> OptimizationResult:
        out = search(space, problem.evaluate, problem.incumbent, self.config,
                     random.Random(problem.seed))
        history = [{"generation": e.generation, "params": e.params, "fitness": e.fitness,
                    "error": e.error} for e in out.evaluations]
        extra = {"mode": "plain", "why": why, "seed": problem.seed,
                 "generations": out.generations, "stopped_early": out.stopped_early,
                 "best_by_generation": out.best_by_generation,
                 "evaluations": len(out.evaluations),
                 "invalid": sum(1 for e in out.evaluations if e.error)}
        return OptimizationResult(dict(out.best), out.fitness, history, extra)
