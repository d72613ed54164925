"""Columnar runs of market events: the engine's batch fast path.

A feed may hand the engine a *block* instead of single events: consecutive bars (or trades)
of one symbol as columns, rows ``start .. stop - 1`` of shared arrays (no copy).  The engine
either replays a block row by row as ordinary :class:`~hean_framework.models.Bar` /
:class:`~hean_framework.models.Trade` events, or -- when the only listener of that symbol's
bars (trades) is one strategy implementing :meth:`Strategy.on_bars
<hean_framework.components.Strategy.on_bars>` (``on_trades``) and nothing else needs to see
the rows one at a time (no open or pending order at the venue, no due timer) -- hands the rows
to the strategy in one call.  The strategy returns at the first row that produced a signal,
the engine updates the market state to that row and runs the signal through the pipeline,
then resumes the strategy at the next row: decisions are those of the row-by-row path (the
strategy contract suite checks that ``on_bars`` and ``on_bar`` give identical signals).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .models import Bar, Trade

__all__ = ["BarBlock", "TradeBlock", "view"]

_SIDES = ("sell", "buy")


def view(col: Sequence[Any], a: int, b: int) -> Iterable[Any]:
    """Rows ``a .. b - 1`` of a column without copying (a memoryview for ``array`` columns,
    a slice otherwise): the fastest way to loop over part of a block."""
    if isinstance(col, array):
        return memoryview(col)[a:b]
    return col[a:b]


@dataclass(slots=True)
class BarBlock:
    """Bars ``start .. stop - 1`` of one symbol as columns (``ts`` = bar close time)."""

    symbol: str
    interval_ms: int
    ts: Sequence[int]
    open: Sequence[float]
    high: Sequence[float]
    low: Sequence[float]
    close: Sequence[float]
    volume: Sequence[float]
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start

    def bar(self, i: int) -> Bar:
        """Row ``i`` (an absolute index, ``start <= i < stop``) as a :class:`Bar`."""
        return Bar(self.ts[i], self.symbol, self.open[i], self.high[i], self.low[i],
                   self.close[i], self.volume[i], self.interval_ms)

    def events(self) -> list[Bar]:
        """Every row as a :class:`Bar` (tests and the row-by-row path)."""
        return [self.bar(i) for i in range(self.start, self.stop)]


@dataclass(slots=True)
class TradeBlock:
    """Trades ``start .. stop - 1`` of one symbol as columns; ``side`` 1 = buy, 0 = sell."""

    symbol: str
    ts: Sequence[int]
    price: Sequence[float]
    size: Sequence[float]
    side: Sequence[int]
    trade_id: Sequence[int]
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start

    def trade(self, i: int) -> Trade:
        """Row ``i`` (an absolute index) as a :class:`Trade`."""
        return Trade(self.ts[i], self.symbol, self.price[i], self.size[i],
                     _SIDES[self.side[i]], self.trade_id[i])

    def events(self) -> list[Trade]:
        """Every row as a :class:`Trade`."""
        return [self.trade(i) for i in range(self.start, self.stop)]
