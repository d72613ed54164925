"""Replay of recorded market data from CSV files (plain ``.csv`` or gzip ``.csv.gz``).

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
* consecutive L2 rows of one exchange message (same timestamp, action and update ids) become
  one :class:`~hean_framework.models.BookUpdate` (``snapshot=True`` for snapshot rows);
* funding rows become ``Funding(ts, symbol, rate, mark_price or 0.0)``.

**Ordering.**  Files are read lazily (one row at a time) and merged with :func:`heapq.merge`,
so memory stays flat in the length of the data.  Events come out in non-decreasing ``ts``;
ties are broken, in this order, by

1. kind: ``funding < l2 (book) < bbo (quote) < trades < bars``;
2. the position of the file in ``data.files``;
3. the row order inside the file.

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

Bars, trades, BBO and funding count rows; L2 counts bad *rows* for the row-level reasons
(malformed/non_finite/non_positive_price/negative_size - the rest of the message is used) and
whole *messages* for ``time_backwards``, ``crossed_book``, ``sequence_gap`` and
``stale_update``.  An L2 message rejected for ``crossed_book`` still advances the update-id
chain (it was received in sequence; only its content was bad).

``start``/``end`` keep events with ``start <= ts < end``.  When ``start`` cuts into an L2
file, the messages before it are still applied to the feed's shadow book and the first event
emitted for that file is a snapshot of that book (so the engine's book starts complete).
"""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import math
import os
import re
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice, pairwise, repeat, starmap
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from ..blocks import BarBlock, TradeBlock
from ..book import OrderBook
from ..components import ComponentConfig, Feed
from ..config import resolve_path
from ..errors import DataError
from ..models import Bar, BookUpdate, Funding, MarketEvent, MarkPrice, Quote, Trade

if TYPE_CHECKING:
    from ..context import RunContext

__all__ = [
    "KIND_ORDER",
    "REJECTION_REASONS",
    "BarColumns",
    "CsvFeed",
    "CsvFeedConfig",
    "DataFile",
    "MemoryFeed",
    "MemoryFeedConfig",
    "load_bar_columns",
    "parse_interval",
    "parse_time",
]

#: Tie rule at equal timestamps: lower rank first.
KIND_ORDER: dict[str, int] = {"funding": 0, "l2": 1, "bbo": 2, "trades": 3, "bars": 4}

REJECTION_REASONS: tuple[str, ...] = (
    "malformed", "non_finite", "non_positive_price", "negative_size", "ohlc_inconsistent",
    "crossed_book", "time_backwards", "unknown_symbol", "sequence_gap", "stale_update",
    "read_error",
)

_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_INTERVAL_IN_NAME_RE = re.compile(r"(?:^|[_\-.])(\d+[smhdw])(?=[_\-.])")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_INF = float("inf")


# ============================================================================ config


#: rows per column block streamed by :meth:`CsvFeed.blocks`
BLOCK_ROWS = 8192


def parse_interval(text: str) -> int:
    """``"5m"`` -> 300000.  Units: s, m, h, d, w.

    :raises ValueError: when the text is not ``<positive int><unit>``.
    """
    m = _INTERVAL_RE.match(text)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"invalid interval {text!r}; expected e.g. '1m', '5m', '1h', '8h', '1d'")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_time(value: int | str | None) -> int | None:
    """Epoch ms from an int, a digit string or an ISO-8601 date/datetime (naive = UTC).

    :raises ValueError: when the value cannot be read.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"invalid time {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid time {value!r}; expected epoch ms or an ISO date/datetime "
                         "such as '2025-03-10' or '2025-03-10T12:00:00Z'") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def _fmt_ms(ms: int) -> str:
    """An interval in the config's notation: 60000 -> '1m', 3600000 -> '1h', 1500 -> '1500ms'."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


#: Other names of the data kinds (the shared data folders say ohlcv/ and orderbook/).
_KIND_ALIASES = {"ohlcv": "bars", "candles": "bars", "orderbook": "l2", "book": "l2",
                 "quotes": "bbo", "aggtrades": "trades"}


