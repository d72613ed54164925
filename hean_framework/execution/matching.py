"""Matching of resting orders against market events, for the simulated venue.

:class:`Matcher` is owned by :class:`~hean_framework.execution.sim_venue.SimulatedVenue` (one
per venue), which calls :meth:`Matcher.match` for every market event while it has resting
orders; arrival (market orders, limits crossing on arrival) stays in the venue, which uses
:func:`walk_limit` and :func:`level_size` from here.

**Resting limits** (status ``open``/``partially_filled``) are matched in
:meth:`SimulatedVenue.on_market <hean_framework.execution.sim_venue.SimulatedVenue.on_market>`,
maker fee, always at the limit price:

* ``Trade`` (same symbol): a trade strictly *through* the price fills (buy: trade price < limit);
  a trade *at* the price first consumes ``order.queue_ahead`` and the remainder fills.  With
  ``partial_fills`` the fill is limited by the trade's size (several fills; status
  ``partially_filled`` then ``filled``); without it, the order fills completely once the trade
  volume available to it covers its quantity.  One trade's volume is shared by our orders in
  price-time priority.
* **Queue position.**  ``queue_ahead`` is set on arrival (and again when an amend moves the
  price or raises the quantity, which loses the place) from the book's size at the limit price
  (or the best bid/ask size when the price equals the best quote and the book has no level
  there or lags the quote -- its top is another price --, else 0: a new price level) and only
  ever shrinks:

  - trades *at* the price consume it first (one trade's volume is shared by our orders in
    price-time priority);
  - an L2 update that shows the level smaller than the trades since the last update explain
    (``seen - traded > now``) is read as *cancels*, and cancels are assumed spread **pro rata**
    over the level: the queue ahead shrinks by the same fraction as the level
    (``queue *= now / (seen - traded)``); a level that grows only adds orders *behind* us.
    (The recorded book never contains our own order.  When the exchange's depth update
    reaches us before the trade that caused it, that trade's volume is counted twice -- once
    as a pro-rata cancel, once as volume at the level: slightly optimistic, bounded by one
    trade per update);
  - any book/quote update caps it at the size now shown at the level.
* ``Bar`` (symbols with no trades seen) -- the **conservative rule**: a resting order fills
  only when the bar trades *through* its price, buy when ``bar.low < price``, sell when
  ``bar.high > price``; a bar that merely touches the price does not fill it (the queue at
  that price may never have been reached; ``bar_touch_fills`` turns touching fills on).  Only
  bars that *start* at or after the order's arrival can fill it (no look-ahead inside a bar).
* ``Quote``/``BookUpdate`` (symbols with no trades seen), a conservative rule: a buy fills only
  when the best ask moves strictly *below* the limit (a seller crossed our level), a sell when
  the best bid moves strictly above; the fill is limited to the best level's size with
  ``partial_fills``.  Merely touching the price never fills on quotes.

"Symbols with no trades seen" is decided from the trades the venue saw while it had open or
pending orders (the idle fast path does not look at events at all).

**Resting stops** (``stop_market``, trigger price in ``order.price``) are matched before the
limits of the same event: trades and quotes at/through the trigger fill them as market orders;
a bar whose range reaches the trigger (only bars that start at or after the stop's arrival) fills
it at the trigger, or at the open when the bar gapped through it (never better than the
trigger), then ``slippage_bps``.

Reduce-only orders are clipped to the owning strategy's opposite position at every fill (the
venue's rule, passed in as ``clip_reduce_only``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..models import Bar, MarketEvent, Order, Quote, Trade

if TYPE_CHECKING:
    from ..context import RunContext
    from ..instruments import Instrument
    from ..market import SymbolState
    from .sim_venue import SimVenueConfig

    class FillFn(Protocol):
        """The venue's execution of one fill: ``fill(order, instrument, qty, price, maker,
        liquidity, fee=None)`` -> the quantity filled (``fee`` None: the maker/taker rate)."""

        def __call__(self, order: Order, inst: Instrument, qty: float, price: float,
                     maker: bool, liquidity: str, fee: float | None = None, /) -> float: ...

__all__ = ["EPS", "Matcher", "level_size", "walk_limit"]

#: Relative tolerance of the venue's quantity comparisons (a fill within it of the rest
#: completes the order).
EPS = 1e-9


class Matcher:
    """Matches one simulated venue's resting limits and stops against market events.

    It reads and edits the venue's resting tables (``open_orders``/``stops``: per symbol, order
    id -> order; it drops a symbol's stop table once the stops are gone) and fills through the
    venue's callbacks: ``fill`` (one fill at a price, typed ``FillFn``), ``clip_reduce_only``
    (a reduce-only order's fillable size, 0 after cancelling it) and ``arrive_market`` (a
    triggered stop goes out as a market order).
    """

    def __init__(self, ctx: RunContext, config: SimVenueConfig, *,
                 open_orders: dict[str, dict[int, Order]], stops: dict[str, dict[int, Order]],
                 fill: FillFn, clip_reduce_only: Callable[[Order, float], float],
                 arrive_market: Callable[[Order, Instrument, SymbolState | None], None]
                 ) -> None:
        self.ctx = ctx
        self.config = config
        self._open = open_orders
        self._stops = stops
        self._fill = fill
        self._clip_reduce_only = clip_reduce_only
        self._arrive_market = arrive_market
        #: trade volume seen at the level after the queue (only used without partial_fills);
        #: the venue drops an order's entry when the order is done
        self.touch: dict[int, float] = {}
        #: symbols whose trades the venue saw (their bars and quotes never fill limits)
        self.trade_symbols: set[str] = set()
        #: order id -> [L2 size of its level at the last book update, trade volume at the
        #: level since]: the pro-rata cancel model (see the module docstring)
        self.level: dict[int, list[float]] = {}

    def queue_at(self, order: Order, st: SymbolState | None) -> None:
        """Put a resting limit at the back of its level: the queue is the level's size now."""
        q = level_size(st, order.side == "buy", float(order.price))  # type: ignore[arg-type]
        order.queue_ahead = q
        self.level[order.order_id] = [q, 0.0]
        self.touch.pop(order.order_id, None)

    def forget(self, order_id: int) -> None:
        """The order is done: drop its queue state."""
        self.touch.pop(order_id, None)
        self.level.pop(order_id, None)

    def match(self, event: MarketEvent) -> None:
        """Match the resting orders of the event's symbol against it."""
        symbol = event.symbol
        kind = event.kind
        if kind == "trade":
            self.trade_symbols.add(symbol)
        stops = self._stops.get(symbol)
        if stops:
            self._match_stops(event, stops)
        orders = self._open.get(symbol)
        if not orders:
            return
        if kind == "trade":
            self._match_trade(event, orders)  # type: ignore[arg-type]
        elif kind == "bar":
            if symbol not in self.trade_symbols:
                self._match_bar(event, orders)  # type: ignore[arg-type]
        elif kind in ("quote", "book"):
            self._match_quote(event, orders)

    def _match_stops(self, event: MarketEvent, stops: dict[int, Order]) -> None:
        """Trigger stops: trades and quotes at/through the trigger fill as market orders;
        a bar whose range reaches the trigger fills at the trigger, or at the open when the
        bar gapped through it (never better than the trigger)."""
        kind = event.kind
        st = self.ctx.market.get(event.symbol)
        inst = self.ctx.instruments.get(event.symbol)
        slip = self.config.slippage_bps * 1e-4
        for o in list(stops.values()):
            trig = float(o.price)  # type: ignore[arg-type]
            buy = o.side == "buy"
            if kind == "bar":
                bar: Bar = event  # type: ignore[assignment]
                if o.arrival_ts > bar.ts - bar.interval_ms:
                    continue
                if not ((bar.high >= trig) if buy else (bar.low <= trig)):
                    continue
                px = max(trig, bar.open) if buy else min(trig, bar.open)
                px *= (1.0 + slip) if buy else (1.0 - slip)
                del stops[o.order_id]
                qty = self._clip_reduce_only(o, o.remaining)
                if qty > 0.0:
                    self._fill(o, inst, qty, px, False, "taker_stop_bar")
            else:
                if kind == "trade":
                    ref = event.price  # type: ignore[union-attr]
                elif st is not None:
                    ref = st.ask if buy else st.bid
                else:
                    continue
                if ref <= 0.0 or not ((ref >= trig) if buy else (ref <= trig)):
                    continue
                del stops[o.order_id]
                qty = self._clip_reduce_only(o, o.remaining)
                if qty > 0.0 and not o.is_done:
                    if qty < o.remaining:
                        o.qty = o.filled + qty
                    self._arrive_market(o, inst, st)
        if not stops:
            self._stops.pop(event.symbol, None)


    def _match_trade(self, trade: Trade, orders: dict[int, Order]) -> None:
        """Fill resting orders that ``trade`` goes through or reaches (after the queue)."""
        tp = trade.price
        buys: list[Order] = []
        sells: list[Order] = []
        for o in orders.values():
            p = o.price
            if p is None:
                continue
            if o.side == "buy":
                if tp <= p:
                    buys.append(o)
            elif tp >= p:
                sells.append(o)
        if not buys and not sells:
            return
        candidates = (sorted(buys, key=lambda o: (-(o.price or 0.0), o.order_id))
                      + sorted(sells, key=lambda o: (o.price or 0.0, o.order_id)))
        inst = self.ctx.instruments.get(trade.symbol)
        partial = self.config.partial_fills
        avail = trade.size
        for o in candidates:
            if avail <= 0.0:
                break
            room = avail
            if tp == o.price:
                at_level = self.level.get(o.order_id)
                if at_level is not None:
                    at_level[1] += trade.size
                queue = o.queue_ahead
                if queue > 0.0 and room > 0.0:
                    used = min(queue, room)
                    o.queue_ahead = queue - used if queue - used > EPS * queue else 0.0
                    room -= used
                liquidity = "maker_trade_touch"
            else:
                liquidity = "maker_trade_through"
            if room <= 0.0:
                continue
            if partial:
                qty = min(o.remaining, room)
            else:
                seen = self.touch.get(o.order_id, 0.0) + room
                if seen < o.remaining * (1.0 - EPS):
                    self.touch[o.order_id] = seen
                    continue
                qty = o.remaining
            qty = self._clip_reduce_only(o, qty)
            if qty <= 0.0:
                continue
            done = self._fill(o, inst, qty, o.price or 0.0, True, liquidity)
            avail -= done

    def _match_bar(self, bar: Bar, orders: dict[int, Order]) -> None:
        """Bar-only data: fill limits the bar traded through (or touched, if configured)."""
        start = bar.ts - bar.interval_ms if bar.interval_ms > 0 else bar.ts
        touch = self.config.bar_touch_fills
        inst = self.ctx.instruments.get(bar.symbol)
        for o in list(orders.values()):
            p = o.price
            if p is None or o.arrival_ts > start:
                continue
            if o.side == "buy":
                hit = bar.low <= p if touch else bar.low < p
            else:
                hit = bar.high >= p if touch else bar.high > p
            if hit:
                qty = self._clip_reduce_only(o, o.remaining)
                if qty > 0.0:
                    self._fill(o, inst, qty, p, True, "maker_bar")

    def _match_quote(self, event: MarketEvent, orders: dict[int, Order]) -> None:
        """Quote/book updates: cap queues; without trades, fill limits the quote crossed."""
        symbol = event.symbol
        st = self.ctx.market.get(symbol)
        book = st.book if st is not None else None
        if isinstance(event, Quote):
            bid, bid_size, ask, ask_size = event.bid, event.bid_size, event.ask, event.ask_size
        elif book is not None:
            bid, bid_size, ask, ask_size = book.bid, book.bid_size, book.ask, book.ask_size
        elif st is not None:
            bid, bid_size, ask, ask_size = st.bid, st.bid_size, st.ask, st.ask_size
        else:
            return
        no_trades = symbol not in self.trade_symbols
        partial = self.config.partial_fills
        inst = self.ctx.instruments.get(symbol)
        l2 = event.kind == "book"
        for o in list(orders.values()):
            p = o.price
            if p is None:
                continue
            buy = o.side == "buy"
            if o.queue_ahead > 0.0:
                if book is not None:
                    level = book.size_at("bid" if buy else "ask", p)
                    seen = self.level.get(o.order_id) if l2 else None
                    if seen is not None:  # pro-rata cancels ahead of us
                        expected = seen[0] - seen[1]
                        if expected > level:
                            o.queue_ahead *= level / expected
                        seen[0] = level
                        seen[1] = 0.0
                elif buy:
                    level = bid_size if p == bid else 0.0 if 0.0 < bid < p else o.queue_ahead
                else:
                    level = ask_size if p == ask else 0.0 if ask > p else o.queue_ahead
                if level < o.queue_ahead:
                    o.queue_ahead = level
            if not no_trades:
                continue
            if buy and 0.0 < ask < p:
                size = ask_size
            elif not buy and bid > p:
                size = bid_size
            else:
                continue
            qty = min(o.remaining, size) if partial and size > 0.0 else o.remaining
            qty = self._clip_reduce_only(o, qty)
            if qty > 0.0:
                self._fill(o, inst, qty, p, True, "maker_quote")


