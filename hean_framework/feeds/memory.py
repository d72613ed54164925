"""In-memory replay: another feed's events (or one bars file) loaded once into compact
``array`` columns and replayed any number of times, for optimizers and benchmarks.
"""

from __future__ import annotations

import os
import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..blocks import BarBlock, TradeBlock
from ..components import Feed
from ..errors import DataError
from ..models import Bar, BookUpdate, Funding, MarketEvent, MarkPrice, Quote, Trade
from .config import CsvFeedConfig, DataFile, MemoryFeedConfig
from .csv_feed import CsvFeed
from .source import Source

if TYPE_CHECKING:
    from ..context import RunContext

__all__ = ["BarColumns", "MemoryFeed", "load_bar_columns"]


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
    src = Source(0, spec, Path.cwd(), None, None, interval_ms)
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
