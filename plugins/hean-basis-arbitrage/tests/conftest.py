"""Fixtures of the basis-arbitrage tests: engine runs on the real shared data.

* ``run_basis(config=None, bases=("BTC",), end="2025-02-01", venue=None, example=False)``: the
  kernel's engine with only this plugin on real Binance spot + USDⓈ-M perpetual 5m candles and
  funding of the given bases (``../shared/data``), journal on; returns a :class:`Journaled`
  (cached per arguments for the session).  ``example=True`` runs
  ``examples/basis_arbitrage.yaml`` itself (``config`` entries override its strategy section,
  ``venue`` its venue section).  Skips when the data is absent.
* ``basis_kit`` (beside this file): the data file names, the flat cost model and
  ``read_rows(path)`` (a gzip CSV read with the standard library).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hean_framework.config import load_setup, read_yaml
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.testing import isolated_plugins

sys.path.insert(0, str(Path(__file__).parent))  # basis_kit: constants shared with the tests
from basis_kit import FUNDING, PERP, SPOT

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "basis_arbitrage.yaml"
NAME = "basis_arbitrage"
class Journaled:
    """A finished run: its engine, strategy, result and the journal's rows."""

    def __init__(self, out: Path, eng: Engine, result: Any) -> None:
        self.out, self.eng, self.result = out, eng, result
        self.strategy = eng.strategies[NAME]
        with Journal.open_readonly(out / "journal.sqlite") as j:
            self.decisions = j.decisions(strategy_id=NAME)
            self.fills = j.rows("fills")
            rows = j._conn.execute("SELECT ts, kind, payload FROM events ORDER BY rowid"
                                   ).fetchall()
        self.events = [(ts, kind, json.loads(p)) for ts, kind, p in rows]

    def kind(self, kind: str) -> list[dict[str, Any]]:
        """Journal events of ``kind`` (with their ``ts``)."""
        return [{"ts": ts, **p} for ts, k, p in self.events if k == kind]


@pytest.fixture(scope="session")
def run_basis(shared_data: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> Callable[..., Journaled]:
    cache: dict[str, Journaled] = {}

    def run(config: dict[str, Any] | None = None, bases: tuple[str, ...] = ("BTC",),
            end: str = "2025-02-01", venue: dict[str, Any] | None = None,
            example: bool = False) -> Journaled:
        key = json.dumps([config, bases, end, venue, example], sort_keys=True)
        if key in cache:
            return cache[key]
        pm = isolated_plugins("hean_basis_arbitrage.plugin")
        if example:
            raw = read_yaml(EXAMPLE)  # as a dict (a path would be read again, unchanged)
            raw["base_dir"] = str(EXAMPLE.parent)
            raw["strategies"][NAME].update(config or {})
            raw["venue"].update(venue or {})
            raw["data"]["end"] = end
        else:
            files = []
            syms = []
            for b in bases:
                files += [{"kind": "bars", "symbol": f"{b}/USDT",
                           "path": str(shared_data / SPOT.format(b=b))},
                          {"kind": "bars", "symbol": f"{b}/USDT:USDT",
                           "path": str(shared_data / PERP.format(b=b))}]
                files += [{"kind": "funding", "symbol": f"{b}/USDT:USDT",
                           "path": str(shared_data / f)} for f in FUNDING[b]]
                syms += [f"{b}/USDT", f"{b}/USDT:USDT"]
            raw = {"run": {"name": "basis-test"}, "account": {"capital": 10_000},
                   "venue": {"maker_fee": 0.0002, "taker_fee": 0.0002, **(venue or {})},
                   "data": {"files": files, "end": end},
                   "gates": {"risk_limits": {}},
                   "strategies": {NAME: {"symbols": syms, **(config or {})}}}
        raw.setdefault("report", {})["progress"] = False
        setup = load_setup(None, pm.registry, raw=raw, environ={})
        out = tmp_path_factory.mktemp("basis")
        eng = Engine(setup, pm, out_dir=out, journal=True, progress=False)
        result = eng.run()
        eng.close()
        cache[key] = Journaled(out, eng, result)
        return cache[key]

    return run
