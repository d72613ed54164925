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

**Size limits** (at submit, every order but reduce-only ones, like the minimums):
``above_max_qty`` (the instrument's ``max_qty``, e.g. 1000 BTC on Binance USD-M BTCUSDT; its
``max_market_qty`` for market orders where the metadata has one) and ``above_max_notional``
(its ``max_notional`` where the metadata has one).  A quantity that is not a finite number is
``invalid_qty``.

**Margin and liquidation** (:mod:`hean_framework.execution.margin` has the rules and the
math): one cross-margin account.  At submit -- whatever the latency, so the decision that sent
the order sees the refusal at once -- an order that would take the account's initial margin
(Σ over symbols of the worst-case notional of position and open orders / leverage) above
equity is rejected ``insufficient_margin: needs X USDT initial margin at Nx, free Y``.  The
leverage is ``venue.leverage`` (default 10, 1..125) capped by the instrument's maximum where the
metadata gives one (spot: 1).  Reduce-only orders and orders that lower the margin are never
refused.  The builtin ``plain`` executor turns the three size/margin rejections
(:data:`~hean_framework.execution.margin.SIZE_REJECTS`) into the signal's decision: BLOCK
``INSUFFICIENT_MARGIN`` / ``ABOVE_MAX_QTY`` / ``ABOVE_MAX_NOTIONAL`` with the venue's message
(other executors see the rejected order as any other rejection; the venue counts it in
``rejections``).

