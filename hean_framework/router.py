"""The engine's order port and execution sink: orders out to the venue, executions back.

:class:`OrderRouter` is ``ctx.orders`` (:class:`~hean_framework.ports.OrderPort`) and
``ctx.sink`` (:class:`~hean_framework.ports.ExecutionSink`) of a run.

Out: ``submit`` creates the order (run-unique id, price rounded to the tick for priced
orders, ``reduce_only``/``tag`` defaulting to the signal's) and hands it to the venue;
``cancel``/``amend`` go to the venue (a venue that cannot amend in place gets a cancel and a
replacement whose ``parent_id`` is the old order); ``propose`` runs a signal or order group
through the pipeline.

Back, per fill (the venue calls synchronously): the portfolio books it, the journal records it,
the transaction-cost analysis (:mod:`hean_framework.tca`, report section ``tca``) adds it to
its parent order, an equity sample is taken, exits are kept in step
(:mod:`hean_framework.exits`), order groups are updated (:mod:`hean_framework.groups`), then
observers, the owning executor and the owning strategy hear of it (what the strategy returns
is proposed), and a closed round trip is journaled and told.  Per status change: done orders
leave the tables and are journaled, rejections reach ``on_error`` observers, then the owner
executor, observers and strategy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .components import Executor, Strategy, Venue, as_signals
from .facts import BUDGETS
from .groups import GroupBook, OrderGroup
from .models import DONE_STATUSES, ClosedTrade, Fill, Order, OrderDecision, Signal
from .tca import TransactionCosts

if TYPE_CHECKING:
    from .context import RunContext
    from .exits import Exits
    from .faults import Faults
    from .pipeline import Pipeline

STRATEGY_CALLBACKS = ("on_fill", "on_order_update", "on_position_closed", "on_decision")


def overrides(obj: object, base: type, method: str) -> bool:
    """Whether ``obj``'s class overrides ``base.method`` (the engine calls only those)."""
    return getattr(type(obj), method, None) is not getattr(base, method, None)


