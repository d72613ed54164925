"""Fixtures of the enhanced_grid tests: the real candles, engine runs and an independent
reading of the files.

* ``sample_data`` / ``shared_data`` come from the kernel's testing kit (they skip, with the
  reason, when the data folder is absent).
* ``btc_1m(shared_data)``: the Binance USDT-M BTC perpetual 1m candles of 2025-05-04 ..
  2025-06-03 read with ``csv`` + ``gzip`` only, as :class:`Row` (close-time stamped, like the
  kernel's bars), for computations that do not go through the plugin.
* ``btc_run``: the plugin's ``grid_btc_1m.yaml`` run by the engine on the candles before
  :data:`END` (once per session).
* :func:`run_engine`: a real :class:`~hean_framework.engine.Engine` run of a raw config with
  this plugin only, journal on; returns a :class:`Run` (engine, report, journal rows).
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from hean_framework.config import load_setup, read_yaml
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.report import write_report
from hean_framework.testing import isolated_plugins

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
PLUGIN = Path(__file__).resolve().parents[1]
EXAMPLES = PLUGIN / "examples"
BTC_1M = "ohlcv/binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz"


class Row(NamedTuple):
    """One candle as the file has it, stamped at its close (open time + 1 minute)."""

    ts: int
    open: float
    high: float
    low: float
    close: float


def read_rows(path: Path, interval_ms: int = 60_000) -> list[Row]:
    """Every candle of a data file, with the standard library only."""
    with gzip.open(path, "rt", newline="") as fh:
        it = csv.reader(fh)
        next(it)
        return [Row(int(r[0]) + interval_ms, float(r[1]), float(r[2]), float(r[3]),
                    float(r[4])) for r in it]


#: the slice of the BTC 1m candles most tests run on (4 days from the file's start)
END = "2025-05-08"


@pytest.fixture(scope="session")
def btc_1m(shared_data: Path) -> list[Row]:
    """The BTC 1m candles of the shared data set (independent of the kernel's feed)."""
    return read_rows(shared_data / BTC_1M)


@pytest.fixture(scope="session")
def btc_run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Run:
    """``grid_btc_1m.yaml`` (1,000 USDT) on the candles before :data:`END`, journal on."""
    return run_engine(tmp_path_factory.mktemp("grid-btc"), btc_raw(END))


@dataclass
class Run:
    """One finished engine run with its journal read back."""

    engine: Engine
    report: dict[str, Any]
    decisions: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def strategy(self) -> Any:
        return self.engine.strategies["enhanced_grid"]

    def open_orders(self, symbol: str = BTC) -> list[tuple[str, float, float]]:
        """The venue's open orders of the grid at the end: ``(side, price, remaining)``."""
        venue = self.engine.parts.venue
        return sorted((o.side, o.price or 0.0, round(o.remaining, 9))
                      for o in venue.open_orders(symbol) if o.strategy_id == "enhanced_grid")


def run_engine(tmp: Path, raw: dict[str, Any]) -> Run:
    """Run ``raw`` (a parsed YAML) with this plugin only, journal on."""
    raw.setdefault("report", {})["progress"] = False
    pm = isolated_plugins("hean_enhanced_grid.plugin")
    setup = load_setup(None, pm.registry, raw=raw, need_strategy=True, environ={})
    eng = Engine(setup, pm, out_dir=tmp, progress=False)
    try:
        result = eng.run()
    finally:
        eng.close()
    report = write_report(result, tmp, html=False)
    reader = Journal.open_readonly(tmp / "journal.sqlite")
    try:
        return Run(eng, report, reader.decisions(), reader.fills(), reader.orders(),
                   reader.events())
    finally:
        reader.close()


def example_raw(name: str) -> dict[str, Any]:
    """An example YAML of this plugin, paths resolved from its folder."""
    path = EXAMPLES / name
    raw = read_yaml(path)
    raw["base_dir"] = str(path.parent)
    return raw


def btc_raw(end: str, capital: float = 1000.0, **strategy: Any) -> dict[str, Any]:
    """The BTC 1m example cut at ``end`` (its data start), strategy keys overridden."""
    raw = example_raw("grid_btc_1m.yaml")
    raw["data"]["end"] = end
    raw["account"]["capital"] = capital
    raw["strategies"]["enhanced_grid"].update(strategy)
    return raw
