"""The order ledger of a live run: what was sent to the exchange, written *before* it is sent.

``<run folder>/live-ledger.jsonl`` is an append-only file, one JSON record per line, each
flushed and ``fsync``-ed before the request it describes goes out, so a run killed at any
instant (``kill -9``) leaves a ledger that names every order it may have placed:

* ``{"op": "session", "n": 3, "ts": ...}`` -- a session (process) of the run began;
* ``{"op": "intent", "cid": ..., "strategy": ..., "symbol": ..., "side": ..., "qty": ...,
  "type": ..., "price": ..., "reduce_only": ..., "decision_id": ..., "signal_id": ...}`` --
  about to create this order;
* ``{"op": "ack", "cid": ..., "xid": ...}`` -- the exchange acknowledged it (its order id);
* ``{"op": "done", "cid": ..., "status": ...}`` -- filled, cancelled or rejected;
* ``{"op": "fill", "cid": ..., "exec_id": ..., "qty": ..., "price": ..., "side": ...}`` --
  an execution booked to the order's strategy (so a restart can attribute positions).

The ledger lives beside the journal but is not one of the run's files: it survives a resumed
session and is what :mod:`hean_framework.live.reconcile` reads on restart.  Client order ids
are ``<prefix><session>x<decision id>x<n>`` (:func:`client_id`): derived from the run name,
the session number and the decision, so a retried create carries the same id (the exchange
refuses a duplicate; the run then looks the order up instead of placing another).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

LEDGER_NAME = "live-ledger.jsonl"


def run_prefix(run_name: str) -> str:
    """``h`` + 6 hex digits of the run name's SHA-1: the prefix of every client order id."""
    return "h" + hashlib.sha1(run_name.encode()).hexdigest()[:6]


def client_id(prefix: str, session: int, decision_id: int, n: int) -> str:
    """The client order id of the ``n``-th order (1-based) of a decision in a session
    (``[A-Za-z0-9-_]``, at most 36 characters as Bybit requires)."""
    return f"{prefix}-{session}-{decision_id}-{n}"


@dataclass
class LedgerOrder:
    """What the ledger knows of one order."""

    cid: str
    intent: dict[str, Any]
    xid: str = ""
    status: str = ""
    fills: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """Filled, cancelled or rejected."""
        return bool(self.status)


class Ledger:
    """Append-only, fsync-ed order ledger of a run folder (see the module docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LEDGER_NAME
        self.orders: dict[str, LedgerOrder] = {}
        self.sessions = 0
        self._read()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")  # noqa: SIM115 (held open for the whole run)

    def _read(self) -> None:
        if not self.path.exists():
            return
        for line in self.path.read_bytes().splitlines():
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut by a kill: the record was not complete, nor was its send
            op = rec.get("op")
            cid = rec.get("cid", "")
            if op == "session":
                self.sessions = max(self.sessions, int(rec.get("n", 0)))
            elif op == "intent":
                self.orders[cid] = LedgerOrder(cid, rec)
            elif cid in self.orders:
                o = self.orders[cid]
                if op == "ack":
                    o.xid = rec.get("xid", "")
                elif op == "done":
                    o.status = rec.get("status", "")
                elif op == "fill":
                    o.fills[rec.get("exec_id", "")] = rec

    def write(self, rec: dict[str, Any]) -> None:
        """Append one record and make it durable (flush + fsync) before returning."""
        self._fh.write(orjson.dumps(rec) + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        op = rec.get("op")
        cid = rec.get("cid", "")
        if op == "intent":
            self.orders[cid] = LedgerOrder(cid, rec)
        elif op == "session":
            self.sessions = max(self.sessions, int(rec["n"]))
        elif cid in self.orders:
            o = self.orders[cid]
            if op == "ack":
                o.xid = rec.get("xid", "")
            elif op == "done":
                o.status = rec.get("status", "")
            elif op == "fill":
                o.fills[rec.get("exec_id", "")] = rec

    def begin_session(self, ts: int) -> int:
        """Record a new session; returns its number (1 for the first)."""
        n = self.sessions + 1
        self.write({"op": "session", "n": n, "ts": ts})
        return n

    def open_orders(self) -> list[LedgerOrder]:
        """Orders not known to be done."""
        return [o for o in self.orders.values() if not o.done]

    def positions(self) -> dict[tuple[str, str], float]:
        """Net signed quantity per (strategy, symbol) from the ledger's fills."""
        out: dict[tuple[str, str], float] = {}
        for o in self.orders.values():
            key = (str(o.intent.get("strategy", "")), str(o.intent.get("symbol", "")))
            for f in o.fills.values():
                q = float(f.get("qty", 0.0))
                out[key] = out.get(key, 0.0) + (q if f.get("side") == "buy" else -q)
        return {k: v for k, v in out.items() if abs(v) > 1e-12}

    def close(self) -> None:
        """Close the file."""
        if not self._fh.closed:
            self._fh.close()
