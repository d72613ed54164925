"""Reading a recorded file of scored sentiment items.

Format: CSV (plain or gzip, detected by its first bytes), one header row with at least the
columns ``timestamp, asset, source, score, confidence`` (any order, more columns ignored);
lines starting with ``#`` are comments.

* ``timestamp``: integer milliseconds since the Unix epoch (UTC), when the item was known;
* ``asset``: the asset it is about (``BTC``; compared in upper case);
* ``source``: which source scored it (``news``, ``twitter``, ``reddit`` ...; lower case);
* ``score``: -1..1 (positive: bullish);
* ``confidence``: 0..1.

Bad rows never stop a run and never pass silently: they are skipped and counted by reason
(:data:`REJECT_REASONS`).  A missing file, or a header without the five columns, is an error
naming the file and what to fix.  Items come back sorted by timestamp (file order among equal
timestamps), so an unsorted file is applied in time order.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from dataclasses import dataclass
from pathlib import Path

from hean_framework.errors import DataError

COLUMNS = ("timestamp", "asset", "source", "score", "confidence")
#: why a row was skipped
REJECT_REASONS = ("malformed", "bad_timestamp", "bad_score", "bad_confidence", "no_asset",
                  "unknown_source")


@dataclass(frozen=True, slots=True)
class Item:
    """One scored item."""

    ts: int
    asset: str
    source: str
    score: float
    confidence: float


def _open(path: Path) -> io.TextIOBase:
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace",
                                newline="")
    return path.open("r", encoding="utf-8", errors="replace", newline="")


def _number(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(text)
    return x


def load_items(path: Path, sources: frozenset[str] | None = None
               ) -> tuple[list[Item], dict[str, int]]:
    """The items of ``path`` sorted by time, and the skipped rows by reason.

    ``sources``: the source names the caller knows; a row of another source is skipped as
    ``unknown_source`` (None: every source is kept).
    """
    if not path.is_file():
        raise DataError(f"sentiment items file not found: {path}",
                        "set analyzers.sentiment_source.path to a CSV of scored items "
                        "(relative paths resolve against the run's YAML file)")
    rejected = dict.fromkeys(REJECT_REASONS, 0)
    out: list[Item] = []
    with _open(path) as fh:
        lines = (ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#"))
        reader = csv.reader(lines)
        header = next(reader, None)
        names = [h.strip().lower() for h in header or []]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise DataError(f"{path}: the header has no column {missing} "
                            f"(found {names or 'no header'})",
                            f"the file needs the columns {', '.join(COLUMNS)}")
        its, ia, isrc, isc, icf = (names.index(c) for c in COLUMNS)
        width = max(its, ia, isrc, isc, icf) + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:
                rejected["malformed"] += 1
                continue
            if len(row) < width:
                rejected["malformed"] += 1
                continue
            try:
                ts_f = _number(row[its])
                if ts_f != int(ts_f) or ts_f <= 0:
                    raise ValueError(row[its])
                ts = int(ts_f)
            except ValueError:
                rejected["bad_timestamp"] += 1
                continue
            try:
                score = _number(row[isc])
                if not -1.0 <= score <= 1.0:
                    raise ValueError(row[isc])
            except ValueError:
                rejected["bad_score"] += 1
                continue
            try:
                conf = _number(row[icf])
                if not 0.0 <= conf <= 1.0:
                    raise ValueError(row[icf])
            except ValueError:
                rejected["bad_confidence"] += 1
                continue
            asset = row[ia].strip().upper()
            if not asset:
                rejected["no_asset"] += 1
                continue
            source = row[isrc].strip().lower()
            if sources is not None and source not in sources:
                rejected["unknown_source"] += 1
                continue
            out.append(Item(ts, asset, source, score, conf))
    out.sort(key=lambda it: it.ts)  # stable: file order among equal timestamps
    return out, rejected
