"""The README's parameter table is the config model's: every field is a row with its default,
and the runnable example it names exists (``test_run.py`` runs it)."""

from __future__ import annotations

import re
from pathlib import Path

from hean_basis_arbitrage import BasisArbitrageConfig

ROOT = Path(__file__).resolve().parents[1]


def _rows() -> dict[str, list[str]]:
    text = (ROOT / "README.md").read_text()
    table = text.split("## Parameters", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        m = re.match(r"\| `(\w+)` \|", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in line.strip("|").split("|")]
    return rows


def test_every_parameter_has_a_row_with_its_default() -> None:
    rows = _rows()
    fields = BasisArbitrageConfig.model_fields
    assert set(rows) == set(fields)
    for name, f in fields.items():
        if f.default_factory is not None:
            continue
        shown = rows[name][1].replace(",", "").strip("`").lower()
        want = f.default
        if isinstance(want, bool):
            assert shown == str(want).lower(), name
        elif isinstance(want, (int, float)):
            assert float(shown) == float(want), name
        else:
            assert shown == str(want), name


def test_the_example_named_in_the_readme_exists() -> None:
    text = (ROOT / "README.md").read_text()
    assert "examples/basis_arbitrage.yaml" in text
    assert (ROOT / "examples" / "basis_arbitrage.yaml").is_file()
