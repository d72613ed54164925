"""One configured data file of the CSV feeds: its path, header and column positions, the bar
interval (configured, else from the file name, else from the timestamps; one the timestamps
contradict is a :class:`~hean_framework.errors.DataError`), its rejection counts and the
stream of its validated records.

Before a run, the first rows of each file (up to 200 data rows) are checked; each of these is
a :class:`~hean_framework.errors.DataError` naming the file and what to do:

* the file has a header but **no data rows**;
* the **timestamps are not in milliseconds**: the unit is told by magnitude, for dates
  2001-2100 seconds are ~1e9 (978307200..4102444800), milliseconds ~1e12, microseconds ~1e15
  and nanoseconds ~1e18; when most of the first timestamps read as seconds, microseconds or
  nanoseconds the file is refused (never converted: convert the column to ms, e.g. seconds
  x 1000).  Values in none of these spans (such as small hand-written test values) are ms;
* the rows are in **descending time order** (more of the first steps go back than forward);
* bars only: the interval cannot be inferred, or the timestamps contradict it.

A file whose last line has no line break may have been cut inside that row (a plain CSV
truncated at ``...,1029.223`` reads ``...,10``): that row is rejected as ``truncated_row``
(the other rows are used).  A file that cannot be read to its end (truncated or corrupt gzip,
I/O error) is a ``DataError`` naming the line where reading stopped: a gzip file is
decompressed to its end when the feed is built (before the run starts); an error while the
rows are read (a file changed or failing under the run) raises the same error then.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from itertools import pairwise, starmap
from pathlib import Path
from typing import Any

from ..config import resolve_path
from ..errors import DataError
from ..models import Bar, Funding, MarketEvent, Quote, Trade
from .config import KIND_ORDER, DataFile, fmt_ms, parse_interval
from .l2 import parse_l2
from .rows import (
    COLUMNS,
    OUTLIER_GAP_BARS,
    OUTLIER_GAP_MS,
    csv_rows,
    new_counts,
    open_text,
    parse_bars,
    parse_bbo,
    parse_funding,
    parse_trades,
    time_gate,
    to_ms,
)

__all__ = ["Source"]

_INTERVAL_IN_NAME_RE = re.compile(r"(?:^|[_\-.])(\d+[smhdw])(?=[_\-.])")

#: the record parser of each kind
_PARSERS: dict[str, Callable[[Source, Iterator[list[str]]], Iterator[Any]]] = {
    "bars": parse_bars, "trades": parse_trades, "bbo": parse_bbo, "funding": parse_funding,
    "l2": parse_l2,
}

#: errors of a file that cannot be read to its end (zlib.error: corrupt deflate data)
READ_ERRORS = (OSError, EOFError, zlib.error)

#: (unit, first value, end value, units per second, conversion to ms): the timestamps of
#: 2001-01-01 .. 2100-01-01 in each unit other than ms
_UNIT_SPANS = (("seconds", 978_307_200, 4_102_444_800, 1, "* 1000"),
               ("microseconds", 978_307_200 * 10**6, 4_102_444_800 * 10**6, 10**6, "// 1000"),
               ("nanoseconds", 978_307_200 * 10**9, 4_102_444_800 * 10**9, 10**9,
                "// 1_000_000"))

#: the record field holding an id for the ``duplicate_row`` check (-1: ``duplicate_ts``)
_DUP: dict[str, int | None] = {"bars": -1, "funding": -1, "trades": 5, "bbo": 6, "l2": None}


class Source:
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
        self.counts = new_counts()
        #: the file's last line has no line break (it may have been cut inside that row)
        self.unterminated = not self._check_complete().endswith((b"\n", b"\r"))
        self.header, first_rows = self._peek()
        self.cols = self._map_columns()
        stamps = self._stamps(first_rows)
        self._check_stamps(stamps)
        self.interval_ms = 0
        #: a jump above this is checked against the rows after it (see ``rows.time_gate``)
        self.gap_ms = OUTLIER_GAP_MS
        if self.kind == "bars":
            step = self._step(stamps)
            self.interval_ms = interval_ms or self._bar_interval(step, stamps)
            if step is not None and step != self.interval_ms:
                self._interval_error(step, interval_ms)
            self.gap_ms = max(OUTLIER_GAP_MS, OUTLIER_GAP_BARS * self.interval_ms)
        elif self.kind == "funding":  # settlements every few hours: as many of their steps
            self.gap_ms = max(OUTLIER_GAP_MS, OUTLIER_GAP_BARS * (self._step(stamps) or 0))

    # ------------------------------------------------------------------ setup

    def _peek(self, n: int = 200) -> tuple[list[str], list[list[str]]]:
        """The header and up to ``n`` non-empty rows (lines the csv module cannot split are
        left out here; the replay counts them)."""
        scratch = new_counts()
        rd: Any = None
        cut = False
        try:
            with open_text(self.path) as fh:
                rd = csv.reader(fh)
                header = next(csv_rows(rd, scratch), None)
                rows = []
                for row in csv_rows(rd, scratch):
                    if row:
                        rows.append(row)
                        if len(rows) >= n:
                            break
                else:  # the whole file: its last row is left out when the replay leaves it out
                    cut = bool(rows) and self.unterminated
                    if cut:
                        rows.pop()
        except READ_ERRORS as exc:
            raise self.read_error(exc, rd.line_num if rd is not None else 0) from exc
        if not header:
            raise DataError(f"{self.where}: {self.path} is empty (no header row)",
                            hint="the first line must name the columns, e.g. "
                                 "'timestamp,open,high,low,close,volume'")
        if not rows:
            raise DataError(
                f"{self.where}: {self.path} has a header but no data rows"
                + (" (its only row has no line break at its end: the file was cut inside it)"
                   if cut else ""),
                hint="the export or download that wrote it probably failed: write it again, or "
                     f"remove data.files[{self.index}]")
        return [h.strip().lower().lstrip("\ufeff") for h in header], rows

    def _check_complete(self) -> bytes:
        """The file's last byte; a gzip file is decompressed to its end for it (streamed, ~10%
        of the time of a replay), so that a truncated or corrupt one fails before the run."""
        with self.path.open("rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            if not gz:
                raw.seek(0, 2)
                if raw.tell() == 0:
                    return b""
                raw.seek(-1, 2)
                return raw.read(1)
        lines = 0
        tail = b""
        try:
            with gzip.open(self.path, "rb") as fh:
                while chunk := fh.read1(1 << 16):
                    lines += chunk.count(b"\n")
                    tail = chunk[-1:]
        except READ_ERRORS as exc:
            raise self.read_error(exc, lines) from exc
        return tail

    def read_error(self, exc: BaseException, line: int) -> DataError:
        """The error of a file that cannot be read to its end; ``line``: lines read (header
        included) when reading stopped."""
        rows = max(line - 1, 0)
        return DataError(
            f"{self.where}: {self.path} cannot be read to its end: reading stopped after line "
            f"{line} (data row {rows}; {type(exc).__name__}: {exc})",
            hint="the file is truncated or corrupt (an interrupted download or copy?): fetch or "
                 "export it again (`gzip -t FILE` checks a .gz file); to run on the rows "
                 f"before the damage, write the first {rows} rows to a new file and point "
                 f"data.files[{self.index}].path at it")

    def _map_columns(self) -> dict[str, int]:
        required, optional = COLUMNS[self.kind]
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
                     "hean_framework.feeds.rows); or fix data.files"
                     f"[{self.index}].kind")
        for aliases in optional:
            i = next((pos[a] for a in aliases if a in pos), None)
            cols[aliases[0]] = -1 if i is None else i
        if self.kind == "l2" and cols["prev_last_update_id"] < 0 and "seq" in pos:
            cols["seq"] = pos["seq"]
        return cols

    def _bar_interval(self, step: int | None, stamps: list[int]) -> int:
        """The configured interval, else the file name's, else ``step`` (the timestamps')."""
        if self.spec.interval:
            return parse_interval(self.spec.interval)
        m = _INTERVAL_IN_NAME_RE.search(self.path.name)
        if m:
            return parse_interval(m.group(1))
        if step is None:
            distinct = len(set(stamps))
            raise DataError(
                f"{self.where}: cannot infer the bar interval of {self.path}: its first rows "
                f"hold {distinct} distinct readable timestamp{'s' if distinct != 1 else ''}",
                hint=f"set data.files[{self.index}].interval, e.g. '5m'")
        return step

    def _stamps(self, rows: list[list[str]]) -> list[int]:
        """The readable timestamps of ``rows`` (others are left to the replay to count)."""
        its = self.cols["timestamp"]
        stamps = []
        for row in rows:
            try:
                stamps.append(to_ms(row[its]))
            except (ValueError, IndexError, OverflowError):
                continue
        return stamps

    @staticmethod
    def _step(stamps: list[int]) -> int | None:
        """The smallest forward step between ``stamps`` (None without one)."""
        return min((b - a for a, b in pairwise(stamps) if b > a), default=None)

    def _check_stamps(self, stamps: list[int]) -> None:
        """Refuse timestamps in another unit than ms, and rows in descending time order."""
        units = Counter(_unit(t) for t in stamps)
        unit, count = max(((u, c) for u, c in units.items() if u != "ms"),
                          key=lambda x: x[1], default=("ms", 0))
        if unit != "ms" and 2 * count > len(stamps) and count > units.get("ms", 0):
            per_s, convert = next((u[3], u[4]) for u in _UNIT_SPANS if u[0] == unit)
            first = next(t for t in stamps if _unit(t) == unit)
            when = datetime.fromtimestamp(first // per_s, UTC).strftime("%Y-%m-%d %H:%M:%S")
            col = self.header[self.cols["timestamp"]]
            raise DataError(
                f"{self.where}: the timestamps of {self.path} are in {unit}, not milliseconds "
                f"({count} of the first {len(stamps)} rows; e.g. {first} = {when} UTC in "
                f"{unit})",
                hint=f"HEAN reads integer milliseconds since the epoch: convert the '{col}' "
                     f"column to ms (ms = {unit} {convert}), e.g. with pandas "
                     f"df['{col}'] = df['{col}'] {convert}")
        back = sum(b < a for a, b in pairwise(stamps))
        ahead = sum(b > a for a, b in pairwise(stamps))
        if back > ahead:
            raise DataError(
                f"{self.where}: the rows of {self.path} are in descending time order ({back} "
                f"of the first {back + ahead} steps between rows go back in time)",
                hint="sort the file by timestamp, oldest first (e.g. pandas: "
                     "df.sort_values('timestamp').to_csv(...), or "
                     "`(head -n1 f.csv; tail -n+2 f.csv | sort -t, -k1,1n) > sorted.csv`)")

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
            said = f"the file name's interval ({fmt_ms(self.interval_ms)})"
        raise DataError(
            f"{where}: {said}, but the bars of {self.path.name} are {step} ms apart "
            f"({fmt_ms(step)}): each bar would be taken to close "
            f"{'before' if self.interval_ms < step else 'after'} it did",
            hint=f"set data.files[{self.index}].interval: '{fmt_ms(step)}' (or drop it: the "
                 f"interval is then read from the file name or the timestamps)")

    # ------------------------------------------------------------------ reading

    def reset(self) -> None:
        """Zero the counters (each replay counts afresh)."""
        self.counts = new_counts()

    def records(self) -> Iterator[Any]:
        """Validated records in time order: tuples for bars/trades/bbo/funding, BookUpdates
        for l2.

        :raises DataError: when the file cannot be read to its end.
        """
        fh = open_text(self.path)
        rd = csv.reader(_hold_last_line(fh, self.counts) if self.unterminated else fh)
        try:
            next(csv_rows(rd, new_counts()), None)  # the header, found as _peek found it
            rows = csv_rows(rd, self.counts)
            gen = _PARSERS[self.kind](self, rows)
            if self.kind != "l2":  # parse_l2 runs the time gate itself, before the book
                gen = time_gate(gen, self.counts, self.start, self.end, self.gap_ms,
                                _DUP[self.kind])
            yield from gen
        except READ_ERRORS as exc:
            raise self.read_error(exc, rd.line_num) from exc
        finally:
            fh.close()

    def events(self) -> Iterator[MarketEvent]:
        """Market events of this file, in file order."""
        cls: Callable[..., MarketEvent] | None = {
            "bars": Bar, "trades": Trade, "bbo": Quote, "funding": Funding}.get(self.kind)
        if cls is None:
            return self.records()
        return starmap(cls, self.records())


def _unit(ts: int) -> str:
    """``"seconds"``, ``"microseconds"`` or ``"nanoseconds"`` when ``ts`` read in that unit is
    a date of 2001-2100, else ``"ms"``."""
    for name, lo, hi, _f, _t in _UNIT_SPANS:
        if lo <= ts < hi:
            return name
    return "ms"


def _hold_last_line(lines: Iterator[str], rej: dict[str, int]) -> Iterator[str]:
    """``lines`` without a last line that has no line break (counted as ``truncated_row``;
    blank: not counted).  Only files that end so are read through this."""
    prev: str | None = None
    for line in lines:
        if prev is not None:
            yield prev
        prev = line
    if prev is not None:
        if prev.endswith(("\n", "\r")):
            yield prev
        elif prev.strip():
            rej["truncated_row"] += 1
