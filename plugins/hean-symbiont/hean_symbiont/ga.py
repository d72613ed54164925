"""The genetic search: seeded, elitist, tournament selection, uniform crossover, Gaussian
mutation, early stop on stagnation.

One generation:

1. every individual is scored (a parameter set already scored is not scored again: the
   score is looked up, so an elite costs nothing);
2. the individuals are ranked by fitness (ties keep the earlier individual: the incumbent,
   first in generation 0, wins a tie);
3. the best so far is kept; after ``patience`` generations in a row without a strictly better
   best, or after ``generations`` generations, the search stops;
4. the next generation is the ``elitism`` best individuals unchanged, then children until the
   population is full: two parents, each the fittest of ``tournament_k`` individuals drawn at
   random (with replacement); each gene from the second parent with probability
   ``crossover_p``, else from the first (uniform crossover); then each gene mutates with
   probability ``mutation_p``: a number moves by a Gaussian step of standard deviation
   ``mutation_sigma`` x (high - low) and is clipped into the range (an integer is rounded
   first), a choice is redrawn among its other values.

Generation 0 is the incumbent (the configured values, clipped into the space) and
``population - 1`` uniform draws.  Every random number comes from the ``random.Random`` given
to :func:`search` (the optimizer seeds it with ``problem.seed``): the same seed gives the same
individuals, the same scores and the same result.

A parameter set the strategy's model refuses (``ConfigError``/``ValidationError``, e.g.
``slow <= fast``) scores ``-inf`` and is recorded with the reason; other exceptions are bugs
and propagate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hean_framework.components import Param
from hean_framework.errors import ConfigError, HeanError

from .config import SymbiontConfig

Params = dict[str, Any]


@dataclass(slots=True)
class Evaluation:
    """One scored parameter set."""

    params: Params
    fitness: float
    generation: int
    error: str = ""


@dataclass(slots=True)
class SearchOutcome:
    """What :func:`search` found."""

    best: Params
    fitness: float
    evaluations: list[Evaluation]
    generations: int
    stopped_early: bool
    best_by_generation: list[float] = field(default_factory=list)


def narrow_space(space: Mapping[str, Param],
                 bounds: Mapping[str, tuple[float, float]]) -> dict[str, Param]:
    """``space`` with the numeric ranges of ``bounds`` (each inside the parameter's range)."""
    problems: list[str] = []
    out = dict(space)
    for name, (low, high) in bounds.items():
        p = space.get(name)
        if p is None:
            problems.append(f"bounds.{name}: not a searched parameter; searched: "
                            f"{', '.join(space) or '-'}")
        elif p.kind == "choice":
            problems.append(f"bounds.{name}: a choice parameter has no range")
        elif low < p.low or high > p.high:
            problems.append(f"bounds.{name}: [{low:g}, {high:g}] is not inside the model's "
                            f"range [{p.low:g}, {p.high:g}]")
        elif p.kind == "int" and math.ceil(low) > math.floor(high):
            problems.append(f"bounds.{name}: [{low:g}, {high:g}] holds no integer")
        else:
            lo, hi = (float(math.ceil(low)), float(math.floor(high))) if p.kind == "int" \
                else (float(low), float(high))
            out[name] = Param(name, p.kind, lo, hi)
    if problems:
        raise ConfigError(problems, hint="optimizers.symbiont.bounds narrows the bounded "
                                         "int/float parameters of the strategy")
    return out


def mutate_gene(p: Param, value: Any, sigma: float, rng: random.Random) -> Any:
    """One mutation of ``value``: a Gaussian step of ``sigma`` x range, clipped (ints
    rounded), or another of the choices."""
    if p.kind == "choice":
        others = [c for c in p.choices if c != value]
        return others[rng.randrange(len(others))] if others else value
    step = rng.gauss(0.0, sigma * (p.high - p.low))
    return p.clip(float(value) + step)


class _Scorer:
    """Scores parameter sets once each and records every evaluation."""

    def __init__(self, score: Callable[[Params], float], names: list[str]) -> None:
        self.score = score
        self.names = names
        self.cache: dict[tuple[Any, ...], float] = {}
        self.evaluations: list[Evaluation] = []

    def __call__(self, params: Params, generation: int) -> float:
        key = tuple(params[k] for k in self.names)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        error = ""
        try:
            fit = float(self.score(dict(params)))
        except ConfigError as exc:
            fit, error = -math.inf, "; ".join(p.strip() for p in exc.problems)
        except ValidationError as exc:
            fit, error = -math.inf, "; ".join(str(e.get("msg", "")) for e in exc.errors())
        if math.isnan(fit):
            fit = -math.inf
        self.cache[key] = fit
        self.evaluations.append(Evaluation(dict(params), fit, generation, error))
        return fit


def search(space: Mapping[str, Param], score: Callable[[Params], float],
           incumbent: Mapping[str, Any], cfg: SymbiontConfig,
           rng: random.Random) -> SearchOutcome:
    """Maximise ``score`` over ``space`` (module docstring); deterministic for ``rng``'s
    seed."""
    if not space:
        raise HeanError("nothing to search: the parameter space is empty",
                        "give the strategy bounded parameters (Field(ge=..., le=...))")
    names = list(space)
    scorer = _Scorer(score, names)
    first = {k: p.clip(incumbent[k]) if k in incumbent else p.sample(rng)
             for k, p in space.items()}
    pop: list[Params] = [first] + [{k: p.sample(rng) for k, p in space.items()}
                                   for _ in range(cfg.population - 1)]
    best: Params = first
    best_fit = -math.inf
    best_seen = False
    stagnant = 0
    curve: list[float] = []
    stopped = False
    gen = 0
    for gen in range(cfg.generations):
        fits = [scorer(ind, gen) for ind in pop]
        order = sorted(range(len(pop)), key=fits.__getitem__, reverse=True)
        top = order[0]
        if not best_seen or fits[top] > best_fit:
            best, best_fit, best_seen = dict(pop[top]), fits[top], True
            stagnant = 0
        else:
            stagnant += 1
        curve.append(best_fit)
        if stagnant >= cfg.patience:
            stopped = True
            break
        if gen == cfg.generations - 1:
            break
        nxt = [dict(pop[i]) for i in order[:cfg.elitism]]
        while len(nxt) < cfg.population:
            a = _tournament(pop, fits, cfg.tournament_k, rng)
            b = _tournament(pop, fits, cfg.tournament_k, rng)
            child = {k: (b[k] if rng.random() < cfg.crossover_p else a[k]) for k in names}
            for k in names:
                if rng.random() < cfg.mutation_p:
                    child[k] = mutate_gene(space[k], child[k], cfg.mutation_sigma, rng)
            nxt.append(child)
        pop = nxt
    return SearchOutcome(best, best_fit, scorer.evaluations, gen + 1, stopped, curve)


def _tournament(pop: list[Params], fits: list[float], k: int,
                rng: random.Random) -> Params:
    """The fittest of ``k`` individuals drawn with replacement (ties: the first drawn)."""
    win = rng.randrange(len(pop))
    for _ in range(k - 1):
        i = rng.randrange(len(pop))
        if fits[i] > fits[win]:
            win = i
    return pop[win]
