"""Reading a journal: :class:`JournalReader` (``hean why``, tests, ad-hoc analysis) and
:func:`journal_digest`, the hash of a journal's content.

The digest covers every table (rows ordered by primary key) except the wall-clock fields of the
manifest (:data:`VOLATILE_MANIFEST_KEYS`), so two runs of the same config over the same data
give the same digest.

:meth:`JournalReader.status` tells whether the journal was closed cleanly (``complete``), is
being written right now (``running`` with a live run holding the folder's lock), or was **cut
short** (anything else: ``running`` with no live writer -- a full disk, a killed writer or
run -- or ``failed`` / ``interrupted``); :meth:`JournalReader.cut_short_message` is the line to
show the user.  The run status is not part of the digest.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import orjson

from .journal_records import JSON_COLUMNS
from .journal_schema import COMPLETE, ORDER_BY, RUNNING, TABLES

#: Manifest keys whose values depend on the wall clock or the machine, not on the run's input.
#: They are left out of :func:`journal_digest` (at any nesting depth inside the manifest).
VOLATILE_MANIFEST_KEYS: Final[frozenset[str]] = frozenset({
    "start_time", "started_at", "start_wall", "start_wall_time", "wall_start", "end_time",
    "finished_at", "end_wall", "wall_end", "created_at", "elapsed", "elapsed_s", "elapsed_ms",
    "duration_wall_s", "hostname", "host", "node", "pid", "user", "username", "cwd",
    "out_dir", "run_dir", "journal_path", "platform",
})


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
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY {ORDER_BY[table]}")
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
        if table not in ORDER_BY:
            raise ValueError(f"unknown journal table {table!r}; tables: {', '.join(TABLES)}")
        order = ", ".join(f"{c.strip()} {'DESC' if newest_first else 'ASC'}"
                          for c in ORDER_BY[table].split(","))
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
        js = JSON_COLUMNS.get(table, frozenset())
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

    # ------------------------------------------------------------------ run status
    def stored_status(self) -> tuple[str, str | None] | None:
        """``(status, detail)`` as written in the file, None for a journal without a run status
        (schema version 2 and older)."""
        try:
            row = self._conn.execute("SELECT status, detail FROM run_status WHERE id = 1"
                                     ).fetchone()
        except sqlite3.OperationalError:  # no such table: an older journal
            return None
        if row is None:  # the table exists, its first row never made it: cut short at birth
            return (RUNNING, None)
        return (str(row[0]), row[1])

    def status(self) -> str | None:
        """``"complete"``; ``"running"`` while a live run holds the folder's lock;
        ``"cut short"`` for a journal that still says ``running`` with no live writer (a full
        disk, a killed writer process or run); ``"failed"`` / ``"interrupted"`` for a journal
        closed after its run raised or was stopped; None for a journal too old to tell."""
        stored = self.stored_status()
        if stored is None:
            return None
        status = stored[0]
        if status == RUNNING:
            from .rundir import holder_alive, lock_holder

            holder = lock_holder(self.path.parent)
            return RUNNING if holder is not None and holder_alive(holder) else "cut short"
        return status

    def complete(self) -> bool:
        """True for a journal its run closed cleanly (or one too old to tell)."""
        return self.status() in (COMPLETE, None)

    def cut_short_message(self) -> str | None:
        """What to tell the user about a journal that is not complete, None when it is."""
        status = self.status()
        if status in (COMPLETE, None):
            return None
        if status == RUNNING:
            return (f"the journal {self.path} is still being written by a running run: what "
                    "it holds so far is not the whole run")
        stored = self.stored_status()
        detail = stored[1] if stored is not None else None
        why = {"cut short": "its writing stopped before the run's clean end (a full disk, a "
                            "killed writer process or a killed run)",
               "failed": "its run raised before the end",
               "interrupted": "its run was interrupted"}.get(status, f"status {status!r}")
        return (f"the journal {self.path} was cut short: {why}"
                + (f" ({detail})" if detail else "")
                + "; it holds only what was recorded up to then")
