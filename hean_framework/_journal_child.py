"""The journal's writer process: SQLite inserts off the engine's thread.

Run by :class:`hean_framework.journal_writers.ProcessWriter` as ``python _journal_child.py
DB_PATH`` (by file path, so the package and its imports are not loaded: the only module it
imports beside the standard library is :mod:`~hean_framework.journal_schema`, found next to this
file).  It reads frames from stdin: an 8-byte little-endian length, then a :mod:`marshal`
payload, one of

* ``("rows", ((sql, rows), ...))``: write the batches in one transaction;
* ``("sync",)``: reply ``b"k"`` on stdout once everything before it is committed.

At end of input it checkpoints the WAL, switches the file to ``journal_mode=DELETE`` (one
self-contained file) and exits 0.  Any error: traceback on stderr, then one last line
``ERROR_TAG + "<type>: <message>"`` (what the engine shows the user), exit code 1 (the engine
reports it at its next write or when it closes the journal).

It ignores SIGINT: a Ctrl-C in the terminal reaches the whole process group, and the engine --
not this process -- decides how the journal ends (closed as ``interrupted``).  If the engine
dies, the end of input finishes the file with what was committed; its run status stays
``running``, so readers report it as cut short.
"""

from __future__ import annotations

import marshal
import signal
import sys
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:  # imported as hean_framework._journal_child
    from .journal_schema import ERROR_TAG, connect, finish, write_batches
else:  # run as a script: this file's directory is sys.path[0]
    from journal_schema import ERROR_TAG, connect, finish, write_batches


def main(path: str) -> int:
    """Write the frames of stdin into the journal at ``path``; 0 when done, 1 on an error."""
    try:
        _serve(path)
    except Exception as exc:
        traceback.print_exc()
        message = " ".join(str(exc).split())
        sys.stderr.write(f"\n{ERROR_TAG}{type(exc).__name__}: {message}\n")
        sys.stderr.flush()
        return 1
    return 0


def _serve(path: str) -> None:
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


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(main(sys.argv[1]))
