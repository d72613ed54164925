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

:meth:`Journal.close` ends the file cleanly and sets its run status (table ``run_status``, see
:mod:`~hean_framework.journal_schema`) from ``running`` to ``complete`` -- or ``failed`` /
``interrupted`` when the caller says the run did not end well.  A write that fails (a full
disk, a killed writer process) raises :class:`~hean_framework.errors.HeanError` and leaves the
status at ``running``: :meth:`JournalReader.status` then reports the journal as cut short.  The
failure sticks: every later record call and the first :meth:`Journal.close` raise it again, so a
component that swallowed it cannot make the run look finished.

:meth:`Journal.digest` hashes the content of every table (rows ordered by primary key) except
the wall-clock fields of the manifest (:data:`VOLATILE_MANIFEST_KEYS`), so two runs of the same
config over the same data give the same digest.

The journal is not thread-safe: call it from one thread at a time (the engine core does).

The pieces live in sibling modules: the file format in :mod:`~hean_framework.journal_schema`,
the record tables in :mod:`~hean_framework.journal_records`, the two writers in
:mod:`~hean_framework.journal_writers`, reading and the digest in
:mod:`~hean_framework.journal_reader` (:class:`JournalReader`, :func:`journal_digest`,
:data:`TABLES` and :data:`VOLATILE_MANIFEST_KEYS` are importable from here too).
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import HeanError
from .journal_reader import VOLATILE_MANIFEST_KEYS, JournalReader, journal_digest
from .journal_records import CLOSED, DDL, DECISIONS, FILLS, ORDERS, POSITIONS, decision_row
from .journal_schema import (
    CLOSE_STATUSES,
    COMPLETE,
    DEAD_SQL,
    EQUITY_SQL,
    EVENT_SQL,
    MANIFEST_SQL,
    SCHEMA_VERSION,
    STATUS_SQL,
    TABLES,
    dumps_text,
)
from .journal_writers import Batches, InlineWriter, JournalWriter, ProcessWriter
from .models import ClosedTrade, Fill, Order, OrderDecision, Position

