"""Order groups: legs that succeed or fail together (basis, pairs) and quotes (bid + ask).

A strategy returns (or ``ctx.orders.propose``-s) an :class:`OrderGroup` of signals, its legs.

* **Every leg passes the pipeline or none is sent.**  Each leg gets its own decision
  (validation, filters, sizers, exchange rounding, gates); when any leg is stopped, the legs
  that passed are decided ``BLOCK GROUP_LEG_BLOCKED`` (details name the blocking legs) and no
  order is sent.  Every leg's decision carries ``details.group_id``.
* **All pass:** the executor places each leg (``Executor.execute``); the group is journaled
  as an ``order_group`` event (id, kind, policy, legs' decision ids) and followed by the
  :class:`GroupBook`.  When a leg's executor declines after earlier legs were placed, the group
  is aborted at once: open legs cancelled, the policy applied to what filled.
* **A leg that fills alone:** ``policy`` says what happens ``after_ms`` after the group was
  sent if it is not complete: the executor's :meth:`~hean_framework.components.Executor.
  on_group_deadline` runs (the default cancels the open legs, then ``unwind`` closes what
  filled by taker, ``hedge`` completes the missing legs by taker, ``none`` leaves it).
* **Quotes** (``kind="quote"``: limit orders of one symbol -- a bid and an ask, one side, or
  a ladder of levels) rest
  together and *replace* the strategy's previous quote of the same symbol and ``key``: the
  previous quote's open orders are cancelled (reason ``requote``) before the new legs are
  placed, so no orphan is left.  Quote legs skip the open-position checks (a market maker
  quotes both sides whatever its inventory) and have no deadline.

The end of every group is journaled (``order_group_end`` with status ``filled``,
``unwound``, ``hedged``, ``cancelled``, ``replaced`` or ``aborted``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from .models import Fill, Order, OrderDecision, Signal

if TYPE_CHECKING:
    from .components import Executor
    from .context import RunContext

GroupKind = Literal["all_or_none", "quote"]


@dataclass(frozen=True, slots=True)
class LegPolicy:
    """What the executor does when the group is not complete ``after_ms`` after sending."""

    action: Literal["unwind", "hedge", "none"] = "unwind"
    after_ms: int = 5_000


@dataclass(slots=True)
class OrderGroup:
    """Signals (legs) decided and sent together; see the module docstring."""

    legs: list[Signal]
    kind: GroupKind = "all_or_none"
    policy: LegPolicy = field(default_factory=LegPolicy)
    #: quotes: which of the strategy's quotes on the symbol this one replaces
    key: str = ""
    group_id: int = 0

    def problem(self) -> str:
        """Why this group cannot be decided ('' when it can)."""
        if not self.legs:
            return "an order group needs at least one leg"
        owners = {s.strategy_id for s in self.legs}
        if len(owners) != 1:
            return f"legs of one group belong to one strategy (got {sorted(owners)})"
        if any(s.reduce_only for s in self.legs):
            return "reduce-only signals are exits, not group legs"
        if self.kind == "quote":
            if len({s.symbol for s in self.legs}) != 1:
                return "a quote's legs (bid, ask or a ladder of levels) are of one symbol"
            if any(not s.limit_price for s in self.legs):
                return "quote legs need limit_price"
        if self.policy.after_ms <= 0:
            return f"policy.after_ms must be > 0 (got {self.policy.after_ms})"
        return ""


@dataclass(slots=True)
class GroupState:
    """A sent group: its legs' decisions, orders and fills."""

    group: OrderGroup
    decisions: list[OrderDecision]
    executor: Executor
    ts: int
    order_ids: list[list[int]]
    filled: list[float]
    status: str = "open"

    def leg_of(self, decision_id: int) -> int:
        """Index of the leg decided by ``decision_id`` (-1: none)."""
        for i, d in enumerate(self.decisions):
            if d.decision_id == decision_id:
                return i
        return -1

    def target(self, i: int) -> float:
        """Quantity leg ``i`` was decided for."""
        return self.decisions[i].qty

    @property
    def complete(self) -> bool:
        """Every leg filled to its decided quantity."""
        return all(f + 1e-12 >= self.target(i) for i, f in enumerate(self.filled))


