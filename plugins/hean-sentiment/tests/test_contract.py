"""The kernel's strategy contract, registration, the config models' bounds and parameter
updates.

Invariants:

* ``StrategyContract`` passes with the defaults (no sentiment source in the contract's replay:
  every reading is neutral, so no signal is expected) and with the momentum fallback on (which
  must trade the real sample candles): registered with a model that rejects unknown keys,
  well-formed and deterministic signals, unknown parameters ignored;
* the entry point ``hean_sentiment.plugin`` registers the analyzer ``sentiment_source`` and the
  strategy ``sentiment_strategy`` with their models;
* every strategy field outside its bounds is refused; the optimizer's search space is exactly
  the bounded, bool and Literal fields, with the ranges of the original's optimizer
  (min_confidence 0.6..0.9, min_score 0.4..0.8, cooldown_min 15..120);
* ``on_params_updated`` applies known keys only (unknown ones ignored) and refuses an
  out-of-range value with the kernel's ``ValidationError``, leaving the config unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
from hean_sentiment import (
    SentimentSource,
    SentimentSourceConfig,
    SentimentStrategy,
    SentimentStrategyConfig,
)
from pydantic import ValidationError

from hean_framework.optimize import space_of
from hean_framework.testing import StrategyContract, build_component, isolated_plugins, make_context


class TestContract(StrategyContract):
    plugin_name = "sentiment_strategy"
    plugin_module = "hean_sentiment.plugin"
    expects_signals = False  # nobody publishes sentiment in the contract's replay


class TestContractFallback(StrategyContract):
    plugin_name = "sentiment_strategy"
    plugin_module = "hean_sentiment.plugin"
    config = {"momentum_fallback": True, "sides": "both", "cooldown_min": 15}


def test_both_components_are_registered_with_their_models() -> None:
    pm = isolated_plugins("hean_sentiment.plugin")
    spec = pm.registry.get("strategy", "sentiment_strategy")
    assert spec is not None and spec.cls is SentimentStrategy
    assert spec.config_model is SentimentStrategyConfig
    spec = pm.registry.get("analyzer", "sentiment_source")
    assert spec is not None and spec.cls is SentimentSource
    assert spec.config_model is SentimentSourceConfig


@pytest.mark.parametrize("bad", [
    {"min_confidence": 0.59}, {"min_confidence": 0.91}, {"min_score": 0.39},
    {"min_score": 0.81}, {"cooldown_min": 14}, {"cooldown_min": 121}, {"stale_min": 0.5},
    {"stop_pct": 0.001}, {"take_profit_pct": 0.3}, {"stop_pct": 0.02, "take_profit_pct": 0.02},
    {"max_hold_min": -1}, {"urgency": 1.1}, {"sides": "up"}, {"fallback_threshold": 0.0},
    {"fallback_stop_pct": 0.02, "fallback_take_profit_pct": 0.01}, {"min_scor": 0.5},
    {"min_score": float("nan")},
])
def test_out_of_bounds_values_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SentimentStrategyConfig(**bad)


def test_the_search_space() -> None:
    space = space_of(SentimentStrategyConfig)
    assert set(space) == set(SentimentStrategyConfig.model_fields)
    assert (space["min_confidence"].low, space["min_confidence"].high) == (0.6, 0.9)
    assert (space["min_score"].low, space["min_score"].high) == (0.4, 0.8)
    assert (space["cooldown_min"].low, space["cooldown_min"].high) == (15.0, 120.0)
    assert space["sides"].choices == ("both", "long", "short")
    assert space["momentum_fallback"].choices == (False, True)


def test_params_update_applies_known_keys_and_refuses_bad_values() -> None:
    pm = isolated_plugins("hean_sentiment.plugin")
    strat = build_component(pm, "strategy", "sentiment_strategy", make_context())
    assert isinstance(strat, SentimentStrategy)
    assert strat.on_params_updated({"surely_not": 1, "other": "x"}) == []
    assert strat.on_params_updated({"min_score": 0.7, "bogus": 1}) == ["min_score"]
    assert strat.config.min_score == 0.7
    before = strat.config.model_dump()
    assert strat.on_params_updated({"stop_pct": 0.03}) == []  # not below take_profit_pct 0.02
    assert strat.config.model_dump() == before
    assert strat.on_params_updated({"min_confidence": 0.95}) == ["min_confidence"]
    assert strat.config.min_confidence < 0.95  # clamped to its declared bound
    strat.on_params_updated({"min_confidence": before["min_confidence"]})
    assert strat.config.model_dump() == before
    assert strat.on_params_updated({"cooldown_min": 60, "sides": "short"}) == [
        "cooldown_min", "sides"]
    assert (strat.config.cooldown_min, strat.config.sides) == (60.0, "short")
