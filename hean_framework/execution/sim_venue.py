"""The simulated venue: a matching engine for backtests and paper runs.

Orders and fills only: the venue never touches the portfolio.  It reports through the
execution sink port (``ctx.sink``, :class:`~hean_framework.ports.ExecutionSink`)::

    ctx.sink.on_fill(fill, order)        # every execution (the engine books it)
    ctx.sink.on_order_update(order)      # status changes: open (resting), cancelled,
                                         # rejected, filled

**Arrival and latency.**  ``submit`` stamps ``order.arrival_ts = ctx.now + latency_ms``.  Static
checks (symbol, quantity on the lot grid, limit price on the tick grid) happen at once; with zero
latency the order is then processed immediately, otherwise it is held and processed by the first
:meth:`SimulatedVenue.on_market` call with ``ctx.now >= arrival_ts`` (against the market state of
that moment, i.e. including the event being dispatched).  Market-dependent checks (reduce-only,
minimums, post-only crossing, missing price) happen on arrival.

**Rejections** set ``order.status = "rejected"`` and ``order.reason = "<code>: <details>"``
(the code is ``order.reason.split(":")[0]``): ``unknown_symbol``, ``invalid_qty`` (≤ 0 or not on
the lot grid), ``invalid_price`` (limit price missing, ≤ 0 or off the tick grid),
``invalid_order_type``, ``below_exchange_minimum`` (details from
:meth:`~hean_framework.instruments.Instrument.describe_minimum`), ``reduce_only_no_position``,
``post_only_would_cross``, ``no_price`` (no market data yet, or no book/quote for an explicit
``market_fill`` mode).  Reduce-only orders are exempt from the exchange minimums (exchanges
accept closing dust) and are clipped to the opposite *account* position on arrival and again
at every fill (a reduce-only order whose position is gone is cancelled with reason
``reduce_only_no_position``).

**Market orders** fill completely on arrival, taker fee, at "the event price":

* ``auto``: walk the L2 book when the symbol has one; else the best bid/ask (buy at the ask,
  sell at the bid, whole quantity); else the last price ± ``slippage_bps``.
* ``book`` / ``quote`` / ``last``: only that source (``no_price`` rejection when it is missing).
* A book too thin for the order: the book's depth is taken level by level and the rest is
  assumed at the *worst (last) level's price*; one fill at the blended price with
  ``liquidity="taker_book_thin"``.  (Optimistic for huge orders; sizes in this framework are
  small-account sizes, far inside the recorded depth.)
* The recorded book is never modified by simulated fills.

**Limit orders** that would cross on arrival: post-only → rejected ``post_only_would_cross``;
plain limit → taker fill at the touch up to the limit price (book levels within the limit; with
a quote only, the whole quantity at the best price; with only a last price, last ± slippage
capped at the limit), the rest rests at the limit.  "Crossing" means ``buy price >= best ask``
(``>`` the last price when no quote is known), mirrored for sells.

**Resting limits** (status ``open``/``partially_filled``) are matched in :meth:`on_market`,
maker fee, always at the limit price:

* ``Trade`` (same symbol): a trade strictly *through* the price fills (buy: trade price < limit);
  a trade *at* the price first consumes ``order.queue_ahead`` and the remainder fills.  With
  ``partial_fills`` the fill is limited by the trade's size (several fills; status
  ``partially_filled`` then ``filled``); without it, the order fills completely once the trade
  volume available to it covers its quantity.  One trade's volume is shared by our orders in
  price-time priority.
* ``queue_ahead`` is set on arrival from the book's size at the limit price (or the best
  bid/ask size when the price equals the best quote, else 0) and only ever shrinks: trades at
  the price consume it, and a book/quote update that shows less size at that level caps it.
* ``Bar`` (symbols with no trades seen): buy fills completely at the limit when
  ``bar.low < price`` (``<=`` with ``bar_touch_fills``), sell when ``bar.high > price``; only
  bars that *start* at or after the order's arrival can fill it (no look-ahead inside a bar).
* ``Quote``/``BookUpdate`` (symbols with no trades seen), a conservative rule: a buy fills only
  when the best ask moves strictly *below* the limit (a seller crossed our level), a sell when
  the best bid moves strictly above; the fill is limited to the best level's size with
  ``partial_fills``.  Merely touching the price never fills on quotes.

"Symbols with no trades seen" is decided from the trades the venue saw while it had open or
pending orders (the idle fast path does not look at events at all).

Speed: :meth:`on_market` is called for every market event; with no open or pending order it
returns after one truthiness check.
"""

