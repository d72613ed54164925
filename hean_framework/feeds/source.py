"""One configured data file of the CSV feeds: its path, header and column positions, the bar
interval (configured, else from the file name, else from the timestamps; one the timestamps
contradict is a :class:`~hean_framework.errors.DataError`), its rejection counts and the
stream of its validated records.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
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
    csv_rows,
    new_counts,
    open_text,
    parse_bars,
    parse_bbo,
    parse_funding,
    parse_trades,
    to_ms,
)

__all__ = ["Source"]

_INTERVAL_IN_NAME_RE = re.compile(r"(?:^|[_\-.])(\d+[smhdw])(?=[_\-.])")

#: the record parser of each kind
_PARSERS: dict[str, Callable[[Source, Iterator[list[str]]], Iterator[Any]]] = {
    "bars": parse_bars, "trades": parse_trades, "bbo": parse_bbo, "funding": parse_funding,
    "l2": parse_l2,
}


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
            with open_text(self.path) as fh:
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
                stamps.append(to_ms(row[its]))
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
        """Validated records: tuples for bars/trades/bbo/funding, BookUpdates for l2."""
        fh = open_text(self.path)
        try:
            rd = csv.reader(fh)
            next(rd, None)  # header
            rows = csv_rows(rd, self.counts)
            gen = _PARSERS[self.kind](self, rows)
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
