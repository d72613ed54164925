"""The hook reference stays complete: every hook is documented, tested and has a docstring.

Hooks are the functions of :mod:`hean_framework.hookspecs` whose name starts with ``hean_`` and
that carry pluggy's spec marker.  For each one:

* ``docs/plugin_hooks.md`` has a section ``## hean_x(arg1, arg2)`` with exactly its arguments;
* ``tests/test_hooks.py`` has a function ``test_hook_hean_x``;
* the hookspec's docstring has a ``:param name:`` line for each argument.
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
SPEC_MARKER = "hean_spec"  # set by pluggy.HookspecMarker("hean")
HEADING = re.compile(r"^## (hean_\w+)\((.*)\)\s*$", re.MULTILINE)


def find_hooks() -> dict[str, Callable[..., Any]]:
    """Hook name -> hookspec function."""
    return {name: fn for name, fn in vars(hookspecs).items()
            if name.startswith("hean_") and inspect.isfunction(fn)
            and getattr(fn, SPEC_MARKER, None) is not None}


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