class DataFile(ComponentConfig):
    """One data file of the feed."""

    kind: Literal["bars", "trades", "bbo", "l2", "funding"] = Field(
        description="what the file holds (also accepted: ohlcv/candles for bars, "
        "orderbook/book for l2, quotes for bbo, aggtrades for trades)")
    symbol: str = Field(description="ccxt symbol, e.g. 'BTC/USDT:USDT'")
    path: str = Field(description="path of the .csv or .csv.gz file (relative to base_dir)")
    interval: str | None = Field(
        None, description="bar interval ('1m', '5m', ...); inferred from the file name "
        "(e.g. '_5m_') or the first timestamps when absent")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_alias(cls, v: Any) -> Any:
        return _KIND_ALIASES.get(v, v) if isinstance(v, str) else v

    @field_validator("interval")
    @classmethod
    def _check_interval(cls, v: str | None) -> str | None:
        if v is not None:
            parse_interval(v)
        return v


class CsvFeedConfig(ComponentConfig):
    """The ``data:`` section of a run read by the ``csv`` feed."""

    files: list[DataFile] = Field(min_length=1, description="files to replay, merged by time")
    start: int | str | None = Field(
        None, description="first time kept (epoch ms or ISO date/datetime, UTC), inclusive")
    end: int | str | None = Field(
        None, description="end of the replay (epoch ms or ISO date/datetime, UTC), exclusive")

    @field_validator("start", "end")
    @classmethod
    def _check_time(cls, v: int | str | None) -> int | str | None:
        parse_time(v)
        return v

    @model_validator(mode="after")
    def _check_window(self) -> CsvFeedConfig:
        s, e = parse_time(self.start), parse_time(self.end)
        if s is not None and e is not None and s >= e:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self


class MemoryFeedConfig(CsvFeedConfig):
    """Same fields as the ``csv`` feed: the files are read once and replayed from memory."""


# ============================================================================ reading


