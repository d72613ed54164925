"""Fixtures of the correlation-arbitrage tests.

* ``closes(path)``: candle close time (open + interval) -> close of a shared OHLCV file, read
  with the standard library (independent of the kernel);
* ``run_example(out, overrides=None, end=None)``: the plugin's example YAML (2023 Binance spot
  BTC/ETH 5m) run by the engine with only this plugin, journal on; a :class:`Journaled`.
  Skips when ``../shared/data`` is absent.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hean_framework.config import load_setup, read_yaml
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.testing import isolated_plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "correlation_arb.yaml"
NAME = "correlation_arb"


def read_closes(path: Path) -> dict[int, float]:
    """Candle close time (open + interval) -> close, from a shared OHLCV file."""
    out: dict[int, float] = {}
    with gzip.open(path, "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    step = int(rows[1]["timestamp"]) - int(rows[0]["timestamp"])
    for r in rows:
        out[int(r["timestamp"]) + step] = float(r["close"])
    return out


class Journaled:
    """A finished run, its strategy and its journal's rows."""

    def __init__(self, out: Path, eng: Engine, result: Any) -> None:
        self.out, self.eng, self.result = out, eng, result
        self.strategy = eng.strategies[NAME]
        with Journal.open_readonly(out / "journal.sqlite") as j:
            self.decisions = j.decisions(strategy_id=NAME)
            self.orders = j.orders()
            self.trades = j.rows("closed_trades")
        self.stats = self.strategy.stats()


def run_raw_example(out: Path, overrides: dict[str, Any] | None = None,
                end: int | None = None) -> Journaled:
    raw = read_yaml(EXAMPLE)
    raw["base_dir"] = str(EXAMPLE.parent)
    for f in raw["data"]["files"]:
        if not (EXAMPLE.parent / f["path"]).is_file():
            pytest.skip(f"real data {f['path']} not found (../shared/data beside the project)")
    if end is not None:
        raw["data"]["end"] = end
    raw["strategies"][NAME].update(overrides or {})
    pm = isolated_plugins("hean_correlation_arbitrage.plugin")
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=out, journal=True, progress=False)
    try:
        result = eng.run()
    finally:
        eng.close()
    return Journaled(out, eng, result)


@pytest.fixture(scope="session")
def closes() -> Callable[[Path], dict[int, float]]:
    return read_closes


@pytest.fixture(scope="session")
def run_example() -> Callable[..., Journaled]:
    return run_raw_example
