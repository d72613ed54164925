"""The README documents the config model: every field is a row of its parameter table whose
default column shows the model's default, and every row names a field."""

from __future__ import annotations

import re
from pathlib import Path

from hean_correlation_arbitrage import CorrelationArbitrageConfig as Model

README = Path(__file__).resolve().parents[1] / "README.md"


def shown(default: object) -> str:
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, str):
        return f"`{default}`"
    if isinstance(default, tuple):
        return "`[" + ", ".join(str(x) for x in default) + "]`"
    return str(default)


def test_parameter_table_matches_the_model() -> None:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `(\w+)` \| ([^|]+) \|", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    assert set(rows) == set(Model.model_fields)
    for name, field in Model.model_fields.items():
        assert rows[name] == shown(field.default), name
