"""Rows of the CSV data files: formats, validation and rejection counting.

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

Events:

* bars become :class:`~hean_framework.models.Bar` with ``ts`` = open time + interval (the
  candle's **close** time: a bar is never seen before it closed) and ``interval_ms`` set;
* L2 rows become :class:`~hean_framework.models.BookUpdate` messages (see
  :mod:`hean_framework.feeds.l2`);
* funding rows become ``Funding(ts, symbol, rate, mark_price or 0.0)``.

**Bad rows** are rejected and counted per reason, never used and never fatal:
``malformed`` (unparsable field, wrong number of fields, unknown side/action),
``non_finite`` (NaN/inf), ``non_positive_price``, ``negative_size``, ``ohlc_inconsistent``
(low > min(open, close), high < max(open, close) or low > high), ``crossed_book`` (BBO with
bid >= ask; L2 message after which the book would be crossed - it is rolled back),
``time_backwards`` (ts below the last accepted ts of the same file), ``unknown_symbol``
(funding row naming another symbol), ``sequence_gap`` (L2 update-id chain broken - spot:
``first_update_id == previous last_update_id + 1``, futures: ``prev_last_update_id ==
previous last_update_id`` - every update is then rejected until the next snapshot; updates
before the first snapshot count here too), ``stale_update`` (L2 update whose
``last_update_id`` is older than the current book) and ``read_error`` (the file could not be
read to its end, e.g. a truncated gzip stream; the rest of that file is skipped).

Bars, trades, BBO and funding count rows (for L2 see :mod:`hean_framework.feeds.l2`).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .source import Source

__all__ = [
    "COLUMNS",
    "REJECTION_REASONS",
    "csv_rows",
    "new_counts",
    "open_text",
    "parse_bars",
    "parse_bbo",
    "parse_funding",
    "parse_trades",
    "to_ms",
]

REJECTION_REASONS: tuple[str, ...] = (
    "malformed", "non_finite", "non_positive_price", "negative_size", "ohlc_inconsistent",
    "crossed_book", "time_backwards", "unknown_symbol", "sequence_gap", "stale_update",
    "read_error",
)


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


# ============================================================================ parsers
# One generator per kind over the rows of ``src``'s file: validated records (the positional
# arguments of the kind's event), rejections counted in ``src.counts``, ``start <= ts < end``.


def parse_bars(src: Source, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    """``(close ts, symbol, open, high, low, close, volume, interval_ms)`` per bar."""
    c = src.cols
    its, io_, ih, il, ic, iv = (c["timestamp"], c["open"], c["high"], c["low"], c["close"],
                                c["volume"])
    ncol = len(src.header)
    rej = src.counts
    sym = src.symbol
    step = src.interval_ms
    start, end = src.start, src.end
    last = -(1 << 62)
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
        elif ts < last:
            rej["time_backwards"] += 1
        else:
            last = ts
            ts += step
            if ts < start:
                continue
            if ts >= end:
                return
            yield ts, sym, o, h, lo, cl, v, step


def parse_trades(src: Source, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    """``(ts, symbol, price, size, side, trade_id)`` per trade."""
    c = src.cols
    its, ip, isz, isd, iid = (c["timestamp"], c["price"], c["size"], c["side"],
                              c["trade_id"])
    ncol = len(src.header)
    rej = src.counts
    sym = src.symbol
    start, end = src.start, src.end
    last = -(1 << 62)
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
        elif ts < last:
            rej["time_backwards"] += 1
        else:
            last = ts
            if ts < start:
                continue
            if ts >= end:
                return
            yield ts, sym, p, s, side, tid


def parse_bbo(src: Source, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    """``(ts, symbol, bid, bid_size, ask, ask_size, update_id)`` per quote."""
    c = src.cols
    its, ibp, ibs, iap, ias, iid = (c["timestamp"], c["bid_price"], c["bid_size"],
                                    c["ask_price"], c["ask_size"], c["update_id"])
    ncol = len(src.header)
    rej = src.counts
    sym = src.symbol
    start, end = src.start, src.end
    last = -(1 << 62)
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
        elif ts < last:
            rej["time_backwards"] += 1
        else:
            last = ts
            if ts < start:
                continue
            if ts >= end:
                return
            yield ts, sym, bp, bs, ap, as_, uid


def parse_funding(src: Source, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
    """``(ts, symbol, rate, mark_price)`` per funding row of ``src.symbol``."""
    c = src.cols
    its, ir, isym, imk = c["timestamp"], c["funding_rate"], c["symbol"], c["mark_price"]
    ncol = len(src.header)
    rej = src.counts
    sym = src.symbol
    start, end = src.start, src.end
    last = -(1 << 62)
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
        elif ts < last:
            rej["time_backwards"] += 1
        else:
            last = ts
            if ts < start:
                continue
            if ts >= end:
                return
            yield ts, sym, rate, mark
