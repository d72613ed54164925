"""The simulated venue's margin desk: size limits, the initial-margin check, liquidation.

:class:`MarginDesk` keeps the account-level bookkeeping of one
:class:`~hean_framework.execution.sim_venue.SimulatedVenue` (the venue builds it and owns it):
the size and margin checks of every order at submit, and the watch for liquidations.

**Size limits** (at submit, every order but reduce-only ones, like the minimums):
``above_max_qty`` (the instrument's ``max_qty``, e.g. 1000 BTC on Binance USD-M BTCUSDT; its
``max_market_qty`` for market orders where the metadata has one) and ``above_max_notional``
(its ``max_notional`` where the metadata has one).  (A quantity that is not a finite number
never gets here: the venue rejects it ``invalid_qty``.)

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
(event ``liquidation``) and listed in :meth:`SimulatedVenue.stats
<hean_framework.execution.sim_venue.SimulatedVenue.stats>` (``liquidations``,
``liquidation_events``; the report's ``components["venue:sim"]``).  Within one bar a protective
stop that triggers before the liquidation price fills first.  A gap through the liquidation price
can still cost more than the equity (no insurance fund here).  The venue watches prices only while
a position can be liquidated at all (a short, or longs bought with borrowed cash); an account of
unlevered longs keeps the idle fast path.  ``margin: auto`` (default) applies all this in every
engine run (``ctx.config`` set); a venue built on a bare ``RunContext(config=None)``
(matching-engine unit tests) applies it only with ``margin: on``; ``margin: off`` never.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..models import Bar, MarketEvent, Order
from .margin import LIQUIDATION, MarginRules, initial_margin, liquidation_price, rules_for
from .matching import EPS

if TYPE_CHECKING:
    from ..context import RunContext
    from ..instruments import Instrument
    from ..market import SymbolState
    from .matching import FillFn
    from .sim_venue import SimVenueConfig

__all__ = ["MarginDesk"]


class MarginDesk:
    """Size limits, the initial margin and liquidation of one simulated venue's account.

    The desk reads the venue's live order tables (never rebinds or edits them) and acts on
    orders only through the venue's callbacks: ``reject`` (a refusal at submit), ``fill`` and
    ``finish`` (the liquidation's cancels and fills), ``market_price`` (the taker price of a
    close).  ``on_watch(watch)`` tells the venue whether some position can be liquidated (it
    then calls :meth:`check_liquidation` on every market event, see :attr:`watch`).
    """

    def __init__(self, ctx: RunContext, config: SimVenueConfig, *, on: bool,
                 orders: dict[int, Order], stops: dict[str, dict[int, Order]],
                 reject: Callable[[Order, str, str], Order], fill: FillFn,
                 finish: Callable[[Order, str, str], None],
                 market_price: Callable[[str, float, SymbolState | None], tuple[float, str]],
                 on_watch: Callable[[bool], None]) -> None:
        self.ctx = ctx
        self.config = config
        #: margin check and liquidation on (see the module docstring, ``margin``)
        self.on = on
        #: the venue's live orders by id and its resting stops per symbol (read only)
        self._orders = orders
        self._stops = stops
        self._reject = reject
        self._fill = fill
        self._finish = finish
        self._market_price = market_price
        self._on_watch = on_watch
        self._rules: dict[str, MarginRules] = {}
        #: True while some position can be liquidated (the venue then sees every event)
        self.watch = False
        #: ``(symbol, liquidation price)`` while only that symbol has a position
        self._liq_one: tuple[str, float] | None = None
        #: positions closed by liquidations
        self.positions_closed = 0
        #: one record per liquidation (the venue's ``liquidation_events``)
        self.liquidations: list[dict[str, Any]] = []

    def rules(self, symbol: str) -> MarginRules:
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

    def state(self) -> dict[str, float]:
        """``equity``, ``initial_margin`` (positions and open orders) and
        ``maintenance_margin`` of the account now, quote currency."""
        pf = self.ctx.portfolio
        im = sum(self._symbol_margin(s)[0] for s in self._margin_symbols())
        mm = 0.0
        for sym, q in pf.account_positions():
            inst = self.ctx.instruments.get(sym)
            mm += abs(q) * inst.contract_size * pf.price(sym) \
                * self.rules(sym).maintenance_rate
        return {"equity": pf.equity(), "initial_margin": im, "maintenance_margin": mm}

    # ================================================================== size & margin

    def check_order(self, order: Order, inst: Instrument) -> bool:
        """Size limits and the initial-margin check at submit; reject and return False when
        the order breaks one (reduce-only orders are not checked)."""
        sym = order.symbol
        rules = self._rules.get(sym)
        if rules is None:
            rules = self.rules(sym)
        qty = order.qty
        unit = inst.base if inst.contract_size == 1.0 else "contracts"
        if rules.max_qty and qty > rules.max_qty * (1.0 + EPS):
            self._reject(order, "above_max_qty",
                         f"{qty:g} {unit} > the {_exchange(inst)} {order.symbol} maximum order "
                         f"quantity {rules.max_qty:.10g}")
            return False
        if order.order_type == "market" and rules.max_market_qty \
                and qty > rules.max_market_qty * (1.0 + EPS):
            self._reject(order, "above_max_qty",
                         f"market order of {qty:g} {unit} > the {_exchange(inst)} "
                         f"{order.symbol} maximum market order quantity "
                         f"{rules.max_market_qty:.10g}")
            return False
        pf = self.ctx.portfolio
        mark = pf.price(sym) if pf is not None else 0.0
        if not mark > 0.0:
            st = self.ctx.market.get(sym)
            mark = st.price if st is not None else 0.0
        price = order.price if order.order_type != "market" and order.price else mark
        if not price > 0.0:
            return True  # no price yet: the arrival says no_price
        notional = inst.notional(qty, price)
        if rules.max_notional and notional > rules.max_notional * (1.0 + EPS):
            self._reject(order, "above_max_notional",
                         f"{qty:g} at {price:g} = {notional:.2f} {inst.quote} > the "
                         f"{_exchange(inst)} {order.symbol} maximum order value "
                         f"{rules.max_notional:.10g} {inst.quote}")
            return False
        if not self.on or pf is None:
            return True
        lev = rules.leverage
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
        lev = self.rules(symbol).leverage
        return initial_margin(*self._exposure(symbol), lev), lev


    # ================================================================== liquidation

    def update_watch(self) -> None:
        """After a fill or a funding payment: can any position be liquidated at all?

        Equity − maintenance margin falls with a short's price without bound; with longs only
        it is smallest at price 0, where it equals cash: unlevered longs (cash > 0) can never
        be liquidated and the venue may stay idle."""
        if not self.on:
            return
        pf = self.ctx.portfolio
        positions = pf.account_positions()
        watch = False
        if positions:  # a short, or levered longs (cash <= 0)
            if pf.cash <= 0.0:
                watch = True
            else:
                for _, q in positions:
                    if q < 0.0:
                        watch = True
                        break
        if not watch and not self.watch:
            return
        self.watch = watch
        self._liq_one = None
        self._on_watch(watch)
        if watch and len(positions) == 1:
            sym, q = positions[0]
            self._liq_one = (sym, self._liquidation_price(sym, q))

    def _liquidation_price(self, symbol: str, qty: float) -> float:
        """Price of ``symbol`` at which equity = maintenance margin (others at their price)."""
        pf = self.ctx.portfolio
        instruments = self.ctx.instruments
        rest = pf.cash
        for sym, q in pf.account_positions():
            if sym != symbol:
                rate = self.rules(sym).maintenance_rate
                rest += instruments.get(sym).contract_size * (q - abs(q) * rate) * pf.price(sym)
        inst = instruments.get(symbol)
        return liquidation_price(rest, qty, inst.contract_size,
                                 self.rules(symbol).maintenance_rate)

    def check_liquidation(self, event: MarketEvent, first: bool) -> bool:
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
            rate = self.rules(sym).maintenance_rate
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
            rules = self.rules(sym)
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
                self.positions_closed += 1
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
        self.update_watch()


def _exchange(inst: Instrument) -> str:
    """Display name of the instrument's exchange (``Binance``)."""
    return {"binance": "Binance", "bybit": "Bybit", "okx": "OKX"}.get(inst.exchange,
                                                                       inst.exchange)

