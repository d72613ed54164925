"""impulse_engine: the kernel's strategy contract, the config model and its documentation.

Invariants:

* ``StrategyContract`` passes (default config, and a config without the hours filter and with a
  long impulse window): registered with a model that rejects unknown keys; signals on the real
  BTC 5m sample are well formed (owned by the instance, stop on the loss side, confidence in
  [0, 1]); two replays give the same signals; unknown parameters are ignored;
* every numeric key has bounds (``ge``/``le``) and a description, and the optimizer's space
  (``hean_framework.optimize.space_of``) holds every key but ``allowed_hours``;
* values outside their bounds, malformed trading hours and inconsistent combinations (vol_long
  <= vol_short, MTF windows not increasing, TP1 beyond the target, stop beyond the target) are
  refused;
* ``on_params_updated`` applies only known keys validated by the model: unknown keys are ignored
  (``[]`` accepted), a value out of its bounds raises ``ValidationError`` and leaves the config
  unchanged (the kernel refuses rather than clamps), a window change rebuilds the windows;
* the README's parameter table lists exactly the model's keys with their defaults and ranges.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from annotated_types import Ge, Le
from hean_impulse_engine import ImpulseEngine, ImpulseEngineConfig
from pydantic import ValidationError

from hean_framework.optimize import space_of
from hean_framework.testing import StrategyContract, isolated_plugins

README = Path(__file__).resolve().parents[1] / "README.md"


class TestImpulseContract(StrategyContract):
    plugin_name = "impulse_engine"
    plugin_module = "hean_impulse_engine.plugin"


class TestImpulseContractNoHours(StrategyContract):
    plugin_name = "impulse_engine"
    plugin_module = "hean_impulse_engine.plugin"
    config = {"use_hours": False, "impulse_window": 24, "cooldown_s": 1800,
              "max_time_in_trade_s": 0}


def test_registered_with_its_model() -> None:
    spec = isolated_plugins("hean_impulse_engine.plugin").registry.get("strategy",
                                                                       "impulse_engine")
    assert spec is not None
    assert spec.cls is ImpulseEngine
    assert spec.config_model is ImpulseEngineConfig


def bounds(name: str) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in ImpulseEngineConfig.model_fields[name].metadata:
        if isinstance(m, Ge):
            lo = float(m.ge)  # type: ignore[arg-type]
        elif isinstance(m, Le):
            hi = float(m.le)  # type: ignore[arg-type]
    return lo, hi


def test_every_numeric_key_is_bounded_and_described() -> None:
    for name, f in ImpulseEngineConfig.model_fields.items():
        assert f.description, name
        if f.annotation in (int, float):
            lo, hi = bounds(name)
            assert lo is not None and hi is not None, f"{name} has no bounds"
    space = space_of(ImpulseEngineConfig)
    assert set(space) == set(ImpulseEngineConfig.model_fields) - {"allowed_hours"}
    assert space["tick_source"].choices == ("auto", "bars", "trades")
    assert (space["impulse_window"].low, space["impulse_window"].high) == (2, 500)


@pytest.mark.parametrize("bad", [
    {"base_threshold": 0.0}, {"base_threshold": 0.06}, {"impulse_window": 1},
    {"impulse_window": 501}, {"max_spread_bps": 0.0}, {"normal_size_multiplier": 1.1},
    {"cooldown_s": -1.0}, {"vol_expansion_ratio": 11.0}, {"ofi_min_aggression": 1.5},
    {"breakout_pct": 40.0}, {"max_size_multiplier": 3.0}, {"sl_pct": 0.0}, {"tp_pct": 0.6},
    {"max_time_in_trade_s": -5.0}, {"tick_source": "quotes"}, {"allowed_hours": ["7-11"]},
    {"allowed_hours": ["07:00-25:00"]}, {"vol_short": 49, "vol_long": 49},
    {"mtf_short": 300, "mtf_mid": 300}, {"tp1_pct": 0.02}, {"sl_pct": 0.02},
    {"breakout_tp1_pct": 0.03}, {"win_rate_window": 5, "win_rate_min_trades": 6},
    {"impulse_windw": 10}, {"base_threshold": float("nan")},
])
def test_out_of_bounds_values_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ImpulseEngineConfig(**bad)


def test_params_update_known_keys_only_and_bounds_refused(make: Any) -> None:
    strat, _ = make()
    before = strat.config.model_dump()
    assert strat.on_params_updated({"surely_not_a_param": 1, "other": "x"}) == []
    assert strat.config.model_dump() == before
    assert strat.on_params_updated({"cooldown_s": 60, "bogus": 3}) == ["cooldown_s"]
    assert strat.config.cooldown_s == 60.0
    assert strat._cooldown_ms == 60_000  # derived constants follow
    assert strat.on_params_updated({"vol_short": 60}) == []  # not below vol_long (49)
    assert strat.config.vol_short == 10
    assert strat.on_params_updated({"base_threshold": 0.5}) == ["base_threshold"]
    hi = type(strat.config).model_fields["base_threshold"].metadata
    assert strat.config.base_threshold == max(getattr(m, "le", 0) or 0 for m in hi) < 0.5
    strat.on_params_updated({"base_threshold": 0.005})
    assert strat.config.base_threshold == 0.005
    assert strat.on_params_updated({"allowed_hours": ["00:00-23:59"]}) == ["allowed_hours"]
    assert strat._windows == [(0, 1439)]


def test_window_update_rebuilds_the_windows(make: Any, btc_bars: list[Any]) -> None:
    strat, ctx = make({"use_hours": False})
    for bar in btc_bars[:200]:
        ctx.now = bar.ts
        strat.on_bar(bar)
    assert strat._syms
    assert strat.on_params_updated({"impulse_window": 20}) == ["impulse_window"]
    assert strat._syms == {}
    for bar in btc_bars[200:230]:
        ctx.now = bar.ts
        strat.on_bar(bar)
    assert strat._syms["BTC/USDT:USDT"].ring.size == 901


def _readme_table() -> dict[str, tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Parameters", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `(\w+)` \| (.+?) \| (.+?) \| .+\|$", line)
        if m:
            rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "`[" + ", ".join(f'"{x}"' for x in v) + "]`"
    return str(v)


def test_readme_parameter_table_matches_the_model() -> None:
    rows = _readme_table()
    fields = ImpulseEngineConfig.model_fields
    assert list(rows) == list(fields), "README rows must list the model's keys in order"
    for name, f in fields.items():
        default, rng = rows[name]
        assert default == _fmt(f.get_default(call_default_factory=True)), name
        ann = f.annotation
        if typing.get_origin(ann) is typing.Literal:
            assert rng == " / ".join(typing.get_args(ann)), name
        elif ann is bool:
            assert rng == "true / false", name
        elif ann in (int, float):
            lo, hi = bounds(name)
            assert rng == f"{lo:g} – {hi:g}", name
        else:
            assert rng == "list", name
