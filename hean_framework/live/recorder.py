"""Recording a paper or live session's market events so ``hean backtest`` can replay them.

Every event the engine was given is appended, as the engine saw it (timestamps included), to
``<run folder>/recorded/<kind>_<symbol>.csv`` in the CSV feed's formats: trades
(``timestamp,trade_id,price,size,side``), L2 (``timestamp,action,side,price,size,
first_update_id,last_update_id,prev_last_update_id``), BBO (``timestamp,update_id,bid_price,
bid_size,ask_price,ask_size``) and funding (``timestamp,symbol,funding_rate,mark_price``).
Mark/index updates have no CSV kind and are not recorded (a strategy that trades on
``on_mark`` replays without them).

:meth:`Recorder.write_replay` writes ``replay.yaml``: the session's config with
``run.mode: backtest``, the simulated venue and ``data.files`` = the recorded files, so the
replay runs the same decision code on the same events (the CSV feed orders events of equal
time by kind: funding, l2, bbo, trades -- a session whose different kinds share a
millisecond may replay them in that order).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import IO, Any

import yaml

from ..models import BookUpdate, Funding, Quote, Trade

HEADERS = {
    "trades": "timestamp,trade_id,price,size,side",
    "l2": "timestamp,action,side,price,size,first_update_id,last_update_id,"
          "prev_last_update_id",
    "bbo": "timestamp,update_id,bid_price,bid_size,ask_price,ask_size",
    "funding": "timestamp,symbol,funding_rate,mark_price",
}


def _safe(symbol: str) -> str:
    return symbol.replace("/", "").replace(":", "_")


class Recorder:
    """Appends engine events to CSV files under ``folder`` (see the module docstring)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.files: dict[tuple[str, str], IO[str]] = {}
        self.count = 0
        self._trade_id = 0

    def _fh(self, kind: str, symbol: str) -> IO[str]:
        fh = self.files.get((kind, symbol))
        if fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{kind}_{_safe(symbol)}.csv"
            fh = self.files[kind, symbol] = open(path, "w", encoding="utf-8")  # noqa: SIM115
            fh.write(HEADERS[kind] + "\n")
        return fh

    def write(self, ev: Any) -> None:
        """Record one event the engine processed."""
        t = type(ev)
        if t is Trade:
            self._trade_id += 1
            self._fh("trades", ev.symbol).write(
                f"{ev.ts},{self._trade_id},{ev.price!r},{ev.size!r},{ev.side}\n")
        elif t is BookUpdate:
            fh = self._fh("l2", ev.symbol)
            action = "snapshot" if ev.snapshot else "update"
            ids = f"{ev.first_id},{ev.last_id},{ev.prev_id if not ev.snapshot else ''}"
            for side, rows in (("bid", ev.bids), ("ask", ev.asks)):
                for p, q in rows:
                    fh.write(f"{ev.ts},{action},{side},{p!r},{q!r},{ids}\n")
        elif t is Quote:
            self._fh("bbo", ev.symbol).write(f"{ev.ts},{ev.update_id},{ev.bid!r},"
                                             f"{ev.bid_size!r},{ev.ask!r},{ev.ask_size!r}\n")
        elif t is Funding:
            self._fh("funding", ev.symbol).write(f"{ev.ts},{ev.symbol},{ev.rate!r},"
                                                 f"{ev.mark_price!r}\n")
        else:
            return
        self.count += 1

    def close(self) -> None:
        """Close every file."""
        for fh in self.files.values():
            fh.close()

    def write_replay(self, raw: dict[str, Any], run_name: str) -> Path:
        """``replay.yaml`` beside the recorded files (see the module docstring)."""
        cfg = copy.deepcopy(raw)
        cfg.pop("base_dir", None)
        run = dict(cfg.get("run") or {})
        run.update(mode="backtest", name=f"{run_name}-replay")
        run.pop("out", None)
        cfg["run"] = run
        venue = {k: v for k, v in dict(cfg.get("venue") or {}).items()
                 if k in ("exchange", "markets_file", "instruments")}
        venue["name"] = "sim"
        cfg["venue"] = venue
        cfg["data"] = {"feed": "csv", "files": [
            {"kind": kind, "symbol": sym, "path": Path(fh.name).name}
            for (kind, sym), fh in sorted(self.files.items())]}
        path = self.folder / "replay.yaml"
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        return path
