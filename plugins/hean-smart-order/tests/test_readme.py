"""The README documents both config models: every field of ``SmartOrderConfig`` and of
``SlippageConfig`` is a row of its parameter table whose default column shows the model's
default (nested models aside), and every row names a field."""

from __future__ import annotations

import re
from pathlib import Path

from hean_smart_order import SlippageConfig, SmartOrderConfig
from pydantic import BaseModel

README = Path(__file__).resolve().parents[1] / "README.md"


def shown(default: object) -> str:
    if isinstance(default, str):
        return f"`{default}`"
    return str(default)


def _tables() -> list[dict[str, str]]:
    tables: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("| key | default |"):
            current = {}
            tables.append(current)
        m = re.match(r"^\| `(\w+)` \| ([^|]+) \|", line)
        if m and current is not None:
            current[m.group(1)] = m.group(2).strip()
        elif not line.startswith("|"):
            current = None
    return tables


def test_parameter_tables_match_the_models() -> None:
    tables = _tables()
    models: list[type[BaseModel]] = [SmartOrderConfig, SlippageConfig]
    assert len(tables) == len(models)
    for rows, model in zip(tables, models, strict=True):
        assert set(rows) == set(model.model_fields), model.__name__
        for name, field in model.model_fields.items():
            if field.default_factory is None:
                assert rows[name] == shown(field.default), name
