"""The plugin as the kernel sees it: registration, config models, facts and the README.

Invariants checked:

* the entry module registers the six analyzers (kind ``analyzer``) with their config models,
  through the installed entry point as well as the module itself;
* every config field has a description; every int/float field has both bounds, so the
  optimizer can search it (``hean_framework.optimize.space_of``); unknown keys are refused;
* every fact of :mod:`hean_market_analyzers.facts` is declared with a documented owner
  ``market_analyzers:<analyzer>`` naming a registered analyzer, and its neutral default has the
  declared type; the regime detector publishes the kernel's own keys;
* the README's parameter table of each analyzer lists every config key with its default;
* every analyzer survives the kernel's sample bars without publishing outside its keys.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from hean_market_analyzers import facts as F
from hean_market_analyzers.plugin import ANALYZERS
from pydantic import ValidationError

from hean_framework import Analyzer
from hean_framework.facts import REGIME, REGIME_CONFIDENCE, FactKey, declared
from hean_framework.optimize import space_of
from hean_framework.plugins import HeanPluginManager
from hean_framework.testing import build_component, isolated_plugins, make_context, sample_bars

README = Path(__file__).resolve().parents[1] / "README.md"


def test_registered_through_module_and_entry_point() -> None:
    by_entry_point = HeanPluginManager(autoload=False, allow=["market_analyzers"]).load()
    rec = by_entry_point.records.get("market_analyzers")
    assert rec is not None, "the 'market_analyzers' entry point of the hean group is missing"
    assert rec.info.distribution == "hean-market-analyzers"
    for pm in (isolated_plugins("hean_market_analyzers.plugin"), by_entry_point):
        names = set(pm.registry.names("analyzer"))
        assert set(ANALYZERS) <= names
        for name, (cls, model) in ANALYZERS.items():
            spec = pm.registry.get("analyzer", name)
            assert spec is not None
            assert spec.cls is cls and spec.config_model is model


@pytest.mark.parametrize("name", list(ANALYZERS))
def test_config_fields_are_described_and_bounded(name: str) -> None:
    _, model = ANALYZERS[name]
    space = space_of(model)
    for field, info in model.model_fields.items():
        assert info.description, f"{name}.{field} has no description"
        if info.annotation in (int, float):
            assert field in space, f"{name}.{field} is not searchable (needs both bounds)"
        if info.annotation is bool or typing.get_origin(info.annotation) is typing.Literal:
            assert field in space
    with pytest.raises(ValidationError):
        model.model_validate({"no_such_key": 1})
    model()  # the defaults are valid


def test_facts_are_declared_with_owner_and_neutral_default() -> None:
    keys = [v for v in vars(F).values() if isinstance(v, FactKey)]
    assert len(keys) == 10
    registered = set(ANALYZERS)
    by_name = {k.name: k for k in declared()}
    for k in keys:
        assert by_name[k.name] is k
        owner, _, analyzer = k.owner.partition(":")
        assert owner == "market_analyzers" and analyzer in registered, k.owner
        assert k.doc
        assert isinstance(k.default, k.type)
    assert REGIME.default == "" and REGIME_CONFIDENCE.default == 1.0
    ctx = make_context()
    for k in keys:
        assert ctx.facts.get(k, "BTC/USDT:USDT") is k.default


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:.0f}" if v.is_integer() and abs(v) >= 1e5 else f"{v:g}"
    return str(v)


def test_readme_tables_list_every_key_with_its_default() -> None:
    text = README.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)
    for name, (_, model) in ANALYZERS.items():
        sec = next((s for s in sections if s.startswith(f"{name}\n")), None)
        assert sec is not None, f"README has no '## {name}' section"
        table = sec[sec.index("| key | default | range | meaning |"):]
        table = table[:table.find("\n\n") if "\n\n" in table else None]
        rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]*) \|", table, flags=re.M))
        assert set(rows) == set(model.model_fields), name
        for field, info in model.model_fields.items():
            default = info.get_default(call_default_factory=True)
            assert rows[field].strip() == _fmt(default), (name, field, rows[field])


@pytest.mark.parametrize("name", list(ANALYZERS))
def test_runs_on_sample_bars(name: str) -> None:
    pm = isolated_plugins("hean_market_analyzers.plugin")
    ctx = make_context()
    a = build_component(pm, "analyzer", name, ctx)
    assert isinstance(a, Analyzer)
    for bar in sample_bars(500):
        ctx.now = bar.ts
        a.on_bar(bar)
    published = set(ctx.facts.snapshot())
    ours = {k.name for k in vars(F).values() if isinstance(k, FactKey)}
    assert published <= ours | {REGIME.name, REGIME_CONFIDENCE.name}
    assert isinstance(a.stats(), dict)
