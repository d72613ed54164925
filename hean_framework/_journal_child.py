"""The journal's writer process: SQLite inserts off the engine's thread.

Run by :class:`hean_framework.journal.Journal` as ``python _journal_child.py DB_PATH`` (by file
path, so the package and its imports are not loaded).  It reads frames from stdin: an 8-byte
little-endian length, then a :mod:`marshal` payload, one of

* ``("rows", ((sql, rows), ...))``: write the batches in one transaction;
* ``("sync",)``: reply ``b"k"`` on stdout once everything before it is committed.

At end of input it checkpoints the WAL, switches the file to ``journal_mode=DELETE`` (one
self-contained file) and exits 0.  Any error: traceback on stderr, exit code 1 (the engine
reports it when it closes the journal).
"""

from __future__ import annotations

import marshal
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

#: connection settings of both journal writers while a run is written
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA temp_store=MEMORY")


def insert_rows(conn: sqlite3.Connection, sql: str, rows: list[Any],
                convert: Callable[[Any], Any] | None = None) -> None:
    """``executemany`` with a fallback shared by both journal writers: when a value cannot be
    bound (a record field holding an unexpected type), the batch is rolled back to a savepoint
    and written again with every value passed through ``convert`` (default: the journal's
    ``_sql_value``, imported only then) -- a badly typed field never loses a batch."""
    conn.execute("SAVEPOINT journal_batch")
    try:
        conn.executemany(sql, rows)
    except (sqlite3.ProgrammingError, sqlite3.InterfaceError, OverflowError):
        conn.execute("ROLLBACK TO journal_batch")
        if convert is None:
            from hean_framework.journal import _sql_value

            convert = _sql_value
        conv: Callable[[Any], Any] = convert
        conn.executemany(sql, [tuple(map(conv, r)) for r in rows])
    conn.execute("RELEASE journal_batch")


def main(path: str) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    inp = sys.stdin.buffer
    out = sys.stdout.buffer
    while True:
        head = inp.read(8)
        if len(head) < 8:
            break
        size = int.from_bytes(head, "little")
        msg = marshal.loads(inp.read(size))
        op = msg[0]
        if op == "sync":
            out.write(b"k")
            out.flush()
            continue
        conn.execute("BEGIN")
        try:
            for sql, rows in msg[1]:  # op == "rows"
                insert_rows(conn, sql, rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
