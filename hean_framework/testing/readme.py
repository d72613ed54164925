"""Check a plugin README's parameter table against the plugin's config model.

:func:`assert_parameter_table` reads the rows ``| `name` | default | ... |`` of the README and
asserts that they name exactly the model's fields and that each default column shows the
model's default (``true``/``false``, a string in backticks, a tuple as ```[a, b]```, a number
as Python prints it)::

    from hean_framework.testing.readme import assert_parameter_table

    def test_parameter_table_matches_the_model() -> None:
        assert_parameter_table(Path(__file__).parents[1] / "README.md", MyConfig)
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

__all__ = ["assert_parameter_table", "parameter_rows", "shown"]

_ROW = re.compile(r"^\| `(\w+)` \| ([^|]+) \|")


def shown(default: object) -> str:
    """How a parameter table shows ``default``."""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, str):
        return f"`{default}`"
    if isinstance(default, tuple):
        return "`[" + ", ".join(str(x) for x in default) + "]`"
    return str(default)


def parameter_rows(readme: Path) -> dict[str, str]:
    """``name -> default column`` of every parameter row of ``readme``."""
    rows = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    return rows


def assert_parameter_table(readme: Path, model: type[BaseModel]) -> None:
    """The README's parameter rows are the model's fields, each with its default."""
    rows = parameter_rows(readme)
    assert set(rows) == set(model.model_fields), (
        f"README rows without a field: {sorted(set(rows) - set(model.model_fields))}; "
        f"fields without a row: {sorted(set(model.model_fields) - set(rows))}")
    for name, field in model.model_fields.items():
        assert rows[name] == shown(field.default), (name, rows[name], shown(field.default))
