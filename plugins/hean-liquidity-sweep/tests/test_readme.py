"""The plugin's documentation matches its code.

Invariants:

* the README's parameter table lists exactly the fields of ``LiquiditySweepConfig``, in the
  model's order, each with the model's default and its declared range (``ge … le`` for numbers,
  ``bool`` for booleans, the choices of a ``Literal``);
* the README's table of skip counters lists exactly the strategy's skip reasons, in the order
  they are checked;
* the example YAML validates against the kernel and this plugin (its data paths resolve
  inside the repository) and configures only known keys.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from hean_liquidity_sweep import SKIP_REASONS, LiquiditySweepConfig

from hean_framework.config import load_setup, read_yaml
from hean_framework.testing import isolated_plugins

PLUGIN = Path(__file__).resolve().parents[1]
README = (PLUGIN / "README.md").read_text(encoding="utf-8")
EXAMPLE = PLUGIN / "examples" / "liquidity_sweep.yaml"


def table_after(heading: str) -> list[list[str]]:
    """Rows (cells) of the first Markdown table after ``heading``."""
    section = README.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header


def number(text: str) -> float:
    return float(text.replace(",", "").replace("`", ""))


def bounds(field: Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in field.metadata:
        if getattr(m, "ge", None) is not None:
            lo = float(m.ge)
        if getattr(m, "le", None) is not None:
            hi = float(m.le)
    return lo, hi


def test_parameter_table_matches_the_model() -> None:
    rows = table_after("## Parameters")
    fields = LiquiditySweepConfig.model_fields
    assert [r[0].strip("`") for r in rows] == list(fields)
    for name, default, rng, meaning in rows:
        field = fields[name.strip("`")]
        value = field.get_default(call_default_factory=True)
        ann = field.annotation
        assert meaning, name
        if ann is bool:
            assert default == str(value).lower() and rng == "bool", name
        elif get_origin(ann) is Literal:
            assert default == f"`{value}`", name
            assert [c.strip().strip("`") for c in rng.split(",")] == list(get_args(ann))
        elif isinstance(value, list):
            assert default == "`[" + ", ".join(value) + "]`", name
        else:
            assert number(default) == value, name
            lo, hi = (number(x) for x in rng.split("…"))
            assert (lo, hi) == bounds(field), name


def test_skip_counter_table_is_the_check_order() -> None:
    rows = table_after("**The checks**")
    assert [r[0].strip("`") for r in rows] == list(SKIP_REASONS)


def test_example_yaml_validates(sample_data: Path) -> None:
    raw = read_yaml(EXAMPLE)
    raw["base_dir"] = str(EXAMPLE.parent)
    pm = isolated_plugins("hean_liquidity_sweep.plugin")
    setup = load_setup(None, pm.registry, raw=raw, need_strategy=True)
    (rc,) = setup.components["strategy"]
    assert rc.instance == "liquidity_sweep"
    for f in raw["data"]["files"]:
        assert (EXAMPLE.parent / f["path"]).resolve().is_file(), f["path"]
    own = {k: v for k, v in raw["strategies"]["liquidity_sweep"].items() if k != "symbols"}
    LiquiditySweepConfig(**own)
