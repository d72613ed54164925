"""Rows of the CSV data files: formats, validation, time order and rejection counting.

Formats are those of the shared data set (``timestamp`` in integer ms UTC first, one header
row; columns are found by *name*, so their order does not matter):

=========  ===================================================================================
kind       columns (``[x]`` = optional)
=========  ===================================================================================
bars       ``timestamp|ts_ms, open, high, low, close, volume`` (timestamp = candle open time)
trades     ``timestamp|ts_ms, [trade_id], price, size, side`` (side = taker side buy/sell)
bbo        ``timestamp, [update_id], bid_price, bid_size, ask_price, ask_size``
l2         ``timestamp, action, side, price, size, [first_update_id], [last_update_id],
           [prev_last_update_id | seq]`` (one row per level; absolute sizes, 0 = remove)
funding    ``timestamp, [symbol], funding_rate, [mark_price]``
=========  ===================================================================================

**Timestamps** are integer milliseconds since the Unix epoch (UTC).  A file whose timestamps
are in seconds, microseconds or nanoseconds (told apart by magnitude: for dates 2001-2100
seconds are ~1e9, ms ~1e12, microseconds ~1e15, nanoseconds ~1e18) is *refused* with a
:class:`~hean_framework.errors.DataError` naming the file, the unit found and the conversion
to make (see :mod:`hean_framework.feeds.source`); it is never converted silently.

Events:

* bars become :class:`~hean_framework.models.Bar` with ``ts`` = open time + interval (the
  candle's **close** time: a bar is never seen before it closed) and ``interval_ms`` set;
* L2 rows become :class:`~hean_framework.models.BookUpdate` messages (see
  :mod:`hean_framework.feeds.l2`);
* funding rows become ``Funding(ts, symbol, rate, mark_price or 0.0)``.

**Bad rows** are rejected and counted per reason, never used and never fatal.  Field checks:
``malformed`` (unparsable field, wrong number of fields, unknown side/action),
``non_finite`` (NaN/inf), ``non_positive_price``, ``negative_size``, ``ohlc_inconsistent``
(low > min(open, close), high < max(open, close) or low > high), ``crossed_book`` (BBO with
bid >= ask; L2 message after which the book would be crossed - it is rolled back),
``unknown_symbol`` (funding row naming another symbol), ``sequence_gap`` (L2 update-id chain
broken - spot: ``first_update_id == previous last_update_id + 1``, futures:
``prev_last_update_id == previous last_update_id`` - every update is then rejected until the
next snapshot; updates before the first snapshot count here too) and ``stale_update`` (L2
update whose ``last_update_id`` is older than the current book).  ``truncated_row``: the
last line of a file has no line break - the file may have been cut inside that row, so it is
not used (write files with a line break after the last row).

Time checks (:func:`time_gate`, on the rows that passed the field checks, in file order; the
"last" row is the last one accepted from the same file, whether or not it fell inside the
run's window):

* ``time_backwards`` - out of order: the timestamp is below the last row's;
* ``duplicate_ts`` - bars and funding: the timestamp repeats the last row's (one candle or
  settlement per timestamp);
* ``duplicate_row`` - trades and BBO (several per ms are normal): same timestamp as the last
  row and an id (``trade_id`` / ``update_id``) not above its id, or - in a file without ids -
  a row identical to the last one (a repeated or replayed row);
* ``ts_outlier`` - a timestamp before 1970 or after 9999, or a lone jump: a row more than
  :data:`OUTLIER_GAP_BARS` bar intervals (funding: as many times the smallest step between
  its first rows; trades, BBO, L2: no interval), and at least :data:`OUTLIER_GAP_MS`, after
  the last row that the next rows do not continue.  Of the next :data:`LOOKAHEAD`
  rows, one continues the jump when it is at or after the row before it that did (at first:
  the jumping row) by at most that distance; with fewer than half continuing it - or none
  left in the file - the row is rejected and the last row stays the one before it.  A genuine
  gap in the data is continued by the rows after it and kept.  The first row of a file is
  checked the same way (an outlier when fewer than half of the rows after it continue it; the
  only row of a file is kept).

A row outside the window (``data.start`` inclusive, ``data.end`` exclusive) is skipped without
being counted, and reading goes on to the end of the file: one bad timestamp never cuts a file
short.  A file that cannot be read to its end (truncated or corrupt gzip stream, I/O error) is
a :class:`~hean_framework.errors.DataError` naming the file and the line where reading
stopped - a run on part of a file is never reported as a run on all of it.

Bars, trades, BBO and funding count rows (for L2 see :mod:`hean_framework.feeds.l2`).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .source import Source

__all__ = [
    "COLUMNS",
    "LOOKAHEAD",
    "MAX_TS",
    "OUTLIER_GAP_BARS",
    "OUTLIER_GAP_MS",
    "REJECTION_REASONS",
    "csv_rows",
    "new_counts",
    "open_text",
    "parse_bars",
    "parse_bbo",
    "parse_funding",
    "parse_trades",
    "time_gate",
    "to_ms",
]

REJECTION_REASONS: tuple[str, ...] = (
    "malformed", "non_finite", "non_positive_price", "negative_size", "ohlc_inconsistent",
    "crossed_book", "time_backwards", "duplicate_ts", "duplicate_row", "ts_outlier",
    "unknown_symbol", "sequence_gap", "stale_update", "truncated_row",
)

#: A jump of more than this many bar intervals is checked against the rows after it.
OUTLIER_GAP_BARS = 1000
#: The least such jump, and the one of trades, BBO and L2 files (which have no interval).
OUTLIER_GAP_MS = 86_400_000
#: Rows after a jump that decide whether it is a gap in the data or a lone bad timestamp.
LOOKAHEAD = 8
#: 9999-12-31T23:59:59.999Z: a later timestamp (or a negative one) is a ``ts_outlier``.
MAX_TS = 253_402_300_799_999
#: ``last`` before the first row of a file
_LOW = -(1 << 62)


COLUMNS: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]] = {
    # kind: (required columns (aliases), optional columns (aliases))
    "bars": ((("timestamp", "ts_ms", "ts"), ("open",), ("high",), ("low",), ("close",),
              ("volume",)), ()),
    "trades": ((("timestamp", "ts_ms", "ts"), ("price",), ("size", "qty", "amount"), ("side",)),
               (("trade_id", "id"),)),
    "bbo": ((("timestamp", "ts_ms", "ts"), ("bid_price",), ("bid_size",), ("ask_price",),
             ("ask_size",)), (("update_id",),)),
    "l2": ((("timestamp", "ts_ms", "ts"), ("action",), ("side",), ("price",), ("size",)),
           (("first_update_id",), ("last_update_id",), ("prev_last_update_id",))),
    "funding": ((("timestamp", "ts_ms", "ts"), ("funding_rate", "rate")),
                (("symbol",), ("mark_price",))),
}


def open_text(path: Path) -> io.TextIOBase:
    """Open a plain or gzip CSV (detected by its magic bytes) as text."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace",
                                newline="")
    return path.open("r", encoding="utf-8", errors="replace", newline="")


