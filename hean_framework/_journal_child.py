"""The journal's writer process: SQLite inserts off the engine's thread.

Run by :class:`hean_framework.journal_writers.ProcessWriter` as ``python _journal_child.py
DB_PATH`` (by file path, so the package and its imports are not loaded: the only module it
imports beside the standard library is :mod:`~hean_framework.journal_schema`, found next to this
file).  It reads frames from stdin: an 8-byte little-endian length, then a :mod:`marshal`
payload, one of

* ``("rows", ((sql, rows), ...))``: write the batches in one transaction;
* ``("sync",)``: reply ``b"k"`` on stdout once everything before it is committed.

At end of input it checkpoints the WAL, switches the file to ``journal_mode=DELETE`` (one
self-contained file) and exits 0.  Any error: traceback on stderr, exit code 1 (the engine
reports it when it closes the journal).
"""

from __future__ import annotations

import marshal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:  # imported as hean_framework._journal_child
    from .journal_schema import connect, finish, write_batches
else:  # run as a script: this file's directory is sys.path[0]
    from journal_schema import connect, finish, write_batches


def main(path: str) -> int:
    conn = connect(path)
    inp = sys.stdin.buffer
    out = sys.stdout.buffer
    while True:
        head = inp.read(8)
        if len(head) < 8:
            break
        size = int.from_bytes(head, "little")
        msg = marshal.loads(inp.read(size))
        if msg[0] == "sync":
            out.write(b"k")
            out.flush()
            continue
        write_batches(conn, msg[1])  # msg[0] == "rows"
    finish(conn)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