__all__ = ["SCHEMA_VERSION", "TABLES", "VOLATILE_MANIFEST_KEYS", "Journal", "JournalReader",
           "dumps_text", "journal_digest"]


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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from .rundir import os_error

            raise os_error(exc, self.path.parent, "create the folder of the journal") from exc
        self.batch_size = max(1, int(batch_size))
        self.writer = writer
        # Creates the file, its tables and indexes; "process" hands it to the child at once.
        self._writer: JournalWriter = InlineWriter(self.path, DDL)
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
        #: the write failure that stopped the journal (raised again by every later write)
        self.error: HeanError | None = None
        self._error_told_by_close = False
        self._on_close: list[Callable[[], None]] = []
        #: a growing list of equity samples journaled with every batch (see follow_equity)
        self._curve: list[tuple[int, float, float]] | None = None
        self._curve_sent = 0
        #: every row buffer with its INSERT statement, in the order the batches are written
        self._buffers: Batches = (
            (DECISIONS.insert_sql, self._decisions), (ORDERS.insert_sql, self._orders),
            (FILLS.insert_sql, self._fills), (CLOSED.insert_sql, self._closed),
            (POSITIONS.insert_sql, self._positions), (EQUITY_SQL, self._equity),
            (EVENT_SQL, self._events), (DEAD_SQL, self._dead))
        if writer == "process":
            self._start_process()

    # ---------------------------------------------------------------- context manager
    def __enter__(self) -> Journal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
            return
        status = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed"
        try:
            self.close(status, f"{exc_type.__name__}: {exc}")
        except Exception:
            if self.error is None:  # the block's exception is the news, not a repeat of it
                raise

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._writer.closed

    @property
    def failed(self) -> bool:
        """True once a write failed (see :attr:`error`)."""
        return self.error is not None

    def when_closed(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` once the journal is closed -- cleanly or not (e.g. to release the
        run folder's lock)."""
        self._on_close.append(fn)

    @property
    def pending(self) -> int:
        """Rows buffered and not yet written."""
        return self._pending

    @property
    def uses_process(self) -> bool:
        """True once the writes go through the child process (until it is closed)."""
        return self._child is not None

    @property
    def _child(self) -> subprocess.Popen[bytes] | None:
        """The writer process while it writes the file (for tests)."""
        w = self._writer
        return w.child if isinstance(w, ProcessWriter) and not w.closed else None

    # ---------------------------------------------------------------- records
    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Store (or update) manifest entries: one row per key, the value as JSON text.

        Written immediately (not batched).  Wall-clock keys (:data:`VOLATILE_MANIFEST_KEYS`)
        are stored but excluded from :meth:`digest`.
        """
        rows = [(str(k), dumps_text(v)) for k, v in manifest.items()]
        self._write(((MANIFEST_SQL, rows),))

    def decision(self, d: OrderDecision) -> None:
        """Buffer one decision (CREATE / SKIP / BLOCK with its numbers)."""
        self._decisions.append(decision_row(d))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def order(self, o: Order) -> None:
        """Buffer an order's current (final) state; the last call per ``order_id`` wins."""
        self._orders.append(ORDERS.row(o))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def fill(self, f: Fill) -> None:
        """Buffer one fill."""
        self._fills.append(FILLS.row(f))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def closed_trade(self, t: ClosedTrade) -> None:
        """Buffer one closed round trip (with its ``net_pnl`` as an extra column)."""
        self._closed.append((*CLOSED.getter(t), t.net_pnl, *CLOSED.json_part(t)))
        self._pending += 1
        if self._pending >= self.batch_size:
            self.flush(full=True)

    def position(self, p: Position, ts: int) -> None:
        """Buffer a position snapshot taken at ``ts`` (the engine does this at run end)."""
        self._positions.append((*POSITIONS.getter(p), ts, *POSITIONS.json_part(p)))
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
    def _write(self, batches: Batches) -> None:
        if self.error is not None:
            raise HeanError(self.error.message, self.error.hint)
        if self._writer.closed:
            raise RuntimeError(f"journal {self.path} is closed")
        try:
            self._writer.write(batches)
        except HeanError as exc:
            self._fail(exc)
            raise

    def _fail(self, exc: HeanError) -> None:
        """A write failed: close the writer without finishing the file (its run status stays
        ``running``) and make every later write raise ``exc`` again."""
        self.error = exc
        self._writer.discard()
        self.batch_size = 1

    def _start_process(self) -> None:
        """Hand the file to the writer process (the inline connection is closed first,
        without finishing the file: the child goes on with it)."""
        self._writer.discard()
        self._writer = ProcessWriter(self.path)

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
        if full and self.writer == "auto" and isinstance(self._writer, InlineWriter) and (
                not self._writer.closed):
            self._start_process()
        self._write(tuple(batch for batch in self._buffers if batch[1]))
        for _, rows in self._buffers:
            rows.clear()
        self.rows_written += self._pending
        self._pending = 0

    def close(self, status: str = COMPLETE, detail: str | None = None) -> None:
        """Flush, set the run status, checkpoint the WAL into the main file and close
        (idempotent; waits for the writer process and raises if it failed).

        :param status: ``"complete"`` for a run that ended normally; ``"failed"`` or
            ``"interrupted"`` (with a ``detail``) for one that raised or was stopped -- the file
            is finished either way, and readers report the latter two as cut short.

        After a failed write the file is left as it was (status ``running``); the first
        close raises that failure again, later ones return.
        """
        if status not in CLOSE_STATUSES:
            raise ValueError(f"journal status must be one of {sorted(CLOSE_STATUSES)}, "
                             f"not {status!r}")
        if self._writer.closed:
            self._closed_hooks()
            if self.error is not None and not self._error_told_by_close:
                self._error_told_by_close = True
                raise HeanError(self.error.message, self.error.hint)
            return
        try:
            self.flush()
            self._write(((STATUS_SQL, [(status, detail)]),))
            try:
                self._writer.close()
            except HeanError as exc:
                self._fail(exc)
                raise
        except HeanError:
            self._error_told_by_close = True
            raise
        finally:
            self._writer.discard()  # after a failure: closed without finishing the file
            # Any later record call flushes at once and raises (no silent loss, no hot-path
            # check).
            self.batch_size = 1
            self._closed_hooks()

    def _closed_hooks(self) -> None:
        hooks, self._on_close = self._on_close, []
        for fn in hooks:
            fn()

    # ---------------------------------------------------------------- reading
    def digest(self) -> str:
        """sha256 of the journal's content (flushes first); see :func:`journal_digest`."""
        self.flush()
        if self._writer.closed:
            raise RuntimeError(f"journal {self.path} is closed")
        self._writer.sync()
        conn = sqlite3.connect(str(self.path))
        try:
            return journal_digest(conn)
        finally:
            conn.close()

    @staticmethod
    def open_readonly(path: str | Path) -> JournalReader:
        """Open a (finished or running) journal for reading."""
        return JournalReader(path)
