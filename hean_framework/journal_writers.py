"""The journal's two writers behind one interface, :class:`JournalWriter`.

* :class:`InlineWriter` does the SQLite work in this process;
* :class:`ProcessWriter` hands each batch (serialized with :mod:`marshal`, exact for every
  value a row holds) to a child process (``_journal_child.py``) that does the SQLite work on
  another core, so the run does not wait for inserts.

Both run :func:`~hean_framework.journal_schema.write_batches` and
:func:`~hean_framework.journal_schema.finish` on the file, so the file is the same either way.
Which one writes is the :class:`~hean_framework.journal.Journal`'s choice (its ``writer``
setting).

A write that fails -- a full disk, a read-only or vanished file, a killed writer process --
raises :class:`~hean_framework.errors.HeanError` (:func:`write_error`: what failed, where, what
to do; no traceback) and closes the writer.  The file keeps what was committed before, and its
run status stays ``running``: readers report it as cut short.
"""

from __future__ import annotations

import contextlib
import marshal
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, Protocol

from .errors import HeanError
from .journal_schema import (
    ERROR_TAG,
    RUNNING,
    SCHEMA_VERSION,
    STATUS_SQL,
    connect,
    finish,
    sql_value,
    write_batches,
)

#: ``(sql, rows)`` pairs written in one transaction.
Batches = tuple[tuple[str, list[Any]], ...]


CUT_SHORT_NOTE = ("the run was stopped; the journal keeps the rows written before and reads as "
                  "cut short")