from __future__ import annotations

import heapq
import itertools
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from ..components import ComponentConfig, Venue
from ..models import Bar, Fill, MarketEvent, Order, Quote, Trade

if TYPE_CHECKING:
    from ..context import RunContext
    from ..instruments import Instrument
    from ..market import SymbolState

__all__ = ["REJECT_CODES", "SimVenueConfig", "SimulatedVenue"]

#: Every rejection / cancellation code this venue can put in front of ``order.reason``.
REJECT_CODES = ("unknown_symbol", "invalid_qty", "invalid_price", "invalid_order_type",
                "below_exchange_minimum", "reduce_only_no_position", "post_only_would_cross",
                "no_price")

_EPS = 1e-9
_ORDER_TYPES = frozenset(("market", "limit", "stop_market"))
_SIDES = frozenset(("buy", "sell"))


class SimVenueConfig(ComponentConfig):
    """Settings of the simulated venue (YAML ``venue: {sim: {...}}``)."""

    latency_ms: int = Field(default=0, ge=0, description="order arrival delay after submit (ms)")
    market_fill: Literal["auto", "last", "quote", "book"] = Field(
        default="auto", description="market order price: auto = book, else quote, else last")
    slippage_bps: float = Field(
        default=0.0, ge=0.0, description="adverse slippage applied to fills at the last/bar price")
    maker_fee: float | None = Field(
        default=None, description="override of the maker rate (fraction; < 0 = rebate)")
    taker_fee: float | None = Field(
        default=None, description="override of the instrument's taker rate (fraction)")
    bar_touch_fills: bool = Field(
        default=False, description="bar-only data: a bar touching the limit price fills it")
    enforce_minimums: bool = Field(
        default=True, description="reject orders below the exchange minimum qty/notional")
    partial_fills: bool = Field(
        default=True, description="limit trade-driven fills by the recorded trade size")


