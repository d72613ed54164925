"""Fixtures of the inventory_neutral_mm tests.

* ``shared_data`` (the kernel's testing kit) skips a test when ``../shared/data`` is absent.
* ``run_mm(tmp_path, end=..., strategy=..., venue=..., gates=...)``: the plugin's example YAML
  (``examples/inventory_neutral_mm.yaml``, the real 2024-08-08 capture) run by the kernel's
  engine with the given overrides; returns ``(result, engine)`` (the journal is written).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.testing import isolated_plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "inventory_neutral_mm.yaml"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.fixture
def run_mm(shared_data: Path) -> Callable[..., tuple[Any, Engine]]:
    base = yaml.safe_load(EXAMPLE.read_text())

    def run(tmp_path: Path, *, end: str | None = None, strategy: dict[str, Any] | None = None,
            venue: dict[str, Any] | None = None, gates: dict[str, Any] | None = None,
            symbols: list[str] | None = None, journal: bool = False) -> tuple[Any, Engine]:
        raw = copy.deepcopy(base)
        files = raw["data"]["files"]
        for f in files:
            f["path"] = str((EXAMPLE.parent / f["path"]).resolve())
        if symbols:
            raw["data"]["files"] = [f for f in files if f["symbol"] in symbols]
            raw["strategies"]["inventory_neutral_mm"]["symbols"] = symbols
        if end:
            raw["data"]["end"] = end
        raw["strategies"]["inventory_neutral_mm"].update(strategy or {})
        raw["venue"].update(venue or {})
        if gates is not None:
            raw["gates"] = gates
        raw["report"] = {"progress": False, "html": False}
        pm = isolated_plugins("hean_inventory_neutral_mm.plugin",
                              "hean_market_analyzers.plugin")
        setup = load_setup(None, pm.registry, raw=raw, environ={})
        eng = Engine(setup, pm, out_dir=tmp_path, journal=journal, progress=False)
        res = eng.run()
        eng.close()
        return res, eng

    return run
