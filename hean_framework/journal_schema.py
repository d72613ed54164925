"""The journal file's format, shared by the engine's process and the writer process.

The fixed tables' DDL and inserts, the connection settings, the conversion of values to JSON
text and to what SQLite binds, and the batch insert both writers run (see
:mod:`~hean_framework.journal_writers`).

This module imports only the standard library and ``orjson`` -- no package-relative import --
because the writer process (:mod:`~hean_framework._journal_child`) loads it by file path,
without the package and its imports.  The layouts of the run's record tables, which follow the
model classes, are in :mod:`~hean_framework.journal_records`.

**Run status.**  Beside the record tables (:data:`TABLES`) the file has ``run_status`` (one
row: ``status``, ``detail``): ``running`` from the moment the file is created, set to
``complete`` by the journal's clean close (or ``failed`` / ``interrupted`` when the run that
wrote it raised or was stopped).  A journal still saying ``running`` once its writer is gone was
cut short -- a full disk, a killed writer process or a killed run -- and holds only the rows
written before that.  ``run_status`` is not one of :data:`TABLES`: it is left out of the digest
(a journal's content does not depend on whether it was read before or after the close) and of
the row counts.  Journals of schema version 2 have no such table.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import orjson

SCHEMA_VERSION: Final = 3

#: Tables in digest order.
TABLES: Final[tuple[str, ...]] = (
    "manifest", "decisions", "orders", "fills", "closed_trades", "positions", "equity",
    "events", "dead_letters",
)

#: Primary key (ORDER BY clause) of each table, for deterministic reads and the digest.
ORDER_BY: Final[dict[str, str]] = {
    "manifest": "key", "decisions": "decision_id", "orders": "order_id", "fills": "fill_id",
    "closed_trades": "id", "positions": "ts, strategy_id, symbol", "equity": "id",
    "events": "id", "dead_letters": "id",
}

#: connection settings of both journal writers while a run is written
PRAGMAS: Final = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                  "PRAGMA temp_store=MEMORY")

#: The tables whose layout does not follow a record class.
STATIC_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS equity (id INTEGER PRIMARY KEY, ts INTEGER, equity REAL, "
    "exposure REAL)",
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, ts INTEGER, kind TEXT, "
    "payload TEXT)",
    "CREATE TABLE IF NOT EXISTS run_status (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "status TEXT NOT NULL, detail TEXT)",
    "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, ts INTEGER, "
    "component TEXT, plugin TEXT, distribution TEXT, version TEXT, event TEXT, error TEXT, "
    "traceback TEXT)",
)
INDEXES: Final = (
    "CREATE INDEX IF NOT EXISTS ix_decisions_signal ON decisions (signal_id)",
    "CREATE INDEX IF NOT EXISTS ix_orders_decision ON orders (decision_id)",
    "CREATE INDEX IF NOT EXISTS ix_fills_order ON fills (order_id)",
    "CREATE INDEX IF NOT EXISTS ix_events_kind ON events (kind)",
)

MANIFEST_SQL: Final = "INSERT OR REPLACE INTO manifest (key, value) VALUES (?, ?)"
EQUITY_SQL: Final = "INSERT INTO equity (ts, equity, exposure) VALUES (?, ?, ?)"
EVENT_SQL: Final = "INSERT INTO events (ts, kind, payload) VALUES (?, ?, ?)"
DEAD_SQL: Final = ("INSERT INTO dead_letters (ts, component, plugin, distribution, version, "
                   "event, error, traceback) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")

#: ``(status, detail)``: the one row of ``run_status``
STATUS_SQL: Final = "INSERT OR REPLACE INTO run_status (id, status, detail) VALUES (1, ?, ?)"
#: the run status of a journal being written / closed cleanly
RUNNING: Final = "running"
COMPLETE: Final = "complete"
#: statuses a journal can be closed with
CLOSE_STATUSES: Final = frozenset({COMPLETE, "failed", "interrupted"})

#: the writer process's last line on stderr before it exits 1: this tag, then the error
ERROR_TAG: Final = "hean-journal-error: "

JSON_OPTS: Final = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS

# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------


def json_default(obj: Any) -> Any:
    """orjson fallback: sets become sorted lists, anything else its ``str``; never raises."""
    if isinstance(obj, set | frozenset):
        try:
            return sorted(obj)
        except TypeError:
            return sorted(obj, key=repr)
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


def dumps_text(value: Any) -> str:
    """``value`` as compact JSON text (orjson; NaN/inf become ``null``; unknown types -> str)."""
    try:
        return orjson.dumps(value, default=json_default, option=JSON_OPTS).decode()
    except (TypeError, orjson.JSONEncodeError):
        # e.g. an int beyond 64 bits or a recursion problem: keep the run going.
        return orjson.dumps(repr(value)).decode()


def sql_value(v: Any) -> Any:
    """A value SQLite can bind: numbers/str/bytes/None as they are, others as JSON text."""
    if v is None or isinstance(v, str | float | bytes):
        return v
    if isinstance(v, int):
        return v if -(1 << 63) <= v < (1 << 63) else str(v)
    item = getattr(v, "item", None)  # numpy scalars
    if callable(item):
        try:
            return sql_value(item())
        except Exception:
            pass
    return dumps_text(v)


# --------------------------------------------------------------------------------------------
# Writing (both writers)
# --------------------------------------------------------------------------------------------


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection for writing the journal at ``path`` (autocommit; :data:`PRAGMAS` set)."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def insert_rows(conn: sqlite3.Connection, sql: str, rows: list[Any]) -> None:
    """``executemany`` with a fallback: when a value cannot be bound (a record field holding an
    unexpected type), the batch is rolled back to a savepoint and written again with every value
    passed through :func:`sql_value` -- a badly typed field never loses a batch."""
    conn.execute("SAVEPOINT journal_batch")
    try:
        conn.executemany(sql, rows)
    except (sqlite3.ProgrammingError, sqlite3.InterfaceError, OverflowError):
        conn.execute("ROLLBACK TO journal_batch")
        conn.executemany(sql, [tuple(map(sql_value, r)) for r in rows])
    conn.execute("RELEASE journal_batch")


def write_batches(conn: sqlite3.Connection, batches: Iterable[tuple[str, list[Any]]]) -> None:
    """Insert every ``(sql, rows)`` batch in one transaction (rolled back on error)."""
    conn.execute("BEGIN")
    try:
        for sql, rows in batches:
            insert_rows(conn, sql, rows)
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (a full disk): the original error is the news
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def finish(conn: sqlite3.Connection) -> None:
    """Checkpoint the WAL into the main file and switch back to a rollback journal: one
    self-contained file once the run is over (no -wal / -shm beside it)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