When equity falls to the maintenance margin (Σ |notional| × the instrument's maintenance rate, else
``maintenance_margin_rate`` 0.005), every resting order is cancelled and every position is closed
by the venue: reduce-only market orders tagged ``LIQUIDATION`` (fills with liquidity
``liquidation``), fee = the instrument's liquidation fee, else ``liquidation_fee``, else the taker
fee, never more than the equity left.  The price: on a bar, the liquidation price inside the bar's
range (the bar's open when it gapped beyond it), rounded to the tick against the account, then
``slippage_bps``; on trades/quotes/books, the current taker price.  Each liquidation is journaled
(event ``liquidation``) and listed in :meth:`SimulatedVenue.stats` (``liquidations``,
``liquidation_events``; the report's ``components["venue:sim"]``).  Within one bar a protective
stop that triggers before the liquidation price fills first.  A gap through the liquidation price
can still cost more than the equity (no insurance fund here).  The venue watches prices only while
a position can be liquidated at all (a short, or longs bought with borrowed cash); an account of
unlevered longs keeps the idle fast path.  ``margin: auto`` (default) applies all this in every
engine run (``ctx.config`` set); a venue built on a bare ``RunContext(config=None)``
(matching-engine unit tests) applies it only with ``margin: on``; ``margin: off`` never.

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
from ..models import Bar, Fill, MarketEvent, Order, Quote, Trade
from .margin import LIQUIDATION, MarginRules, initial_margin, liquidation_price, rules_for

if TYPE_CHECKING:
    from ..context import RunContext
    from ..instruments import Instrument
    from ..market import SymbolState

__all__ = ["MAKER_FEE_BOUNDS", "REJECT_CODES", "TAKER_FEE_BOUNDS", "SimVenueConfig",
           "SimulatedVenue"]

#: Every rejection / cancellation code this venue can put in front of ``order.reason``.
REJECT_CODES = ("unknown_symbol", "invalid_qty", "invalid_price", "invalid_order_type",
                "below_exchange_minimum", "reduce_only_no_position", "post_only_would_cross",
                "no_price", "above_max_qty", "above_max_notional", "insufficient_margin")
#: Sane fee rates (fractions): a maker rebate up to 1 %, no taker rebate, at most 1 %.
MAKER_FEE_BOUNDS = (-0.01, 0.01)
TAKER_FEE_BOUNDS = (0.0, 0.01)

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
        cfg = self.config
        #: margin check and liquidation on (see the module docstring, ``margin``)
        self.margin_on = cfg.margin == "on" or (cfg.margin == "auto" and ctx.config is not None)
        self._rules: dict[str, MarginRules] = {}
        #: True while some position can be liquidated (the venue then sees every event)
        self._watch = False
        #: ``(symbol, liquidation price)`` while only that symbol has a position
        self._liq_one: tuple[str, float] | None = None
        self._counts["liquidations"] = 0
        self.liquidations: list[dict[str, Any]] = []
        if ctx.instruments is not None:
            self._check_fees()
        pf = ctx.portfolio
        if self.margin_on and pf is not None:
            pf.funding_listeners.append(self._update_watch)

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
        if not order.reduce_only and not self._check_size_and_margin(order, inst):
            return order
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
        """Release orders whose latency elapsed, match resting orders against ``event``, then
        liquidate when equity reached the maintenance margin."""
        if not self._open and not self._pending and not self._stops:
            if self._watch:
                self._check_liquidation(event, False)
            else:
                self.idle = True
            return
        pending = self._pending
        if pending and self.ctx.now >= pending[0][0]:
            self._release(self.ctx.now)
        if self._watch and event.kind == "bar" and self._check_liquidation(event, True):
            return  # liquidated inside the bar before any resting order could fill
        self._match(event)
        if self._watch:
            self._check_liquidation(event, False)

    def _match(self, event: MarketEvent) -> None:
        """Match the resting orders of the event's symbol against it."""
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
        rejected, ``rejections`` per code, ``liquidations`` (positions closed by the venue)
        and, when there were any, ``liquidation_events``; ``margin`` says whether margin was
        checked and at which leverage."""
        out = {**self._counts, "rejections": dict(self._rejects),
               "open": sum(len(v) for v in self._open.values()),
               "margin": {"on": self.margin_on, "leverage": self.config.leverage}}
        if self.liquidations:
            out["liquidation_events"] = list(self.liquidations)
        return out

    def margin_rules(self, symbol: str) -> MarginRules:
        """The margin and size rules the venue applies to ``symbol``."""
        rules = self._rules.get(symbol)
        if rules is None:
            inst = self.ctx.instruments.get(symbol)
            cfg = self.config
            rules = self._rules[symbol] = rules_for(
                inst, leverage=cfg.leverage, maintenance_rate=cfg.maintenance_margin_rate,
                liquidation_fee=cfg.liquidation_fee,
                taker_fee=cfg.taker_fee if cfg.taker_fee is not None else inst.taker_fee)
        return rules

    def margin_state(self) -> dict[str, float]:
        """``equity``, ``initial_margin`` (positions and open orders) and
        ``maintenance_margin`` of the account now, quote currency."""
        pf = self.ctx.portfolio
        im = sum(self._symbol_margin(s)[0] for s in self._margin_symbols())
        mm = 0.0
        for sym, q in pf.account_positions():
            inst = self.ctx.instruments.get(sym)
            mm += abs(q) * inst.contract_size * pf.price(sym) \
                * self.margin_rules(sym).maintenance_rate
        return {"equity": pf.equity(), "initial_margin": im, "maintenance_margin": mm}

    # ================================================================== size & margin

    def _check_size_and_margin(self, order: Order, inst: Instrument) -> bool:
        """Size limits and the initial-margin check at submit; reject and return False when
        the order breaks one (reduce-only orders are not checked)."""
        rules = self.margin_rules(order.symbol)
        qty = order.qty
        unit = inst.base if inst.contract_size == 1.0 else "contracts"
        if rules.max_qty and qty > rules.max_qty * (1.0 + _EPS):
            self._reject(order, "above_max_qty",
                         f"{qty:g} {unit} > the {_exchange(inst)} {order.symbol} maximum order "
                         f"quantity {rules.max_qty:.10g}")
            return False
        if order.order_type == "market" and rules.max_market_qty \
                and qty > rules.max_market_qty * (1.0 + _EPS):
            self._reject(order, "above_max_qty",
                         f"market order of {qty:g} {unit} > the {_exchange(inst)} "
                         f"{order.symbol} maximum market order quantity "
                         f"{rules.max_market_qty:.10g}")
            return False
        pf = self.ctx.portfolio
        mark = pf.price(order.symbol) if pf is not None else 0.0
        if not mark > 0.0:
            st = self.ctx.market.get(order.symbol)
            mark = st.price if st is not None else 0.0
        price = order.price if order.order_type != "market" and order.price else mark
        if not price > 0.0:
            return True  # no price yet: the arrival says no_price
        notional = inst.notional(qty, price)
        if rules.max_notional and notional > rules.max_notional * (1.0 + _EPS):
            self._reject(order, "above_max_notional",
                         f"{qty:g} at {price:g} = {notional:.2f} {inst.quote} > the "
                         f"{_exchange(inst)} {order.symbol} maximum order value "
                         f"{rules.max_notional:.10g} {inst.quote}")
            return False
        if not self.margin_on or pf is None:
            return True
        lev = rules.leverage
        sym = order.symbol
        if self._orders:
            pos_n, buys, sells = self._exposure(sym)
        else:  # nothing live: the position alone
            pos_n, buys, sells = inst.notional(pf.net_qty(sym), mark), 0.0, 0.0
        before_sym = initial_margin(pos_n, buys, sells, lev)
        if order.side == "buy":
            buys += notional
        else:
            sells += notional
        after_sym = initial_margin(pos_n, buys, sells, lev)
        need = after_sym - before_sym
        if need <= 1e-9 * (after_sym + 1.0):
            return True  # the order does not raise the margin (a reduction, a reversal's close)
        used = before_sym
        for other in self._margin_symbols():
            if other != sym:
                used += self._symbol_margin(other)[0]
        equity = pf.equity()
        if used + need <= equity:
            return True
        self._reject(order, "insufficient_margin",
                     f"needs {need:.2f} {inst.quote} initial margin at {lev:g}x, free "
                     f"{equity - used:.2f} (equity {equity:.2f}, used {used:.2f}; "
                     f"{qty:g} {order.symbol} at {price:g} = {notional:.2f} {inst.quote})")
        return False

    def _margin_symbols(self) -> set[str]:
        """Symbols with a position or a live order that counts for the margin."""
        out = {s for s, _ in self.ctx.portfolio.account_positions()}
        if self._orders:
            out.update(o.symbol for o in self._orders.values() if not o.reduce_only)
        return out

    def _exposure(self, symbol: str) -> tuple[float, float, float]:
        """``(signed position notional, open buy notional, open sell notional)`` of
        ``symbol``: position at the current price, orders (not reduce-only) at their own."""
        pf = self.ctx.portfolio
        inst = self.ctx.instruments.get(symbol)
        mark = pf.price(symbol)
        pos_n = inst.notional(pf.net_qty(symbol), mark)
        buys = sells = 0.0
        for o in self._orders.values():
            if o.symbol != symbol or o.reduce_only or o.is_done:
                continue
            px = o.price if o.order_type != "market" and o.price else mark
            n = inst.notional(o.qty - o.filled, px)
            if o.side == "buy":
                buys += n
            else:
                sells += n
        return pos_n, buys, sells

    def _symbol_margin(self, symbol: str) -> tuple[float, float]:
        """``(initial margin, leverage)`` of ``symbol`` now."""
        lev = self.margin_rules(symbol).leverage
        return initial_margin(*self._exposure(symbol), lev), lev

    # ================================================================== liquidation

    def _update_watch(self) -> None:
        """After a fill or a funding payment: can any position be liquidated at all?

        Equity − maintenance margin falls with a short's price without bound; with longs only
        it is smallest at price 0, where it equals cash: unlevered longs (cash > 0) can never
        be liquidated and the venue may stay idle."""
        if not self.margin_on:
            return
        pf = self.ctx.portfolio
        positions = pf.account_positions()
        watch = bool(positions) and (pf.cash <= 0.0 or any(q < 0.0 for _, q in positions))
        if not watch and not self._watch:
            return
        self._watch = watch
        self._liq_one = None
        if watch:
            self.idle = False
            if len(positions) == 1:
                sym, q = positions[0]
                self._liq_one = (sym, self._liquidation_price(sym, q))

    def _liquidation_price(self, symbol: str, qty: float) -> float:
        """Price of ``symbol`` at which equity = maintenance margin (others at their price)."""
        pf = self.ctx.portfolio
        instruments = self.ctx.instruments
        rest = pf.cash
        for sym, q in pf.account_positions():
            if sym != symbol:
                rate = self.margin_rules(sym).maintenance_rate
                rest += instruments.get(sym).contract_size * (q - abs(q) * rate) * pf.price(sym)
        inst = instruments.get(symbol)
        return liquidation_price(rest, qty, inst.contract_size,
                                 self.margin_rules(symbol).maintenance_rate)

    def _check_liquidation(self, event: MarketEvent, first: bool) -> bool:
        """Liquidate when ``event`` took the account to its maintenance margin.

        ``first`` (bars, before matching): only when no protective stop of the symbol
        triggers before the liquidation price (that stop would fill first).
        :returns: True when the account was liquidated.
        """
        sym = event.symbol
        pf = self.ctx.portfolio
        q = pf.net_qty(sym)
        if not q:
            return False
        kind = event.kind
        bar: Bar | None = None
        if kind == "bar":
            bar = event  # type: ignore[assignment]
            adverse = bar.low if q > 0.0 else bar.high  # type: ignore[union-attr]
        elif kind in ("trade", "quote", "book"):
            adverse = pf.price(sym)
        else:
            return False
        one = self._liq_one
        liq = one[1] if one is not None and one[0] == sym else self._liquidation_price(sym, q)
        long = q > 0.0
        if not (adverse <= liq if long else adverse >= liq):
            return False
        px: float | None = None
        if bar is not None:
            if first:
                for o in (self._stops.get(sym) or {}).values():
                    trig = o.price or 0.0
                    if o.reduce_only and ((o.side == "sell" and long and trig >= liq)
                                          or (o.side == "buy" and not long and trig <= liq)):
                        return False  # the stop comes first on the way to the liquidation
            # on the tick grid, rounded against the account (a sell down, a buy up)
            inst = self.ctx.instruments.get(sym)
            slip = self.config.slippage_bps * 1e-4
            if long:
                px = inst.round_price(min(liq, bar.open), "buy") * (1.0 - slip)
            else:
                px = inst.round_price(max(liq, bar.open), "sell") * (1.0 + slip)
        self._liquidate(sym, px, liq)
        return True

    def _liquidate(self, trigger: str, trigger_px: float | None, liq: float) -> None:
        """Cancel every live order and close every position (see the module docstring)."""
        ctx = self.ctx
        pf = ctx.portfolio
        instruments = ctx.instruments
        inst_t = instruments.get(trigger)
        q_t = pf.net_qty(trigger)
        if trigger_px is None:
            st = ctx.market.get(trigger)
            trigger_px = self._market_price("sell" if q_t > 0.0 else "buy", abs(q_t), st)[0] \
                or pf.price(trigger)
        shift = inst_t.notional(q_t, trigger_px) - inst_t.notional(q_t, pf.price(trigger))
        equity = pf.equity() + shift
        mm = 0.0
        for sym, q in pf.account_positions():
            px = trigger_px if sym == trigger else pf.price(sym)
            rate = self.margin_rules(sym).maintenance_rate
            mm += abs(instruments.get(sym).notional(q, px)) * rate
        reason = (f"liquidation: equity {equity:.2f} <= maintenance margin {mm:.2f} "
                  f"{inst_t.quote} at {trigger} {trigger_px:g} (liquidation price {liq:.6g})")
        for o in list(self._orders.values()):
            if not o.is_done:
                self._finish(o, "cancelled", reason)
        closed: list[dict[str, Any]] = []
        fees = 0.0
        order_syms = [trigger, *sorted(s for s, _ in pf.account_positions() if s != trigger)]
        for sym in order_syms:
            inst = instruments.get(sym)
            rules = self.margin_rules(sym)
            for pos in [p for p in pf.positions() if p.symbol == sym and p.qty]:
                side = "sell" if pos.qty > 0.0 else "buy"
                qty = abs(pos.qty)
                if sym == trigger:
                    px = trigger_px
                else:
                    px = self._market_price(side, qty, ctx.market.get(sym))[0] or pf.price(sym)
                left = pf.equity() + pf.net_qty(sym) * inst.contract_size * (px - pf.price(sym))
                fee = min(inst.notional(qty, px) * rules.liquidation_fee, max(left, 0.0))
                oid = ctx.next_id()
                order = Order(oid, pos.strategy_id, sym, side, qty, reduce_only=True,
                              ts=ctx.now, signal_id=pos.signal_id, client_id=f"hean-{oid}",
                              reason=reason, tag=LIQUIDATION, arrival_ts=ctx.now,
                              expected_price=px)
                self._counts["liquidations"] += 1
                self._fill(order, inst, qty, px, False, "liquidation", fee)
                fees += fee
                closed.append({"strategy": pos.strategy_id, "symbol": sym, "side": side,
                               "qty": qty, "price": px, "fee": fee, "order_id": oid})
        record = {"ts": ctx.now, "symbol": trigger, "price": trigger_px,
                  "liquidation_price": liq, "equity": equity, "maintenance_margin": mm,
                  "fees": fees, "equity_after": pf.equity(), "closed": closed}
        self.liquidations.append(record)
        if ctx.journal is not None:
            ctx.journal.event(ctx.now, "liquidation", record)
        ctx.log.warning("%s", reason)
        self._update_watch()

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

    def _market_price(self, side: str, qty: float, st: SymbolState | None
                      ) -> tuple[float, str]:
        """``(price, liquidity)`` of a market order of ``qty`` now (``(0.0, "")``: none)."""
        buy = side == "buy"
        mode = self.config.market_fill
        book = st.book if st is not None else None
        if mode in ("auto", "book") and book is not None and (book.ask if buy else book.bid) > 0:
            vwap, filled = book.walk(side, qty)
            if filled >= qty * (1.0 - _EPS):
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
              liquidity: str, fee: float | None = None) -> float:
        """Execute ``qty`` of ``order`` at ``price``; report it; return the quantity filled.

        ``fee``: the fee of this fill when the venue sets it (liquidations), else the maker or
        taker rate × notional."""
        remaining = order.qty - order.filled
        if qty >= remaining * (1.0 - _EPS):
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
            self._update_watch()
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


def _exchange(inst: Instrument) -> str:
    """Display name of the instrument's exchange (``Binance``)."""
    return {"binance": "Binance", "bybit": "Bybit", "okx": "OKX"}.get(inst.exchange,
                                                                       inst.exchange)


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