def csv_rows(reader: Iterator[list[str]], rej: dict[str, int]) -> Iterator[list[str]]:
    """Rows of ``reader``; lines the csv module cannot split count as ``malformed``."""
    while True:
        try:
            yield from reader
            return
        except csv.Error:
            rej["malformed"] += 1


def to_ms(text: str) -> int:
    """Parse an integer ms timestamp; ``"123.0"`` is accepted, NaN/inf raise OverflowError."""
    try:
        return int(text)
    except ValueError:
        x = float(text)  # ValueError propagates -> malformed
        if not math.isfinite(x):
            raise OverflowError(text) from None
        if x != int(x):
            raise ValueError(text) from None
        return int(x)


def new_counts() -> dict[str, int]:
    """A zero count for every reason of :data:`REJECTION_REASONS`."""
    return dict.fromkeys(REJECTION_REASONS, 0)


# ============================================================================ time gate


def time_gate(records: Iterable[Any], rej: dict[str, int], start: int, end: int, gap: int,
              dup: int | None, window: bool = True) -> Iterator[Any]:
    """The records (tuples, ``ts`` first) of one file that pass the time checks, in file order.

    Counts ``time_backwards``, ``duplicate_ts``, ``duplicate_row`` and ``ts_outlier`` in
    ``rej`` (see the module docstring) and, with ``window``, keeps ``start <= ts < end``
    (rows outside are skipped uncounted; reading goes on to the end).

    :param gap: the jump (ms) above which a row is checked against the :data:`LOOKAHEAD`
        rows after it.
    :param dup: ``-1``: a repeated timestamp is a ``duplicate_ts``; an index: a repeated
        timestamp is a ``duplicate_row`` when the id at that index is not above the last
        row's (ids 0 = absent: when the row equals the last one); ``None``: no check.
    """
    it = iter(records)
    pending: deque[Any] = deque()  # rows read ahead at a jump, not yet checked
    low = last = _LOW
    prev: Any = None
    max_ts = MAX_TS
    ahead = LOOKAHEAD
    while True:
        batch: Iterable[Any] = (pending.popleft(),) if pending else it
        for rec in batch:
            ts = rec[0]
            if not 0 <= ts <= max_ts:
                rej["ts_outlier"] += 1
                continue
            if ts <= last:
                if ts < last:
                    rej["time_backwards"] += 1
                    continue
                if dup is not None:
                    if dup < 0:
                        rej["duplicate_ts"] += 1
                        continue
                    a, b = rec[dup], prev[dup]
                    if (a <= b) if (a and b) else (rec == prev):
                        rej["duplicate_row"] += 1
                        continue
            elif ts - last > gap:
                # a jump (or the first row): read ahead, then decide; the rows read ahead are
                # checked next (from ``pending``), so leave the loop over ``it`` afterwards
                while len(pending) < ahead:
                    nxt = next(it, None)
                    if nxt is None:
                        break
                    pending.append(nxt)
                top = ts
                n = 0
                near = 0
                for f in islice(pending, ahead):
                    n += 1
                    if top <= f[0] <= top + gap:
                        near += 1
                        top = f[0]
                if 2 * near < n or (n == 0 and last != low):
                    rej["ts_outlier"] += 1
                    break
                last = ts
                prev = rec
                if not window or start <= ts < end:
                    yield rec
                break
            last = ts
            prev = rec
            if window and not start <= ts < end:
                continue
            yield rec
        else:
            if batch is it:
                return


