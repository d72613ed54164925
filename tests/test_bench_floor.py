"""``bench/bench_floor.py`` measures what it says: the anchor rules with HEAN's records.

Run on the bundled real BTC closes: the recorded loop must give the shared plain loop's fills
and PnL, and its journal must hold one decision, order, fill and equity sample per fill and one
round trip per exit -- otherwise the floor it reports would be the floor of other work.
"""

from __future__ import annotations

import gzip
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from hean_framework.journal import Journal

ROOT = Path(__file__).resolve().parents[1]
SHARED_BENCH = ROOT.parent / "shared" / "bench"
BTC_5M = ROOT / "examples" / "data" / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"


def _module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def closes() -> list[float]:
    with gzip.open(BTC_5M, "rt") as fh:
        rows = fh.read().splitlines()[1:]
    return [float(r.split(",")[4]) for r in rows]


def test_the_recorded_loop_trades_like_the_plain_loop(closes: list[float],
                                                      tmp_path: Path) -> None:
    if not (SHARED_BENCH / "bt_purepython.py").is_file():
        pytest.skip(f"the shared plain loop is not at {SHARED_BENCH}")
    sys.path.insert(0, str(SHARED_BENCH))
    try:
        plain = _module("bt_purepython_for_test", SHARED_BENCH / "bt_purepython.py")
    finally:
        sys.path.remove(str(SHARED_BENCH))
    floor = _module("bench_floor_for_test", ROOT / "bench" / "bench_floor.py")
    fills, pnl = plain.run(closes)
    assert fills > 100
    assert floor.recorded_loop(closes, None) == (fills, pytest.approx(pnl, abs=1e-6))
    for writer in ("process", "inline"):
        out = tmp_path / writer
        got = floor.recorded_loop(closes, out, writer)
        assert got == (fills, pytest.approx(pnl, abs=1e-6))
        with Journal.open_readonly(out / "journal.sqlite") as r:
            counts = r.counts()
        assert (counts["decisions"], counts["orders"], counts["fills"], counts["equity"]) == (
            fills, fills, fills, fills)
        assert counts["closed_trades"] == fills // 2


def test_inserts_alone_writes_exactly_the_journals_rows(closes: list[float],
                                                         tmp_path: Path) -> None:
    """The ``inserts alone`` line times every row of a real run's journal, no more, no less."""
    floor = _module("bench_floor_for_test", ROOT / "bench" / "bench_floor.py")
    floor.recorded_loop(closes, tmp_path / "src", "inline")
    rows = floor.journal_rows(tmp_path / "src" / "journal.sqlite")
    assert set(rows) == {"decisions", "orders", "fills", "closed_trades", "equity"}
    written, _ = floor.insert_alone(rows, tmp_path / "copy.sqlite", batch_size=100)
    assert written == sum(len(r) for _, r in rows.values()) > 4 * 100
    copy = floor.journal_rows(tmp_path / "copy.sqlite")
    for table, (_, table_rows) in rows.items():
        assert copy[table][1] == table_rows, table
