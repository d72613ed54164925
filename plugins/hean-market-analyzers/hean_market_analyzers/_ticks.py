"""Which market events count as a "tick" (one price update of a symbol) for an analyzer.

The original system's windows are tick-count windows.  Here a tick is a closed bar (its
close and volume), a public trade (its price and size) or, when asked for, a best bid/offer
change (its mid, volume 0).

``tick_source`` of an analyzer's config:

* ``auto`` (default): per symbol, the first bar or trade that arrives decides; from then on only
  that kind is a tick for that symbol (so a data set with both candles and trades of one
  symbol never mixes the two in one window).  Quotes are never ticks in ``auto``.
* ``bars`` / ``trades`` / ``quotes``: only that kind.

Invariant: for one symbol, every tick an analyzer counts is of a single kind.
"""

from __future__ import annotations

from typing import Literal

from hean_framework import Analyzer
from hean_framework.models import Bar, Quote, Trade

__all__ = ["TickAnalyzer", "TickGate", "TickSource"]

TickSource = Literal["auto", "bars", "trades", "quotes"]


class TickGate:
    """Per-symbol choice of the event kind that makes a tick."""

    __slots__ = ("_locked", "source")

    def __init__(self, source: TickSource) -> None:
        self.source = source
        self._locked: dict[str, str] = {}

    def accept(self, symbol: str, kind: str) -> bool:
        """Whether an event of ``kind`` (``bars``, ``trades`` or ``quotes``) is a tick."""
        src = self.source
        if src == kind:
            return True
        if src != "auto" or kind == "quotes":
            return False
        locked = self._locked.get(symbol)
        if locked is None:
            self._locked[symbol] = kind
            return True
        return locked == kind


class TickAnalyzer(Analyzer):
    """An analyzer fed one price tick at a time: bars, trades and quotes are turned into
    :meth:`tick` calls by its :class:`TickGate` (``self._gate``, set in ``on_start``); a quote
    that is not a tick goes to :meth:`on_other_quote`."""

    _gate: TickGate

    def on_bar(self, bar: Bar) -> None:
        if self._gate.accept(bar.symbol, "bars"):
            self.tick(bar.symbol, bar.ts, bar.close, bar.volume, bar.interval_ms)

    def on_trade(self, trade: Trade) -> None:
        if self._gate.accept(trade.symbol, "trades"):
            self.tick(trade.symbol, trade.ts, trade.price, trade.size, 0)

    def on_quote(self, quote: Quote) -> None:
        symbol = quote.symbol
        if self._gate.accept(symbol, "quotes"):
            self.tick(symbol, quote.ts, (quote.bid + quote.ask) * 0.5, 0.0, 0)
        else:
            self.on_other_quote(symbol)

    def tick(self, symbol: str, ts: int, price: float, volume: float,
             interval_ms: int) -> None:
        """One tick of ``symbol`` (``interval_ms``: the candle's length, 0 for other ticks)."""
        raise NotImplementedError

    def on_other_quote(self, symbol: str) -> None:
        """A best bid/offer change that is not a tick for this analyzer (default: nothing)."""
