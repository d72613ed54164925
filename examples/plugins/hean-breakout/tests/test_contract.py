"""breakout: the kernel's strategy contract, registration and the config model's bounds.

Invariants:

* ``StrategyContract`` passes: the component is registered with a model that rejects unknown
  keys; its signals on real BTC 5m candles are well formed (owned by the instance, side
  ``buy``/``sell``, stop on the right side of the entry, confidence in [0, 1]); two replays
  give the same signals; unknown parameters are ignored by ``on_params_updated``;
* the ``breakout`` name registers :class:`Breakout` with :class:`BreakoutConfig`;
* every field outside its declared bounds (``lookback`` 5..200, ``stop_atr`` 0.1..10,
  ``stop_pct`` 0..0.05, ``reward_risk`` 0.5..10, ``max_hold_bars`` 0..10,000, ``sides`` one of
  both/long/short) is refused before a run starts.
"""

from __future__ import annotations

from typing import Any

import pytest
from hean_breakout import Breakout, BreakoutConfig
from pydantic import ValidationError

from hean_framework.testing import StrategyContract, isolated_plugins


class TestContract(StrategyContract):
    plugin_name = "breakout"
    plugin_module = "hean_breakout.plugin"


class TestContractLongOnly(StrategyContract):
    plugin_name = "breakout"
    plugin_module = "hean_breakout.plugin"
    config = {"lookback": 48, "sides": "long", "stop_pct": 0.004, "max_hold_bars": 0}


def test_registered_with_its_model() -> None:
    pm = isolated_plugins("hean_breakout.plugin")
    spec = pm.registry.get("strategy", "breakout")
    assert spec is not None
    assert spec.cls is Breakout
    assert spec.config_model is BreakoutConfig


def test_defaults_are_inside_the_bounds() -> None:
    cfg = BreakoutConfig()
    assert (cfg.lookback, cfg.atr_period, cfg.stop_atr, cfg.stop_pct) == (20, 14, 2.0, 0.0)
    assert (cfg.reward_risk, cfg.max_hold_bars, cfg.sides) == (2.0, 48, "both")
    assert cfg.skip_regimes == []


@pytest.mark.parametrize("bad", [
    {"lookback": 4}, {"lookback": 201}, {"atr_period": 1}, {"stop_atr": 0.0},
    {"stop_atr": 11.0}, {"stop_pct": -0.01}, {"stop_pct": 0.06}, {"reward_risk": 0.4},
    {"reward_risk": 11.0}, {"max_hold_bars": -1}, {"sides": "up"}, {"confidence": 0.0},
    {"lookbak": 20},
])
def test_out_of_bounds_values_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BreakoutConfig(**bad)