class GroupBook:
    """The live order groups of a run (kept by the order router)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        #: True while any group is live (one attribute read per fill / done order)
        self.active = False
        self._by_decision: dict[int, GroupState] = {}
        self._quotes: dict[tuple[str, str, str], GroupState] = {}
        self.counts: dict[str, int] = {}

    def open(self, group: OrderGroup, decisions: list[OrderDecision],
             executor: Executor) -> GroupState:
        """Start following ``group`` (before its legs are placed)."""
        ctx = self.ctx
        state = GroupState(group, decisions, executor, ctx.now,
                           [[] for _ in decisions], [0.0] * len(decisions))
        if group.kind == "quote":
            leg = group.legs[0]
            qkey = (leg.strategy_id, leg.symbol, group.key)
            old = self._quotes.get(qkey)
            if old is not None and old.status == "open":
                old.status = "replacing"  # its cancels below must not end it as cancelled
                for oid in self.open_orders(old):
                    ctx.orders.cancel(oid, "requote")
                self._end(old, "replaced")
            self._quotes[qkey] = state
        for d in decisions:
            self._by_decision[d.decision_id] = state
        self.active = True
        self._event("order_group", state, {
            "kind": group.kind, "key": group.key,
            "policy": {"action": group.policy.action, "after_ms": group.policy.after_ms},
            "legs": [{"decision_id": d.decision_id, "symbol": d.symbol, "side": d.side,
                      "qty": d.qty} for d in decisions]})
        if group.kind != "quote" and group.policy.action != "none":
            ctx.clock.schedule(ctx.now + group.policy.after_ms, partial(self._deadline, state))
        return state

    def open_orders(self, state: GroupState) -> list[int]:
        """Ids of the group's orders that can still fill."""
        orders = self.ctx.orders
        out = []
        for ids in state.order_ids:
            for oid in ids:
                o = orders.get(oid)
                if o is not None and not o.is_done:
                    out.append(oid)
        return out

    # ------------------------------------------------------------------ router callbacks

    def on_submit(self, order: Order) -> None:
        """An order was created: attach it to its leg."""
        state = self._by_decision.get(order.decision_id)
        if state is not None:
            i = state.leg_of(order.decision_id)
            if i >= 0:
                state.order_ids[i].append(order.order_id)

    def on_fill(self, fill: Fill, order: Order) -> None:
        """A fill of a leg's order."""
        state = self._by_decision.get(order.decision_id)
        if state is None:
            return
        i = state.leg_of(order.decision_id)
        if i >= 0 and order.order_id in state.order_ids[i]:
            state.filled[i] += fill.qty

    def on_done(self, order: Order) -> None:
        """A leg's order is done: end the group once every leg filled."""
        state = self._by_decision.get(order.decision_id)
        if state is not None and state.status == "open" and state.complete:
            self._end(state, "filled")
        elif state is not None and state.status == "open" and not self.open_orders(state) \
                and state.group.kind == "quote":
            self._end(state, "cancelled")

    # ------------------------------------------------------------------ ends

    def abort(self, state: GroupState, reason: str) -> None:
        """A leg could not be placed: cancel the rest, apply the policy to what filled."""
        for oid in self.open_orders(state):
            self.ctx.orders.cancel(oid, "group_aborted")
        if any(f > 0.0 for f in state.filled):
            state.executor.on_group_deadline(state)
        self._end(state, "aborted", reason)

    def _deadline(self, state: GroupState, now: int) -> None:
        if state.status != "open":
            return
        if state.complete:
            self._end(state, "filled")
            return
        state.executor.on_group_deadline(state)
        action = state.group.policy.action
        self._end(state, "unwound" if action == "unwind" else
                  "hedged" if action == "hedge" else "cancelled")

    def _end(self, state: GroupState, status: str, reason: str = "") -> None:
        state.status = status
        self.counts[status] = self.counts.get(status, 0) + 1
        for d in state.decisions:
            self._by_decision.pop(d.decision_id, None)
        g = state.group
        if g.kind == "quote":
            leg = g.legs[0]
            qkey = (leg.strategy_id, leg.symbol, g.key)
            if self._quotes.get(qkey) is state:
                del self._quotes[qkey]
        self.active = bool(self._by_decision)
        payload: dict[str, Any] = {"status": status, "filled": [round(f, 12)
                                                                 for f in state.filled]}
        if reason:
            payload["reason"] = reason
        self._event("order_group_end", state, payload)

    def _event(self, kind: str, state: GroupState, payload: dict[str, Any]) -> None:
        journal = self.ctx.journal
        if journal is not None:
            journal.event(self.ctx.now, kind, {"group_id": state.group.group_id, **payload})