# ============================================================================ parsers
# One generator per kind over the rows of ``src``'s file: the records (the positional
# arguments of the kind's event) that pass the field checks, rejections counted in
# ``src.counts``; :func:`time_gate` then checks their time order and keeps the window.


def parse_bars(src: Source, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    """``(close ts, symbol, open, high, low, close, volume, interval_ms)`` per bar."""
    c = src.cols
    its, io_, ih, il, ic, iv = (c["timestamp"], c["open"], c["high"], c["low"], c["close"],
                                c["volume"])
    ncol = len(src.header)
    rej = src.counts
    sym = src.symbol
    step = src.interval_ms
    isfinite = math.isfinite
    for row in rows:
        try:
            if len(row) != ncol:
                raise IndexError
            ts = int(row[its])
            o = float(row[io_])
            h = float(row[ih])
            lo = float(row[il])
            cl = float(row[ic])
            v = float(row[iv])
        except (ValueError, IndexError):
            if not row:
                continue
            try:
                ts = to_ms(row[its])
                o, h, lo, cl, v = (float(row[io_]), float(row[ih]), float(row[il]),
                                   float(row[ic]), float(row[iv]))
                if len(row) != ncol:
                    raise IndexError
            except OverflowError:
                rej["non_finite"] += 1
                continue
            except (ValueError, IndexError):
                rej["malformed"] += 1
                continue
        if not isfinite(o + h + lo + cl + v):
            rej["non_finite"] += 1
        elif o <= 0.0 or h <= 0.0 or lo <= 0.0 or cl <= 0.0:
            rej["non_positive_price"] += 1
        elif v < 0.0:
            rej["negative_size"] += 1
        elif lo > o or lo > cl or h < o or h < cl or lo > h:
            rej["ohlc_inconsistent"] += 1
        else:
            yield ts + step, sym, o, h, lo, cl, v, step


def parse_trades(src: Source, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    """``(ts, symbol, price, size, side, trade_id)`` per trade."""
    c = src.cols
    its, ip, isz, isd, iid = (c["timestamp"], c["price"], c["size"], c["side"],
                              c["trade_id"])
    ncol = len(src.header)
    rej = src.counts
    sym = src.symbol
    isfinite = math.isfinite
    sides = {"buy": "buy", "sell": "sell", "BUY": "buy", "SELL": "sell", "Buy": "buy",
             "Sell": "sell"}
    for row in rows:
        try:
            if len(row) != ncol:
                raise IndexError
            try:
                ts = int(row[its])
            except ValueError:
                ts = to_ms(row[its])
            p = float(row[ip])
            s = float(row[isz])
            side = sides[row[isd]]
            tid = int(row[iid]) if iid >= 0 and row[iid] else 0
        except OverflowError:
            rej["non_finite"] += 1
            continue
        except (ValueError, IndexError, KeyError):
            if row:
                rej["malformed"] += 1
            continue
        if not isfinite(p + s):
            rej["non_finite"] += 1
        elif p <= 0.0:
            rej["non_positive_price"] += 1
        elif s < 0.0:
            rej["negative_size"] += 1
        else:
            yield ts, sym, p, s, side, tid


def parse_bbo(src: Source, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    """``(ts, symbol, bid, bid_size, ask, ask_size, update_id)`` per quote."""
    c = src.cols
    its, ibp, ibs, iap, ias, iid = (c["timestamp"], c["bid_price"], c["bid_size"],
                                    c["ask_price"], c["ask_size"], c["update_id"])
    ncol = len(src.header)
    rej = src.counts
    sym = src.symbol
    isfinite = math.isfinite
    for row in rows:
        try:
            if len(row) != ncol:
                raise IndexError
            ts = to_ms(row[its])
            bp = float(row[ibp])
            bs = float(row[ibs])
            ap = float(row[iap])
            as_ = float(row[ias])
            uid = int(row[iid]) if iid >= 0 and row[iid] else 0
        except OverflowError:
            rej["non_finite"] += 1
            continue
        except (ValueError, IndexError):
            if row:
                rej["malformed"] += 1
            continue
        if not isfinite(bp + bs + ap + as_):
            rej["non_finite"] += 1
        elif bp <= 0.0 or ap <= 0.0:
            rej["non_positive_price"] += 1
        elif bs < 0.0 or as_ < 0.0:
            rej["negative_size"] += 1
        elif bp >= ap:
            rej["crossed_book"] += 1
        else:
            yield ts, sym, bp, bs, ap, as_, uid


def parse_funding(src: Source, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    """``(ts, symbol, rate, mark_price)`` per funding row of ``src.symbol``."""
    c = src.cols
    its, ir, isym, imk = c["timestamp"], c["funding_rate"], c["symbol"], c["mark_price"]
    ncol = len(src.header)
    rej = src.counts
    sym = src.symbol
    isfinite = math.isfinite
    for row in rows:
        try:
            if len(row) != ncol:
                raise IndexError
            ts = to_ms(row[its])
            rate = float(row[ir])
            mark = float(row[imk]) if imk >= 0 and row[imk].strip() else 0.0
        except OverflowError:
            rej["non_finite"] += 1
            continue
        except (ValueError, IndexError):
            if row:
                rej["malformed"] += 1
            continue
        if isym >= 0 and row[isym].strip() != sym:
            rej["unknown_symbol"] += 1
        elif not isfinite(rate + mark):
            rej["non_finite"] += 1
        elif mark < 0.0:
            rej["non_positive_price"] += 1
        else:
            yield ts, sym, rate, mark
