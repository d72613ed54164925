"""The README's parameter table and the example config.

Invariants:

* the table under "## Parameters" lists exactly the keys of ``SymbiontConfig``, in order,
  each with the model's default and bounds (numeric ``[low, high]`` with ``(`` / ``)`` for open
  bounds, the choices of a ``Literal``), and a meaning;
* ``examples/symbiont.yaml`` is a valid run config with MomentumTrader and a ``symbiont``
  optimizer first under ``optimizers:`` (skipped when hean-momentum-trader is absent).
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from hean_symbiont import Symbiont, SymbiontConfig
from hean_symbiont.bridge import BridgeConfig
from hean_symbiont.config import DaskSettings
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `(\w+)` \| ([^|]*) \| ([^|]*) \| ([^|]+) \|$")
RANGE = re.compile(r"^([\[(])([-\d.e+]+), ([-\d.e+]+)([\])])$")


def table(heading: str = "## Parameters") -> list[tuple[str, str, str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = []
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            rows.append((m[1], m[2].strip(), m[3].strip(), m[4].strip()))
    return rows


def bounds(name: str, model: type[BaseModel] = SymbiontConfig) -> tuple[str, float, float, str]:
    lo_b, hi_b, lo, hi = "[", "]", float("nan"), float("nan")
    for m in model.model_fields[name].metadata:
        if getattr(m, "ge", None) is not None:
            lo = float(m.ge)
        if getattr(m, "gt", None) is not None:
            lo, lo_b = float(m.gt), "("
        if getattr(m, "le", None) is not None:
            hi = float(m.le)
        if getattr(m, "lt", None) is not None:
            hi, hi_b = float(m.lt), ")"
    return lo_b, lo, hi, hi_b


def check_rows(rows: list[tuple[str, str, str, str]], model: type[BaseModel]) -> None:
    fields = model.model_fields
    assert [r[0] for r in rows] == list(fields)
    for name, default, rng, meaning in rows:
        field = fields[name]
        value = field.get_default(call_default_factory=True)
        assert meaning, name
        if isinstance(value, BaseModel):
            assert default == "see below" and rng == f"`{name}` table", name
            continue
        if isinstance(value, dict):
            if value:
                assert rng == "Symbiont keys", name
                for k, v in value.items():
                    assert f"{k}: {v}" in default, name
            else:
                assert default == "{}" and "inside the model" in rng
            continue
        if isinstance(value, list):
            assert default == "[]" and rng == "-", name
            continue
        if value is None:
            assert default == "none" and rng == "-", name
            continue
        if isinstance(value, bool):
            assert default == str(value).lower() and rng == "true, false", name
            continue
        if isinstance(value, str):
            assert default == value
            assert rng.split(", ") == list(typing.get_args(field.annotation)), name
            continue
        assert float(default) == value, name
        m = RANGE.match(rng)
        assert m, f"{name}: range {rng!r}"
        assert (m[1], float(m[2]), float(m[3]), m[4]) == bounds(name, model), name


def test_parameter_table_matches_the_model() -> None:
    check_rows(table(), SymbiontConfig)
    check_rows(table("### `dask`"), DaskSettings)
    check_rows(table("## Online bridge: `analyzers.symbiont_bridge`"), BridgeConfig)


def test_example_config_is_valid() -> None:
    pytest.importorskip("hean_momentum_trader")
    from hean_framework.config import load_setup
    from hean_framework.engine import Engine
    from hean_framework.plugins import load_plugins

    pm = load_plugins()
    setup = load_setup(ROOT / "examples" / "symbiont.yaml", pm.registry)
    eng = Engine(setup, pm, journal=False, progress=False).build()
    (name, opt), *_ = eng.parts.optimizers.items()
    assert name == "symbiont" and isinstance(opt, Symbiont)
    assert opt.config.bounds["slow"] == (40, 240)
    assert [rc.instance for rc in setup.components["strategy"]] == ["momentum_trader"]
