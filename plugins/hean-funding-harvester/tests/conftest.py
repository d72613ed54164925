"""Fixtures of the funding-harvester tests (helpers in ``funding_runs.py``).

* ``run_example(overrides=None, end=None, extra_files=())``: the example YAML run by the
  engine (cached per arguments for the session); skips when ``../shared/data`` is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from funding_runs import Journaled, example_raw, run_raw


@pytest.fixture(scope="session")
def run_example(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Journaled]:
    cache: dict[str, Journaled] = {}

    def run(overrides: dict[str, Any] | None = None, end: int | None = None,
            extra_files: tuple[dict[str, str], ...] = ()) -> Journaled:
        key = repr((sorted((overrides or {}).items()), end, extra_files))
        if key not in cache:
            out = tmp_path_factory.mktemp("funding") / "run"
            cache[key] = run_raw(example_raw(overrides, end, extra_files), out)
        return cache[key]

    return run
