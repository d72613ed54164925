"""The run journal: one SQLite file per run with every decision, order, fill and event.

Writes are *batched*: each record call turns the record into a plain tuple (list/dict fields
become orjson text) and appends it to an in-memory buffer; every ``batch_size`` buffered rows
(and at :meth:`Journal.flush` / :meth:`Journal.close`) all buffers are written with
``executemany`` inside one transaction.  The database runs with ``journal_mode=WAL`` and
``synchronous=NORMAL`` while the run is going; :meth:`Journal.close` checkpoints and switches the
file back to a rollback journal so that the finished run is one self-contained ``.sqlite`` file.

Tables (plain SQL, one column per record field; list/dict fields are JSON text)::

    manifest(key PRIMARY KEY, value)                  -- value is JSON
    decisions(decision_id PRIMARY KEY, signal_id, strategy_id, symbol, side, ts, decision,
              stage, message, price, ..., reason_codes, cost_breakdown, details)
    orders(order_id PRIMARY KEY, ...)                 -- final state, INSERT OR REPLACE
    fills(fill_id PRIMARY KEY, ...)
    closed_trades(id PRIMARY KEY, ..., net_pnl)
    positions(ts, strategy_id, symbol, ..., PRIMARY KEY (ts, strategy_id, symbol))
    equity(id PRIMARY KEY, ts, equity, exposure)
    events(id PRIMARY KEY, ts, kind, payload)
    dead_letters(id PRIMARY KEY, ts, component, plugin, distribution, version, event, error,
                 traceback)

Example query: ``SELECT stage, reason_codes, COUNT(*) FROM decisions WHERE decision != 'CREATE'
GROUP BY 1, 2 ORDER BY 3 DESC``.

:meth:`Journal.digest` hashes the content of every table (rows ordered by primary key) except
the wall-clock fields of the manifest (:data:`VOLATILE_MANIFEST_KEYS`), so two runs of the same
config over the same data give the same digest.

The journal is not thread-safe: call it from one thread at a time (the engine core does).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import queue
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields
from operator import attrgetter
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import orjson

from ._journal_child import PRAGMAS, insert_rows
from .errors import HeanError
from .models import ClosedTrade, Fill, Order, OrderDecision, Position

SCHEMA_VERSION: Final = 2

#: Manifest keys whose values depend on the wall clock or the machine, not on the run's input.
#: They are left out of :meth:`Journal.digest` (at any nesting depth inside the manifest).
VOLATILE_MANIFEST_KEYS: Final[frozenset[str]] = frozenset({
    "start_time", "started_at", "start_wall", "start_wall_time", "wall_start", "end_time",
    "finished_at", "end_wall", "wall_end", "created_at", "elapsed", "elapsed_s", "elapsed_ms",
    "duration_wall_s", "hostname", "host", "node", "pid", "user", "username", "cwd",
    "out_dir", "run_dir", "journal_path", "platform",
})

#: Tables in digest order.
TABLES: Final[tuple[str, ...]] = (
    "manifest", "decisions", "orders", "fills", "closed_trades", "positions", "equity",
    "events", "dead_letters",
)

_OPTS: Final = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(obj: Any) -> Any:
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
        return orjson.dumps(value, default=_default, option=_OPTS).decode()
    except (TypeError, orjson.JSONEncodeError):
        # e.g. an int beyond 64 bits or a recursion problem: keep the run going.
        return orjson.dumps(repr(value)).decode()


def _json_or_empty(value: Any, _dumps: Callable[..., bytes] = orjson.dumps) -> str:
    """:func:`dumps_text` with a fast path for empty containers (the common case)."""
    if not value:
        return "[]" if isinstance(value, list) else "{}" if isinstance(value, dict) else (
            dumps_text(value))
    try:
        return _dumps(value, default=_default, option=_OPTS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return dumps_text(value)


# --------------------------------------------------------------------------------------------
# Table layouts derived from the record dataclasses (so a new model field gets a column).
# --------------------------------------------------------------------------------------------


def _sql_type(annotation: Any) -> tuple[str, bool]:
    """(SQLite column type, is_json) for a dataclass field annotation (a string here)."""
    text = str(annotation).replace(" ", "")
    if text.startswith(("list", "dict", "tuple", "set")):
        return "TEXT", True
    if text.startswith(("int", "bool")):
        return "INTEGER", False
    if text.startswith("float"):
        return "REAL", False
    return "TEXT", False


class _Layout:
    """Column layout of one record table and the function turning a record into a row."""

    __slots__ = ("columns", "ddl", "getter", "insert_sql", "json_getter", "json_names",
                 "scalar_names")

    def __init__(self, table: str, record: type, key: Sequence[str] = (), *,
                 extra: Sequence[tuple[str, str]] = (), auto_id: bool = False) -> None:
        scalar: list[tuple[str, str]] = []
        js: list[str] = []
        for f in fields(record):
            sql_type, is_json = _sql_type(f.type)
            if is_json:
                js.append(f.name)
            else:
                scalar.append((f.name, sql_type))
        self.scalar_names = [n for n, _ in scalar]
        self.json_names = js
        cols = [*scalar, *extra, *((n, "TEXT") for n in js)]
        self.columns = [n for n, _ in cols]
        self.getter: Callable[[Any], tuple[Any, ...]] = _tuple_getter(self.scalar_names)
        self.json_getter: Callable[[Any], tuple[Any, ...]] | None = (
            _tuple_getter(js) if js else None)
        # Keyed tables replace on a repeated key; auto-id tables append (id assigned by SQLite).
        verb = "INSERT" if auto_id else "INSERT OR REPLACE"
        self.insert_sql = (f"{verb} INTO {table} ({', '.join(self.columns)}) "
                           f"VALUES ({', '.join('?' * len(self.columns))})")
        body = ", ".join(f"{n} {t}" for n, t in cols)
        if auto_id:
            self.ddl = f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, {body})"
        else:
            self.ddl = (f"CREATE TABLE IF NOT EXISTS {table} ({body}, "
                        f"PRIMARY KEY ({', '.join(key)}))")


def _tuple_getter(names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """``attrgetter`` that always returns a tuple (also for a single name)."""
    if len(names) == 1:
        single = attrgetter(names[0])
        return lambda obj: (single(obj),)
    return attrgetter(*names)


_DECISIONS: Final = _Layout("decisions", OrderDecision, ("decision_id",))
_ORDERS: Final = _Layout("orders", Order, ("order_id",))
_FILLS: Final = _Layout("fills", Fill, ("fill_id",))
_POSITIONS: Final = _Layout("positions", Position, ("ts", "strategy_id", "symbol"),
                            extra=(("ts", "INTEGER"),))
_CLOSED: Final = _Layout("closed_trades", ClosedTrade, extra=(("net_pnl", "REAL"),),
                         auto_id=True)

_STATIC_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS equity (id INTEGER PRIMARY KEY, ts INTEGER, equity REAL, "
    "exposure REAL)",
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, ts INTEGER, kind TEXT, "
    "payload TEXT)",
    "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY, ts INTEGER, "
    "component TEXT, plugin TEXT, distribution TEXT, version TEXT, event TEXT, error TEXT, "
    "traceback TEXT)",
)
_INDEXES: Final = (
    "CREATE INDEX IF NOT EXISTS ix_decisions_signal ON decisions (signal_id)",
    "CREATE INDEX IF NOT EXISTS ix_orders_decision ON orders (decision_id)",
    "CREATE INDEX IF NOT EXISTS ix_fills_order ON fills (order_id)",
    "CREATE INDEX IF NOT EXISTS ix_events_kind ON events (kind)",
)


def _json_part(layout: _Layout, record: Any) -> tuple[str, ...]:
    """The JSON text columns of ``record``."""
    if layout.json_getter is None:
        return ()
    return tuple(map(_json_or_empty, layout.json_getter(record)))


def _row(layout: _Layout, record: Any) -> tuple[Any, ...]:
    """The full row of ``record``: scalar columns, then JSON columns."""
    if layout.json_getter is None:
        return layout.getter(record)
    return (*layout.getter(record), *map(_json_or_empty, layout.json_getter(record)))


def _decision_row_fast(d: OrderDecision) -> tuple[Any, ...]:
    """Row of a decision with the JSON fields spelled out (the hottest journal call)."""
    return (*_DECISIONS.getter(d), _json_or_empty(d.reason_codes),
            _json_or_empty(d.cost_breakdown), _json_or_empty(d.details))


def _decision_row_generic(d: OrderDecision) -> tuple[Any, ...]:
    return _row(_DECISIONS, d)


# Use the spelled-out version only while it matches the model's field order.
_decision_row: Final = (
    _decision_row_fast
    if _DECISIONS.json_names == ["reason_codes", "cost_breakdown", "details"]
    else _decision_row_generic)

_EQUITY_SQL: Final = "INSERT INTO equity (ts, equity, exposure) VALUES (?, ?, ?)"
_EVENT_SQL: Final = "INSERT INTO events (ts, kind, payload) VALUES (?, ?, ?)"
_DEAD_SQL: Final = ("INSERT INTO dead_letters (ts, component, plugin, distribution, version, "
                    "event, error, traceback) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")

#: Primary key (ORDER BY clause) of each table, for deterministic reads and the digest.
_ORDER_BY: Final[dict[str, str]] = {
    "manifest": "key", "decisions": "decision_id", "orders": "order_id", "fills": "fill_id",
    "closed_trades": "id", "positions": "ts, strategy_id, symbol", "equity": "id",
    "events": "id", "dead_letters": "id",
}
#: JSON text columns per table (decoded by the reader).
_JSON_COLUMNS: Final[dict[str, frozenset[str]]] = {
    "decisions": frozenset(_DECISIONS.json_names), "orders": frozenset(_ORDERS.json_names),
    "fills": frozenset(_FILLS.json_names), "positions": frozenset(_POSITIONS.json_names),
    "closed_trades": frozenset(_CLOSED.json_names), "events": frozenset({"payload"}),
    "manifest": frozenset({"value"}),
}


def _connect_pragmas(conn: sqlite3.Connection) -> None:
    for pragma in PRAGMAS:
        conn.execute(pragma)


def _sql_value(v: Any) -> Any:
    """A value SQLite can bind: numbers/str/bytes/None as they are, others as JSON text."""
    if v is None or isinstance(v, str | float | bytes):
        return v
    if isinstance(v, int):
        return v if -(1 << 63) <= v < (1 << 63) else str(v)
    item = getattr(v, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _sql_value(item())
        except Exception:
            pass
    return dumps_text(v)


def _bindable_msg(msg: tuple[Any, ...]) -> tuple[Any, ...]:
    """A ``("rows", batches)`` message with every value made bindable (see _sql_value)."""
    if msg[0] != "rows":
        return msg
    return ("rows", tuple((sql, [tuple(map(_sql_value, r)) for r in rows])
                          for sql, rows in msg[1]))


def _insert_rows(conn: sqlite3.Connection, sql: str, rows: list[Any]) -> None:
    """Insert ``rows``; unbindable values are stored as JSON text (see
    :func:`~hean_framework._journal_child.insert_rows`, shared with the writer process)."""
    insert_rows(conn, sql, rows, _sql_value)


# --------------------------------------------------------------------------------------------
# Writer
# --------------------------------------------------------------------------------------------


class Journal:
    """Batched SQLite writer for one run (see the module docstring for the tables).

    >>> j = Journal(tmp_path / "journal.sqlite")          # doctest: +SKIP
    >>> j.write_manifest({"seed": 7}); j.decision(d); j.close()   # doctest: +SKIP

    Record methods only append a tuple to a buffer; the database is written every
    ``batch_size`` rows, at :meth:`flush` and at :meth:`close`.  Records are captured at call
    time (later mutation of the record object does not change what was journaled).
    ``decisions``, ``orders`` and ``fills`` are keyed by their ids with ``INSERT OR REPLACE``:
    recording the same id twice keeps the last version (orders are recorded when done and once
    more at run end if still open).

    **Writer.**  ``writer="inline"`` writes in this process.  ``"process"`` hands each batch
    (serialized with :mod:`marshal`, exact for every value a row holds) to a child process
    (``_journal_child.py``) that does the SQLite work on another core, so the run does not
    wait for inserts; :meth:`close` waits for it and reports its failure.  ``"auto"`` (the
    default) writes inline until the first full batch -- small runs never start a process --
    then switches to the child.  The resulting file is the same either way.
    """

    def __init__(self, path: str | Path, batch_size: int = 2_500,
                 writer: str = "auto") -> None:
        if writer not in ("auto", "inline", "process"):
            raise ValueError(f"journal writer must be auto, inline or process, not {writer!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.batch_size = max(1, int(batch_size))
        self.writer = writer
        self._child: subprocess.Popen[bytes] | None = None
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False)
        conn = self._conn
        _connect_pragmas(conn)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("BEGIN")
        # The secondary indexes exist from the start: kept up per row by the writer (another
        # core once the child runs) instead of built at close, where the run waits for them.
        for stmt in (*_STATIC_DDL, _DECISIONS.ddl, _ORDERS.ddl, _FILLS.ddl, _POSITIONS.ddl,
                     _CLOSED.ddl, *_INDEXES):
            conn.execute(stmt)
        conn.execute("COMMIT")
        self._open = True
        self._decisions: list[tuple[Any, ...]] = []
        self._orders: list[tuple[Any, ...]] = []
        self._fills: list[tuple[Any, ...]] = []
        self._closed: list[tuple[Any, ...]] = []
        self._positions: list[tuple[Any, ...]] = []
        self._equity: list[tuple[int, float, float]] = []
        self._events: list[tuple[int, str, str]] = []
        self._dead: list[tuple[Any, ...]] = []
        self._pending = 0
        self.rows_written = 0
        #: a growing list of equity samples journaled with every batch (see follow_equity)
        self._curve: list[tuple[int, float, float]] | None = None
        self._curve_sent = 0
        if writer == "process":
            self._start_child()

    # ---------------------------------------------------------------- context manager
    def __enter__(self) -> Journal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return not self._open

    @property
    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return self._pending

    @property
    def uses_process(self) -> bool:
        """True once the writes go through the child process."""
        return self._child is not None

    # ---------------------------------------------------------------- records
    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Store (or update) manifest entries: one row per key, the value as JSON text.

        Written immediately (not batched).  Wall-clock keys (:data:`VOLATILE_MANIFEST_KEYS`)
        are stored but excluded from :meth:`digest`.
        """
        rows = [(str(k), dumps_text(v)) for k, v in manifest.items()]
        sql = "INSERT OR REPLACE INTO manifest (key, value) VALUES (?, ?)"
        if self._child is not None:
            self._send(("rows", ((sql, rows),)))
            return
        conn = self._require()
        conn.execute("BEGIN")
        try:
            conn.executemany(sql, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def decision(self, d: OrderDecision) -> None:
        """Buffer one decision (CREATE / SKIP / BLOCK with its numbers)."""
        self._decisions.append(_decision_row(d))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def order(self, o: Order) -> None:
        """Buffer an order's current (final) state; the last call per ``order_id`` wins."""
        self._orders.append(_row(_ORDERS, o))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def fill(self, f: Fill) -> None:
        """Buffer one fill."""
        self._fills.append(_row(_FILLS, f))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def closed_trade(self, t: ClosedTrade) -> None:
        """Buffer one closed round trip (with its ``net_pnl`` as an extra column)."""
        self._closed.append((*_CLOSED.getter(t), t.net_pnl, *_json_part(_CLOSED, t)))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def position(self, p: Position, ts: int) -> None:
        """Buffer a position snapshot taken at ``ts`` (the engine does this at run end)."""
        self._positions.append((*_POSITIONS.getter(p), ts, *_json_part(_POSITIONS, p)))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def equity(self, ts: int, equity: float, exposure: float) -> None:
        """Buffer one equity sample (``exposure`` = gross exposure notional)."""
        self._equity.append((ts, equity, exposure))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def equity_curve(self, samples: Sequence[tuple[int, float, float]]) -> None:
        """Buffer many ``(ts, equity, exposure)`` samples at once (the run's curve)."""
        size = self.batch_size
        for a in range(0, len(samples), size):
            chunk = samples[a:a + size]
            self._equity.extend(chunk)
            self._pending += len(chunk)
            if self._pending >= self.batch_size:
                self.flush(full=True)

    def follow_equity(self, curve: list[tuple[int, float, float]]) -> None:
        """Journal the ``(ts, equity, exposure)`` samples of ``curve`` -- a list that only grows,
        like the portfolio's equity curve -- with every batch: the samples appended since the
        last batch join it, and the rest is written at :meth:`flush` / :meth:`close`.

        Costs the run nothing per sample, and the samples reach the file during the run
        instead of in one bulk at its end (where the run would wait for them)."""
        self._curve = curve
        self._curve_sent = 0

    def event(self, ts: int, kind: str, payload: dict[str, Any]) -> None:
        """Buffer a rare event: allocation change, risk-state change, lifecycle note ...

        ``payload`` must not contain wall-clock values if runs are to have equal digests.
        """
        self._events.append((ts, kind, dumps_text(payload)))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def dead_letter(self, ts: int, component: str, plugin: str, distribution: str,
                    version: str, event: str, error: str, traceback: str) -> None:
        """Buffer the record of a component that raised (its event went nowhere)."""
        self._dead.append((ts, component, plugin, distribution, version, event, error,
                           traceback))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    # ---------------------------------------------------------------- writing
    def _require(self) -> sqlite3.Connection:
        if not self._open:
            raise RuntimeError(f"journal {self.path} is closed")
        if self._conn is None:
            raise RuntimeError(f"journal {self.path} is written by its child process")
        return self._conn

    def _start_child(self) -> None:
        """Hand the file to the writer process (our connection is closed first).

        Frames go to the child through a sender thread: a pipe write releases the GIL, so
        the engine keeps computing while the child catches up instead of blocking on a full
        pipe.
        """
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        script = Path(__file__).with_name("_journal_child.py")
        self._child = subprocess.Popen(
            [sys.executable, str(script), str(self.path)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._pipe_error: BaseException | None = None
        self._sender = threading.Thread(target=self._pump, name="hean-journal-sender",
                                        daemon=True)
        self._sender.start()

    def _pump(self) -> None:
        """Sender thread: write queued frames to the child until ``None``."""
        child = self._child
        assert child is not None and child.stdin is not None
        stdin = child.stdin
        while (frame := self._outbox.get()) is not None:
            if self._pipe_error is not None:
                continue
            try:
                stdin.write(frame)
                stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._pipe_error = exc

    def _send(self, msg: tuple[Any, ...]) -> None:
        if self._pipe_error is not None:
            self._child_failed()
        try:
            payload = marshal.dumps(msg)
        except ValueError:  # a value marshal cannot encode: store it as JSON text
            payload = marshal.dumps(_bindable_msg(msg))
        self._outbox.put(len(payload).to_bytes(8, "little") + payload)

    def _stop_sender(self) -> None:
        self._outbox.put(None)
        self._sender.join()
        if self._pipe_error is not None:
            self._child_failed()

    def _child_failed(self) -> None:
        child = self._child
        assert child is not None
        self._outbox.put(None)  # let the sender thread end
        err = b""
        if child.stderr is not None:
            with contextlib.suppress(OSError):
                child.kill()
            err = child.stderr.read()
        child.wait()
        self._child = None
        self._open = False
        raise HeanError(f"the journal writer process for {self.path} failed (exit code "
                        f"{child.returncode}): {err.decode(errors='replace').strip()[-2000:]}",
                        "set journal.writer: inline to write in the engine's process, "
                        "and report the error")

    def flush(self, full: bool = False) -> None:
        """Write (or hand to the writer process) every buffered row in one transaction.

        :param full: set by the record methods when a batch filled up; with
            ``writer="auto"`` this starts the writer process.
        """
        curve = self._curve
        if curve is not None and len(curve) > self._curve_sent:
            new = curve[self._curve_sent:]
            self._curve_sent += len(new)
            self._equity.extend(new)
            self._pending += len(new)
        if not self._pending:
            return
        if full and self._child is None and self.writer == "auto" and self._open:
            self._start_child()
        batches: tuple[tuple[str, list[Any]], ...] = (
            (_DECISIONS.insert_sql, self._decisions), (_ORDERS.insert_sql, self._orders),
            (_FILLS.insert_sql, self._fills), (_CLOSED.insert_sql, self._closed),
            (_POSITIONS.insert_sql, self._positions), (_EQUITY_SQL, self._equity),
            (_EVENT_SQL, self._events), (_DEAD_SQL, self._dead))
        if self._child is not None:
            self._send(("rows", tuple((sql, rows) for sql, rows in batches if rows)))
        else:
            conn = self._require()
            conn.execute("BEGIN")
            try:
                for sql, rows in batches:
                    if rows:
                        _insert_rows(conn, sql, rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        for _, rows in batches:
            rows.clear()
        self.rows_written += self._pending
        self._pending = 0

    def _sync(self) -> None:
        """Wait until the writer process committed everything sent so far."""
        child = self._child
        if child is None:
            return
        self._send(("sync",))
        assert child.stdout is not None
        if child.stdout.read(1) != b"k":
            self._stop_sender()
            self._child_failed()

    def close(self) -> None:
        """Flush, checkpoint the WAL into the main file and close
        (idempotent; waits for the writer process and raises if it failed)."""
        if not self._open:
            return
        try:
            self.flush()
            if self._child is not None:
                self._stop_sender()
                child = self._child
                assert child.stdin is not None
                with contextlib.suppress(BrokenPipeError, OSError):
                    child.stdin.close()
                if child.wait() != 0:
                    self._child_failed()
                for stream in (child.stdout, child.stderr):
                    if stream is not None:
                        stream.close()
                self._child = None
                return
            conn = self._require()
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            # One self-contained file once the run is over (no -wal / -shm beside it).
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._open = False
            # Any later record call flushes at once and raises (no silent loss, no hot-path
            # check).
            self.batch_size = 1

    # ---------------------------------------------------------------- reading
    def digest(self) -> str:
        """sha256 of the journal's content (flushes first); see :func:`journal_digest`."""
        self.flush()
        if self._child is not None:
            self._sync()
            conn = sqlite3.connect(str(self.path))
            try:
                return journal_digest(conn)
            finally:
                conn.close()
        return journal_digest(self._require())

    @staticmethod
    def open_readonly(path: str | Path) -> JournalReader:
        """Open a (finished or running) journal for reading."""
        return JournalReader(path)


# --------------------------------------------------------------------------------------------
# Digest and reader
# --------------------------------------------------------------------------------------------


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items()
                if k not in VOLATILE_MANIFEST_KEYS}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def journal_digest(conn: sqlite3.Connection) -> str:
    """sha256 over every table in :data:`TABLES` order, rows ordered by primary key.

    Manifest rows whose key is in :data:`VOLATILE_MANIFEST_KEYS` are skipped and the same keys
    are removed from nested manifest values, so wall-clock data never changes the digest.
    """
    h = hashlib.sha256()
    for table in TABLES:
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY {_ORDER_BY[table]}")
        cols = [c[0] for c in cur.description]
        h.update(orjson.dumps([table, cols]))
        while True:
            rows = cur.fetchmany(5000)
            if not rows:
                break
            if table == "manifest":
                rows = [(k, orjson.dumps(_strip_volatile(orjson.loads(v)),
                                         option=orjson.OPT_SORT_KEYS).decode())
                        for k, v in rows if k not in VOLATILE_MANIFEST_KEYS]
            h.update(orjson.dumps(rows))
    return h.hexdigest()


class JournalReader:
    """Read access to a journal file: ``hean why``, tests, ad-hoc analysis."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no journal at {self.path}")
        self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                     check_same_thread=False)

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def rows(self, table: str, where: str = "", params: Iterable[Any] = (),
             limit: int | None = None, newest_first: bool = False) -> list[dict[str, Any]]:
        """Rows of ``table`` as dicts (JSON columns decoded), ordered by primary key.

        ``where`` is an SQL condition with ``?`` placeholders filled from ``params``.
        """
        if table not in _ORDER_BY:
            raise ValueError(f"unknown journal table {table!r}; tables: {', '.join(TABLES)}")
        order = ", ".join(f"{c.strip()} {'DESC' if newest_first else 'ASC'}"
                          for c in _ORDER_BY[table].split(","))
        sql = f"SELECT * FROM {table}"
        if where:
            sql += f" WHERE {where}"
        sql += f" ORDER BY {order}"
        args = list(params)
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        cur = self._conn.execute(sql, args)
        cols = [c[0] for c in cur.description]
        js = _JSON_COLUMNS.get(table, frozenset())
        out: list[dict[str, Any]] = []
        for row in cur:
            rec = dict(zip(cols, row))
            for c in js:
                v = rec.get(c)
                if isinstance(v, str):
                    rec[c] = orjson.loads(v)
            out.append(rec)
        return out

    def decisions(self, limit: int | None = None, *, strategy_id: str | None = None,
                  symbol: str | None = None, decision: str | None = None,
                  newest_first: bool = False) -> list[dict[str, Any]]:
        """Decisions ordered by ``decision_id`` (newest first on request), optionally filtered.

        With ``limit`` the first ``limit`` rows of that order are returned (use
        ``newest_first=True`` for "the last N decisions").
        """
        conds: list[str] = []
        params: list[Any] = []
        for col, val in (("strategy_id", strategy_id), ("symbol", symbol),
                         ("decision", decision)):
            if val is not None:
                conds.append(f"{col} = ?")
                params.append(val)
        return self.rows("decisions", " AND ".join(conds), params, limit, newest_first)

    def orders(self) -> list[dict[str, Any]]:
        """Every order (final state) by ``order_id``."""
        return self.rows("orders")

    def fills(self) -> list[dict[str, Any]]:
        """Every fill by ``fill_id``."""
        return self.rows("fills")

    def closed_trades(self) -> list[dict[str, Any]]:
        """Closed round trips in the order they were recorded."""
        return self.rows("closed_trades")

    def positions(self) -> list[dict[str, Any]]:
        """Position snapshots."""
        return self.rows("positions")

    def equity(self) -> list[tuple[int, float, float]]:
        """Equity samples as ``(ts, equity, exposure)``."""
        cur = self._conn.execute("SELECT ts, equity, exposure FROM equity ORDER BY id")
        return [(int(a), float(b), float(c)) for a, b, c in cur]

    def counts(self) -> dict[str, int]:
        """Number of rows per table."""
        return {t: int(self._conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in TABLES}

    def manifest(self) -> dict[str, Any]:
        """The run manifest, values decoded from JSON."""
        return {r["key"]: r["value"] for r in self.rows("manifest")}

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead letter in the order recorded."""
        return self.rows("dead_letters")

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Events in the order recorded, optionally only those of ``kind``."""
        if kind is None:
            return self.rows("events")
        return self.rows("events", "kind = ?", (kind,))

    def digest(self) -> str:
        """The same digest :meth:`Journal.digest` computes."""
        return journal_digest(self._conn)
