"""The hook reference stays complete: every hook is documented, tested and has a docstring.

Hooks are the functions of :mod:`hean_framework.hookspecs` whose name starts with ``hean_`` and
that carry pluggy's spec marker.  For each one:

* ``docs/plugin_hooks.md`` has a section ``## hean_x(arg1, arg2)`` with exactly its arguments;
* ``tests/test_hooks.py`` has a function ``test_hook_hean_x``;
* the hookspec's docstring has a ``:param name:`` line for each argument.

And behaviour is documented inside the repository: no code, test, example or doc cites the
external behavioural specification (a file outside the repository) instead of a module
docstring, a plugin README or a page of ``docs/``.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hean_framework import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS_DOC = ROOT / "docs" / "plugin_hooks.md"
HOOKS_TESTS = ROOT / "tests" / "test_hooks.py"
HOOKSPEC_MARKER = "hean_spec"  # set by pluggy.HookspecMarker("hean")
HEADING = re.compile(r"^## (hean_\w+)\((.*)\)\s*$", re.MULTILINE)

#: Where a citation of the external specification must not appear, and the files read there.
SCAN_ROOTS = ("README.md", "hean_framework", "plugins", "examples", "tests", "docs", "bench")
SCAN_SUFFIXES = {".py", ".md", ".rst", ".txt", ".yaml", ".yml", ".toml", ".cfg", ".ini"}
SCAN_SKIP_DIRS = {"__pycache__", ".tox", ".venv", "build", "dist", ".git"}
#: The specification's name as a word in capitals (section citations, "its defaults", ...).
#: Identifiers such as ``_SPEC_FIELDS`` and pluggy's ``hean_spec`` marker do not match.
CITATION = re.compile(r"\bSPEC\b")
#: Files that still cite it and that this check leaves to their owners for now (their text
#: should point at docs/ or a module instead); remove an entry once the file is clean.
CITATIONS_PENDING: set[str] = set()


def find_hooks() -> dict[str, Callable[..., Any]]:
    """Hook name -> hookspec function."""
    return {name: fn for name, fn in vars(hookspecs).items()
            if name.startswith("hean_") and inspect.isfunction(fn)
            and getattr(fn, HOOKSPEC_MARKER, None) is not None}


def rel(path: Path) -> str:
    """``path`` relative to the repository root, for messages."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def hook_args(fn: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(fn).parameters)


HOOKS = find_hooks()


def doc_sections() -> dict[str, list[str]]:
    """Hook name -> argument names, from the ``## hean_x(...)`` headings of the hook docs."""
    text = HOOKS_DOC.read_text(encoding="utf-8")
    out: dict[str, list[str]] = {}
    for m in HEADING.finditer(text):
        args = [a.strip() for a in m.group(2).split(",") if a.strip()]
        assert m.group(1) not in out, f"{HOOKS_DOC.name}: section {m.group(1)} appears twice"
        out[m.group(1)] = args
    return out


def test_hooks_are_found() -> None:
    assert "hean_register_strategies" in HOOKS
    assert "hean_run_finished" in HOOKS
    assert "hookspec" not in HOOKS
    assert hook_args(HOOKS["hean_params_updated"]) == [
        "strategy_id", "params", "source", "accepted"]


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_hook_is_documented_with_its_exact_arguments(hook: str) -> None:
    sections = doc_sections()
    args = hook_args(HOOKS[hook])
    expected = f"## {hook}({', '.join(args)})"
    assert hook in sections, f"{rel(HOOKS_DOC)} has no section {expected!r}"
    assert sections[hook] == args, (
        f"{rel(HOOKS_DOC)}: section for {hook} lists ({', '.join(sections[hook])})"
        f"; the hookspec takes ({', '.join(args)}): the heading must be {expected!r}")


def test_docs_have_no_section_for_a_missing_hook() -> None:
    stale = sorted(set(doc_sections()) - set(HOOKS))
    assert not stale, f"{rel(HOOKS_DOC)} documents hooks that do not exist: {stale}"


def _test_functions() -> set[str]:
    tree = ast.parse(HOOKS_TESTS.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_hook_has_a_test(hook: str) -> None:
    assert f"test_hook_{hook}" in _test_functions(), (
        f"{rel(HOOKS_TESTS)} has no test function test_hook_{hook}")


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_hookspec_docstring_names_every_parameter(hook: str) -> None:
    fn = HOOKS[hook]
    doc = inspect.getdoc(fn) or ""
    assert doc, f"hookspec {hook} has no docstring"
    missing = [a for a in hook_args(fn) if not re.search(rf":param {a}:", doc)]
    assert not missing, f"hookspec {hook}: docstring has no ':param x:' line for {missing}"


def test_every_observer_callback_is_documented() -> None:
    from hean_framework.components import Observer

    text = HOOKS_DOC.read_text(encoding="utf-8")
    section = text.split("### observer callbacks", 1)[-1].split("\n### ", 1)[0]
    missing = [m for m in Observer.OBSERVER_METHODS if f"| `{m}(self" not in section]
    assert not missing, f"{rel(HOOKS_DOC)}: the observer callbacks table lacks {missing}"


def _scanned_files() -> list[Path]:
    out: list[Path] = []
    for name in SCAN_ROOTS:
        top = ROOT / name
        if top.is_file():
            out.append(top)
            continue
        for path in sorted(top.rglob("*")):
            parts = path.relative_to(ROOT).parts[:-1]
            if any(p in SCAN_SKIP_DIRS or p.endswith(".egg-info") for p in parts):
                continue
            if path.is_file() and path.suffix in SCAN_SUFFIXES:
                out.append(path)
    return out


def test_no_reference_to_the_external_specification() -> None:
    files = _scanned_files()
    assert any(rel(f) == "hean_framework/risk/limits.py" for f in files), "scan found nothing"
    hits = []
    for path in files:
        if rel(path) in CITATIONS_PENDING:
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8", errors="replace")
                                  .splitlines(), 1):
            if CITATION.search(line):
                hits.append(f"{rel(path)}:{no}: {line.strip()}")
    assert not hits, ("these lines cite the specification file that is not in the repository; "
                      "point them at the module docstring, plugin README or docs/ page that "
                      "documents the behaviour (and write it there if it is missing):\n"
                      + "\n".join(hits))
