"""symbiont: the kernel's optimizer contract, registration and the config model.

Invariants:

* ``OptimizerContract`` passes with the default settings and with a small population: the
  result lies inside the space and ``fitness == evaluate(params)``, the same seed gives the
  same parameters, the result is never worse than the incumbent and gets at least half way
  from the incumbent to the optimum of the contract's landscape (ints, floats, choices);
* a problem that carries no backtests is searched on its own ``evaluate`` (``extra.mode`` plain,
  with the reason);
* the ``symbiont`` entry point registers the ``Symbiont`` optimizer with ``SymbiontConfig``
  (and the ``hean symbiont`` command); the model refuses unknown keys, elitism >= population,
  an odd ``pbo_blocks``, all-zero weights and empty ``bounds`` ranges.
"""

from __future__ import annotations

import pytest
from hean_symbiont import Symbiont, SymbiontConfig
from pydantic import ValidationError

from hean_framework.testing import OptimizerContract, isolated_plugins


class TestSymbiontContract(OptimizerContract):
    plugin_name = "symbiont"
    plugin_module = "hean_symbiont.plugin"


class TestSymbiontContractSmall(OptimizerContract):
    plugin_name = "symbiont"
    plugin_module = "hean_symbiont.plugin"
    config = {"population": 8, "generations": 40, "patience": 10, "elitism": 1,
              "tournament_k": 2}


def test_registered_with_its_model_and_command() -> None:
    pm = isolated_plugins("hean_symbiont.plugin")
    spec = pm.registry.get("optimizer", "symbiont")
    assert spec is not None and spec.cls is Symbiont and spec.config_model is SymbiontConfig
    assert "symbiont" in [cmd.name for cmd, _ in pm.registry.commands]


@pytest.mark.parametrize("bad", [
    {"elitism": 30},                       # == population
    {"pbo_blocks": 7},
    {"w_wfa": 0, "w_calmar": 0, "w_omega": 0, "w_sortino": 0},
    {"bounds": {"fast": [10, 5]}},
    {"population": 3},
    {"mutation_sigma": 0},
    {"walk_forward": "sideways"},
    {"no_such_key": 1},
])
def test_model_refuses(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SymbiontConfig.model_validate(bad)


def test_a_problem_without_backtests_is_searched_plainly() -> None:
    from hean_symbiont import SymbiontResult

    from hean_framework.testing import build_component, make_context

    pm = isolated_plugins("hean_symbiont.plugin")
    opt = build_component(pm, "optimizer", "symbiont", make_context(), {"generations": 3})
    problem = OptimizerContract.problem(5)
    res = opt.optimize(problem)
    assert isinstance(res, SymbiontResult)
    assert res.extra["mode"] == "plain" and "carries no backtests" in res.extra["why"]
    assert res.extra["generations"] <= 3 and len(res.history) == res.extra["evaluations"]
    assert res.fitness == problem.evaluate(res.params) == max(h["fitness"]
                                                              for h in res.history)