_COLUMNS: dict[str, tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]] = {
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


def _open_text(path: Path) -> io.TextIOBase:
    """Open a plain or gzip CSV (detected by its magic bytes) as text."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace",
                                newline="")
    return path.open("r", encoding="utf-8", errors="replace", newline="")


def _rows(reader: Iterator[list[str]], rej: dict[str, int]) -> Iterator[list[str]]:
    """Rows of ``reader``; lines the csv module cannot split count as ``malformed``."""
    while True:
        try:
            yield from reader
            return
        except csv.Error:
            rej["malformed"] += 1


def _to_ms(text: str) -> int:
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


def _new_counts() -> dict[str, int]:
    return dict.fromkeys(REJECTION_REASONS, 0)


class _Source:
    """One configured file: resolved path, column positions, counters and a row parser."""

    def __init__(self, index: int, spec: DataFile, base_dir: Path,
                 start: int | None, end: int | None, interval_ms: int | None = None) -> None:
        self.index = index
        self.spec = spec
        self.kind = spec.kind
        self.symbol = spec.symbol
        self.rank = KIND_ORDER[spec.kind]
        where = f"data.files[{index}].path"
        self.path = resolve_path(spec.path, base_dir)
        if not self.path.is_file():
            raise DataError(
                f"{where}: data file not found: {self.path}",
                hint=f"check '{spec.path}'; relative paths are resolved against {base_dir} "
                     f"(the directory of the run config, or base_dir), then against the "
                     f"current directory {Path.cwd()}")
        self.where = where
        self.start = -(1 << 62) if start is None else start
        self.end = 1 << 62 if end is None else end
        self.counts = _new_counts()
        self.header, first_rows = self._peek()
        self.cols = self._map_columns()
        self.error = ""
        self.interval_ms = 0
        if self.kind == "bars":
            step = self._step(first_rows)
            self.interval_ms = interval_ms or self._bar_interval(step)
            if step is not None and step != self.interval_ms:
                self._interval_error(step, interval_ms)

    # ------------------------------------------------------------------ setup

    def _peek(self, n: int = 200) -> tuple[list[str], list[list[str]]]:
        try:
            with _open_text(self.path) as fh:
                rd = csv.reader(fh)
                header = next(rd, None)
                rows = []
                for row in rd:
                    rows.append(row)
                    if len(rows) >= n:
                        break
        except (OSError, EOFError, csv.Error) as exc:
            raise DataError(f"{self.where}: cannot read {self.path}: {exc}",
                            hint="the file must be a CSV (optionally gzip-compressed) with one "
                                 "header row") from exc
        if not header:
            raise DataError(f"{self.where}: {self.path} is empty (no header row)",
                            hint="the first line must name the columns, e.g. "
                                 "'timestamp,open,high,low,close,volume'")
        return [h.strip().lower().lstrip("\ufeff") for h in header], rows

    def _map_columns(self) -> dict[str, int]:
        required, optional = _COLUMNS[self.kind]
        pos = {name: i for i, name in enumerate(self.header)}
        cols: dict[str, int] = {}
        missing = []
        for aliases in required:
            i = next((pos[a] for a in aliases if a in pos), None)
            if i is None:
                missing.append("|".join(aliases))
            else:
                cols[aliases[0]] = i
        if missing:
            need = ", ".join("|".join(a) for a in required)
            raise DataError(
                f"{self.where}: {self.path} does not look like a '{self.kind}' file: missing "
                f"column(s) {', '.join(missing)}; header is {','.join(self.header)}",
                hint=f"a '{self.kind}' file needs the columns {need} (see "
                     "hean_framework.feeds.csv_replay); or fix data.files"
                     f"[{self.index}].kind")
        for aliases in optional:
            i = next((pos[a] for a in aliases if a in pos), None)
            cols[aliases[0]] = -1 if i is None else i
        if self.kind == "l2" and cols["prev_last_update_id"] < 0 and "seq" in pos:
            cols["seq"] = pos["seq"]
        return cols

    def _bar_interval(self, step: int | None) -> int:
        """The configured interval, else the file name's, else ``step`` (the timestamps')."""
        if self.spec.interval:
            return parse_interval(self.spec.interval)
        m = _INTERVAL_IN_NAME_RE.search(self.path.name)
        if m:
            return parse_interval(m.group(1))
        if step is None:
            raise DataError(f"{self.where}: cannot infer the bar interval of {self.path}",
                            hint=f"set data.files[{self.index}].interval, e.g. '5m'")
        return step

    def _step(self, rows: list[list[str]]) -> int | None:
        """The smallest forward step between the timestamps of ``rows`` (None with < 2)."""
        its = self.cols["timestamp"]
        stamps = []
        for row in rows:
            try:
                stamps.append(_to_ms(row[its]))
            except (ValueError, IndexError, OverflowError):
                continue
        return min((b - a for a, b in pairwise(stamps) if b > a), default=None)

    def _interval_error(self, step: int, given_ms: int | None) -> None:
        """The interval (given, configured or from the file name) is not the step of the
        file's timestamps: a shorter one would show each bar before it closed (look-ahead), a
        longer one would overlap the bars."""
        where = self.where
        if given_ms is not None:
            said = f"interval {given_ms} ms"
        elif self.spec.interval:
            said = f"interval {self.spec.interval!r}"
            where = f"data.files[{self.index}].interval"
        else:
            said = f"the file name's interval ({_fmt_ms(self.interval_ms)})"
        raise DataError(
            f"{where}: {said}, but the bars of {self.path.name} are {step} ms apart "
            f"({_fmt_ms(step)}): each bar would be taken to close "
            f"{'before' if self.interval_ms < step else 'after'} it did",
            hint=f"set data.files[{self.index}].interval: '{_fmt_ms(step)}' (or drop it: the "
                 f"interval is then read from the file name or the timestamps)")

    # ------------------------------------------------------------------ reading

    def reset(self) -> None:
        """Zero the counters (each replay counts afresh)."""
        self.counts = _new_counts()

    def records(self) -> Iterator[Any]:
        """Validated records: tuples for bars/trades/bbo/funding, BookUpdates for l2."""
        fh = _open_text(self.path)
        try:
            rd = csv.reader(fh)
            next(rd, None)  # header
            rows = _rows(rd, self.counts)
            gen = getattr(self, "_" + self.kind)(rows)
            try:
                yield from gen
            except (OSError, EOFError) as exc:
                self.counts["read_error"] += 1
                self.error = f"{self.path}: {exc}"
        finally:
            fh.close()

    def events(self) -> Iterator[MarketEvent]:
        """Market events of this file, in file order."""
        cls: Callable[..., MarketEvent] | None = {
            "bars": Bar, "trades": Trade, "bbo": Quote, "funding": Funding}.get(self.kind)
        if cls is None:
            return self.records()
        return starmap(cls, self.records())

    # bars ---------------------------------------------------------------------------------

    def _bars(self, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
        c = self.cols
        its, io_, ih, il, ic, iv = (c["timestamp"], c["open"], c["high"], c["low"], c["close"],
                                    c["volume"])
        ncol = len(self.header)
        rej = self.counts
        sym = self.symbol
        step = self.interval_ms
        start, end = self.start, self.end
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
                    ts = _to_ms(row[its])
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

    # trades -------------------------------------------------------------------------------

    def _trades(self, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
        c = self.cols
        its, ip, isz, isd, iid = (c["timestamp"], c["price"], c["size"], c["side"],
                                  c["trade_id"])
        ncol = len(self.header)
        rej = self.counts
        sym = self.symbol
        start, end = self.start, self.end
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
                    ts = _to_ms(row[its])
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

    # bbo ----------------------------------------------------------------------------------

    def _bbo(self, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
        c = self.cols
        its, ibp, ibs, iap, ias, iid = (c["timestamp"], c["bid_price"], c["bid_size"],
                                        c["ask_price"], c["ask_size"], c["update_id"])
        ncol = len(self.header)
        rej = self.counts
        sym = self.symbol
        start, end = self.start, self.end
        last = -(1 << 62)
        isfinite = math.isfinite
        for row in rows:
            try:
                if len(row) != ncol:
                    raise IndexError
                ts = _to_ms(row[its])
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

    # funding ------------------------------------------------------------------------------

    def _funding(self, rows: Iterator[list[str]]) -> Iterator[tuple[Any, ...]]:
        c = self.cols
        its, ir, isym, imk = c["timestamp"], c["funding_rate"], c["symbol"], c["mark_price"]
        ncol = len(self.header)
        rej = self.counts
        sym = self.symbol
        start, end = self.start, self.end
        last = -(1 << 62)
        isfinite = math.isfinite
        for row in rows:
            try:
                if len(row) != ncol:
                    raise IndexError
                ts = _to_ms(row[its])
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

    # l2 -----------------------------------------------------------------------------------

    def _l2(self, rows: Iterator[list[str]]) -> Iterator[BookUpdate]:
        c = self.cols
        its, iact, isd, ip, isz = c["timestamp"], c["action"], c["side"], c["price"], c["size"]
        id_cols = [c[k] for k in ("first_update_id", "last_update_id", "prev_last_update_id")
                   if c[k] >= 0]
        keyget = itemgetter(its, iact, *id_cols)
        iU, iu, ipu = c["first_update_id"], c["last_update_id"], c["prev_last_update_id"]
        ncol = len(self.header)
        rej = self.counts
        isfinite = math.isfinite
        state = _L2State(self.symbol, self.start, self.end, rej)
        finish = state.finish
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
                    yield from finish(first, bids, asks, its, iact, iU, iu, ipu)
                    if state.done:
                        return
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
            yield from finish(first, bids, asks, its, iact, iU, iu, ipu)


class _L2State:
    """Validation state of one L2 file: shadow book, update-id chain, time and window."""

    __slots__ = ("after_snapshot", "book", "done", "end", "last_ts", "prev_u", "rej",
                 "snap_pending", "start", "symbol", "synced")

    def __init__(self, symbol: str, start: int, end: int, rej: dict[str, int]) -> None:
        self.symbol = symbol
        self.book = OrderBook(symbol)
        self.start = start
        self.end = end
        self.rej = rej
        self.last_ts = -(1 << 62)
        self.prev_u = 0
        self.synced = False  # a snapshot is loaded and the id chain is unbroken since
        self.after_snapshot = False  # the next update is the first one after a snapshot
        self.snap_pending = False  # messages before ``start`` were applied: emit a snapshot
        self.done = False

    def finish(self, row: list[str], bids: list[tuple[float, float]],
               asks: list[tuple[float, float]], its: int, iact: int, iU: int, iu: int,
               ipu: int) -> Iterator[BookUpdate]:
        """Validate one complete message (``row`` is its first row); yield it when accepted.

        When ``start`` cut into the file, the first accepted message at or after ``start`` is
        preceded by a snapshot of the shadow book as it was just before that message.
        """
        rej = self.rej
        try:
            ts = _to_ms(row[its])
            action = row[iact].strip().lower()
            U = int(row[iU]) if iU >= 0 and row[iU] else 0
            u = int(row[iu]) if iu >= 0 and row[iu] else 0
            pu = int(row[ipu]) if ipu >= 0 and row[ipu] else 0
        except OverflowError:
            rej["non_finite"] += 1
            return
        except ValueError:
            rej["malformed"] += 1
            return
        if action == "snapshot":
            snapshot = True
        elif action in ("update", "delta"):
            snapshot = False
        else:
            rej["malformed"] += 1
            return
        if ts < self.last_ts:
            rej["time_backwards"] += 1
            return
        if ts >= self.end:
            self.done = True
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
                self.last_ts = ts
                if catch_up is not None:
                    yield catch_up
                return
        self.last_ts = ts
        if ts < self.start:
            self.snap_pending = True
            return
        if catch_up is not None:
            yield catch_up
        yield msg


# ============================================================================ feeds


def _base_dir(ctx: Any) -> Path:
    """``ctx.config.base_dir`` when set, else the current directory."""
    base = getattr(getattr(ctx, "config", None), "base_dir", None)
    return Path(base) if base else Path.cwd()


class CsvFeed(Feed):
    """Replays CSV files (bars, trades, BBO, L2, funding) merged in time order.

    See the module docstring for formats, the tie rule and the rejection reasons.
    ``rejections()`` sums the counts of all files; ``rejections_by_file`` maps each configured
    path to its own counts (reasons with a zero count are left out of both).  Counts restart
    with every call of :meth:`events`.
    """

    config_model = CsvFeedConfig

    def __init__(self, config: CsvFeedConfig, ctx: RunContext | None, name: str = "csv") -> None:
        super().__init__(config, ctx, name)  # type: ignore[arg-type]
        base = _base_dir(ctx)
        start, end = parse_time(config.start), parse_time(config.end)
        self.start = start
        self.end = end
        self._sources = [_Source(i, f, base, start, end) for i, f in enumerate(config.files)]

    @property
    def symbols(self) -> list[str]:
        """Symbols of the configured files, in order of first appearance."""
        out: list[str] = []
        for s in self._sources:
            if s.symbol not in out:
                out.append(s.symbol)
        return out

    def events(self) -> Iterator[MarketEvent]:
        """Yield every accepted event of every file, merged by ``ts`` (tie rule: see module)."""
        for s in self._sources:
            s.reset()
        order = sorted(self._sources, key=lambda s: (s.rank, s.index))
        streams = [s.events() for s in order]
        if len(streams) == 1:
            yield from streams[0]
        else:
            # heapq.merge is stable: equal keys come out in the order of the iterables
            yield from heapq.merge(*streams, key=attrgetter("ts"))

    def blocks(self) -> Iterator[Any]:
        """One bars or trades file: its rows in column blocks of :data:`BLOCK_ROWS` (streamed,
        memory stays flat) for the engine's fast path; several files or other kinds: the
        merged events of :meth:`events`."""
        if len(self._sources) != 1 or self._sources[0].kind not in ("bars", "trades"):
            yield from self.events()
            return
        src = self._sources[0]
        src.reset()
        records = src.records()
        while chunk := list(islice(records, BLOCK_ROWS)):
            cols = list(zip(*chunk, strict=True))
            n = len(chunk)
            if src.kind == "bars":
                yield BarBlock(src.symbol, src.interval_ms, array("q", cols[0]),
                               array("d", cols[2]), array("d", cols[3]), array("d", cols[4]),
                               array("d", cols[5]), array("d", cols[6]), 0, n)
            else:
                yield TradeBlock(src.symbol, array("q", cols[0]), array("d", cols[2]),
                                 array("d", cols[3]),
                                 array("b", [1 if sd == "buy" else 0 for sd in cols[4]]),
                                 array("q", cols[5]), 0, n)

    def rejections(self) -> dict[str, int]:
        """Rejected rows (messages for some L2 reasons) per reason, summed over the files."""
        total: dict[str, int] = {}
        for s in self._sources:
            for k, v in s.counts.items():
                if v:
                    total[k] = total.get(k, 0) + v
        return total

    @property
    def rejections_by_file(self) -> dict[str, dict[str, int]]:
        """``{configured path: {reason: count}}`` (files without rejections map to ``{}``)."""
        out: dict[str, dict[str, int]] = {}
        for s in self._sources:
            key = s.spec.path if s.spec.path not in out else f"{s.spec.path} [{s.index}]"
            out[key] = {k: v for k, v in s.counts.items() if v}
        return out

    def interval_ms(self, index: int) -> int:
        """The bar interval used for ``data.files[index]`` (0 for other kinds)."""
        return self._sources[index].interval_ms

    def stats(self) -> dict[str, Any]:
        """Rejection counts for the report."""
        return {"rejections": self.rejections(), "rejections_by_file": self.rejections_by_file}


# ============================================================================ memory


_BAR, _TRADE, _QUOTE, _FUNDING, _OBJ = range(5)
_SIDES = ("sell", "buy")


@dataclass(slots=True)
class BarColumns:
    """Bars of one or more symbols as compact columns (``ts`` = close time).

    ``sym`` holds an index into ``symbols`` per bar.
    """

    symbols: list[str] = field(default_factory=list)
    ts: array = field(default_factory=lambda: array("q"))
    sym: array = field(default_factory=lambda: array("I"))
    open: array = field(default_factory=lambda: array("d"))
    high: array = field(default_factory=lambda: array("d"))
    low: array = field(default_factory=lambda: array("d"))
    close: array = field(default_factory=lambda: array("d"))
    volume: array = field(default_factory=lambda: array("d"))
    interval: array = field(default_factory=lambda: array("q"))
    rejections: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ts)

    def events(self, a: int = 0, b: int | None = None) -> Iterator[Bar]:
        """Build :class:`Bar` objects lazily for rows ``a..b``."""
        b = len(self.ts) if b is None else b
        return map(Bar, *_slices((self.ts, self.sym, self.open, self.high, self.low,
                                  self.close, self.volume, self.interval), a, b,
                                 self.symbols, 1))


def _slices(cols: tuple[array, ...], a: int, b: int, symbols: list[str],
            sym_pos: int, side_pos: int = -1) -> list[Iterable[Any]]:
    """Iterables over rows ``a..b`` of ``cols``; the symbol (and side) columns decoded."""
    whole = a == 0 and b == len(cols[0])
    out: list[Iterable[Any]] = []
    for i, col in enumerate(cols):
        it: Iterable[Any] = col if whole else memoryview(col)[a:b]
        if i == sym_pos:
            it = repeat(symbols[0], b - a) if len(symbols) == 1 else map(symbols.__getitem__, it)
        elif i == side_pos:
            it = map(_SIDES.__getitem__, it)
        out.append(it)
    return out


class _Store:
    """Events in columns per kind plus the run list ``(kind, start, stop)`` of their order."""

    def __init__(self) -> None:
        self.symbols: list[str] = []
        self._sym_index: dict[str, int] = {}
        self.bars = BarColumns(symbols=self.symbols)
        self.trades = (array("q"), array("I"), array("d"), array("d"), array("b"), array("q"))
        self.quotes = (array("q"), array("I"), array("d"), array("d"), array("d"), array("d"),
                       array("q"))
        self.funding = (array("q"), array("I"), array("d"), array("d"))
        self.objects: list[Any] = []
        self.runs: list[list[int]] = []
        self.count = 0

    def sym(self, symbol: str) -> int:
        i = self._sym_index.get(symbol)
        if i is None:
            i = self._sym_index[symbol] = len(self.symbols)
            self.symbols.append(symbol)
        return i

    def _run(self, code: int, n_before: int, sym: int = -1) -> None:
        runs = self.runs
        if runs and runs[-1][0] == code and runs[-1][3] == sym:
            runs[-1][2] = n_before + 1
        else:
            runs.append([code, n_before, n_before + 1, sym])

    def add(self, ev: Any) -> None:
        """Append one event."""
        t = type(ev)
        self.count += 1
        if t is Bar:
            c = self.bars
            code = self.sym(ev.symbol)
            self._run(_BAR, len(c.ts), code)
            c.ts.append(ev.ts)
            c.sym.append(code)
            c.open.append(ev.open)
            c.high.append(ev.high)
            c.low.append(ev.low)
            c.close.append(ev.close)
            c.volume.append(ev.volume)
            c.interval.append(ev.interval_ms)
        elif t is Trade:
            ts, sy, p, s, sd, tid = self.trades
            code = self.sym(ev.symbol)
            self._run(_TRADE, len(ts), code)
            ts.append(ev.ts)
            sy.append(code)
            p.append(ev.price)
            s.append(ev.size)
            sd.append(1 if ev.side == "buy" else 0)
            tid.append(ev.trade_id)
        elif t is Quote:
            q = self.quotes
            self._run(_QUOTE, len(q[0]))
            q[0].append(ev.ts)
            q[1].append(self.sym(ev.symbol))
            q[2].append(ev.bid)
            q[3].append(ev.bid_size)
            q[4].append(ev.ask)
            q[5].append(ev.ask_size)
            q[6].append(ev.update_id)
        elif t is Funding:
            f = self.funding
            self._run(_FUNDING, len(f[0]))
            f[0].append(ev.ts)
            f[1].append(self.sym(ev.symbol))
            f[2].append(ev.rate)
            f[3].append(ev.mark_price)
        else:
            self._run(_OBJ, len(self.objects))
            self.objects.append(ev)

    def replay(self) -> Iterator[MarketEvent]:
        """Fresh event objects, in the stored order."""
        for code, a, b, _sym in self.runs:
            yield from self._run_events(code, a, b)

    def blocks(self) -> Iterator[Any]:
        """Like :meth:`replay`, but each run of bars (trades) of one symbol comes as one
        :class:`BarBlock` (:class:`TradeBlock`) over the stored arrays (no copy)."""
        syms = self.symbols
        bars = self.bars
        tr = self.trades
        for code, a, b, sym in self.runs:
            if code == _BAR:
                yield BarBlock(syms[sym], bars.interval[a], bars.ts, bars.open, bars.high,
                               bars.low, bars.close, bars.volume, a, b)
            elif code == _TRADE:
                yield TradeBlock(syms[sym], tr[0], tr[2], tr[3], tr[4], tr[5], a, b)
            else:
                yield from self._run_events(code, a, b)

    def _run_events(self, code: int, a: int, b: int) -> Iterator[MarketEvent]:
        syms = self.symbols
        if code == _BAR:
            bars = self.bars
            yield from map(Bar, *_slices((bars.ts, bars.sym, bars.open, bars.high, bars.low,
                                          bars.close, bars.volume, bars.interval),
                                         a, b, syms, 1))
        elif code == _TRADE:
            yield from map(Trade, *_slices(self.trades, a, b, syms, 1, 4))
        elif code == _QUOTE:
            yield from map(Quote, *_slices(self.quotes, a, b, syms, 1))
        elif code == _FUNDING:
            yield from map(Funding, *_slices(self.funding, a, b, syms, 1))
        else:
            objects = self.objects
            for i in range(a, b):
                ev = objects[i]
                t = type(ev)
                if t is BookUpdate:
                    # fresh shell, shared level lists (books never mutate them)
                    yield BookUpdate(ev.ts, ev.symbol, ev.snapshot, ev.bids, ev.asks,
                                     ev.first_id, ev.last_id, ev.prev_id)
                elif t is MarkPrice:
                    yield MarkPrice(ev.ts, ev.symbol, ev.mark, ev.index)
                else:
                    yield ev


class MemoryFeed(Feed):
    """Loads another feed's events once into compact columns and replays them on demand.

    Bars, trades, quotes and funding are kept as ``array`` columns (8 bytes per number);
    L2 messages and other kinds are kept as objects.  Every :meth:`events` call builds fresh
    event objects lazily (``map`` over the columns, positional construction), so a replay may
    be run any number of times and events of one replay never alias those of another (L2 level
    lists are shared; the book never mutates them).

    Built by the engine as ``MemoryFeed(config, ctx, name)`` from a :class:`MemoryFeedConfig`
    (the files are read through :class:`CsvFeed`), or from events with :meth:`from_events`,
    another feed with :meth:`from_feed`, or bar columns with :meth:`from_bar_columns`.
    """

    config_model = MemoryFeedConfig

    def __init__(self, config: CsvFeedConfig | None, ctx: RunContext | None,
                 name: str = "memory", source: Feed | Iterable[MarketEvent] | None = None) -> None:
        super().__init__(config, ctx, name)  # type: ignore[arg-type]
        self._store = _Store()
        self._rejections: dict[str, int] = {}
        self.rejections_by_file: dict[str, dict[str, int]] = {}
        self.load_seconds = 0.0
        if source is None:
            if config is None:
                raise DataError("memory feed: neither a config nor a source was given",
                                hint="pass data.files in the config, or use "
                                     "MemoryFeed.from_events / from_feed")
            source = CsvFeed(config, ctx, name=name)
        t0 = time.perf_counter()
        if isinstance(source, Feed):
            self._extend(source.events())
            self._rejections = dict(source.rejections())
            self.rejections_by_file = dict(getattr(source, "rejections_by_file", {}))
        else:
            self._extend(source)
        self.load_seconds = time.perf_counter() - t0
        log = getattr(ctx, "log", None)
        if log is not None:
            log.info("%s: %d events loaded into memory in %.2fs", self.name, len(self),
                     self.load_seconds)

    def _extend(self, events: Iterable[MarketEvent]) -> None:
        add = self._store.add
        for ev in events:
            add(ev)

    @classmethod
    def from_events(cls, events: Iterable[MarketEvent], ctx: RunContext | None = None,
                    name: str = "memory") -> MemoryFeed:
        """A memory feed holding ``events`` (which must already be in time order)."""
        return cls(None, ctx, name, source=events)

    @classmethod
    def from_feed(cls, feed: Feed, name: str = "memory") -> MemoryFeed:
        """Drain ``feed`` once; its rejection counts are kept."""
        return cls(getattr(feed, "config", None), getattr(feed, "ctx", None), name,
                   source=feed)

    @classmethod
    def from_bar_columns(cls, columns: BarColumns, ctx: RunContext | None = None,
                         name: str = "memory") -> MemoryFeed:
        """Wrap already loaded bar columns without copying them."""
        feed = cls(None, ctx, name, source=())
        st = feed._store
        st.symbols[:] = columns.symbols
        st._sym_index = {s: i for i, s in enumerate(columns.symbols)}
        columns.symbols = st.symbols
        st.bars = columns
        n = len(columns)
        runs: list[list[int]] = []
        if len(columns.symbols) == 1:
            runs = [[_BAR, 0, n, 0]] if n else []
        else:
            for i, code in enumerate(columns.sym):
                if runs and runs[-1][3] == code:
                    runs[-1][2] = i + 1
                else:
                    runs.append([_BAR, i, i + 1, code])
        st.runs = runs
        st.count = n
        feed._rejections = {k: v for k, v in columns.rejections.items() if v}
        return feed

    def __len__(self) -> int:
        return self._store.count

    def events(self) -> Iterator[MarketEvent]:
        """Replay all events (fresh objects each time)."""
        return self._store.replay()

    def blocks(self) -> Iterator[Any]:
        """Replay with bar/trade runs as column blocks (the engine's fast path)."""
        return self._store.blocks()

    def rejections(self) -> dict[str, int]:
        """The rejection counts of the source feed at load time."""
        return dict(self._rejections)


def load_bar_columns(path: str | os.PathLike[str], symbol: str,
                     interval_ms: int | None = None) -> BarColumns:
    """Read one bars CSV (``timestamp|ts_ms,open,high,low,close,volume``) into columns.

    The rows are validated exactly as :class:`CsvFeed` does (rejections are counted in
    ``BarColumns.rejections``); ``ts`` is the close time.

    :param path: ``.csv`` or ``.csv.gz`` file.
    :param symbol: ccxt symbol of the bars.
    :param interval_ms: bar length; inferred from the file name or the timestamps when None.
    """
    if interval_ms is not None and interval_ms <= 0:
        raise ValueError(f"interval_ms must be positive, not {interval_ms}")
    spec = DataFile(kind="bars", symbol=symbol, path=str(Path(path).resolve()), interval=None)
    src = _Source(0, spec, Path.cwd(), None, None, interval_ms)
    cols = BarColumns(symbols=[symbol])
    ts_a, o_a, h_a, l_a, c_a, v_a = (cols.ts.append, cols.open.append, cols.high.append,
                                     cols.low.append, cols.close.append, cols.volume.append)
    n = 0
    for ts, _sym, o, h, lo, c, v, _step in src.records():
        ts_a(ts)
        o_a(o)
        h_a(h)
        l_a(lo)
        c_a(c)
        v_a(v)
        n += 1
    cols.sym = array("I", bytes(4 * n))
    cols.interval = array("q", [src.interval_ms]) * n
    cols.rejections = {k: v for k, v in src.counts.items() if v}
    return cols
