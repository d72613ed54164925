"""The SQLite run journal: round trips, batching, digest stability, read helpers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hean_framework.journal import VOLATILE_MANIFEST_KEYS, Journal
from hean_framework.models import ClosedTrade, Fill, Order, OrderDecision, Position

T0 = 1_717_200_000_000


def make_decision(i: int, decision: str = "BLOCK", edge: float = 4.5) -> OrderDecision:
    return OrderDecision(
        decision_id=i, signal_id=100 + i, strategy_id="momentum_trader", symbol="BTCUSDT",
        side="buy", ts=T0 + i * 1000, decision=decision, stage="gate:trade_gate",
        reason_codes=["EDGE_TOO_LOW_FOR_COST"] if decision != "CREATE" else [],
        message="edge below cost", price=67_000.5, qty_requested=0.002, qty_raw=0.00213,
        qty=0.002, notional=134.0, expected_edge_bps=edge, cost_bps=7.5,
        cost_breakdown={"fee": 5.0, "spread": 1.5, "slippage": 1.0}, required_edge_bps=15.0,
        details={"atr": 12.5, "tags": ["a"]},
        cause_seq=42 + i)


def make_order(i: int, status: str = "filled") -> Order:
    return Order(order_id=i, strategy_id="momentum_trader", symbol="BTCUSDT", side="buy",
                 qty=0.002, order_type="limit", price=67_000.0, ts=T0 + i, status=status,
                 filled=0.002 if status == "filled" else 0.0, avg_price=67_000.0, fee=0.05,
                 signal_id=100 + i, decision_id=i)


def make_fill(i: int) -> Fill:
    return Fill(fill_id=i, order_id=i, strategy_id="momentum_trader", symbol="BTCUSDT",
                side="buy", qty=0.002, price=67_000.0, fee=0.0536, is_maker=False,
                ts=T0 + i, signal_id=100 + i, expected_price=66_990.0, liquidity="taker")


def trade(pnl: float, fees: float = 0.1) -> ClosedTrade:
    return ClosedTrade("momentum_trader", "BTCUSDT", "long", 0.002, 67_000.0, 67_500.0, T0,
                       T0 + 60_000, pnl, fees, 0.0, "take_profit", 101)


def fill_journal(j: Journal, *, n: int = 20, differ_at: int | None = None,
                 manifest_extra: dict[str, object] | None = None) -> None:
    j.write_manifest({"seed": 7, "hean_version": "0.1.0", "python": "3.11",
                      "data_files": {"btc.csv": "ab" * 32},
                      **(manifest_extra or {})})
    for i in range(1, n + 1):
        edge = 4.6 if i == differ_at else 4.5
        j.decision(make_decision(i, "CREATE" if i % 4 == 0 else "BLOCK", edge))
        if i % 4 == 0:
            j.order(make_order(i))
            j.fill(make_fill(i))
        j.equity(T0 + i * 1000, 500.0 + i, 130.0 if i % 2 else 0.0)
    j.closed_trade(trade(1.5))
    j.position(Position("momentum_trader", "BTCUSDT", qty=0.002, avg_price=67_000.0,
                        last_price=67_100.0), T0 + 99_000)
    j.event(T0, "allocation", {"budgets": {"momentum_trader": 250.0}})
    j.event(T0 + 5, "risk_state", {"state": "NORMAL", "previous_state": None})
    j.dead_letter(T0 + 7, "gate", "hean-physics", "hean-physics", "0.1.0", "Signal(...)",
                  "ZeroDivisionError: division by zero", "Traceback ...")


def test_round_trip_of_every_record_kind(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        fill_journal(j)
    with Journal.open_readonly(path) as r:
        counts = r.counts()
        assert counts == {"manifest": 4, "decisions": 20, "orders": 5, "fills": 5,
                          "closed_trades": 1, "positions": 1, "equity": 20, "events": 2,
                          "dead_letters": 1}
        d = r.decisions(limit=1)[0]
        assert d["decision_id"] == 1 and d["decision"] == "BLOCK"
        assert d["reason_codes"] == ["EDGE_TOO_LOW_FOR_COST"]
        assert d["cost_breakdown"] == {"fee": 5.0, "spread": 1.5, "slippage": 1.0}
        assert d["details"] == {"atr": 12.5, "tags": ["a"]}
        assert d["expected_edge_bps"] == 4.5 and d["required_multiplier"] is None
        assert d["ts"] == T0 + 1000 and d["cause_seq"] == 43
        newest = r.decisions(limit=2, newest_first=True)
        assert [x["decision_id"] for x in newest] == [20, 19]
        assert len(r.decisions(decision="CREATE")) == 5
        assert r.manifest()["data_files"] == {"btc.csv": "ab" * 32}
        assert r.manifest()["seed"] == 7
        o = r.orders()[0]
        assert (o["order_id"], o["status"], o["price"], o["decision_id"]) == (4, "filled",
                                                                           67_000.0, 4)
        f = r.fills()[0]
        assert f["is_maker"] == 0 and f["fee"] == pytest.approx(0.0536)
        ct = r.closed_trades()[0]
        assert ct["net_pnl"] == pytest.approx(1.4) and ct["reason"] == "take_profit"
        assert r.positions()[0]["ts"] == T0 + 99_000
        assert r.equity()[0] == (T0 + 1000, 501.0, 130.0)
        assert [e["kind"] for e in r.events()] == ["allocation", "risk_state"]
        assert r.events("risk_state")[0]["payload"] == {"state": "NORMAL",
                                                         "previous_state": None}
        dl = r.dead_letters()[0]
        assert dl["plugin"] == "hean-physics" and dl["error"].startswith("ZeroDivisionError")


def test_plain_sql_queries_work(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        fill_journal(j)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT decision, COUNT(*) FROM decisions GROUP BY decision "
                        "ORDER BY decision").fetchall()
    assert rows == [("BLOCK", 15), ("CREATE", 5)]
    codes = conn.execute("SELECT value FROM decisions, json_each(decisions.reason_codes) "
                         "WHERE decision_id = 1").fetchall()
    assert codes == [("EDGE_TOO_LOW_FOR_COST",)]
    conn.close()


def test_batches_are_written_every_batch_size_rows_and_on_close(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = Journal(path, batch_size=10, writer="inline")
    for i in range(1, 16):
        j.decision(make_decision(i))
    # 10 rows hit the disk with the first batch; 5 wait in the buffer.
    assert j.pending == 5
    with Journal.open_readonly(path) as r:
        assert r.counts()["decisions"] == 10
    j.close()
    assert j.closed
    with Journal.open_readonly(path) as r:
        assert r.counts()["decisions"] == 15
    # the finished journal is a single file
    assert not Path(str(path) + "-wal").exists()
    j.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        j.decision(make_decision(99))  # never lost silently
    with pytest.raises(RuntimeError, match="closed"):
        j.write_manifest({"x": 1})


def test_order_final_state_replaces_earlier_state(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path, batch_size=3) as j:
        o = make_order(7, status="open")
        j.order(o)
        j.decision(make_decision(1))
        j.decision(make_decision(2))  # batch boundary: the open state is on disk
        o.status, o.filled = "filled", o.qty
        j.order(o)
        # a later mutation of the object does not change what was journaled
        o.status = "garbage"
    with Journal.open_readonly(path) as r:
        orders = r.orders()
    assert len(orders) == 1 and orders[0]["status"] == "filled"
    assert orders[0]["filled"] == pytest.approx(0.002)


def test_digest_identical_for_identical_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with Journal(a, batch_size=7) as ja:
        fill_journal(ja, manifest_extra={"start_time": "2024-06-01T10:00:00",
                                         "hostname": "alpha", "elapsed_s": 1.25})
        da = ja.digest()
    with Journal(b, batch_size=10_000) as jb:
        fill_journal(jb, manifest_extra={"start_time": "2025-01-01T00:00:00",
                                         "hostname": "beta", "elapsed_s": 9.0})
        db = jb.digest()
    assert da == db and len(da) == 64
    # the reader computes the same digest from the finished file
    with Journal.open_readonly(a) as r:
        assert r.digest() == da
    assert {"start_time", "hostname", "elapsed_s"} <= VOLATILE_MANIFEST_KEYS


def test_digest_changes_when_one_decision_differs(tmp_path: Path) -> None:
    with Journal(tmp_path / "a.sqlite") as ja:
        fill_journal(ja)
        da = ja.digest()
    with Journal(tmp_path / "b.sqlite") as jb:
        fill_journal(jb, differ_at=13)
        db = jb.digest()
    assert da != db


def test_digest_changes_with_non_volatile_manifest_value(tmp_path: Path) -> None:
    with Journal(tmp_path / "a.sqlite") as ja:
        fill_journal(ja, manifest_extra={"seed": 1})
        da = ja.digest()
    with Journal(tmp_path / "b.sqlite") as jb:
        fill_journal(jb, manifest_extra={"seed": 2})
        db = jb.digest()
    assert da != db


def test_unserialisable_values_do_not_break_the_run(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    d = make_decision(1)
    details: dict[Any, Any] = {"symbols": {"ETHUSDT", "BTCUSDT"}, "obj": object(),
                               "nan": float("nan"), 3: "int key"}
    d.details = details
    with Journal(path) as j:
        j.decision(d)
        j.event(T0, "note", {"path": tmp_path, "inf": float("inf")})
    with Journal.open_readonly(path) as r:
        details = r.decisions()[0]["details"]
        assert details["symbols"] == ["BTCUSDT", "ETHUSDT"]
        assert details["nan"] is None and details["3"] == "int key"
        assert isinstance(details["obj"], str)
        assert r.events("note")[0]["payload"] == {"path": str(tmp_path), "inf": None}


def test_open_readonly_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Journal.open_readonly(tmp_path / "nope.sqlite")


def test_reader_sees_flushed_rows_while_run_is_going(tmp_path: Path) -> None:
    path = tmp_path / "live.sqlite"
    j = Journal(path)
    j.write_manifest({"seed": 3})
    j.decision(make_decision(1))
    j.flush()
    with Journal.open_readonly(path) as r:
        assert r.counts()["decisions"] == 1
        assert r.manifest() == {"seed": 3}
    j.close()


def test_badly_typed_field_is_stored_as_text_without_losing_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    bad = make_decision(2)
    bad.price = {"oops": 1}  # type: ignore[assignment]  # a component put a dict in a float
    with Journal(path) as j:
        for i in range(1, 4):
            j.equity(T0 + i, 500.0, 0.0)
        j.equity(T0 + 9, 1 << 70, 0.0)  # does not fit in SQLite's 64-bit integers
        j.decision(make_decision(1))
        j.decision(bad)
        j.decision(make_decision(3))
    with Journal.open_readonly(path) as r:
        assert [d["decision_id"] for d in r.decisions()] == [1, 2, 3]
        assert r.decisions()[1]["price"] == '{"oops":1}'
        assert r.counts()["equity"] == 4  # the retried batch has no duplicate rows


# ------------------------------------------------------------------ the writer process


def _weird_content(j: Journal) -> None:
    bad = make_decision(2)
    bad.price = {"oops": 1}  # type: ignore[assignment]
    odd = make_decision(4)
    odd.details = {"symbols": {"ETHUSDT", "BTCUSDT"}, "path": Path("a/b"), "nan": float("nan")}
    j.equity(T0, 1 << 70, float("inf"))
    for d in (make_decision(1), bad, make_decision(3), odd):
        j.decision(d)


@pytest.mark.parametrize("batch_size", [1, 3, 10_000])
def test_process_writer_stores_exactly_what_the_inline_writer_stores(
        tmp_path: Path, batch_size: int) -> None:
    digests = []
    for writer in ("inline", "process"):
        path = tmp_path / f"{writer}.sqlite"
        with Journal(path, batch_size=batch_size, writer=writer) as j:
            fill_journal(j)
            _weird_content(j)
            assert j.uses_process == (writer == "process")
        assert not Path(str(path) + "-wal").exists()
        with Journal.open_readonly(path) as r:
            digests.append(r.digest())
            assert r.counts()["decisions"] >= 4
    assert digests[0] == digests[1]


def test_auto_writer_starts_the_process_at_the_first_full_batch(tmp_path: Path) -> None:
    small = Journal(tmp_path / "small.sqlite", batch_size=100)
    for i in range(1, 50):
        small.decision(make_decision(i))
    small.close()
    assert not small.uses_process
    big = Journal(tmp_path / "big.sqlite", batch_size=10)
    for i in range(1, 26):
        big.decision(make_decision(i))
    assert big.uses_process
    # digest() waits for the child to commit what was sent, then reads the file
    assert len(big.digest()) == 64
    with Journal.open_readonly(tmp_path / "big.sqlite") as r:
        assert r.counts()["decisions"] == 25
    big.close()
    with Journal.open_readonly(tmp_path / "big.sqlite") as r:
        assert r.counts()["decisions"] == 25
        idx = {row[0] for row in r._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "ix_decisions_signal" in idx


def test_a_dead_writer_process_is_reported_not_ignored(tmp_path: Path) -> None:
    from hean_framework.errors import HeanError

    j = Journal(tmp_path / "j.sqlite", writer="process")
    assert j._child is not None
    j._child.kill()
    j._child.wait()
    with pytest.raises(HeanError, match=r"journal writer process .* failed"):
        for i in range(1, 5):
            j.decision(make_decision(i))
            j.flush()
        j.close()
    assert j.closed


# ------------------------------------------------------------------ run status


def test_run_status_is_running_until_the_clean_close_and_not_in_the_digest(
        tmp_path: Path) -> None:
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    ja = Journal(a, batch_size=7)
    fill_journal(ja)
    open_digest = ja.digest()
    with Journal.open_readonly(a) as r:
        assert r.stored_status() == ("running", None)
        assert r.status() == "cut short"  # no run holds a.sqlite's folder: nobody writes it
    ja.close()
    with Journal(b, batch_size=10_000) as jb:
        fill_journal(jb)
    for path in (a, b):
        with Journal.open_readonly(path) as r:
            assert r.stored_status() == ("complete", None)
            assert r.status() == "complete" and r.complete()
            assert r.cut_short_message() is None
            assert r.digest() == open_digest
            assert r.counts()["manifest"] == 4  # the status is not a manifest row
            assert r._conn.execute("PRAGMA user_version").fetchone()[0] == 3


def test_a_block_that_raises_closes_the_journal_as_failed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with pytest.raises(ZeroDivisionError), Journal(path) as j:
        fill_journal(j)
        1 / 0  # noqa: B018
    with Journal.open_readonly(path) as r:
        assert r.stored_status() == ("failed", "ZeroDivisionError: division by zero")
        assert r.status() == "failed" and not r.complete()
        assert "cut short" in (r.cut_short_message() or "")
        assert r.counts()["decisions"] == 20  # what was recorded is kept
    with pytest.raises(ValueError, match="status"):
        Journal(tmp_path / "x.sqlite").close("done")


def test_a_full_disk_stops_the_journal_and_the_failure_sticks(tmp_path: Path) -> None:
    """A real SQLITE_FULL (SQLite's page limit): a HeanError naming the cause, not
    "cannot rollback"; every later write and the first close raise it again; the file stays
    ``running`` and reads as cut short."""
    from hean_framework.errors import HeanError

    path = tmp_path / "j.sqlite"
    j = Journal(path, batch_size=5, writer="inline")
    j.write_manifest({"seed": 1})
    conn = j._writer._conn  # type: ignore[attr-defined]
    conn.execute(f"PRAGMA max_page_count={conn.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(HeanError, match=r"disk holding .* is full") as info:
        for i in range(1, 200):
            j.decision(make_decision(i))
    assert "cannot rollback" not in str(info.value) and "cut short" in str(info.value)
    assert j.failed and j.closed
    with pytest.raises(HeanError, match="is full"):
        j.decision(make_decision(500))  # a component swallowing the first error cannot hide it
    with pytest.raises(HeanError, match="is full"):
        j.close()
    j.close()  # told once
    with Journal.open_readonly(path) as r:
        assert r.stored_status() == ("running", None) and r.status() == "cut short"


def test_a_journal_without_run_status_is_an_older_one(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with Journal(path) as j:
        fill_journal(j)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE run_status")
    conn.commit()
    conn.close()
    with Journal.open_readonly(path) as r:
        assert r.stored_status() is None and r.status() is None
        assert r.complete() and r.cut_short_message() is None
