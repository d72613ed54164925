"""The plugin as the kernel sees it: registration, the contract suite, the parameter space,
clamped parameter updates and the README's parameter table.

Invariants:

* the kernel's ``StrategyContract`` holds on the kernel's sample BTC 5m candles (quotes around
  the close, well formed, owned by the instance, deterministic);
* ``rebate_farmer`` is registered through the installed entry point, style ``quoting``;
* every numeric field has both bounds and a description (the optimizer's space), and the
  original's optimizer ranges (offset 0.2-1 %, refresh 60-900 s) lie inside them;
* ``on_params_updated`` is the kernel's clamped update: unknown keys ignored, out-of-range
  values clamped into the declared bounds, the reversion horizon follows the config;
* the README's parameter table lists exactly the config fields with their defaults and ranges;
* a bad value in the YAML is a configuration error naming its path and the allowed values.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hean_rebate_farmer import RebateFarmer, RebateFarmerConfig

from hean_framework.optimize import space_of
from hean_framework.plugins import HeanPluginManager
from hean_framework.testing import StrategyContract, build_component, isolated_plugins, make_context

README = Path(__file__).resolve().parents[1] / "README.md"


class TestContract(StrategyContract):
    plugin_name = "rebate_farmer"
    plugin_module = "hean_rebate_farmer.plugin"
    n_bars = 300


def test_registered_through_the_entry_point() -> None:
    pm = HeanPluginManager(autoload=True)
    pm.load()
    spec = pm.registry.get("strategy", "rebate_farmer")
    assert spec is not None and spec.cls is RebateFarmer
    assert spec.cls.style == "quoting"


def test_parameter_space_is_declared() -> None:
    space = space_of(RebateFarmerConfig)
    fields = RebateFarmerConfig.model_fields
    assert set(space) == set(fields) - {"regime_families"}
    for name, f in fields.items():
        assert f.description, name
    # the original's optimizer ranges (offset_pct 0.002-0.01, refresh_s 60-900) are inside
    off, ref = space["offset_bps"], space["refresh_s"]
    assert off.clip(20.0) == 20.0 and off.clip(100.0) == 100.0
    assert ref.clip(60.0) == 60.0 and ref.clip(900.0) == 900.0


def test_params_are_clamped_into_their_bounds() -> None:
    strat = build_component(isolated_plugins("hean_rebate_farmer.plugin"), "strategy",
                            "rebate_farmer", make_context(), {})
    assert isinstance(strat, RebateFarmer)
    keys = strat.on_params_updated({"offset_bps": 9000.0, "refresh_s": 0.0,
                                    "reversion_horizon_s": 10.0, "not_a_param": 1})
    assert keys == ["offset_bps", "refresh_s", "reversion_horizon_s"]
    cfg = strat.config
    assert cfg.offset_bps == 500.0 and cfg.refresh_s == 1.0
    assert strat.metrics.horizon_ms == 10_000
    assert strat.on_params_updated({"nothing": 1}) == []
    assert strat.on_params_updated({"regime_families": ["NOT_A_FAMILY"]}) == []
    assert strat.config.regime_families == ["RANGE_LIKE", "NEUTRAL"]


def test_readme_lists_every_parameter() -> None:
    text = README.read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", text, re.M))
    fields = RebateFarmerConfig.model_fields
    assert set(rows) == set(fields)
    defaults = RebateFarmerConfig()
    for name in fields:
        value = getattr(defaults, name)
        shown = rows[name]
        if isinstance(value, list):
            assert shown == str(value).replace("'", ""), name
        else:
            assert float(shown) == float(value), name


def test_bad_parameters_name_the_yaml_path_and_the_allowed_values() -> None:
    import yaml

    from hean_framework.config import load_setup
    from hean_framework.errors import HeanError

    raw = yaml.safe_load((README.parent / "examples" / "rebate_farmer.yaml").read_text())
    raw["strategies"]["rebate_farmer"].update(offset_bps=-3, regime_families=["RANGE"])
    pm = isolated_plugins("hean_rebate_farmer.plugin", "hean_market_analyzers.plugin")
    with pytest.raises(HeanError) as err:
        load_setup(None, pm.registry, raw=raw, environ={})
    msg = str(err.value)
    assert "strategies.rebate_farmer.offset_bps" in msg and "greater than or equal to 0" in msg
    assert "strategies.rebate_farmer.regime_families[0]" in msg
    assert "'RANGE_LIKE', 'NEUTRAL', 'TREND' or 'VOLATILE'" in msg
