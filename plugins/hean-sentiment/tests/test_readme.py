"""The README documents what the code does.

Invariants:

* each component's parameter table (``### <component> parameters``: name, default, range,
  meaning) lists exactly the fields of its config model, with the model's default and, for
  bounded numbers, its ``ge``/``le`` bounds; ``Literal`` fields list their choices and ``bool``
  fields ``true / false``;
* the example YAML the README runs exists and validates against the installed plugins;
* the sample items file is presented as derived from prices (README and the file itself).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pytest
from hean_sentiment import SentimentSourceConfig, SentimentStrategyConfig
from pydantic import BaseModel

from hean_framework.config import load_setup
from hean_framework.testing import isolated_plugins

PLUGIN = Path(__file__).resolve().parents[1]
README = (PLUGIN / "README.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| `(\w+)` \| (.+?) \| (.+?) \| (.+?) \|$")


def table(component: str) -> dict[str, tuple[str, str]]:
    """name -> (default, range) of the README's table for ``component``."""
    head = f"### {component} parameters"
    assert head in README, f"README has no section {head!r}"
    rows: dict[str, tuple[str, str]] = {}
    for line in README.split(head, 1)[1].splitlines()[1:]:
        if line.startswith("#"):
            break
        m = ROW.match(line.strip())
        if m:
            rows[m.group(1)] = (m.group(2).strip(), m.group(3).strip())
    return rows


def bounds(field: Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for meta in field.metadata:
        lo = getattr(meta, "ge", None) if getattr(meta, "ge", None) is not None else lo
        hi = getattr(meta, "le", None) if getattr(meta, "le", None) is not None else hi
    return lo, hi


def num(text: str) -> float:
    return float(text.replace(" ", "").replace("−", "-"))


@pytest.mark.parametrize(("component", "model"), [
    ("sentiment_strategy", SentimentStrategyConfig), ("sentiment_source", SentimentSourceConfig),
])
def test_parameter_table_matches_the_model(component: str, model: type[BaseModel]) -> None:
    rows = table(component)
    assert set(rows) == set(model.model_fields), (
        f"README table vs model: missing {set(model.model_fields) - set(rows)}, "
        f"extra {set(rows) - set(model.model_fields)}")
    defaults = model.model_construct()
    for name, field in model.model_fields.items():
        default, rng = rows[name]
        value = getattr(defaults, name)
        ann = field.annotation
        if ann is bool:
            assert default == str(value).lower() and rng == "true / false", name
        elif get_origin(ann) is Literal:
            assert default == value and rng == " / ".join(get_args(ann)), name
        elif isinstance(value, dict):
            listed = dict(re.findall(r"(\w+): ([\d.]+)", default))
            assert {k: float(v) for k, v in listed.items()} == value, name
        elif value is None:
            assert default == "none", name
        else:
            assert num(default) == value, (name, default, value)
            lo, hi = bounds(field)
            parts = [p for p in rng.split("–")]
            assert len(parts) == 2, (name, rng)
            assert (num(parts[0]), num(parts[1])) == (lo, hi), (name, rng, lo, hi)


def test_the_example_validates() -> None:
    pm = isolated_plugins("hean_sentiment.plugin")
    example = PLUGIN / "examples" / "sentiment.yaml"
    assert f"examples/{example.name}" in README
    setup = load_setup(example, pm.registry, environ={})
    assert "sentiment_strategy" in setup.config.strategies


def test_the_sample_is_labelled_as_derived() -> None:
    assert "derived from prices, not news" in README
    sample = PLUGIN / "data" / "derived_sentiment_btc_eth_20250306_20250413.csv"
    first = sample.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# DERIVED FROM PRICES - NOT REAL NEWS")
