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
Cancels and amends (``amend: true`` amends limits in place; default: the kernel cancels and
replaces) take ``cancel_latency_ms`` to arrive, during which the order can still fill
(:mod:`hean_framework.execution.order_ops` has the rules and the queue effects).

**Rejections** set ``order.status = "rejected"`` and ``order.reason = "<code>: <details>"``
(the code is ``order.reason.split(":")[0]``): ``unknown_symbol``, ``invalid_qty`` (≤ 0 or not on
the lot grid), ``invalid_price`` (limit price missing, ≤ 0 or off the tick grid),
``invalid_order_type``, ``below_exchange_minimum`` (details from
:meth:`~hean_framework.instruments.Instrument.describe_minimum`), ``reduce_only_no_position``,
``post_only_would_cross``, ``no_price`` (no market data yet, or no book/quote for an explicit
``market_fill`` mode).  Reduce-only orders are exempt from the exchange minimums (exchanges
accept closing dust) and are clipped to the opposite position *of the strategy that owns the
order* on arrival and again at every fill (a reduce-only order whose position is gone is
cancelled with reason ``reduce_only_no_position``).  Reduce-only is per strategy because
several strategies share one account: when one is long 1 BTC and another short 0.5 BTC the
account nets to 0.5, and an account-level clip would let the first close only half of its
position.  A live venue sends the exchange's reduce-only flag only where the account position
covers the order (otherwise a plain order of the same size, which the strategy books prove
cannot open a position for the strategy).

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
(``>`` the last price when no quote is known), mirrored for sells.  The best bid/ask is the
freshest one the market state has (best bid/offer rows and L2 updates both set it, in time
order): a recorded L2 book updated every ~100 ms often lags the BBO stream, and its stale top
must neither reject a post-only order nor fill a limit; when the book's top differs from
that touch, a crossing limit fills at the touch as with a quote only.

**Resting orders** (limits and stops) are matched against every market event by
:mod:`hean_framework.execution.matching` (its docstring has the rules: trades, bars, quotes and
books, queue position, stops).

**Spot** (:mod:`hean_framework.execution.spot`): a spot sell beyond the account's free
holdings is rejected ``insufficient_balance`` unless ``spot_margin`` is on (then the short is
borrowed and pays an hourly borrow cost, ``spot_borrow_rate`` per day).

**Size limits, margin and liquidation** (rejections ``above_max_qty``, ``above_max_notional``,
``insufficient_margin`` at submit; positions closed by the venue) are kept by the venue's
:mod:`hean_framework.execution.margin_desk` (its docstring has the rules the venue applies),
with the rules and the math in :mod:`hean_framework.execution.margin`.  A quantity that is not
a finite number is ``invalid_qty``.

Speed: :meth:`on_market` is called for every market event; with no open or pending order and
no position that can be liquidated it returns after one truthiness check.
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from ..components import ComponentConfig, Venue
from ..errors import ConfigError
from ..models import Fill, MarketEvent, Order
from .margin import MarginRules
from .margin_desk import MarginDesk
from .matching import EPS, Matcher, walk_limit
from .order_ops import OrderOps
from .spot import SpotDesk

if TYPE_CHECKING:
    from ..context import RunContext
    from ..instruments import Instrument
    from ..market import SymbolState

__all__ = ["MAKER_FEE_BOUNDS", "REJECT_CODES", "TAKER_FEE_BOUNDS", "SimVenueConfig",
           "SimulatedVenue"]

#: Every rejection / cancellation code this venue can put in front of ``order.reason``.
REJECT_CODES = ("unknown_symbol", "invalid_qty", "invalid_price", "invalid_order_type",
                "below_exchange_minimum", "reduce_only_no_position", "post_only_would_cross",
                "no_price", "above_max_qty", "above_max_notional", "insufficient_margin",
                "insufficient_balance")
