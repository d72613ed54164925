"""Fixtures of the rebate_farmer tests.

* ``shared_data`` (the kernel's testing kit) skips a test when ``../shared/data`` is absent.
* ``run_farmer(tmp_path, end=..., strategy=..., venue=..., gates=..., symbols=...,
  journal=...)``: the plugin's example YAML (``examples/rebate_farmer.yaml``, the real
  2024-08-08 capture) run by the kernel's engine with the given overrides; returns
  ``(result, engine)``.
* ``spy_quotes(monkeypatch)``: every quote the strategy sends, with the market it saw
  (``ts``, ``symbol``, ``bid``/``ask`` touch, ``legs`` side -> price).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hean_rebate_farmer import RebateFarmer

from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.groups import OrderGroup
from hean_framework.testing import isolated_plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rebate_farmer.yaml"


@pytest.fixture
def run_farmer(shared_data: Path) -> Callable[..., tuple[Any, Engine]]:
    base = yaml.safe_load(EXAMPLE.read_text())

    def run(tmp_path: Path, *, end: str | None = None, strategy: dict[str, Any] | None = None,
            venue: dict[str, Any] | None = None, gates: dict[str, Any] | None = None,
            symbols: list[str] | None = None, journal: bool = False,
            plugins: tuple[Any, ...] = ()) -> tuple[Any, Engine]:
        raw = copy.deepcopy(base)
        files = raw["data"]["files"]
        for f in files:
            f["path"] = str((EXAMPLE.parent / f["path"]).resolve())
        if symbols:
            raw["data"]["files"] = [f for f in files if f["symbol"] in symbols]
            raw["strategies"]["rebate_farmer"]["symbols"] = symbols
        if end:
            raw["data"]["end"] = end
        raw["strategies"]["rebate_farmer"].update(strategy or {})
        raw["venue"].update(venue or {})
        if gates is not None:
            raw["gates"] = gates
        raw["report"] = {"progress": False, "html": False}
        pm = isolated_plugins("hean_rebate_farmer.plugin", "hean_market_analyzers.plugin",
                              *plugins)
        setup = load_setup(None, pm.registry, raw=raw, environ={})
        eng = Engine(setup, pm, out_dir=tmp_path, journal=journal, progress=False)
        res = eng.run()
        eng.close()
        return res, eng

    return run


@pytest.fixture
def spy_quotes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    orig = RebateFarmer._quote

    def spy(self: RebateFarmer, symbol: str, s: Any, st: Any, mid: float, inventory: float,
            limit: float, budget: float, ts: int) -> Any:
        out = orig(self, symbol, s, st, mid, inventory, limit, budget, ts)
        if isinstance(out, OrderGroup) and out.legs:
            seen.append({"ts": ts, "symbol": symbol, "bid": st.bid, "ask": st.ask,
                         "last": st.last, "mid": mid, "inv": inventory,
                         "legs": {x.side: x.limit_price for x in out.legs}})
        return out

    monkeypatch.setattr(RebateFarmer, "_quote", spy)
    return seen
