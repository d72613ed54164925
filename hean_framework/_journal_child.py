"""The journal's writer process: SQLite inserts off the engine's thread.

Run by :class:`hean_framework.journal.Journal` as ``python _journal_child.py DB_PATH`` (by file
path, so the package and its imports are not loaded).  It reads frames from stdin: an 8-byte
little-endian length, then a :mod:`marshal` payload, one of

* ``("rows", ((sql, rows), ...))``: write the batches in one transaction;
* ``("sql", (statement, ...))``: run statements in one transaction (indexes, DDL);
* ``("sync",)``: reply ``b"k"`` on stdout once everything before it is committed.

At end of input it checkpoints the WAL, switches the file to ``journal_mode=DELETE`` (one
self-contained file) and exits 0.  Any error: traceback on stderr, exit code 1 (the engine
reports it when it closes the journal).
"""

from __future__ import annotations

import marshal
import sqlite3
import sys
from typing import Any


def _insert(conn: sqlite3.Connection, sql: str, rows: list[Any]) -> None:
    conn.execute("SAVEPOINT batch")
    try:
        conn.executemany(sql, rows)
    except (sqlite3.ProgrammingError, sqlite3.InterfaceError, OverflowError):
        conn.execute("ROLLBACK TO batch")
        # rare: the engine's own conversion, so both writers store the same text
        from hean_framework.journal import _sql_value

        conn.executemany(sql, [tuple(map(_sql_value, r)) for r in rows])
    conn.execute("RELEASE batch")


def main(path: str) -> int:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA temp_store=MEMORY")
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
            if op == "rows":
                for sql, rows in msg[1]:
                    _insert(conn, sql, rows)
            else:
                for stmt in msg[1]:
                    conn.execute(stmt)
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