#: Sane fee rates (fractions): a maker rebate up to 1 %, no taker rebate, at most 1 %.
MAKER_FEE_BOUNDS = (-0.01, 0.01)
TAKER_FEE_BOUNDS = (0.0, 0.01)

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
        default=None, ge=MAKER_FEE_BOUNDS[0], le=MAKER_FEE_BOUNDS[1],
        description="override of the maker rate (fraction in [-0.01, 0.01]; < 0 = rebate)")
    taker_fee: float | None = Field(
        default=None, ge=TAKER_FEE_BOUNDS[0], le=TAKER_FEE_BOUNDS[1],
        description="override of the instrument's taker rate (fraction in [0, 0.01])")
    bar_touch_fills: bool = Field(
        default=False, description="bar-only data: a bar touching the limit price fills it")
    enforce_minimums: bool = Field(
        default=True, description="reject orders below the exchange minimum qty/notional")
    partial_fills: bool = Field(
        default=True, description="limit trade-driven fills by the recorded trade size")
    margin: Literal["auto", "on", "off"] = Field(
        default="auto", description="initial-margin check and liquidation: auto = on in every "
        "engine run (off for a venue built on a bare RunContext), on, off")
    leverage: float = Field(
        default=10.0, ge=1.0, le=125.0, description="account leverage for the initial margin "
        "(capped by the instrument's maximum where the metadata gives one; spot: 1)")
    maintenance_margin_rate: float = Field(
        default=0.005, gt=0.0, le=0.5, description="maintenance margin / notional where the "
        "metadata has no rate")
    liquidation_fee: float | None = Field(
        default=None, ge=0.0, le=0.05, description="fee rate of liquidation fills where the "
        "metadata has none (default: the taker fee)")
    cancel_latency_ms: int = Field(
        default=0, ge=0, description="delay before a cancel or an amend reaches the venue "
        "(ms); the order can still fill at its old price and size until then")
    amend: bool = Field(
        default=False, description="amend resting limit orders in place (price and/or "
        "quantity, like an exchange's modify-order); off: the kernel cancels and replaces")
    spot_margin: bool = Field(
        default=False, description="spot margin mode: spot sells beyond holdings borrow the "
        "base asset (hourly borrow cost); off: they are rejected insufficient_balance")
    spot_borrow_rate: float = Field(
        default=0.0002, ge=0.0, le=0.01, description="daily borrow rate of spot shorts in "
        "margin mode, charged hourly (0.0002 = 2 bp/day)")

    @model_validator(mode="after")
    def _maintenance_below_initial(self) -> SimVenueConfig:
        if self.maintenance_margin_rate * self.leverage >= 1.0:
            raise ValueError(
                f"maintenance_margin_rate {self.maintenance_margin_rate:g} x leverage "
                f"{self.leverage:g} >= 1: a position opened at full leverage would be "
                "liquidated at once; lower one of them")
        return self


