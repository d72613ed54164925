"""The README's parameter tables list every field of the three config models with its default
and its declared range, and the example YAML it names exists and its physics sections
validate (``test_engine.py`` runs it with momentum_trader)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hean_physics import PhysicsConfig
from hean_physics.filter import PhysicsFilterConfig
from hean_physics.sizer import PhysicsSizerConfig

from hean_framework.config import load_setup, read_yaml
from hean_framework.params import field_bounds as _bounds
from hean_framework.testing import isolated_plugins

HERE = Path(__file__).resolve().parents[1]
README = (HERE / "README.md").read_text(encoding="utf-8")


def rows(section: str) -> dict[str, tuple[str, str]]:
    """key -> (default, range) of the table after ``section``."""
    part = README.split(section, 1)[1].split("\n\n", 2)[1]
    out = {}
    for line in part.splitlines():
        m = re.match(r"\| `(\w+)` \| ([^|]+) \| ([^|]+) \|", line)
        if m:
            out[m.group(1)] = (m.group(2).strip().strip("`"), m.group(3).strip())
    return out


def num(text: str) -> float:
    return float(text.replace(",", "").split()[0])


@pytest.mark.parametrize(("section", "model"), [
    ("`analyzers.physics`:", PhysicsConfig),
    ("`filters.physics`:", PhysicsFilterConfig),
    ("`sizers.physics`:", PhysicsSizerConfig)])
def test_parameter_table_matches_the_model(section: str, model: type) -> None:
    table = rows(section)
    assert set(table) == set(model.model_fields)
    for key, field in model.model_fields.items():
        default, rng = table[key]
        d = field.default
        if isinstance(d, bool):
            assert default == str(d).lower(), key
        elif isinstance(d, (int, float)):
            assert num(default) == pytest.approx(d), key
            lo, hi = _bounds(field, isinstance(d, int) and field.annotation is int)
            parts = [p for p in re.split(r"\s+–\s+", rng.split("(")[0].strip()) if p]
            if lo is not None and not parts[0].startswith(">"):
                assert num(parts[0]) == pytest.approx(lo), key
            if hi is not None:
                assert num(parts[1]) == pytest.approx(hi), key
        else:
            assert default == d, key


def test_example_named_in_the_readme_validates() -> None:
    assert "examples/physics_momentum.yaml" in README
    path = HERE / "examples" / "physics_momentum.yaml"
    raw = read_yaml(path)
    raw["base_dir"] = str(path.parent)
    pm = isolated_plugins("hean_physics.plugin")
    raw["strategies"] = {}  # the strategy plugin may be absent here; test_engine runs it
    setup = load_setup(None, pm.registry, raw=raw)
    for kind in ("analyzer", "filter", "sizer"):
        assert "physics" in [c.instance for c in setup.components[kind]], kind