def is_io_error(exc: BaseException) -> bool:
    """True for SQLite errors of the file or the disk (full, read-only, I/O, not a
    database), not for programming errors of the caller."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def write_error(path: Path, reason: str, *, creating: bool = False) -> HeanError:
    """The :class:`HeanError` of a journal write that failed with ``reason`` (SQLite's or the
    system's message): what failed, where, what to do."""
    low = reason.lower()
    where = path.parent
    if "disk is full" in low or "no space" in low or "quota" in low:
        what = f"the disk holding {where} is full"
        hint = (f"free space on that disk, or write the run elsewhere with --out DIR; then "
                f"run again{'' if creating else ' with --overwrite (replacing the cut-short run)'}")
    elif "readonly" in low or "read-only" in low:
        what = f"{where} cannot be written (read-only)"
        hint = "write the run to a writable folder with --out DIR"
    elif "unable to open" in low or "permission denied" in low:
        what = f"the file cannot be created or opened in {where}"
        hint = ("check that the folder exists and is writable, or write the run elsewhere "
                "with --out DIR")
    elif "i/o error" in low or "malformed" in low or "not a database" in low:
        what = "the disk or the file failed"
        hint = "check the disk holding it, or write the run elsewhere with --out DIR"
    else:
        what = "the write failed"
        hint = ("set journal.writer: inline to write in the engine's process, and report the "
                "error")
    verb = "create" if creating else "write"
    tail = "" if creating else f"; {CUT_SHORT_NOTE}"
    return HeanError(f"could not {verb} the run journal {path}: {what} ({reason.strip()}){tail}",
                     hint)


class JournalWriter(Protocol):
    """Writes row batches into one journal file."""

    @property
    def closed(self) -> bool:
        """True once closed or discarded (or, for the process writer, failed)."""
        ...

    def write(self, batches: Batches) -> None:
        """Write ``batches`` in one transaction (or hand them to the writer process).

        The row lists may be cleared once this returns."""
        ...

    def sync(self) -> None:
        """Return once everything written so far is committed to the file."""
        ...

    def close(self) -> None:
        """Finish the file (:func:`~hean_framework.journal_schema.finish`) and close; raise if
        the writing failed.  Closed afterwards even when it raises."""
        ...

    def discard(self) -> None:
        """Close at once without finishing the file: what was committed stays in it, in WAL
        mode (after a failed write, or to hand the file over to another writer).  No-op once
        closed."""
        ...


class InlineWriter:
    """Writes in this process, through one connection.

    Creating it creates the file, its tables and indexes (``ddl``) if they are missing, and
    sets the run status to ``running``.
    """

    def __init__(self, path: Path, ddl: Sequence[str]) -> None:
        self.path = path
        conn: sqlite3.Connection | None = None
        try:
            conn = connect(path)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("BEGIN")
            for stmt in ddl:
                conn.execute(stmt)
            conn.execute(STATUS_SQL, (RUNNING, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            if not is_io_error(exc):
                raise
            raise write_error(path, str(exc), creating=True) from exc
        self._conn = conn
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, batches: Batches) -> None:
        try:
            write_batches(self._conn, batches)
        except sqlite3.Error as exc:
            if not is_io_error(exc):
                raise
            self.discard()
            raise write_error(self.path, str(exc)) from exc

    def sync(self) -> None:
        """Nothing to wait for: :meth:`write` commits before it returns."""

    def close(self) -> None:
        if self._closed:
            return
        try:
            finish(self._conn)
        except sqlite3.Error as exc:
            if not is_io_error(exc):
                raise
            raise write_error(self.path, str(exc)) from exc
        finally:
            self.discard()

    def discard(self) -> None:
        if not self._closed:
            self._conn.close()
            self._closed = True


class ProcessWriter:
    """Writes through a child process (``_journal_child.py``) that owns the file.

    Frames go to the child through a sender thread: a pipe write releases the GIL, so the
    engine keeps computing while the child catches up instead of blocking on a full pipe.
    A failure of the child is raised (:class:`~hean_framework.errors.HeanError`, with the
    child's stderr) by the next call, and the writer is closed from then on.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        script = Path(__file__).with_name("_journal_child.py")
        self.child = subprocess.Popen(
            [sys.executable, str(script), str(path)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._closed = False
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._pipe_error: BaseException | None = None
        self._sender = threading.Thread(target=self._pump, name="hean-journal-sender",
                                        daemon=True)
        self._sender.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def _pump(self) -> None:
        """Sender thread: write queued frames to the child until ``None``."""
        stdin = self.child.stdin
        assert stdin is not None
        while (frame := self._outbox.get()) is not None:
            if self._pipe_error is not None:
                continue
            try:
                stdin.write(frame)
                stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._pipe_error = exc

    def _send(self, payload: bytes) -> None:
        if self._pipe_error is not None or self.child.poll() is not None:
            self._failed()  # the child is gone (an error, or killed): say so at once
        self._outbox.put(len(payload).to_bytes(8, "little") + payload)

    def write(self, batches: Batches) -> None:
        try:
            payload = marshal.dumps(("rows", batches))
        except ValueError:  # a value marshal cannot encode: store it as JSON text
            payload = marshal.dumps(("rows", tuple(
                (sql, [tuple(map(sql_value, r)) for r in rows]) for sql, rows in batches)))
        self._send(payload)

    def sync(self) -> None:
        """Wait until the child committed everything sent so far."""
        self._send(marshal.dumps(("sync",)))
        assert self.child.stdout is not None
        if self.child.stdout.read(1) != b"k":
            self._stop_sender()
            self._failed()

    def _stop_sender(self) -> None:
        self._outbox.put(None)
        self._sender.join()
        if self._pipe_error is not None:
            self._failed()

    def close(self) -> None:
        """Wait for the child to write everything and finish the file."""
        if self._closed:
            return
        self._stop_sender()
        child = self.child
        assert child.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            child.stdin.close()
        if child.wait() != 0:
            self._failed()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
        self._closed = True

    def discard(self) -> None:
        """Stop the sender thread and kill the child."""
        if self._closed:
            return
        self._closed = True
        self._outbox.put(None)  # let the sender thread end
        with contextlib.suppress(OSError):
            self.child.kill()
        self.child.wait()

    def _failed(self) -> NoReturn:
        self.discard()
        child = self.child
        assert child.stderr is not None
        err = child.stderr.read().decode(errors="replace")
        child.stderr.close()
        code = child.returncode
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            raise HeanError(
                f"the journal writer process for {self.path} failed: it was killed by signal "
                f"{name}; {CUT_SHORT_NOTE}",
                "run again (with --overwrite, replacing the cut-short run); if something keeps "
                "killing the writer (e.g. the out-of-memory killer), set journal.writer: inline")
        tagged = [ln[len(ERROR_TAG):] for ln in err.splitlines() if ln.startswith(ERROR_TAG)]
        reason = tagged[-1] if tagged else (err.strip().splitlines() or [""])[-1][-500:]
        base = write_error(self.path, reason or f"exit code {code}")
        raise HeanError(f"the journal writer process for {self.path} failed (exit code "
                        f"{code}): {base.message}", base.hint)
