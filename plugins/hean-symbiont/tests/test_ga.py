"""The genetic search on analytic problems (no backtest).

Invariants:

* same seed -> same individuals, scores, history and result; another seed -> another search;
* generation 0 holds the incumbent (clipped into the space): the result is never worse, and a
  tie keeps the incumbent;
* elitism: the best fitness never decreases from one generation to the next, and an elite is
  not scored again (each parameter set is scored once);
* early stop: a landscape without improvement stops after ``patience`` stagnant generations;
  the number of evaluations never exceeds population + (generations - 1) * (population -
  elitism);
* mutation: an int gene stays an int inside its range (rounded and clipped), a float gene
  inside its range, a choice gene always changes to another allowed value; the step's
  standard deviation is ``mutation_sigma`` x range;
* ``bounds`` narrows numeric ranges inside the model's range and refuses anything else;
* a parameter set the model refuses scores -inf with the reason and is never the result.
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

import pytest
from hean_symbiont import SymbiontConfig, narrow_space, search
from hean_symbiont.ga import mutate_gene

from hean_framework.components import Param
from hean_framework.errors import ConfigError

SPACE = {"x": Param("x", "float", -5.0, 5.0), "n": Param("n", "int", 1, 40),
         "mode": Param("mode", "choice", choices=("a", "b", "c"))}
INCUMBENT = {"x": -4.0, "n": 38, "mode": "a"}


def landscape(p: dict[str, Any]) -> float:
    return 1.0 - ((p["x"] - 1.5) / 10) ** 2 - ((p["n"] - 17) / 40) ** 2 \
        - (0.0 if p["mode"] == "b" else 0.1)


def cfg(**kw: Any) -> SymbiontConfig:
    return SymbiontConfig(**{"population": 12, "generations": 10, **kw})


def test_same_seed_same_search_other_seed_other_search() -> None:
    a = search(SPACE, landscape, INCUMBENT, cfg(), random.Random(5))
    b = search(SPACE, landscape, INCUMBENT, cfg(), random.Random(5))
    c = search(SPACE, landscape, INCUMBENT, cfg(), random.Random(6))
    assert a.best == b.best and a.fitness == b.fitness
    assert [(e.params, e.fitness, e.generation) for e in a.evaluations] == \
        [(e.params, e.fitness, e.generation) for e in b.evaluations]
    assert [e.params for e in a.evaluations] != [e.params for e in c.evaluations]


def test_incumbent_first_elitism_monotone_and_scored_once() -> None:
    calls: list[dict[str, Any]] = []

    def f(p: dict[str, Any]) -> float:
        calls.append(p)
        return landscape(p)

    out = search(SPACE, f, INCUMBENT, cfg(patience=100), random.Random(1))
    assert calls[0] == INCUMBENT
    assert out.fitness >= landscape(INCUMBENT)
    assert out.fitness == landscape(out.best) == max(e.fitness for e in out.evaluations)
    assert all(b >= a for a, b in zip(out.best_by_generation, out.best_by_generation[1:]))
    keys = [tuple(sorted(p.items())) for p in calls]
    assert len(keys) == len(set(keys)) == len(out.evaluations)
    assert len(calls) <= 12 + 9 * (12 - 2)


def test_tie_keeps_the_incumbent_and_flat_landscape_stops_early() -> None:
    out = search(SPACE, lambda p: 0.0, INCUMBENT, cfg(patience=3, generations=50),
                 random.Random(2))
    assert out.best == INCUMBENT and out.fitness == 0.0
    assert out.stopped_early and out.generations == 4   # generation 0 + 3 stagnant ones
    assert len(out.best_by_generation) == 4


def test_incumbent_outside_the_space_is_clipped() -> None:
    out = search(SPACE, landscape, {"x": 99.0, "n": 0, "mode": "z"}, cfg(generations=1),
                 random.Random(3))
    assert out.evaluations[0].params == {"x": 5.0, "n": 1, "mode": "a"}


def test_mutation_keeps_types_and_ranges_and_sigma_is_a_share_of_the_range() -> None:
    rng = random.Random(4)
    p_int, p_float, p_choice = SPACE["n"], SPACE["x"], SPACE["mode"]
    ints = [mutate_gene(p_int, 20, 0.1, rng) for _ in range(2000)]
    assert all(isinstance(v, int) and 1 <= v <= 40 for v in ints)
    edge = [mutate_gene(p_int, 40, 0.5, rng) for _ in range(500)]
    assert max(edge) == 40 and all(1 <= v <= 40 for v in edge)
    floats = [mutate_gene(p_float, 0.0, 0.1, rng) for _ in range(4000)]
    assert all(-5.0 <= v <= 5.0 for v in floats)
    assert statistics.pstdev(floats) == pytest.approx(1.0, rel=0.06)   # 10 % of 10
    choices = [mutate_gene(p_choice, "b", 0.1, rng) for _ in range(300)]
    assert set(choices) == {"a", "c"}
    assert mutate_gene(Param("one", "choice", choices=("x",)), "x", 0.1, rng) == "x"


def test_bounds_narrow_inside_the_model_range_only() -> None:
    space = narrow_space(SPACE, {"x": (-1.0, 2.0), "n": (2.5, 9.5)})
    assert space["x"] == Param("x", "float", -1.0, 2.0)
    assert space["n"] == Param("n", "int", 3, 9) and space["mode"] is SPACE["mode"]
    out = search(space, landscape, INCUMBENT, cfg(), random.Random(9))
    assert all(-1.0 <= e.params["x"] <= 2.0 and 3 <= e.params["n"] <= 9
               for e in out.evaluations)
    for bad, msg in [({"x": (-9.0, 1.0)}, "not inside"), ({"mode": (0.0, 1.0)}, "choice"),
                     ({"q": (0.0, 1.0)}, "not a searched"), ({"n": (2.2, 2.8)}, "no integer")]:
        with pytest.raises(ConfigError, match=msg):
            narrow_space(SPACE, bad)


def test_refused_parameter_sets_score_minus_inf_with_the_reason() -> None:
    def f(p: dict[str, Any]) -> float:
        if p["n"] > 20:
            raise ConfigError([f"strategies.s.n: {p['n']} too large"])
        return landscape(p)

    out = search(SPACE, f, {"x": 0.0, "n": 10, "mode": "a"}, cfg(), random.Random(8))
    bad = [e for e in out.evaluations if e.params["n"] > 20]
    assert bad and all(e.fitness == -math.inf and "too large" in e.error for e in bad)
    assert out.best["n"] <= 20 and math.isfinite(out.fitness)