class SimulatedVenue(Venue):
    """Deterministic matching engine over recorded market data (see the module docstring)."""

    config_model = SimVenueConfig

    def __init__(self, config: SimVenueConfig | None, ctx: RunContext, name: str = "") -> None:
        super().__init__(config if config is not None else SimVenueConfig(), ctx, name or "sim")
        self.config: SimVenueConfig
        #: resting orders per symbol (open / partially filled); symbols without orders absent
        self._open: dict[str, dict[int, Order]] = {}
        #: orders in flight: heap of (arrival_ts, seq, order); cancelled ones are skipped
        self._pending: list[tuple[int, int, Order]] = []
        #: every live order (pending or resting) by id
        self._orders: dict[int, Order] = {}
        #: trade volume seen at the level after the queue (only used without partial_fills)
        self._touch: dict[int, float] = {}
        self._trade_symbols: set[str] = set()
        self._seq = itertools.count()
        self._counts: dict[str, int] = {"submitted": 0, "fills": 0, "maker_fills": 0,
                                        "taker_fills": 0, "filled": 0, "cancelled": 0,
                                        "rejected": 0}
        self._rejects: dict[str, int] = {}
        #: resting stop orders per symbol (``stop_market``: trigger price in ``order.price``)
        self._stops: dict[str, dict[int, Order]] = {}
        self.idle = True

    # ================================================================== public API

    def submit(self, order: Order) -> Order:
        """Accept ``order`` (processed now, or on arrival after ``latency_ms``) or reject it.

        :returns: the same object, with ``status`` ``new`` (in flight), ``open``,
            ``partially_filled``, ``filled`` or ``rejected``.
        """
        ctx = self.ctx
        now = ctx.now
        self._counts["submitted"] += 1
        if not order.ts:
            order.ts = now
        order.arrival_ts = arrival = now + self.config.latency_ms
        order.status = "new"
        inst = ctx.instruments.find(order.symbol)
        if inst is None:
            avail = ", ".join(sorted(ctx.instruments))
            return self._reject(order, "unknown_symbol",
                                f"{order.symbol!r} is not an instrument of "
                                f"{ctx.instruments.exchange} (available: {avail})")
        typ = order.order_type
        if typ not in _ORDER_TYPES or order.side not in _SIDES \
                or (order.post_only and typ != "limit"):
            return self._reject(order, "invalid_order_type",
                                f"{order.side} {typ} post_only={order.post_only}: "
                                "use side buy/sell, type market/limit/stop_market, post_only "
                                "only on limit")
        if not order.qty > 0.0 or not inst.is_qty_on_grid(order.qty):
            return self._reject(order, "invalid_qty",
                                f"quantity {order.qty!r} must be > 0 and a multiple of the lot "
                                f"size {inst.lot_size} (use instrument.round_qty)")
        if typ != "market" and (order.price is None or not order.price > 0.0
                                or not inst.is_price_on_grid(order.price)):
            return self._reject(order, "invalid_price",
                                f"limit price {order.price!r} must be > 0 and a multiple of the "
                                f"tick size {inst.tick_size} (use instrument.round_price)")
        self._orders[order.order_id] = order
        if arrival <= now:
            self._arrive(order, inst)
        else:
            heapq.heappush(self._pending, (arrival, next(self._seq), order))
            self.idle = False
        return order

    def cancel(self, order_id: int, reason: str = "") -> Order | None:
        """Cancel a pending or resting order; None when unknown or already done."""
        order = self._orders.get(order_id)
        if order is None or order.is_done:
            return None
        self._finish(order, "cancelled", reason or "cancelled")
        return order

    def on_market(self, event: MarketEvent) -> None:
        """Release orders whose latency elapsed, then match resting orders against ``event``."""
        if not self._open and not self._pending and not self._stops:
            self.idle = True
            return
        pending = self._pending
        if pending and self.ctx.now >= pending[0][0]:
            self._release(self.ctx.now)
        symbol = event.symbol
        kind = event.kind
        if kind == "trade":
            self._trade_symbols.add(symbol)
        stops = self._stops.get(symbol)
        if stops:
            self._match_stops(event, stops)
        orders = self._open.get(symbol)
        if not orders:
            return
        if kind == "trade":
            self._match_trade(event, orders)  # type: ignore[arg-type]
        elif kind == "bar":
            if symbol not in self._trade_symbols:
                self._match_bar(event, orders)  # type: ignore[arg-type]
        elif kind in ("quote", "book"):
            self._match_quote(event, orders)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that can still fill: resting ones and those still in flight."""
        return [o for o in self._orders.values()
                if not o.is_done and (symbol is None or o.symbol == symbol)]

    def stats(self) -> dict[str, Any]:
        """Counters for the report: submitted, fills (maker/taker), filled, cancelled,
        rejected, and ``rejections`` per code."""
        return {**self._counts, "rejections": dict(self._rejects),
                "open": sum(len(v) for v in self._open.values())}

    # ================================================================== arrival

    def _release(self, now: int) -> None:
        """Process every in-flight order whose arrival time has come."""
        pending = self._pending
        while pending and pending[0][0] <= now:
            order = heapq.heappop(pending)[2]
            if order.status == "new":
                self._arrive(order)

    def _arrive(self, order: Order, inst: Instrument | None = None) -> None:
        """The order reaches the matching engine: market-dependent checks, then fill or rest."""
        ctx = self.ctx
        if inst is None:
            inst = ctx.instruments.get(order.symbol)
        st = ctx.market.get(order.symbol)
        if order.reduce_only:
            avail = self._reducible(order, inst)
            if avail <= 0.0:
                self._reject(order, "reduce_only_no_position",
                             f"no {'long' if order.side == 'sell' else 'short'} account "
                             f"position in {order.symbol} to reduce")
                return
            if order.qty > avail * (1.0 + _EPS):
                order.reason = f"reduce_only_clipped: {order.qty:g} -> {avail:g}"
                order.qty = avail
        if order.order_type == "market":
            self._arrive_market(order, inst, st)
        elif order.order_type == "stop_market":
            self._arrive_stop(order, inst, st)
        else:
            self._arrive_limit(order, inst, st)

    def _reducible(self, order: Order, inst: Instrument | None = None) -> float:
        """Lot-rounded size of the opposite account position a reduce-only order may close."""
        pf = self.ctx.portfolio
        if pf is None:
            return 0.0
        net = pf.net_qty(order.symbol)
        avail = net if order.side == "sell" else -net
        if avail <= 0.0:
            return 0.0
        if inst is None:
            inst = self.ctx.instruments.get(order.symbol)
        return inst.round_qty(avail)

    def _check_minimum(self, order: Order, inst: Instrument, price: float) -> bool:
        """Reject (and return False) when the order is below the exchange minimum."""
        if not self.config.enforce_minimums or order.reduce_only:
            return True
        if inst.check_minimum(order.qty, price):
            return True
        self._reject(order, "below_exchange_minimum",
                     f"{order.qty:g} at {price:g} = {inst.notional(order.qty, price):.6g} "
                     f"{inst.quote}; {inst.describe_minimum(price)}")
        return False

    def _arrive_market(self, order: Order, inst: Instrument, st: SymbolState | None) -> None:
        buy = order.side == "buy"
        mode = self.config.market_fill
        book = st.book if st is not None else None
        price = 0.0
        liquidity = ""
        if mode in ("auto", "book") and book is not None and (book.ask if buy else book.bid) > 0:
            qty = order.qty
            vwap, filled = book.walk(order.side, qty)
            if filled >= qty * (1.0 - _EPS):
                price, liquidity = vwap, "taker_book"
            else:
                worst = book.levels("ask" if buy else "bid", len(book))[-1][0]
                price = (vwap * filled + worst * (qty - filled)) / qty
                liquidity = "taker_book_thin"
        elif mode in ("auto", "quote") and st is not None and (st.ask if buy else st.bid) > 0:
            price, liquidity = (st.ask if buy else st.bid), "taker_quote"
        elif mode in ("auto", "last") and st is not None and st.last > 0:
            slip = self.config.slippage_bps * 1e-4
            price = st.last * (1.0 + slip if buy else 1.0 - slip)
            liquidity = "taker_last"
        if price <= 0.0:
            source = {"auto": "no book, quote or last price", "book": "no L2 book",
                      "quote": "no best bid/ask", "last": "no last price"}[mode]
            self._reject(order, "no_price",
                         f"{source} for {order.symbol} yet (market_fill={mode!r})")
            return
        if not self._check_minimum(order, inst, price):
            return
        self._fill(order, inst, order.qty, price, False, liquidity)

    def _arrive_limit(self, order: Order, inst: Instrument, st: SymbolState | None) -> None:
        buy = order.side == "buy"
        limit = float(order.price)  # type: ignore[arg-type]
        book = st.book if st is not None else None
        touch = 0.0
        quoted = True
        if book is not None and (book.ask if buy else book.bid) > 0:
            touch = book.ask if buy else book.bid
        elif st is not None and (st.ask if buy else st.bid) > 0:
            touch = st.ask if buy else st.bid
            book = None
        elif st is not None and st.last > 0:
            touch, quoted, book = st.last, False, None
        if touch > 0.0:
            if quoted:
                crosses = limit >= touch if buy else limit <= touch
            else:
                crosses = limit > touch if buy else limit < touch
        else:
            crosses = False
        if not self._check_minimum(order, inst, limit):
            return
        if crosses:
            if order.post_only:
                where = "best ask" if buy and quoted else "best bid" if quoted else "last price"
                self._reject(order, "post_only_would_cross",
                             f"post-only {order.side} at {limit:g} would cross the {where} "
                             f"{touch:g}")
                return
            if book is not None:
                vwap, filled = _walk_limit(book, buy, order.qty, limit)
                if filled > 0.0:
                    self._fill(order, inst, filled, vwap, False, "taker_cross_book")
            elif quoted:
                self._fill(order, inst, order.qty, touch, False, "taker_cross_quote")
            else:
                slip = self.config.slippage_bps * 1e-4
                px = min(limit, touch * (1 + slip)) if buy else max(limit, touch * (1 - slip))
                self._fill(order, inst, order.qty, px, False, "taker_cross_last")
            if order.is_done:
                return
            order.queue_ahead = 0.0
        else:
            order.queue_ahead = _level_size(st, buy, limit)
        if order.filled <= 0.0:
            order.status = "open"
        self._open.setdefault(order.symbol, {})[order.order_id] = order
        self.idle = False
        self._notify(order)

    def _arrive_stop(self, order: Order, inst: Instrument, st: SymbolState | None) -> None:
        """A stop rests until the market trades at or beyond its trigger (then: market)."""
        trigger = float(order.price)  # type: ignore[arg-type]
        last = st.last if st is not None else 0.0
        if last > 0.0 and ((last >= trigger) if order.side == "buy" else (last <= trigger)):
            self._arrive_market(order, inst, st)
            return
        order.status = "open"
        self.idle = False
        self._stops.setdefault(order.symbol, {})[order.order_id] = order
        self._notify(order)

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

    # ================================================================== matching

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
                queue = o.queue_ahead
                if queue > 0.0 and room > 0.0:
                    used = min(queue, room)
                    o.queue_ahead = queue - used if queue - used > _EPS * queue else 0.0
                    room -= used
                liquidity = "maker_trade_touch"
            else:
                liquidity = "maker_trade_through"
            if room <= 0.0:
                continue
            if partial:
                qty = min(o.remaining, room)
            else:
                seen = self._touch.get(o.order_id, 0.0) + room
                if seen < o.remaining * (1.0 - _EPS):
                    self._touch[o.order_id] = seen
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
        no_trades = symbol not in self._trade_symbols
        partial = self.config.partial_fills
        inst = self.ctx.instruments.get(symbol)
        for o in list(orders.values()):
            p = o.price
            if p is None:
                continue
            buy = o.side == "buy"
            if o.queue_ahead > 0.0:
                if book is not None:
                    level = book.size_at("bid" if buy else "ask", p)
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

    def _clip_reduce_only(self, order: Order, qty: float) -> float:
        """Limit a reduce-only fill to the opposite account position; cancel when none."""
        if not order.reduce_only:
            return qty
        avail = self._reducible(order)
        if avail <= 0.0:
            self._finish(order, "cancelled",
                         f"reduce_only_no_position: the {order.symbol} position is closed")
            return 0.0
        return min(qty, avail)

    # ================================================================== fills & status

    def _fill(self, order: Order, inst: Instrument, qty: float, price: float, maker: bool,
              liquidity: str) -> float:
        """Execute ``qty`` of ``order`` at ``price``; report it; return the quantity filled."""
        remaining = order.qty - order.filled
        if qty >= remaining * (1.0 - _EPS):
            qty = remaining
        else:
            qty = inst.round_qty(qty)
            if qty <= 0.0:
                return 0.0
        cfg = self.config
        if maker:
            rate = cfg.maker_fee if cfg.maker_fee is not None else inst.maker_fee
        else:
            rate = cfg.taker_fee if cfg.taker_fee is not None else inst.taker_fee
        fee = inst.notional(qty, price) * rate
        ctx = self.ctx
        filled = order.filled + qty
        order.avg_price = (order.avg_price * order.filled + price * qty) / filled
        order.filled = filled
        order.fee += fee
        fill = Fill(ctx.next_id(), order.order_id, order.strategy_id, order.symbol, order.side,
                    qty, price, fee, maker, ctx.now, order.signal_id, order.expected_price,
                    liquidity)
        counts = self._counts
        counts["fills"] += 1
        counts["maker_fills" if maker else "taker_fills"] += 1
        done = qty >= remaining
        if not done:
            order.status = "partially_filled"
        sink = ctx.sink
        if sink is not None:
            sink.on_fill(fill, order)
        if done:
            self._finish(order, "filled", "")
        return qty

    def _finish(self, order: Order, status: str, reason: str) -> None:
        """Move ``order`` to a final status, forget it and report the change."""
        order.status = status
        if reason:
            order.reason = reason
        order.done_ts = self.ctx.now
        self._counts[status] += 1
        oid = order.order_id
        self._orders.pop(oid, None)
        if self._touch:
            self._touch.pop(oid, None)
        book = self._open.get(order.symbol)
        if book is not None and book.pop(oid, None) is not None and not book:
            del self._open[order.symbol]
        stops = self._stops.get(order.symbol)
        if stops is not None and stops.pop(oid, None) is not None and not stops:
            del self._stops[order.symbol]
        self._notify(order)

    def _reject(self, order: Order, code: str, message: str) -> Order:
        """Reject ``order`` with ``reason = "code: message"``."""
        self._rejects[code] = self._rejects.get(code, 0) + 1
        self._finish(order, "rejected", f"{code}: {message}" if message else code)
        return order

    def _notify(self, order: Order) -> None:
        sink = self.ctx.sink
        if sink is not None:
            sink.on_order_update(order)


# ====================================================================== helpers


def _level_size(st: SymbolState | None, buy: bool, price: float) -> float:
    """Size resting at ``price`` on our side: from the book, else the best quote, else 0."""
    if st is None:
        return 0.0
    book = st.book
    if book is not None:
        return book.size_at("bid" if buy else "ask", price)
    if buy and price == st.bid:
        return st.bid_size
    if not buy and price == st.ask:
        return st.ask_size
    return 0.0


def _walk_limit(book: Any, buy: bool, qty: float, limit: float) -> tuple[float, float]:
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
