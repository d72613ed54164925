"""L2 order-book files: rows grouped into messages, validated against a shadow book.

Consecutive L2 rows of one exchange message (same timestamp, action and update ids) become
one :class:`~hean_framework.models.BookUpdate` (``snapshot=True`` for snapshot rows).

L2 counts bad *rows* for the row-level reasons (malformed/non_finite/non_positive_price/
negative_size - the rest of the message is used) and whole *messages* for a bad message head
(timestamp, action or ids: ``malformed``/``non_finite``), the time checks of
:func:`~hean_framework.feeds.rows.time_gate` (``time_backwards`` and ``ts_outlier``; several
messages per ms are normal, and a repeated message breaks the update-id chain), and
``crossed_book``, ``sequence_gap`` and ``stale_update`` (the reasons are described in
:mod:`hean_framework.feeds.rows`).  An L2 message rejected for ``crossed_book`` still advances
the update-id chain (it was received in sequence; only its content was bad).  Messages at or
after ``end`` are skipped (reading goes on to the end of the file).

When ``start`` cuts into an L2 file, the messages before it are still applied to the feed's
shadow book and the first event emitted for that file is a snapshot of that book (so the
engine's book starts complete).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ..book import OrderBook
from ..models import BookUpdate
from .rows import time_gate, to_ms

if TYPE_CHECKING:
    from .source import Source

__all__ = ["L2State", "parse_l2"]


def parse_l2(src: Source, rows: Iterator[list[str]]) -> Iterator[BookUpdate]:
    """The accepted messages of ``src``'s L2 file (rows grouped per message)."""
    state = L2State(src.symbol, src.start, src.end, src.counts)
    finish = state.finish
    for msg in time_gate(_messages(src, rows), src.counts, src.start, src.end, src.gap_ms,
                         None, window=False):
        yield from finish(*msg)


def _messages(src: Source, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    """``(ts, snapshot, first_id, last_id, prev_id, bids, asks)`` per message whose head
    (first row) is readable; bad rows and heads are counted."""
    c = src.cols
    its, iact, isd, ip, isz = c["timestamp"], c["action"], c["side"], c["price"], c["size"]
    id_cols = [c[k] for k in ("first_update_id", "last_update_id", "prev_last_update_id")
               if c[k] >= 0]
    keyget = itemgetter(its, iact, *id_cols)
    iU, iu, ipu = c["first_update_id"], c["last_update_id"], c["prev_last_update_id"]
    ncol = len(src.header)
    rej = src.counts
    isfinite = math.isfinite
    key: Any = None
    bids: list[tuple[float, float]] = []
    asks: list[tuple[float, float]] = []
    first: list[str] = []
    for row in rows:
        if len(row) != ncol:
            if row:
                rej["malformed"] += 1
            continue
        k = keyget(row)
        if k != key:
            if key is not None:
                head = _head(first, its, iact, iU, iu, ipu, rej)
                if head is not None:
                    yield (*head, bids, asks)
            key = k
            first = row
            bids = []
            asks = []
        try:
            p = float(row[ip])
            s = float(row[isz])
        except ValueError:
            rej["malformed"] += 1
            continue
        if not isfinite(p + s):
            rej["non_finite"] += 1
        elif p <= 0.0:
            rej["non_positive_price"] += 1
        elif s < 0.0:
            rej["negative_size"] += 1
        else:
            side = row[isd]
            if side == "bid":
                bids.append((p, s))
            elif side == "ask":
                asks.append((p, s))
            else:
                rej["malformed"] += 1
    if key is not None:
        head = _head(first, its, iact, iU, iu, ipu, rej)
        if head is not None:
            yield (*head, bids, asks)


def _head(row: list[str], its: int, iact: int, iU: int, iu: int, ipu: int,
          rej: dict[str, int]) -> tuple[int, bool, int, int, int] | None:
    """``(ts, snapshot, first_id, last_id, prev_id)`` of a message's first row, or None (the
    message is counted as ``non_finite`` or ``malformed``)."""
    try:
        ts = to_ms(row[its])
        U = int(row[iU]) if iU >= 0 and row[iU] else 0
        u = int(row[iu]) if iu >= 0 and row[iu] else 0
        pu = int(row[ipu]) if ipu >= 0 and row[ipu] else 0
    except OverflowError:
        rej["non_finite"] += 1
        return None
    except ValueError:
        rej["malformed"] += 1
        return None
    action = row[iact].strip().lower()
    if action == "snapshot":
        return ts, True, U, u, pu
    if action in ("update", "delta"):
        return ts, False, U, u, pu
    rej["malformed"] += 1
    return None


class L2State:
    """Validation state of one L2 file: shadow book, update-id chain and window (the time
    order is checked before, by :func:`~hean_framework.feeds.rows.time_gate`)."""

    __slots__ = ("after_snapshot", "book", "end", "prev_u", "rej", "snap_pending", "start",
                 "symbol", "synced")

    def __init__(self, symbol: str, start: int, end: int, rej: dict[str, int]) -> None:
        self.symbol = symbol
        self.book = OrderBook(symbol)
        self.start = start
        self.end = end
        self.rej = rej
        self.prev_u = 0
        self.synced = False  # a snapshot is loaded and the id chain is unbroken since
        self.after_snapshot = False  # the next update is the first one after a snapshot
        self.snap_pending = False  # messages before ``start`` were applied: emit a snapshot

    def finish(self, ts: int, snapshot: bool, U: int, u: int, pu: int,
               bids: list[tuple[float, float]],
               asks: list[tuple[float, float]]) -> Iterator[BookUpdate]:
        """Validate one complete message (in time order); yield it when accepted.

        When ``start`` cut into the file, the first accepted message at or after ``start`` is
        preceded by a snapshot of the shadow book as it was just before that message.
        """
        rej = self.rej
        if ts >= self.end:
            return
        msg = BookUpdate(ts, self.symbol, snapshot, bids, asks, U, u, pu)
        book = self.book
        catch_up: BookUpdate | None = None
        if snapshot:
            self.snap_pending = False
            if not book.apply_checked(msg):
                rej["crossed_book"] += 1
                self.synced = False
                return
            self.synced = True
            self.after_snapshot = True
            self.prev_u = u
        else:
            if not self.synced:
                rej["sequence_gap"] += 1
                return
            prev = self.prev_u
            if u and prev:
                if u < prev:
                    rej["stale_update"] += 1
                    return
                if self.after_snapshot:
                    # Binance: spot U <= lastUpdateId + 1 <= u, futures U <= lastUpdateId <= u
                    ok = not U or prev + 1 >= U
                elif pu:
                    ok = pu == prev
                elif U:
                    ok = prev + 1 == U
                else:
                    ok = u > prev
                if not ok:
                    rej["sequence_gap"] += 1
                    self.synced = False
                    return
            self.prev_u = u or prev
            self.after_snapshot = False
            if self.snap_pending and ts >= self.start:
                catch_up = book.snapshot(ts)
                self.snap_pending = False
            if not book.apply_checked(msg):
                rej["crossed_book"] += 1
                if catch_up is not None:
                    yield catch_up
                return
        if ts < self.start:
            self.snap_pending = True
            return
        if catch_up is not None:
            yield catch_up
        yield msg