class OrderRouter:
    """Orders of one run: the engine's :class:`OrderPort` and :class:`ExecutionSink`."""

    def __init__(self, ctx: RunContext, venue: Venue, faults: Faults,
                 strategies: dict[str, Strategy], executors: list[Executor],
                 sample_equity: Callable[[int], None], *, tca: bool = True) -> None:
        self.ctx = ctx
        self.venue = venue
        self.faults = faults
        self.strategies = strategies
        self.sample_equity = sample_equity
        self.pipeline: Pipeline = None  # type: ignore[assignment]  # set by the assembly
        self.exits: Exits = None  # type: ignore[assignment]
        self.groups = GroupBook(ctx)
        #: transaction-cost analysis of every parent order (:mod:`hean_framework.tca`); None
        #: in a metrics-only run (``tca=False``: an optimizer's candidate, no report)
        self.tca: TransactionCosts | None = None
        if tca:
            self.tca = TransactionCosts(ctx)
            ctx.add_section("tca", self.tca.report)
        self._orders: dict[int, Order] = {}
        self._owner: dict[int, Executor] = {}
        self._entry: dict[int, Signal] = {}  # entry orders whose signal carries exits
        #: strategy -> the order/fill/decision callbacks it overrides (others are not called)
        self.callbacks: dict[str, frozenset[str]] = {
            name: frozenset(m for m in STRATEGY_CALLBACKS if overrides(s, Strategy, m))
            for name, s in strategies.items()}
        self.any_callback = frozenset(m for ms in self.callbacks.values() for m in ms)
        #: executors that do not override on_fill / on_order_update are not called (the base
        #: ones do nothing); an executor the engine did not build gets both
        self._quiet_fill = frozenset(ex.name for ex in executors
                                     if not overrides(ex, Executor, "on_fill"))
        self._quiet_update = frozenset(ex.name for ex in executors
                                       if not overrides(ex, Executor, "on_order_update"))

    # ================================================================= OrderPort

    def submit(self, signal: Signal, decision: OrderDecision, qty: float, *,
               order_type: str = "market", price: float | None = None,
               post_only: bool = False, reduce_only: bool | None = None,
               executor: Executor | None = None, tag: str = "",
               parent_id: int = 0) -> Order:
        """Create an order for ``decision`` and send it to the venue."""
        ctx = self.ctx
        oid = ctx.next_id()
        if price is not None and order_type != "market":
            price = ctx.instruments.get(signal.symbol).round_price(price, signal.side)
        # positional: Order's field order (models.Order)
        order = Order(oid, signal.strategy_id, signal.symbol, signal.side, qty, order_type,
                      price, post_only, signal.reduce_only if reduce_only is None else reduce_only,
                      ctx.now, "new", 0.0, 0.0, 0.0, signal.signal_id, decision.decision_id,
                      parent_id, f"hean-{oid}", "", "", tag or signal.tag, 0, 0, 0.0,
                      price if price is not None else decision.price)
        self._orders[oid] = order
        if not signal.reduce_only and (signal.stop_loss is not None
                                       or signal.take_profit is not None
                                       or signal.max_hold_ms is not None):
            self._entry[oid] = signal  # an entry with exits (see Exits.update)
        if executor is not None:
            self._owner[oid] = executor
        self.pipeline.orders += 1
        if self.groups.active:
            self.groups.on_submit(order)
        if self.tca is not None:
            self.tca.on_submit(order, decision, executor.name if executor is not None else "")
        return self.venue.submit(order)

    @property
    def can_amend(self) -> bool:
        """Whether :meth:`amend` changes orders in place (the venue's ``can_amend``)."""
        return self.venue.can_amend

    def cancel(self, order_id: int, reason: str = "") -> Order | None:
        """Cancel an order at the venue."""
        return self.venue.cancel(order_id, reason)

    def amend(self, order_id: int, *, qty: float | None = None,
              price: float | None = None) -> Order | None:
        """Amend in place where the venue can; else cancel and replace (new id)."""
        order = self._orders.get(order_id)
        if order is None or order.is_done:
            return None
        if qty is not None and qty <= order.filled + 1e-12:
            return None
        if price is not None and order.order_type != "market":
            price = self.ctx.instruments.get(order.symbol).round_price(price, order.side)
        if self.venue.can_amend:
            return self.venue.amend(order_id, qty=qty, price=price)
        owner = self._owner.get(order_id)  # read before the cancel forgets it
        if self.venue.cancel(order_id, "amend") is None:
            return None
        rest = (qty if qty is not None else order.qty) - order.filled
        sig = Signal(order.strategy_id, order.symbol, order.side, self.ctx.now,
                     order.expected_price, reduce_only=order.reduce_only, tag=order.tag,
                     signal_id=order.signal_id)
        d = OrderDecision(order.decision_id, order.signal_id, order.strategy_id, order.symbol,
                          order.side, self.ctx.now, price=order.expected_price)
        new = self.submit(sig, d, rest, order_type=order.order_type,
                          price=price if price is not None else order.price,
                          post_only=order.post_only, reduce_only=order.reduce_only,
                          executor=owner, tag=order.tag, parent_id=order_id)
        self.pipeline.orders -= 1  # the same decision's order, replaced
        if self.exits.plans:
            self.exits.replaced(order_id, new)
        return new

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that can still fill."""
        return [o for o in self._orders.values()
                if not o.is_done and (symbol is None or o.symbol == symbol)]

    def get(self, order_id: int) -> Order | None:
        """A live order by id."""
        return self._orders.get(order_id)

    def propose(self, item: Signal | OrderGroup) -> list[OrderDecision]:
        """Run a signal or an order group through the pipeline now."""
        if isinstance(item, OrderGroup):
            decisions = self.pipeline.process_group(item)
            self.groups.decided(item, decisions)
            return decisions
        if not item.ts:
            item.ts = self.ctx.now
        return [self.pipeline.process(item)]

    def decline(self, signal: Signal, code: str, message: str = "",
                **details: Any) -> OrderDecision:
        """Record the strategy's own SKIP of ``signal`` (see the port)."""
        if not signal.ts:
            signal.ts = self.ctx.now
        return self.pipeline.decline(signal, code, message, details)

    # ================================================================= callback outputs

    def route(self, out: Any, cause_seq: int, source: Any = None) -> None:
        """Send what a callback returned through the pipeline: signals, order groups, or a
        list of them (``cause_seq``: the market event behind them).  Anything else is the
        callback's bug: a ``BLOCK INVALID_SIGNAL`` decision and a dead letter naming its
        plugin (``source``: the callback or its component).  Signals of a strategy disabled
        after errors are dropped."""
        if out is None:
            return
        disabled = self.faults.disabled
        pipeline = self.pipeline
        if type(out) is Signal:
            items: Any = (out,)
        elif isinstance(out, (Signal, OrderGroup, list, tuple)):
            items = as_signals(out)
        else:
            items = (out,)
        for sig in items:
            if type(sig) is Signal:
                if sig.strategy_id in disabled:
                    continue
                if not sig.ts:
                    sig.ts = self.ctx.now
                sig.cause_seq = sig.cause_seq or cause_seq
                pipeline.process(sig)
            elif type(sig) is OrderGroup:
                if sig.legs and getattr(sig.legs[0], "strategy_id", None) in disabled:
                    continue
                for leg in sig.legs:
                    if type(leg) is Signal:
                        leg.cause_seq = leg.cause_seq or cause_seq
                self.groups.decided(sig, pipeline.process_group(sig))
            else:
                self._invalid_output(sig, source)

    def _invalid_output(self, item: Any, source: Any) -> None:
        owner = getattr(source, "__self__", source)
        name = getattr(owner, "name", "") or type(owner).__name__
        if name in self.faults.disabled:
            return
        what = f"returned {type(item).__name__} {item!r:.80}; expected a Signal, an " \
               "OrderGroup, a list of them or None"
        self.pipeline.reject(name, "output", what)
        self.faults.dead_letter(owner, TypeError(what), item)

    # ================================================================= ExecutionSink

    def on_fill(self, fill: Fill, order: Order) -> None:
        """The venue reports an execution."""
        ctx = self.ctx
        self.pipeline.fills += 1
        closed = ctx.portfolio.apply_fill(fill)
        if ctx.journal is not None:
            ctx.journal.fill(fill)
        if self.tca is not None:
            self.tca.on_fill(fill, order)
        self.sample_equity(fill.ts)
        oid = order.order_id
        if self.exits.plans or oid in self._entry:
            self.exits.update(order, fill, self._entry.get(oid))
        groups = self.groups
        if groups.active:
            groups.on_fill(fill, order)
        if groups.ledger.by_decision:
            groups.ledger.on_fill(fill, order)
        faults = self.faults
        if faults.observers["on_fill"]:
            faults.notify("on_fill", fill)
        owner = self._owner.get(oid)
        if owner is not None and owner.name not in self._quiet_fill:
            faults.guard_fill(owner, owner.on_fill, fill)
        if "on_fill" in self.any_callback:
            strat = self.live_strategy(fill.strategy_id, "on_fill")
            if strat is not None:
                self.route(faults.guard_fill(strat, strat.on_fill, fill), 0, strat)
        if closed is not None:
            self._on_closed(closed)

    def on_order_update(self, order: Order) -> None:
        """The venue reports a status change (open, cancelled, rejected, filled)."""
        oid = order.order_id
        faults = self.faults
        if order.status in DONE_STATUSES:
            # done orders leave the tables (they can no longer fill)
            self._orders.pop(oid, None)
            self._entry.pop(oid, None)
            owner = self._owner.pop(oid, None)
            if self.ctx.journal is not None:
                self.ctx.journal.order(order)
            if order.status == "rejected" and faults.observers["on_error"]:
                faults.notify_error(order.symbol, "order_rejected", order.reason)
            if self.groups.active:
                self.groups.on_done(order)
        else:
            owner = self._owner.get(oid)
        if owner is not None and owner.name not in self._quiet_update:
            faults.guard(owner, owner.on_order_update, order)
        if faults.observers["on_order_update"] or "on_order_update" in self.any_callback:
            self.tell("on_order_update", order)

    def decided(self, d: OrderDecision) -> None:
        """The pipeline decided: journal it, tell observers and the signal's strategy."""
        journal = self.ctx.journal
        if journal is not None:
            journal.decision(d)
        if self.tca is not None:
            self.tca.on_decision(d)
        faults = self.faults
        if faults.observers["on_decision"]:
            faults.notify("on_decision", d)
        if "on_decision" in self.any_callback:
            strat = self.live_strategy(d.strategy_id, "on_decision")
            if strat is not None:
                faults.guard(strat, strat.on_decision, d)

    def _on_closed(self, closed: ClosedTrade) -> None:
        if self.ctx.journal is not None:
            self.ctx.journal.closed_trade(closed)
        if self.faults.observers["on_position_closed"] or \
                "on_position_closed" in self.any_callback:
            self.tell("on_position_closed", closed)

    def tell(self, callback: str, record: Order | ClosedTrade) -> None:
        """Tell the observers of ``callback``, then the record's strategy when it overrides
        it (what the strategy returns is sent through the pipeline)."""
        faults = self.faults
        if faults.observers[callback]:
            faults.notify(callback, record)
        if callback in self.any_callback:
            strat = self.live_strategy(record.strategy_id, callback)
            if strat is not None:
                self.route(faults.guard(strat, getattr(strat, callback), record), 0, strat)

    def live_strategy(self, strategy_id: str, callback: str) -> Strategy | None:
        """The strategy owning a record when it overrides ``callback`` and was not disabled
        after errors."""
        if strategy_id in self.faults.disabled or \
                callback not in self.callbacks.get(strategy_id, ()):
            return None
        return self.strategies.get(strategy_id)

    def live_orders(self) -> list[Order]:
        """Every order not yet done (the run's end journals them)."""
        return [o for o in self._orders.values() if not o.is_done]


class Budgets:
    """``ctx.budgets`` of a run: the allocator's published budgets, else equity × weight."""

    def __init__(self, ctx: RunContext, weights: dict[str, float]) -> None:
        self.ctx = ctx
        self.weights = weights

    def budget(self, strategy_id: str) -> float:
        """Capital the sizers may risk from for ``strategy_id``."""
        budgets = self.ctx.facts.get(BUDGETS)
        if strategy_id in budgets:
            return float(budgets[strategy_id])
        return self.ctx.portfolio.equity() * self.weights.get(strategy_id, 1.0)
