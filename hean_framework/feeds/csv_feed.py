"""Replay of recorded market data from CSV files (plain ``.csv`` or gzip ``.csv.gz``).

Formats, events and rejection reasons: :mod:`hean_framework.feeds.rows` (L2 files:
:mod:`hean_framework.feeds.l2`).

**Ordering.**  Files are read lazily (one row at a time) and merged with :func:`heapq.merge`,
so memory stays flat in the length of the data.  Events come out in non-decreasing ``ts``;
ties are broken, in this order, by

1. kind: ``funding < l2 (book) < bbo (quote) < trades < bars``;
2. the position of the file in ``data.files``;
3. the row order inside the file.

``start``/``end`` keep events with ``start <= ts < end``.

**One file, one entry.**  A file listed twice under ``data.files`` (by any path: relative,
absolute, through a symlink or a hard link) would be fed twice: it is a
:class:`~hean_framework.errors.ConfigError` naming both entries.
"""

from __future__ import annotations

import heapq
import os
from array import array
from collections.abc import Iterator
from itertools import islice
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..blocks import BarBlock, TradeBlock
from ..components import Feed
from ..errors import ConfigError
from ..models import MarketEvent
from .config import CsvFeedConfig, parse_time
from .source import Source

if TYPE_CHECKING:
    from ..context import RunContext

__all__ = ["BLOCK_ROWS", "CsvFeed"]

#: rows per column block streamed by :meth:`CsvFeed.blocks`
BLOCK_ROWS = 8192


def _base_dir(ctx: Any) -> Path:
    """``ctx.config.base_dir`` when set, else the current directory."""
    base = getattr(getattr(ctx, "config", None), "base_dir", None)
    return Path(base) if base else Path.cwd()


def _refuse_repeated_files(sources: list[Source], config_path: str) -> None:
    """A file listed twice would be fed twice: a ConfigError naming both entries (and the run
    file ``config_path``)."""
    seen: dict[tuple[int, int] | str, Source] = {}
    problems = []
    for s in sources:
        st = os.stat(s.path)
        key: tuple[int, int] | str = (st.st_dev, st.st_ino) if st.st_ino else str(
            s.path.resolve())
        first = seen.setdefault(key, s)
        if first is not s:
            problems.append(
                f"data.files[{s.index}].path: {s.spec.path!r} is the same file as "
                f"data.files[{first.index}].path ({first.spec.path!r}, {s.path.resolve()}); "
                "its rows would be fed twice")
    if problems:
        raise ConfigError(problems, source=config_path,
                          hint="list each data file once (to replay one file's prices under a "
                               "second symbol, copy the file)")


class CsvFeed(Feed):
    """Replays CSV files (bars, trades, BBO, L2, funding) merged in time order.

    See the module docstring for the tie rule, :mod:`hean_framework.feeds.rows` and
    :mod:`hean_framework.feeds.l2` for formats and the rejection reasons.
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
        self._sources = [Source(i, f, base, start, end) for i, f in enumerate(config.files)]
        _refuse_repeated_files(self._sources,
                               getattr(getattr(ctx, "run", None), "config_path", "") or "")

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
        return {s.spec.path: {k: v for k, v in s.counts.items() if v} for s in self._sources}

    def interval_ms(self, index: int) -> int:
        """The bar interval used for ``data.files[index]`` (0 for other kinds)."""
        return self._sources[index].interval_ms

    def stats(self) -> dict[str, Any]:
        """Rejection counts for the report."""
        return {"rejections": self.rejections(), "rejections_by_file": self.rejections_by_file}