def level_size(st: SymbolState | None, buy: bool, price: float) -> float:
    """Size resting at ``price`` on our side: from the book, else the best quote, else 0.

    At the best quote's price the quote's size is used when the book's top on that side is
    another price (the L2 book lags the best bid/offer stream: the level it lacks or shows
    stale is the quote's)."""
    if st is None:
        return 0.0
    book = st.book
    if book is not None:
        if buy and price == st.bid and book.bid != price:
            return st.bid_size
        if not buy and price == st.ask and book.ask != price:
            return st.ask_size
        return book.size_at("bid" if buy else "ask", price)
    if buy and price == st.bid:
        return st.bid_size
    if not buy and price == st.ask:
        return st.ask_size
    return 0.0


def walk_limit(book: Any, buy: bool, qty: float, limit: float) -> tuple[float, float]:
    """Walk the opposite side of ``book`` for ``qty`` but only at prices within ``limit``.

    :returns: ``(vwap, filled)``; ``(0.0, 0.0)`` when no level is within the limit.
    """
    side = "ask" if buy else "bid"
    n = 16
    while True:
        levels = book.levels(side, n)
        left = qty
        notional = 0.0
        exhausted = len(levels) < n
        for p, s in levels:
            if (p > limit) if buy else (p < limit):
                exhausted = True
                break
            take = s if s < left else left
            notional += p * take
            left -= take
            if left <= 0.0:
                exhausted = True
                break
        if exhausted:
            filled = qty - left
            return (notional / filled, filled) if filled > 0.0 else (0.0, 0.0)
        n *= 4
