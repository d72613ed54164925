"""Recording a paper or live session's market events so ``hean backtest`` can replay them.

The events as the engine saw them (timestamps included), in one or two forms:

* ``<run folder>/recorded/events.csv``: **the stream** -- every event in the order it was
  pushed (all kinds interleaved, mark/index updates included) and every wall-clock tick that
  moved the engine's clock (format: :mod:`hean_framework.live.replay`).  ``replay.yaml``
  replays it with the ``recorded`` feed, which gives the session's decisions exactly;
* with ``data.record_csv``, ``<run folder>/recorded/<kind>_<symbol>.csv`` in the CSV feed's
  formats, for other tools:
  trades (``timestamp,trade_id,price,size,side``), L2 (``timestamp,action,side,price,size,
  first_update_id,last_update_id,prev_last_update_id``), BBO (``timestamp,update_id,
  bid_price,bid_size,ask_price,ask_size``) and funding (``timestamp,symbol,funding_rate,
  mark_price``).  These lose what the CSV format cannot say: mark/index updates (no CSV
  kind), the order of different kinds within one millisecond (the CSV feed orders them
  funding, l2, bbo, trades) and the clock ticks between events.

:meth:`Recorder.write_replay` writes ``replay.yaml``: the session's config with
``run.mode: backtest``, the simulated venue and ``data: {feed: recorded, path: events.csv}``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import IO, Any

import yaml

from ..models import BookUpdate, Funding, Quote, Trade
from .replay import EVENTS_FILE, HEADER, format_event

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

    def __init__(self, folder: str | Path, csv: bool = False) -> None:
        self.folder = Path(folder)
        self.csv = csv
        self.files: dict[tuple[str, str], IO[str]] = {}
        self.count = 0
        self._trade_id = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stream: IO[str] = open(self.folder / EVENTS_FILE, "w",  # noqa: SIM115
                                    encoding="utf-8")
        self.stream.write(HEADER + "\n")
        self.symbols: list[str] = []

    def clock(self, ts: int) -> None:
        """The engine's clock was advanced to ``ts`` (a tick between events)."""
        self.stream.write(f"clock,{ts}\n")

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
        line = format_event(ev)
        if line is not None:
            self.stream.write(line)
        if not self.csv:
            self.count += line is not None
            return
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
        elif line is None:
            return
        self.count += 1

    def close(self) -> None:
        """Close every file."""
        self.stream.close()
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
        cfg["data"] = {"feed": "recorded", "path": EVENTS_FILE, "symbols": list(self.symbols)}
        path = self.folder / "replay.yaml"
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        return path
