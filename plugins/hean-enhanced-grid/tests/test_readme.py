"""The plugin's documentation matches its code.

Invariants:

* the README's parameter table lists exactly the fields of ``EnhancedGridConfig``, in the
  model's order, each with the model's default and its declared ``ge … le`` range;
* the README's table of checks lists exactly :data:`SKIP_REASONS`, in the order they are
  checked, and the README names every other counter of ``stats()``;
* both example YAMLs validate against the kernel and this plugin, configure only known keys,
  and their data paths resolve inside the repository (the 1m one in the shared data set).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from grid_runs import EXAMPLES, PLUGIN, example_raw
from hean_enhanced_grid import SKIP_REASONS, EnhancedGridConfig
from hean_enhanced_grid.strategy import _COUNTS

from hean_framework.config import load_setup
from hean_framework.testing import isolated_plugins

README = (PLUGIN / "README.md").read_text(encoding="utf-8")


def table_after(heading: str) -> list[list[str]]:
    """Rows (cells) of the first Markdown table after ``heading``, header left out."""
    rows = []
    for line in README.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]


def bounds(field: Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in field.metadata:
        if getattr(m, "ge", None) is not None:
            lo = float(m.ge)
        if getattr(m, "le", None) is not None:
            hi = float(m.le)
    return lo, hi


def number(text: str) -> float:
    return float(text.replace(",", "").replace("`", ""))


def test_parameter_table_matches_the_model() -> None:
    rows = table_after("## Parameters")
    fields = EnhancedGridConfig.model_fields
    assert [r[0].strip("`") for r in rows] == list(fields)
    for name, default, rng, meaning in rows:
        field = fields[name.strip("`")]
        assert meaning, name
        assert number(default) == field.default, name
        lo, hi = (number(x) for x in rng.split("…"))
        assert (lo, hi) == bounds(field), name


def test_check_table_is_the_check_order_and_every_counter_is_named() -> None:
    rows = table_after("**The checks**")
    assert [r[0].strip("`") for r in rows] == list(SKIP_REASONS)
    others = README.split("Other counters:", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", others))
    assert set(_COUNTS) - set(SKIP_REASONS) <= named


@pytest.mark.parametrize(("name", "data"), [("grid_5m.yaml", "sample_data"),
                                            ("grid_btc_1m.yaml", "shared_data")])
def test_example_yaml_validates(name: str, data: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue(data)  # skips, saying why, when that data folder is absent
    raw = example_raw(name)
    pm = isolated_plugins("hean_enhanced_grid.plugin")
    setup = load_setup(None, pm.registry, raw=raw, need_strategy=True, environ={})
    (rc,) = setup.components["strategy"]
    assert rc.instance == "enhanced_grid"
    for f in raw["data"]["files"]:
        assert (EXAMPLES / f["path"]).resolve().is_file(), f["path"]
    own = {k: v for k, v in raw["strategies"]["enhanced_grid"].items()
           if k not in ("symbols", "executor")}
    EnhancedGridConfig(**own)
