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

**Batches.**  A generation's new parameter sets (not scored before, each once, in population
order) are scored together: by ``score`` one after the other, or by ``score_many`` (a
backend that scores them in parallel and returns ``(fitness, error)`` in the same order).
Either way the evaluations, their order and the result are the same.

**Checkpoints.**  After each generation ``on_generation`` receives the whole search state
(:class:`GAState`: the next generation's population, the generator's state, every score so
far, the best, the stagnation count); ``search(..., state=saved)`` continues from it and ends
exactly as the uninterrupted search would.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hean_framework.components import Param
from hean_framework.errors import ConfigError, HeanError

from .config import SymbiontConfig

Params = dict[str, Any]
#: (fitness, error) of one parameter set; error is "" unless the model refused it
Outcome = tuple[float, str]
ScoreMany = Callable[[Sequence[Params]], Sequence[Outcome]]


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


@dataclass(slots=True)
class GAState:
    """Everything the search needs to continue after a generation (picklable)."""

    generation: int
    population: list[Params]
    rng_state: Any
    cache: dict[tuple[Any, ...], float]
    evaluations: list[Evaluation]
    best: Params
    best_fit: float
    best_seen: bool
    stagnant: int
    curve: list[float]
    done: bool = False
    stopped: bool = False


def outcome_of(score: Callable[[Params], float], params: Params) -> Outcome:
    """``score(params)`` as ``(fitness, error)``: a set the model refuses is ``-inf`` with
    the reason; NaN counts as ``-inf``."""
    error = ""
    try:
        fit = float(score(dict(params)))
    except ConfigError as exc:
        fit, error = -math.inf, "; ".join(p.strip() for p in exc.problems)
    except ValidationError as exc:
        fit, error = -math.inf, "; ".join(str(e.get("msg", "")) for e in exc.errors())
    if math.isnan(fit):
        fit = -math.inf
    return fit, error


def _score_generation(state: GAState, names: list[str], score_many: ScoreMany) -> list[float]:
    """The fitness of every individual of ``state.population``; new sets scored in one
    batch, recorded in population order."""
    keys = [tuple(ind[k] for k in names) for ind in state.population]
    fresh: dict[tuple[Any, ...], Params] = {}
    for key, ind in zip(keys, state.population, strict=True):
        if key not in state.cache and key not in fresh:
            fresh[key] = dict(ind)
    if fresh:
        outcomes = list(score_many(list(fresh.values())))
        if len(outcomes) != len(fresh):
            raise RuntimeError(f"the backend returned {len(outcomes)} scores for "
                               f"{len(fresh)} parameter sets")
        for (key, params), (fit, error) in zip(fresh.items(), outcomes, strict=True):
            fit = -math.inf if math.isnan(fit) else fit
            state.cache[key] = fit
            state.evaluations.append(Evaluation(params, fit, state.generation, error))
    return [state.cache[k] for k in keys]


def search(space: Mapping[str, Param], score: Callable[[Params], float] | None,
           incumbent: Mapping[str, Any], cfg: SymbiontConfig, rng: random.Random, *,
           score_many: ScoreMany | None = None, state: GAState | None = None,
           on_generation: Callable[[GAState], None] | None = None) -> SearchOutcome:
    """Maximise ``score`` (or ``score_many``) over ``space`` (module docstring);
    deterministic for ``rng``'s seed; ``state`` continues a checkpointed search."""
    if not space:
        raise HeanError("nothing to search: the parameter space is empty",
                        "give the strategy bounded parameters (Field(ge=..., le=...))")
    if score_many is None:
        if score is None:
            raise ValueError("search needs score or score_many")
        one = score

        def score_many(batch: Sequence[Params]) -> list[Outcome]:
            return [outcome_of(one, p) for p in batch]

    names = list(space)
    if state is None:
        first = {k: p.clip(incumbent[k]) if k in incumbent else p.sample(rng)
                 for k, p in space.items()}
        pop: list[Params] = [first] + [{k: p.sample(rng) for k, p in space.items()}
                                       for _ in range(cfg.population - 1)]
        state = GAState(0, pop, rng.getstate(), {}, [], first, -math.inf, False, 0, [])
    else:
        rng.setstate(state.rng_state)
    while not state.done:
        gen = state.generation
        pop = state.population
        fits = _score_generation(state, names, score_many)
        order = sorted(range(len(pop)), key=fits.__getitem__, reverse=True)
        top = order[0]
        if not state.best_seen or fits[top] > state.best_fit:
            state.best, state.best_fit, state.best_seen = dict(pop[top]), fits[top], True
            state.stagnant = 0
        else:
            state.stagnant += 1
        state.curve.append(state.best_fit)
        if state.stagnant >= cfg.patience:
            state.done = state.stopped = True
        elif gen == cfg.generations - 1:
            state.done = True
        else:
            nxt = [dict(pop[i]) for i in order[:cfg.elitism]]
            while len(nxt) < cfg.population:
                a = _tournament(pop, fits, cfg.tournament_k, rng)
                b = _tournament(pop, fits, cfg.tournament_k, rng)
                child = {k: (b[k] if rng.random() < cfg.crossover_p else a[k]) for k in names}
                for k in names:
                    if rng.random() < cfg.mutation_p:
                        child[k] = mutate_gene(space[k], child[k], cfg.mutation_sigma, rng)
                nxt.append(child)
            state.population = nxt
            state.generation = gen + 1
        state.rng_state = rng.getstate()
        if on_generation is not None:
            on_generation(state)
    return SearchOutcome(state.best, state.best_fit, state.evaluations, len(state.curve),
                         state.stopped, list(state.curve))


def _tournament(pop: list[Params], fits: list[float], k: int,
                rng: random.Random) -> Params:
    """The fittest of ``k`` individuals drawn with replacement (ties: the first drawn)."""
    win = rng.randrange(len(pop))
    for _ in range(k - 1):
        i = rng.randrange(len(pop))
        if fits[i] > fits[win]:
            win = i
    return pop[win]
