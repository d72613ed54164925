"""The plugin API reference stays generated and complete.

``docs/plugin_api.md`` is the output of ``python -m hean_framework.apidoc``:

* it must equal what the generator renders from the code now (a field, method, docstring or
  ``#:`` comment changed without regenerating the page fails here);
* every public field, property and method of the documented classes (records, market events,
  market state, ports, facts, order groups, the kernel's reserved section keys) has a
  non-empty description in it, and every fact the kernel declares has a row;
* the hand-written parts of the generator name things that exist (the ``Signal`` readers
  name real fields and code that mentions them; the notes and the ``ctx`` table name real
  members).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import hean_framework.risk.capital_plan
import hean_framework.risk.governor
import hean_framework.risk.inflight  # noqa: F401  (they declare facts)
from hean_framework import apidoc, facts, groups, kinds, market, models, ports
from hean_framework.context import RunContext

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "plugin_api.md"
REGENERATE = "run `python -m hean_framework.apidoc > docs/plugin_api.md`"

#: the classes the page documents (kept here, not read from the generator, so that a class
#: dropped from the page is noticed)
DOCUMENTED: tuple[type, ...] = (
    models.Signal, models.OrderDecision, models.Order, models.Fill, models.Position,
    models.ClosedTrade, models.Bar, models.Trade, models.Quote, models.BookUpdate,
    models.Funding, models.MarkPrice,
    market.MarketState, market.SymbolState,
    ports.OrderPort, ports.BudgetPort, ports.ClockPort, ports.RunPort, ports.ExecutionSink,
    ports.StrategyInfo,
    facts.FactKey, facts.Facts,
    groups.OrderGroup, groups.LegPolicy,
    kinds.CommonKeys, kinds.ListenerKeys, kinds.StrategyKeys, kinds.Kind,
)
CELL_SPLIT = re.compile(r"(?<!\\)\|")


def public_members(cls: type) -> list[str]:
    """Public fields, attributes, properties and methods ``cls`` defines."""
    if issubclass(cls, BaseModel):
        return list(cls.model_fields)
    names: list[str] = []
    if dataclasses.is_dataclass(cls):
        names += [f.name for f in dataclasses.fields(cls)]
    names += [s for s in getattr(cls, "__slots__", ()) if not s.startswith("_")]
    names += [n for n in vars(cls).get("__annotations__", {}) if not n.startswith("_")]
    names += [n for n, v in vars(cls).items() if not n.startswith("_")
              and (inspect.isfunction(v) or isinstance(v, property))]
    return list(dict.fromkeys(names))


def page_text() -> str:
    assert PAGE.exists(), f"{PAGE.relative_to(ROOT)} is missing: {REGENERATE}"
    return PAGE.read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """``### `Name``` heading -> its text (up to the next ``##``/``###`` heading)."""
    out: dict[str, str] = {}
    parts = re.split(r"^(#{2,3} .*)$", text, flags=re.MULTILINE)
    for head, body in zip(parts[1::2], parts[2::2]):
        m = re.fullmatch(r"### `(\w+)`", head.strip())
        if m:
            out[m.group(1)] = body
    return out


def description_of(section: str, name: str) -> str:
    """The description a class section gives ``name``: the last cell of its table row, or
    the text under its ``#### `name(...)``` heading ('' when there is none)."""
    for line in section.splitlines():
        if re.match(rf"\| `{name}[`(]", line):
            cells = [c.strip() for c in CELL_SPLIT.split(line.strip())[1:-1]]
            return cells[-1] if cells and cells[-1] != "—" else ""
    m = re.search(rf"^#### `{name}[ (`][^\n]*\n(.*?)(?=^#|\Z)", section,
                  flags=re.MULTILINE | re.DOTALL)
    return m.group(1).strip() if m else ""


# ---------------------------------------------------------------------- (a) in sync


def test_page_is_generated_from_the_code() -> None:
    expected = apidoc.render()
    actual = page_text()
    if actual != expected:
        diff = "".join(list(difflib.unified_diff(
            actual.splitlines(keepends=True), expected.splitlines(keepends=True),
            "docs/plugin_api.md", "generated from the code", n=1))[:60])
        pytest.fail(f"docs/plugin_api.md is out of date: {REGENERATE}\n{diff}")


def test_the_module_prints_the_page() -> None:
    out = subprocess.run([sys.executable, "-m", "hean_framework.apidoc"], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert out == apidoc.render()


# ---------------------------------------------------------------------- (b) complete


def test_the_documented_classes_cover_every_kinds_common_model() -> None:
    missing = {k.common for k in kinds.KINDS.values()} - set(DOCUMENTED)
    assert not missing, f"kinds' common models not documented: {missing}"


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda c: c.__name__)
def test_every_public_member_has_a_description(cls: type) -> None:
    section = sections(page_text()).get(cls.__name__)
    assert section is not None, (
        f"docs/plugin_api.md has no section ### `{cls.__name__}`: add the class to "
        f"hean_framework/apidoc.py render(), then {REGENERATE}")
    members = public_members(cls)
    assert members or cls is market.MarketState, f"{cls.__name__}: no public member found"
    missing = [m for m in members if not description_of(section, m)]
    source = Path(inspect.getfile(cls)).relative_to(ROOT)
    assert not missing, (
        f"docs/plugin_api.md describes no {', '.join(missing)} of {cls.__name__}: give each "
        f"field a `#:` comment (methods and properties a docstring) in {source} -- or, for a "
        f"module whose comments you cannot change, an entry in apidoc.NOTES -- then "
        f"{REGENERATE}")


