"""liquidity_sweep: the kernel's strategy contract, registration, the parameter space and how
parameter updates are applied.

Invariants:

* ``StrategyContract`` passes with the defaults and with session levels only: the component is
  registered with a model that rejects unknown keys; its signals on the kernel's real BTC 5m
  candles are well formed (owned by the instance, side buy/sell, stop on the losing side,
  confidence in [0, 1]); two replays give the same signals; unknown parameters are ignored;
* ``liquidity_sweep`` registers :class:`LiquiditySweep` with :class:`LiquiditySweepConfig`;
* every value outside a field's declared bounds, an unknown regime family and an unknown
  ``tick_source`` are refused by the model;
* the optimizer's space (``hean_framework.optimize.space_of``) is every numeric field with its
  declared bounds plus the bool and Literal fields as choices (``regime_families`` is a list and
  is left out);
* ``on_params_updated`` -- the kernel's rule (``hean_framework.params.apply_clamped``): unknown
  keys are ignored (nothing accepted, the config unchanged), a number out of range is clamped
  into the declared space, a value the model refuses (an unknown ``tick_source``) changes
  nothing, valid keys are applied and returned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hean_liquidity_sweep import LiquiditySweep, LiquiditySweepConfig
from pydantic import ValidationError

from hean_framework.context import RunContext
from hean_framework.optimize import space_of
from hean_framework.testing import StrategyContract, isolated_plugins, make_context

Make = Callable[..., tuple[LiquiditySweep, RunContext]]


class TestContract(StrategyContract):
    plugin_name = "liquidity_sweep"
    plugin_module = "hean_liquidity_sweep.plugin"


class TestContractSessionLevelsOnly(StrategyContract):
    plugin_name = "liquidity_sweep"
    plugin_module = "hean_liquidity_sweep.plugin"
    config = {"use_round_levels": False, "session_minutes": 1440, "volume_spike": 2.0,
              "max_hold_s": 0}


def test_registered_with_its_model() -> None:
    pm = isolated_plugins("hean_liquidity_sweep.plugin")
    spec = pm.registry.get("strategy", "liquidity_sweep")
    assert spec is not None
    assert spec.cls is LiquiditySweep
    assert spec.config_model is LiquiditySweepConfig


@pytest.mark.parametrize("bad", [
    {"round_min_pct": 0.0004}, {"round_min_pct": 0.03}, {"round_levels_each_side": 0},
    {"session_minutes": 10}, {"session_minutes": 1441}, {"session_levels_keep": 1},
    {"session_merge_pct": -0.1}, {"level_band_pct": 0.5}, {"sweep_pct": 0.0009},
    {"sweep_pct": 0.006}, {"lookback_ticks": 0}, {"lookback_ticks": 51},
    {"volume_window": 4}, {"volume_spike": 1.1}, {"volume_spike": 3.1},
    {"cooldown_s": 59}, {"cooldown_s": 3601}, {"max_signals_per_day": 0},
    {"ofi_min": 1.5}, {"stop_beyond_pct": 0.0}, {"tp_pct": 0.06},
    {"min_reward_risk": -1}, {"max_hold_s": -1}, {"confidence": 0.0},
    {"tick_source": "quotes"}, {"trade_tick_ms": -1}, {"regime_families": ["SIDEWAYS"]},
    {"sweep_pct": float("nan")}, {"sweep_pcts": 0.002},
])
def test_out_of_bounds_values_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LiquiditySweepConfig(**bad)


def test_regime_families_are_case_insensitive() -> None:
    assert LiquiditySweepConfig(regime_families=["trend"]).regime_families == ["TREND"]


def test_optimizer_space_is_the_declared_bounds() -> None:
    space = space_of(LiquiditySweepConfig)
    fields = LiquiditySweepConfig.model_fields
    assert set(space) == set(fields) - {"regime_families"}
    assert (space["sweep_pct"].low, space["sweep_pct"].high) == (0.001, 0.005)
    assert (space["volume_spike"].low, space["volume_spike"].high) == (1.2, 3.0)
    assert (space["cooldown_s"].low, space["cooldown_s"].high) == (60.0, 3600.0)
    assert space["lookback_ticks"].kind == "int"
    assert space["tick_source"].choices == ("auto", "bars", "trades")
    assert space["use_round_levels"].choices == (False, True)
    for name, p in space.items():
        if p.kind in ("int", "float"):
            default = fields[name].default
            assert p.low <= default <= p.high, name


def test_unknown_keys_are_ignored(make: Make) -> None:
    strat, _ = make()
    before = strat.config.model_dump()
    assert strat.on_params_updated({"surely_not_a_param": 1, "levels": [1, 2]}) == []
    assert strat.config.model_dump() == before


def test_a_refused_update_changes_nothing(make: Make) -> None:
    strat, _ = make()
    before = strat.config.model_dump()
    assert strat.on_params_updated({"tick_source": "book", "cooldown_s": 120.0}) == []
    assert strat.config.model_dump() == before


@pytest.mark.parametrize("bad", [{"sweep_pct": 0.5}, {"lookback_ticks": 0},
                                 {"volume_spike": 10.0}])
def test_out_of_range_updates_are_clamped_into_the_space(make: Make,
                                                         bad: dict[str, Any]) -> None:
    strat, _ = make()
    [(key, value)] = bad.items()
    assert strat.on_params_updated({**bad, "cooldown_s": 120.0}) == sorted([key, "cooldown_s"])
    p = space_of(type(strat.config))[key]
    got = getattr(strat.config, key)
    assert p.low <= got <= p.high and got != value
    assert strat.config.cooldown_s == 120.0


def test_valid_updates_are_applied_unknown_ones_dropped(make: Make) -> None:
    strat, _ = make()
    got = strat.on_params_updated({"sweep_pct": 0.003, "cooldown_s": 300, "nope": 1})
    assert got == ["cooldown_s", "sweep_pct"]
    assert strat.config.sweep_pct == 0.003 and strat.config.cooldown_s == 300.0
    assert strat._cooldown_ms == 300_000.0 and strat._pen_up == 1.003


def test_no_level_kind_means_no_signal(make: Make) -> None:
    from hean_framework.testing import sample_bars

    strat, ctx = make({"use_round_levels": False, "use_session_levels": False})
    for bar in sample_bars(2000):
        ctx.now = bar.ts
        assert strat.on_bar(bar) is None
    assert strat.stats()["sweeps"] == 0


def test_stats_before_start_is_empty_not_an_error() -> None:
    strat = LiquiditySweep(LiquiditySweepConfig(), make_context(), name="x")
    assert strat.stats() == {"session_levels": 0, "session_levels_merged": 0}
