"""The plugin as the kernel sees it: registration, the contract suite, the parameter space and
the README's parameter table.

Invariants checked:

* the kernel's ``StrategyContract`` holds on the kernel's sample BTC 5m candles: with candles as
  ticks and ``require_quote: false`` the strategy signals (well formed, owned by the instance,
  deterministic, unknown parameters ignored); with the defaults it needs a best bid/ask, which
  candles do not have, so it gives no signal there (and says so in ``stats``);
* ``hf_scalping`` is registered through the installed entry point as well as the module;
* every config field has a description; every int/float field has both bounds and every bool /
  Literal field is a choice, so the optimizer can search it (``space_of``); the defaults are
  valid and unknown keys are refused;
* ``on_params_updated`` follows the kernel: unknown keys are ignored, an out-of-range value is
  refused with a ``ValidationError`` and changes nothing, a valid update is applied and the
  derived state follows (a new ``window`` keeps the newest prices);
* the README's parameter table lists exactly the config fields, with their defaults and ranges.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from hean_hf_scalping import HFScalping, HFScalpingConfig
from pydantic import ValidationError

from hean_framework.models import Trade
from hean_framework.optimize import space_of
from hean_framework.plugins import HeanPluginManager
from hean_framework.testing import (
    StrategyContract,
    build_component,
    isolated_plugins,
    make_context,
    sample_bars,
)

README = Path(__file__).resolve().parents[1] / "README.md"
BTC = "BTC/USDT:USDT"


class TestContractOnCandles(StrategyContract):
    plugin_name = "hf_scalping"
    plugin_module = "hean_hf_scalping.plugin"
    config = {"tick_source": "bars", "require_quote": False}


class TestContractDefaults(StrategyContract):
    plugin_name = "hf_scalping"
    plugin_module = "hean_hf_scalping.plugin"
    expects_signals = False  # no best bid/ask on candles: every proposal ends in no_quote


def _make(config: dict[str, Any] | None = None) -> HFScalping:
    strat = build_component(isolated_plugins("hean_hf_scalping.plugin"), "strategy",
                            "hf_scalping", make_context(), config or {})
    assert isinstance(strat, HFScalping)
    return strat


def test_defaults_on_candles_end_in_no_quote() -> None:
    strat = _make({"tick_source": "bars"})
    for bar in sample_bars(3000):
        strat.ctx.now = bar.ts
        strat.ctx.market[bar.symbol].last = bar.close
        assert strat.on_bar(bar) is None
    st = strat.stats()
    assert st["no_quote"] > 100 and st["entries"] == 0


def test_registered_through_the_entry_point() -> None:
    pm = HeanPluginManager(autoload=False, allow=["hf_scalping"]).load()
    rec = pm.records.get("hf_scalping")
    assert rec is not None, "the 'hf_scalping' entry point of the hean group is missing"
    assert rec.info.distribution == "hean-hf-scalping"
    spec = pm.registry.get("strategy", "hf_scalping")
    assert spec is not None and spec.cls is HFScalping
    assert spec.config_model is HFScalpingConfig


def test_config_fields_are_described_and_searchable() -> None:
    space = space_of(HFScalpingConfig)
    for name, info in HFScalpingConfig.model_fields.items():
        assert info.description, f"{name} has no description"
        searchable = (info.annotation in (int, float, bool)
                      or typing.get_origin(info.annotation) is typing.Literal)
        assert (name in space) == searchable, name
    assert set(space) == set(HFScalpingConfig.model_fields) - {"regime_families"}
    with pytest.raises(ValidationError):
        HFScalpingConfig.model_validate({"no_such_key": 1})
    with pytest.raises(ValidationError):
        HFScalpingConfig.model_validate({"regime_families": ["RANGE"]})  # a label, not a family
    HFScalpingConfig()


def test_params_update_unknown_ignored_out_of_range_refused() -> None:
    strat = _make({"tick_ms": 0})
    assert strat.on_params_updated({"surely_not_a_param": 1}) == []
    before = strat.config.model_dump()
    for bad in ({"sides": "up"}, {"max_spread_bps": float("nan")}):
        assert strat.on_params_updated({**bad, "cooldown_s": 5.0}) == []
        assert strat.config.model_dump() == before, bad  # nothing applied, not even cooldown_s
    # out of range: clamped into the declared bounds, never outside them
    assert strat.on_params_updated({"window": 1, "min_ofi": 1.5}) == ["min_ofi", "window"]
    bounds = type(strat.config).model_fields
    assert strat.config.window == bounds["window"].metadata[0].ge
    assert strat.config.min_ofi <= 1.0
    strat.on_params_updated({"window": before["window"], "min_ofi": before["min_ofi"]})
    # feed 8 ticks, then shrink the window: the newest prices stay
    for i in range(8):
        strat.ctx.now = 1_000 + i
        strat.on_trade(Trade(1_000 + i, BTC, 100.0 + i, 1.0, "buy"))
    assert strat.on_params_updated({"window": 3, "cooldown_s": 5, "junk": 2}) == [
        "cooldown_s", "window"]
    assert strat.config.window == 3 and strat.config.cooldown_s == 5.0
    assert list(strat._syms[BTC].prices) == [105.0, 106.0, 107.0]
    assert strat._cooldown_ms == 5_000


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, list):
        return "`[" + ", ".join(value) + "]`"
    return f"{value:g}"


def _range(info: Any) -> str:
    if info.annotation is bool:
        return "bool"
    if typing.get_origin(info.annotation) is typing.Literal:
        return ", ".join(f"`{c}`" for c in typing.get_args(info.annotation))
    if typing.get_origin(info.annotation) is list:
        (lit,) = typing.get_args(info.annotation)
        return "subset of " + ", ".join(f"`{c}`" for c in typing.get_args(lit))
    lo = hi = None
    for m in info.metadata:
        lo = getattr(m, "ge", lo)
        hi = getattr(m, "le", hi)
    return f"{lo:g} … {hi:g}"


def test_readme_parameter_table_matches_the_model() -> None:
    text = README.read_text(encoding="utf-8")
    head = "| name | default | range | meaning |"
    assert head in text, "README has no parameter table"
    table = text[text.index(head):]
    table = table[:table.index("\n\n")]
    rows = {m[0]: (m[1].strip(), m[2].strip())
            for m in re.findall(r"^\| `(\w+)` \| ([^|]*) \| ([^|]*) \|", table, flags=re.M)}
    assert list(rows) == list(HFScalpingConfig.model_fields), "names or order differ"
    for name, info in HFScalpingConfig.model_fields.items():
        default = info.get_default(call_default_factory=True)
        assert rows[name] == (_fmt(default), _range(info)), name
