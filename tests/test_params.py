"""Clamped parameter updates (:mod:`hean_framework.params`), the default of
``Strategy.on_params_updated``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from hean_framework.components import ComponentConfig, Strategy
from hean_framework.params import apply_clamped, field_bounds
from hean_framework.testing import make_context


class Cfg(ComponentConfig):
    window: int = Field(20, ge=2, le=500)
    k: float = Field(1.5, gt=0.0, le=10.0)
    floor: float = Field(0.1, ge=0.0)  # one-sided bound
    mode: Literal["fast", "slow"] = "fast"
    fast: int = Field(5, ge=1, le=100)
    slow: int = Field(30, ge=2, le=400)

    @model_validator(mode="after")
    def _order(self) -> Cfg:
        if self.fast >= self.slow:
            raise ValueError("fast must be < slow")
        return self


class S(Strategy):
    config_model = Cfg


def _strat() -> S:
    return S(Cfg(), make_context(), name="s")


def test_numbers_are_clamped_into_declared_bounds() -> None:
    s = _strat()
    assert s.on_params_updated({"window": 10_000, "k": -3.0, "floor": -1.0, "x": 1}) == [
        "floor", "k", "window"]
    c: Any = s.config
    assert c.window == 500 and c.floor == 0.0
    assert 0.0 < c.k < 1e-300  # gt=0: the next float above 0, never 0 itself
    assert s.on_params_updated({"window": 7.6}) == ["window"] and s.config.window == 8  # type: ignore[attr-defined]


def test_a_refused_update_changes_nothing() -> None:
    s = _strat()
    before = s.config
    assert s.on_params_updated({"fast": 50, "slow": 20}) == []  # the model's own validator
    assert s.on_params_updated({"mode": "medium"}) == []  # not one of the Literal's values
    assert s.on_params_updated({"window": float("nan")}) == []
    assert s.on_params_updated({"unknown": 3}) == []
    assert s.config is before


def test_bounds_read_from_field_metadata() -> None:
    f = Cfg.model_fields
    assert field_bounds(f["window"], True) == (2.0, 500.0)
    assert field_bounds(f["floor"], False) == (0.0, None)
    assert apply_clamped(_strat(), {"mode": "slow"}) == ["mode"]
