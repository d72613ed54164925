"""The plugin as the kernel sees it: registration, the contract suite, the parameter space,
clamped parameter updates and the README's parameter table.

Invariants:

* the kernel's ``StrategyContract`` holds on the kernel's sample BTC 5m candles (quotes around
  the close, well formed, owned by the instance, deterministic);
* ``inventory_neutral_mm`` is registered through the installed entry point;
* every numeric field has both bounds and a description (the optimizer's space);
* ``on_params_updated`` ignores unknown keys and *clamps* out-of-range values into the declared
  bounds (an optimizer or a bridge cannot push the strategy outside its space);
* the README's parameter table lists exactly the config fields with their defaults and ranges.
"""

from __future__ import annotations

import re
from pathlib import Path

from hean_inventory_neutral_mm import InventoryNeutralMM, InventoryNeutralMMConfig

from hean_framework.optimize import space_of
from hean_framework.plugins import HeanPluginManager
from hean_framework.testing import StrategyContract, build_component, isolated_plugins, make_context

README = Path(__file__).resolve().parents[1] / "README.md"


class TestContract(StrategyContract):
    plugin_name = "inventory_neutral_mm"
    plugin_module = "hean_inventory_neutral_mm.plugin"
    n_bars = 300


def test_registered_through_the_entry_point() -> None:
    pm = HeanPluginManager(autoload=True)
    pm.load()
    spec = pm.registry.get("strategy", "inventory_neutral_mm")
    assert spec is not None and spec.cls is InventoryNeutralMM
    assert spec.cls.style == "quoting"


def test_parameter_space_is_declared() -> None:
    space = space_of(InventoryNeutralMMConfig)
    fields = InventoryNeutralMMConfig.model_fields
    assert set(space) == set(fields) - {"regime_families"}
    for name, f in fields.items():
        assert f.description, name


def test_params_are_clamped_into_their_bounds() -> None:
    strat = build_component(isolated_plugins("hean_inventory_neutral_mm.plugin"), "strategy",
                            "inventory_neutral_mm", make_context(), {})
    keys = strat.on_params_updated({"max_ofi": 7.0, "gamma": -3, "refresh_s": 5.0,
                                    "not_a_param": 1})
    assert keys == ["gamma", "max_ofi", "refresh_s"]
    cfg = strat.config
    assert cfg.max_ofi == 1.0 and cfg.gamma == 0.0 and cfg.refresh_s == 5.0
    assert strat.on_params_updated({"nothing": 1}) == []


def test_readme_lists_every_parameter() -> None:
    text = README.read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", text, re.M))
    fields = InventoryNeutralMMConfig.model_fields
    assert set(rows) == set(fields)
    defaults = InventoryNeutralMMConfig()
    for name in fields:
        value = getattr(defaults, name)
        shown = rows[name]
        if isinstance(value, list):
            assert shown == str(value).replace("'", ""), name
        else:
            assert shown == str(value).lower() if isinstance(value, bool) else \
                float(shown) == float(value), name
