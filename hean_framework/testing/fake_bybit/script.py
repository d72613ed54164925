"""The fake exchange's market: real recorded trades and L2 books, replayed in time order.

:func:`tick_script` merges the shared data set's tick files of one instant (Binance USDⓈ-M
BTCUSDT / ETHUSDT trades and complete L2 books, 2024-08-08 23:54-24:00 UTC) into one stream
of :class:`ScriptEvent` -- a book snapshot or delta (all rows of one update id) or a trade --
under the fake's Bybit symbol ids.  The fake publishes them stamped with the wall clock (as a
real exchange does); only prices, sizes, sides and order are taken from the recording.

:func:`bar_script` is the fallback when the shared data folder is absent: the kernel's bundled
Binance BTC 5m candles, each as a one-level book at the close and a trade at the close.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

#: Bybit symbol id -> Binance USDⓈ-M file stem of the shared data
TICK_FILES = {"BTCUSDT": "binance_usdm_perp_BTCUSDT", "ETHUSDT": "binance_usdm_perp_ETHUSDT"}
DAY = "20240808"


@dataclass(slots=True)
class ScriptEvent:
    """One market event of the script."""

    ts: int
    kind: str  # "book" | "trade"
    symbol: str
    snapshot: bool = False
    bids: list[tuple[float, float]] = field(default_factory=list)
    asks: list[tuple[float, float]] = field(default_factory=list)
    price: float = 0.0
    size: float = 0.0
    side: str = ""


def shared_data() -> Path | None:
    """``$HEAN_SHARED_DATA``, else ``../shared/data`` beside the checkout this module or the
    working directory is in; None if absent."""
    env = os.environ.get("HEAN_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve()
    cwd = Path.cwd().resolve()
    candidates += [p / "shared" / "data" for p in (*here.parents[3:6], cwd, *cwd.parents[:2])]
    return next((c for c in candidates if (c / "trades").is_dir()), None)


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


def _trades(path: Path, symbol: str) -> Iterator[ScriptEvent]:
    for r in _rows(path):
        yield ScriptEvent(int(r["timestamp"]), "trade", symbol, price=float(r["price"]),
                          size=float(r["size"]), side=r["side"])


def _books(path: Path, symbol: str, depth: int) -> Iterator[ScriptEvent]:
    cur: ScriptEvent | None = None
    key: tuple[str, str] | None = None
    for r in _rows(path):
        k = (r["timestamp"], r["last_update_id"])
        if k != key:
            if cur is not None:
                yield _trim(cur, depth)
            key = k
            cur = ScriptEvent(int(r["timestamp"]), "book", symbol,
                              snapshot=r["action"] == "snapshot")
        assert cur is not None
        (cur.bids if r["side"] == "bid" else cur.asks).append((float(r["price"]),
                                                               float(r["size"])))
    if cur is not None:
        yield _trim(cur, depth)


def _trim(ev: ScriptEvent, depth: int) -> ScriptEvent:
    if ev.snapshot:  # the recorder's snapshots are deep: keep the top levels
        ev.bids = sorted(ev.bids, reverse=True)[:depth]
        ev.asks = sorted(ev.asks)[:depth]
    return ev


def tick_script(symbols: tuple[str, ...] = ("BTCUSDT",), data: Path | None = None,
                depth: int = 200) -> Iterator[ScriptEvent]:
    """Real trades and L2 books of ``symbols`` merged by time (raises when absent)."""
    root = data or shared_data()
    if root is None:
        raise FileNotFoundError("the shared data folder (../shared/data) is absent")
    streams = []
    for s in symbols:
        stem = TICK_FILES[s]
        streams.append(_books(root / "orderbook" / f"{stem}_l2_{DAY}.csv.gz", s, depth))
        streams.append(_trades(root / "trades" / f"{stem}_trades_{DAY}.csv.gz", s))
    return heapq.merge(*streams, key=lambda e: (e.ts, e.kind != "book"))


def bar_script() -> Iterator[ScriptEvent]:
    """The bundled BTC 5m candles as a book level and a trade per candle (fallback)."""
    ref = resources.files("hean_framework").joinpath(
        "data", "sample", "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz")
    with resources.as_file(ref) as p:
        for r in _rows(Path(p)):
            c = float(r["close"])
            v = max(float(r["volume"]) / 100.0, 0.01)
            yield ScriptEvent(int(r["timestamp"]), "book", "BTCUSDT", snapshot=True,
                              bids=[(round(c - 0.1, 1), v)], asks=[(round(c + 0.1, 1), v)])
            yield ScriptEvent(int(r["timestamp"]), "trade", "BTCUSDT", price=c,
                              size=round(v / 10, 3) or 0.001, side="buy")


def default_script(symbols: tuple[str, ...] = ("BTCUSDT",)) -> Iterator[ScriptEvent]:
    """Real ticks when the shared data is there, else the bundled candles."""
    if shared_data() is not None:
        return tick_script(symbols)
    return bar_script()