def test_class_sections_have_their_docstring() -> None:
    secs = sections(page_text())
    for cls in DOCUMENTED:
        doc = apidoc.first_paragraph(cls.__doc__)
        assert doc, f"{cls.__name__} has no docstring"
        assert apidoc.cell(apidoc.md(doc))[:40] in apidoc.cell(secs[cls.__name__]), cls


def _declaring_modules() -> set[str]:
    """Modules of ``hean_framework`` that call ``declare(...)`` (read from the source)."""
    out = set()
    pkg = ROOT / "hean_framework"
    for path in sorted(pkg.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError:  # another change in progress; its own tests say so
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr \
                    if isinstance(f, ast.Attribute) else ""
                if name == "declare":
                    out.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return out


def test_every_module_declaring_facts_is_read_by_the_generator() -> None:
    modules = _declaring_modules()
    assert "hean_framework.risk.governor" in modules
    missing = sorted(modules - set(apidoc.FACT_MODULES))
    assert not missing, (f"these modules declare facts the page does not list: {missing}; add "
                         f"them to apidoc.FACT_MODULES, then {REGENERATE}")


def test_every_kernel_fact_has_a_row() -> None:
    text = page_text()
    section = text.split("### Declared facts", 1)[-1].split("\n### ", 1)[0]
    keys: list[Any] = [k for _, _, k in apidoc.fact_keys()]
    assert {"regime", "risk_state", "inflight_count", "not_viable"} <= {k.name for k in keys}
    for key in keys:
        assert key.doc.strip(), f"fact {key.name!r} ({key.owner}) is declared without doc="
        assert description_of(section, key.name), (
            f"docs/plugin_api.md has no row for fact {key.name!r}: {REGENERATE}")


# ---------------------------------------------------------------------- hand-written parts


def test_signal_readers_name_real_fields_and_code_that_mentions_them() -> None:
    fields = {f.name for f in dataclasses.fields(models.Signal)}
    for reader in apidoc.SIGNAL_READERS:
        unknown = set(reader.fields) - fields
        assert not unknown, f"apidoc.SIGNAL_READERS[{reader.stage!r}]: no Signal field {unknown}"
        texts = []
        for where in reader.where:
            path = ROOT / where
            assert path.is_file(), f"apidoc.SIGNAL_READERS[{reader.stage!r}]: no file {where}"
            texts.append(path.read_text(encoding="utf-8"))
        unmentioned = [f for f in reader.fields
                       if not any(re.search(rf"\b{f}\b", t) for t in texts)]
        assert not unmentioned, (
            f"apidoc.SIGNAL_READERS[{reader.stage!r}] says {', '.join(reader.where)} reads "
            f"{unmentioned}, but the code does not mention them any more: update the table")


def test_notes_name_existing_members() -> None:
    by_name = {c.__name__: c for c in DOCUMENTED}
    for key in apidoc.NOTES:
        cls_name, member = key.split(".", 1)
        assert cls_name in by_name, f"apidoc.NOTES[{key!r}]: {cls_name} is not documented"
        assert member in public_members(by_name[cls_name]), f"apidoc.NOTES[{key!r}]: no member"


def test_ctx_table_names_real_context_attributes() -> None:
    for attr, _, _ in apidoc.CTX:
        assert attr in RunContext.__slots__, f"apidoc.CTX: RunContext has no {attr!r}"


def test_docstring_markup_becomes_markdown() -> None:
    doc = """Title with :class:`~hean_framework.models.Signal` and ``code``::

        x = 1

    :param qty: units,
        rounded.
    :returns: the order.
    """
    assert apidoc.md(doc) == ("Title with `Signal` and `code`:\n\n```\nx = 1\n```\n\n"
                              "- `qty`: units, rounded.\n- returns: the order.")
    assert apidoc.cell("a |\n b") == "a \\| b"


def test_page_is_linked_from_the_readme_and_writing_plugins() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docs = readme.split("## Docs", 1)[1].split("\n## ", 1)[0]
    assert "(docs/plugin_api.md)" in docs, "README.md's Docs section does not link the page"
    guide = (ROOT / "docs" / "writing_plugins.md").read_text(encoding="utf-8")
    ports_section = guide.split("## Ports", 1)[1].split("\n## ", 1)[0]
    assert "(plugin_api.md)" in ports_section, "writing_plugins.md's Ports section does not " \
                                               "link the page"
