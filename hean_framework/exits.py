"""Protective exits of strategy positions: stop loss, take profit, time stop (OCO).

An entry signal may carry ``stop_loss``, ``take_profit`` and ``max_hold_ms``.  After every fill
of a (strategy, symbol) position:

* an **entry** fill (re)places the stop (``stop_market``, tag ``SL_HIT``) and the target
  (``limit``, tag ``TP_HIT``) as reduce-only orders for the *whole* position;
* an **exit** fill shrinks the resting exits to the remaining position;
* a **flat** position cancels what is left (one-cancels-other, reason ``oco``);
* the **time stop** fires ``max_hold_ms`` after the first entry fill of the signal: resting
  exits are cancelled (``time_stop``) and a reduce-only market exit (tag ``TIMEOUT_TTL``) goes
  through the pipeline like any exit signal.

Protective orders are not pipeline orders (the funnel's ``orders`` does not count them).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from .models import Fill, Order, OrderDecision, Signal

if TYPE_CHECKING:
    from .context import RunContext
    from .pipeline import Pipeline
    from .router import OrderRouter


@dataclass(slots=True)
class ExitPlan:
    """Protective orders of one strategy position: stop, target and time stop."""

    strategy_id: str
    symbol: str
    stop_loss: float | None
    take_profit: float | None
    deadline: int | None
    signal_id: int
    order_ids: list[int]


class Exits:
    """The exit plans of a run, kept in step with positions by :meth:`update`."""

    def __init__(self, ctx: RunContext, router: OrderRouter, pipeline: Pipeline) -> None:
        self.ctx = ctx
        self.router = router
        self.pipeline = pipeline
        self.plans: dict[tuple[str, str], ExitPlan] = {}

    def update(self, order: Order, fill: Fill, entry: Signal | None) -> None:
        """Keep protective orders in step with the position after ``fill`` of ``order``;
        ``entry`` is the signal of an entry order that carries exits (else None)."""
        key = (fill.strategy_id, fill.symbol)
        pos = self.ctx.portfolio.position(*key)
        plan = self.plans.get(key)
        if pos.qty == 0.0:
            if plan is not None:
                self._drop(key, plan)
            return
        if order.reduce_only or entry is None:
            if plan is not None:
                self._resize(plan, abs(pos.qty))
            return
        if plan is not None:
            self._drop(key, plan)
        deadline = None
        if entry.max_hold_ms:
            deadline = plan.deadline if plan is not None and plan.signal_id == entry.signal_id \
                else fill.ts + entry.max_hold_ms
        new = ExitPlan(fill.strategy_id, fill.symbol, entry.stop_loss, entry.take_profit,
                       deadline, entry.signal_id, [])
        self.plans[key] = new
        pos.stop_loss, pos.take_profit, pos.max_hold_ms = (entry.stop_loss, entry.take_profit,
                                                           entry.max_hold_ms)
        self._place(new, pos.qty)
        if deadline is not None and (plan is None or plan.deadline != deadline):
            self.ctx.clock.schedule(deadline, partial(self._time_stop, key, entry.signal_id))

    def replaced(self, old_id: int, new: Order) -> None:
        """A protective order was amended by cancel-and-replace: the plan follows the new
        order (a strategy moving its stop to break-even keeps one-cancels-other)."""
        for plan in self.plans.values():
            if old_id in plan.order_ids:
                plan.order_ids[plan.order_ids.index(old_id)] = new.order_id
                return

    def _place(self, plan: ExitPlan, pos_qty: float) -> None:
        side = "sell" if pos_qty > 0 else "buy"
        qty = abs(pos_qty)
        now = self.ctx.now
        stub = Signal(plan.strategy_id, plan.symbol, side, now, 0.0, reduce_only=True,
                      signal_id=plan.signal_id)
        d = OrderDecision(0, plan.signal_id, plan.strategy_id, plan.symbol, side, now)
        pf = self.ctx.portfolio
        for typ, px, tag in (("stop_market", plan.stop_loss, "SL_HIT"),
                             ("limit", plan.take_profit, "TP_HIT")):
            if px is None:
                continue
            if pf.position_qty(plan.strategy_id, plan.symbol) == 0.0:
                break  # the stop filled at once (same bar): nothing left to protect
            o = self.router.submit(stub, d, qty, order_type=typ, price=px, reduce_only=True,
                                   tag=tag)
            self.pipeline.orders -= 1  # protective orders are not pipeline orders
            if not o.is_done:
                plan.order_ids.append(o.order_id)

    def _resize(self, plan: ExitPlan, qty: float) -> None:
        for oid in list(plan.order_ids):
            o = self.router.get(oid)
            if o is not None and not o.is_done and o.remaining > qty + 1e-12:
                o.qty = o.filled + qty

    def _drop(self, key: tuple[str, str], plan: ExitPlan) -> None:
        if self.plans.get(key) is plan:
            del self.plans[key]
        for oid in plan.order_ids:
            o = self.router.get(oid)
            if o is not None and not o.is_done:
                self.router.cancel(oid, "oco")

    def _time_stop(self, key: tuple[str, str], signal_id: int, now: int) -> None:
        plan = self.plans.get(key)
        if plan is None or plan.signal_id != signal_id:
            return
        pos = self.ctx.portfolio.position(*key)
        if pos.qty == 0.0:
            return
        for oid in plan.order_ids:
            o = self.router.get(oid)
            if o is not None and not o.is_done:
                self.router.cancel(oid, "time_stop")
        plan.order_ids.clear()
        side = "sell" if pos.qty > 0 else "buy"
        sig = Signal(key[0], key[1], side, self.ctx.now, self.ctx.market[key[1]].price,
                     reduce_only=True, tag="TIMEOUT_TTL")
        self.pipeline.process(sig)
