"""Per-symbol market state: last price, best bid/offer, L2 book, mark, funding, staleness.

The engine updates it before any component sees an event, so components read a consistent
view through ``ctx.market[symbol]``.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .book import OrderBook

PRICE_WINDOW = 64
#: candles kept per symbol in ``SymbolState.bars`` (same length as the price window)
BAR_WINDOW = PRICE_WINDOW


class SymbolState:
    """What is known about one symbol right now (``ctx.market[symbol]``).

    The engine updates it before any component sees the event, so a component reads the
    state that includes the event it is handed.  Read it; do not write it.
    """

    __slots__ = ("ask", "ask_size", "bar_ms", "bars", "bid", "bid_size", "book", "funding_rate",
                 "index", "last",
                 "last_funding_ts", "mark", "prices", "symbol", "trade_volume", "ts")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol  #: unified symbol
        self.ts = 0  #: time of the last price, quote or book update, ms (0: none yet)
        self.last = 0.0  #: last trade price or bar close (0: none yet)
        self.bid = 0.0  #: best bid, from quotes or the L2 book (0: unknown)
        self.ask = 0.0  #: best ask, from quotes or the L2 book (0: unknown)
        self.bid_size = 0.0  #: quantity at the best bid
        self.ask_size = 0.0  #: quantity at the best ask
        self.mark = 0.0  #: mark price of a derivative (MarkPrice, Funding events; 0: unknown)
        self.index = 0.0  #: index price of a derivative (MarkPrice events; 0: unknown)
        self.funding_rate = 0.0  #: rate of the last funding settlement (positive: longs pay)
        self.last_funding_ts = 0  #: time of the last funding settlement, ms (0: none)
        self.trade_volume = 0.0  #: summed size of the public trades seen since the run began
        #: interval of the symbol's candles when the data is bars (0 otherwise)
        self.bar_ms = 0
        #: the L2 order book when the data has book updates (None otherwise)
        self.book: OrderBook | None = None
        #: the last 64 prices (trade prices, bar closes; quote mids while no trade price is
        #: known), oldest first; ``volatility`` and ``log_return_std`` read them
        self.prices: deque[float] = deque(maxlen=PRICE_WINDOW)
        #: ``(high, low, volume)`` of the last candles (bar data only), oldest first; the cost
        #: model estimates the spread and the market impact from them
        #: (:mod:`hean_framework.execution.costs`).  Kept only while a component asked for
        #: them with ``ctx.market.keep_bars = True`` in its ``on_start`` (the trade gate does)
        self.bars: deque[tuple[float, float, float]] = deque(maxlen=BAR_WINDOW)

    # -------------------------------------------------------------- derived values

    @property
    def has_quote(self) -> bool:
        """True when a best bid and ask are known."""
        return self.bid > 0.0 and self.ask > 0.0

    @property
    def mid(self) -> float:
        """Mid of the best bid/offer, else the last price."""
        if self.bid > 0.0 and self.ask > 0.0:
            return (self.bid + self.ask) * 0.5
        return self.last

    @property
    def price(self) -> float:
        """The reference price: last trade/close, else mid."""
        return self.last or self.mid

    def spread_bps(self) -> float | None:
        """Quoted spread in bps of the mid; None without a quote."""
        if self.bid > 0.0 and self.ask > 0.0:
            mid = (self.bid + self.ask) * 0.5
            return (self.ask - self.bid) / mid * 1e4
        return None

    def granularity_ms(self, floor_ms: int) -> int:
        """``floor_ms``, or the candle length when the symbol only has bars (no quote): time
        logic (re-quotes, timeouts) cannot be finer than the data."""
        if self.bar_ms and not (self.bid > 0.0 and self.ask > 0.0):
            return max(floor_ms, self.bar_ms)
        return floor_ms

    def age_ms(self, now: int) -> int:
        """Milliseconds since the last update of this symbol."""
        return now - self.ts if self.ts else 1 << 62

    def volatility(self, n: int = 20) -> float:
        """Mean absolute relative price change over the last ``n`` price updates (0 if < 2)."""
        p = self.prices
        if len(p) < 2:
            return 0.0
        items = list(p)[-(n + 1):]
        tot = 0.0
        for a, b in itertools.pairwise(items):
            if a > 0.0:
                tot += abs(b - a) / a
        return tot / (len(items) - 1)

    def log_return_std(self, n: int = 20) -> float:
        """Population std of log returns over the last ``n`` updates (0 if < 3 prices)."""
        items = list(self.prices)[-(n + 1):]
        if len(items) < 3:
            return 0.0
        rets = [math.log(b / a) for a, b in itertools.pairwise(items) if a > 0.0 and b > 0.0]
        if len(rets) < 2:
            return 0.0
        m = sum(rets) / len(rets)
        return math.sqrt(sum((r - m) ** 2 for r in rets) / len(rets))


class MarketState(dict[str, SymbolState]):
    """``symbol -> SymbolState``; missing symbols are created on first access.

    ``keep_bars``: set it True in ``on_start`` when a component reads ``SymbolState.bars``
    (the engine then keeps each symbol's last candles; otherwise it skips that work).
    """

    def __init__(self) -> None:
        super().__init__()
        #: True once a component asked for ``SymbolState.bars`` (set it in ``on_start``)
        self.keep_bars: bool = False

    def __missing__(self, symbol: str) -> SymbolState:
        st = SymbolState(symbol)
        self[symbol] = st
        return st