class SimulatedVenue(Venue):
    """Deterministic matching engine over recorded market data (see the module docstring)."""

    config_model = SimVenueConfig

    def __init__(self, config: SimVenueConfig | None, ctx: RunContext, name: str = "") -> None:
        super().__init__(config if config is not None else SimVenueConfig(), ctx, name or "sim")
        self.config: SimVenueConfig
        # The order tables below are shared with the matcher and the margin desk: mutate them,
        # never rebind them.
        #: resting orders per symbol (open / partially filled); symbols without orders absent
        self._open: dict[str, dict[int, Order]] = {}
        #: orders in flight: heap of (arrival_ts, seq, order); cancelled ones are skipped
        self._pending: list[tuple[int, int, Order]] = []
        #: every live order (pending or resting) by id
        self._orders: dict[int, Order] = {}
        self._seq = itertools.count()
        self._counts: dict[str, int] = {"submitted": 0, "fills": 0, "maker_fills": 0,
                                        "taker_fills": 0, "filled": 0, "cancelled": 0,
                                        "rejected": 0}
        self._rejects: dict[str, int] = {}
        #: resting stop orders per symbol (``stop_market``: trigger price in ``order.price``)
        self._stops: dict[str, dict[int, Order]] = {}
        self.idle = True
        cfg = self.config
        #: margin check and liquidation on (see :mod:`~hean_framework.execution.margin_desk`)
        self.margin_on = cfg.margin == "on" or (cfg.margin == "auto" and ctx.config is not None)
        #: True while some position can be liquidated: the desk's ``watch``, mirrored here (by
        #: :meth:`_set_watch`) so that the idle path reads one attribute of the venue
        self._watch = False
        self._matcher = Matcher(ctx, cfg, open_orders=self._open, stops=self._stops,
                                fill=self._fill, clip_reduce_only=self._clip_reduce_only,
                                arrive_market=self._arrive_market)
        self._desk = desk = MarginDesk(
            ctx, cfg, on=self.margin_on, orders=self._orders, stops=self._stops,
            reject=self._reject, fill=self._fill, finish=self._finish,
            market_price=self._market_price, on_watch=self._set_watch)
        #: spot holdings, margin mode and borrow cost (:mod:`~hean_framework.execution.spot`)
        self._spot = SpotDesk(ctx, margin=cfg.spot_margin, borrow_rate=cfg.spot_borrow_rate,
                              orders=self._orders)
        #: cancels and amends, with their latency (:mod:`~hean_framework.execution.order_ops`)
        self._ops = OrderOps(ctx, self._matcher, self._orders, self._finish,
                             cfg.cancel_latency_ms)
        self.can_amend = cfg.amend
        if ctx.instruments is not None:
            self._check_fees()
        pf = ctx.portfolio
        if self.margin_on and pf is not None:
            pf.funding_listeners.append(desk.update_watch)
            pf.borrow_listeners.append(lambda _s, _y, _a: desk.update_watch())

    def _check_fees(self) -> None:
        """Refuse instrument fee rates outside the sane bounds (a ConfigError naming the YAML
        path when ``venue.instruments`` set them, else the metadata source)."""
        ctx = self.ctx
        cfg = self.config
        venue_raw = getattr(ctx.config, "venue", None)
        specs = venue_raw.get("instruments") if isinstance(venue_raw, dict) else None
        specs = specs if isinstance(specs, dict) else {}
        problems: list[str] = []
        for inst in ctx.instruments.values():
            for field, bounds, override in (("maker_fee", MAKER_FEE_BOUNDS, cfg.maker_fee),
                                            ("taker_fee", TAKER_FEE_BOUNDS, cfg.taker_fee)):
                if override is not None:
                    continue  # the venue's own rate is used (validated by its model)
                rate = getattr(inst, field)
                if bounds[0] <= rate <= bounds[1]:
                    continue
                spec = specs.get(inst.symbol)
                if isinstance(spec, dict) and spec.get(field) is not None:
                    where = f"venue.instruments.{inst.symbol}.{field}"
                else:
                    where = f"{inst.symbol} {field} (from {ctx.instruments.source})"
                problems.append(f"{where}: {rate!r} is outside [{bounds[0]:g}, {bounds[1]:g}] "
                                "(a fraction: 0.0004 = 4 bp)")
        if problems:
            raise ConfigError(problems, getattr(ctx.run, "config_path", "") or "",
                              "fees are fractions of the notional; a maker rebate is negative")

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
        if not 0.0 < order.qty < math.inf or not inst.is_qty_on_grid(order.qty):
            return self._reject(order, "invalid_qty",
                                f"quantity {order.qty!r} must be a finite number > 0 and a "
                                f"multiple of the lot size {inst.lot_size} (use "
                                "instrument.round_qty)")
        if typ != "market" and (order.price is None or not 0.0 < order.price < math.inf
                                or not inst.is_price_on_grid(order.price)):
            return self._reject(order, "invalid_price",
                                f"limit price {order.price!r} must be > 0 and a multiple of the "
                                f"tick size {inst.tick_size} (use instrument.round_price)")
        if inst.type == "spot":
            why = self._spot.refusal(order, inst)
            if why:
                return self._reject(order, "insufficient_balance", why)
        if not order.reduce_only and not self._desk.check_order(order, inst):
            return order
        self._orders[order.order_id] = order
        if arrival <= now:
            self._arrive(order, inst)
        else:
            heapq.heappush(self._pending, (arrival, next(self._seq), order))
            self.idle = False
        return order

    def cancel(self, order_id: int, reason: str = "") -> Order | None:
        """Cancel a pending or resting order; None when unknown or already done.

        With ``cancel_latency_ms`` a resting order stays live (and can fill) until the cancel
        arrives; an order still in flight is cancelled at once."""
        order = self._orders.get(order_id)
        if order is None or order.is_done:
            return None
        self._ops.cancel(order, reason or "cancelled")
        return order

    def amend(self, order_id: int, *, qty: float | None = None,
              price: float | None = None) -> Order | None:
        """Change a live limit order's price and/or total quantity in place (``amend: true``;
        queue and latency rules in :mod:`~hean_framework.execution.order_ops`).  None when the
        order is unknown, done, not a limit, or ``qty`` is not above what already filled."""
        order = self._orders.get(order_id)
        if order is None or order.is_done or order.order_type != "limit" or (
                qty is not None and not order.filled < qty < math.inf):
            return None
        self._ops.amend(order, qty, price)
        return order

    def in_flight(self, order_id: int) -> bool:
        """Whether a cancel or an amend of the order has not reached the venue yet."""
        return self._ops.in_flight(order_id)

    def on_market(self, event: MarketEvent) -> None:
        """Release orders whose latency elapsed, match resting orders against ``event``, then
        liquidate when equity reached the maintenance margin."""
        if not self._open and not self._pending and not self._stops:
            if self._watch:
                self._desk.check_liquidation(event, False)
            else:
                self.idle = True
            return
        pending = self._pending
        if pending and self.ctx.now >= pending[0][0]:
            self._release(self.ctx.now)
        ops = self._ops.heap
        if ops and self.ctx.now >= ops[0][0]:
            self._ops.release(self.ctx.now)
        if self._watch and event.kind == "bar" and self._desk.check_liquidation(event, True):
            return  # liquidated inside the bar before any resting order could fill
        self._matcher.match(event)
        if self._watch:
            self._desk.check_liquidation(event, False)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that can still fill: resting ones and those still in flight."""
        return [o for o in self._orders.values()
                if not o.is_done and (symbol is None or o.symbol == symbol)]

    def stats(self) -> dict[str, Any]:
        """Counters for the report: submitted, fills (maker/taker), filled, cancelled,
        rejected, ``rejections`` per code, ``liquidations`` (positions closed by the venue)
        and, when there were any, ``liquidation_events``; ``margin`` says whether margin was
        checked and at which leverage."""
        out = {**self._counts, "liquidations": self._desk.positions_closed,
               "rejections": dict(self._rejects),
               "open": sum(len(v) for v in self._open.values()),
               "margin": {"on": self.margin_on, "leverage": self.config.leverage}}
        liquidations = self._desk.liquidations
        if liquidations:
            out["liquidation_events"] = list(liquidations)
        return out

    def margin_rules(self, symbol: str) -> MarginRules:
        """The margin and size rules the venue applies to ``symbol``."""
        return self._desk.rules(symbol)

    def margin_state(self) -> dict[str, float]:
        """``equity``, ``initial_margin`` (positions and open orders) and
        ``maintenance_margin`` of the account now, quote currency."""
        return self._desk.state()

    @property
    def liquidations(self) -> list[dict[str, Any]]:
        """One record per liquidation (``ts``, ``symbol``, ``price``, ``liquidation_price``,
        ``equity``, ``maintenance_margin``, ``fees``, ``equity_after``, ``closed``)."""
        return self._desk.liquidations

    def _set_watch(self, watch: bool) -> None:
        """The margin desk's news: some position can (no longer) be liquidated."""
        self._watch = watch
        if watch:
            self.idle = False

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
                             f"{order.strategy_id} has no "
                             f"{'long' if order.side == 'sell' else 'short'} position in "
                             f"{order.symbol} to reduce")
                return
            if order.qty > avail * (1.0 + EPS):
                order.reason = f"reduce_only_clipped: {order.qty:g} -> {avail:g}"
                order.qty = avail
        if order.order_type == "market":
            self._arrive_market(order, inst, st)
        elif order.order_type == "stop_market":
            self._arrive_stop(order, inst, st)
        else:
            self._arrive_limit(order, inst, st)

    def _reducible(self, order: Order, inst: Instrument | None = None) -> float:
        """Lot-rounded size of the owning strategy's opposite position a reduce-only order may
        close (HEAN's reduce-only is per strategy: see the module docstring)."""
        pf = self.ctx.portfolio
        if pf is None:
            return 0.0
        net = pf.position_qty(order.strategy_id, order.symbol)
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

    def _market_price(self, side: str, qty: float, st: SymbolState | None
                      ) -> tuple[float, str]:
        """``(price, liquidity)`` of a market order of ``qty`` now (``(0.0, "")``: none)."""
        buy = side == "buy"
        mode = self.config.market_fill
        book = st.book if st is not None else None
        if mode in ("auto", "book") and book is not None and (book.ask if buy else book.bid) > 0:
            vwap, filled = book.walk(side, qty)
            if filled >= qty * (1.0 - EPS):
                return vwap, "taker_book"
            worst = book.levels("ask" if buy else "bid", len(book))[-1][0]
            return (vwap * filled + worst * (qty - filled)) / qty, "taker_book_thin"
        if mode in ("auto", "quote") and st is not None and (st.ask if buy else st.bid) > 0:
            return (st.ask if buy else st.bid), "taker_quote"
        if mode in ("auto", "last") and st is not None and st.last > 0:
            slip = self.config.slippage_bps * 1e-4
            return st.last * (1.0 + slip if buy else 1.0 - slip), "taker_last"
        return 0.0, ""

    def _arrive_market(self, order: Order, inst: Instrument, st: SymbolState | None) -> None:
        mode = self.config.market_fill
        price, liquidity = self._market_price(order.side, order.qty, st)
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
        if st is not None and (st.ask if buy else st.bid) > 0:
            # the freshest touch: quotes and L2 updates both set it, in time order
            touch = st.ask if buy else st.bid
            if book is not None and (book.ask if buy else book.bid) != touch:
                book = None  # the book lags the quote: no walk through its stale levels
        elif book is not None and (book.ask if buy else book.bid) > 0:
            touch = book.ask if buy else book.bid
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
                vwap, filled = walk_limit(book, buy, order.qty, limit)
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
            self._matcher.queue_at(order, st)
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

    def _clip_reduce_only(self, order: Order, qty: float) -> float:
        """Limit a reduce-only fill to the owner's opposite position; cancel when none."""
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
              liquidity: str, fee: float | None = None) -> float:
        """Execute ``qty`` of ``order`` at ``price``; report it; return the quantity filled.

        ``fee``: the fee of this fill when the venue sets it (liquidations), else the maker or
        taker rate × notional."""
        remaining = order.qty - order.filled
        if qty >= remaining * (1.0 - EPS):
            qty = remaining
        else:
            qty = inst.round_qty(qty)
            if qty <= 0.0:
                return 0.0
        if fee is None:
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
        if self.margin_on:
            self._desk.update_watch()
        if self._spot.margin:
            self._spot.after_fill(inst)
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
        matcher = self._matcher
        if matcher.touch or matcher.level:  # queue state exists (resting limits only)
            matcher.forget(oid)
        if self._open:
            book = self._open.get(order.symbol)
            if book is not None and book.pop(oid, None) is not None and not book:
                del self._open[order.symbol]
        if self._stops:
            stops = self._stops.get(order.symbol)
            if stops is not None and stops.pop(oid, None) is not None and not stops:
                del self._stops[order.symbol]
        sink = self.ctx.sink
        if sink is not None:
            sink.on_order_update(order)

    def _reject(self, order: Order, code: str, message: str) -> Order:
        """Reject ``order`` with ``reason = "code: message"``."""
        self._rejects[code] = self._rejects.get(code, 0) + 1
        self._finish(order, "rejected", f"{code}: {message}" if message else code)
        return order

    def _notify(self, order: Order) -> None:
        sink = self.ctx.sink
        if sink is not None:
            sink.on_order_update(order)
