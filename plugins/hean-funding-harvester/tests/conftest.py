"""Fixtures of the funding-harvester tests: engine runs of the example YAML on real data.

* ``run_example(overrides=None, end=None, extra_files=())``: the plugin's example YAML
  (``examples/funding_harvester.yaml``: real Binance USDⓈ-M BTC, ETH, ADA 5m candles of
  2025-01..03 and their funding files, ``../shared/data``) run by the kernel's engine with only
  this plugin, journal on; returns a :class:`Journaled` (cached per arguments for the session).
  Skips when the shared data is absent.
* ``funding_rows(shared_data, "BTCUSDT")``: ``(ts, rate, mark_price)`` of every settlement in
  the shared funding files, read with the standard library (independent of the kernel).
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

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "funding_harvester.yaml"
NAME = "funding_harvester"


class Journaled:
    """A finished run, its strategy and its journal's rows."""

    def __init__(self, out: Path, eng: Engine, result: Any) -> None:
        self.out, self.eng, self.result = out, eng, result
        self.strategy = eng.strategies[NAME]
        with Journal.open_readonly(out / "journal.sqlite") as j:
            self.decisions = j.decisions(strategy_id=NAME)
            self.orders = j.orders()
            self.trades = j.rows("closed_trades")
            self.fills = j.rows("fills")
            self.funding_events = j.events("funding")
            self.group_events = j.events("order_group")
        self.stats = self.strategy.stats()


def example_raw(overrides: dict[str, Any] | None = None, end: int | None = None,
                extra_files: tuple[dict[str, str], ...] = ()) -> dict[str, Any]:
    raw = read_yaml(EXAMPLE)
    raw["base_dir"] = str(EXAMPLE.parent)
    for f in raw["data"]["files"]:
        if not (EXAMPLE.parent / f["path"]).is_file():
            pytest.skip(f"real data {f['path']} not found (../shared/data beside the project)")
    raw["data"]["files"] = list(raw["data"]["files"]) + list(extra_files)
    if end is not None:
        raw["data"]["end"] = end
    raw["strategies"][NAME].update(overrides or {})
    return raw


def run_raw(raw: dict[str, Any], out: Path) -> Journaled:
    pm = isolated_plugins("hean_funding_harvester.plugin")
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=out, journal=True, progress=False)
    try:
        result = eng.run()
    finally:
        eng.close()
    return Journaled(out, eng, result)


def read_funding_rows(shared: Path, name: str) -> list[tuple[int, float, float]]:
    """``(ts, rate, mark_price)`` of every settlement of ``name`` (e.g. ``BTCUSDT``) in the
    shared funding files, read with the standard library (independent of the kernel)."""
    out: dict[int, tuple[int, float, float]] = {}
    for path in sorted((shared / "funding").glob(f"binance_usdm_perp_{name}_funding_8h_*")):
        with gzip.open(path, "rt", newline="") as fh:
            for row in csv.DictReader(fh):
                ts = int(row["timestamp"])
                out[ts] = (ts, float(row["funding_rate"]), float(row["mark_price"] or 0.0))
    return [out[k] for k in sorted(out)]


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


@pytest.fixture(scope="session")
def funding_rows() -> Callable[[Path, str], list[tuple[int, float, float]]]:
    return read_funding_rows
