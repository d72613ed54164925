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
  a ladder of levels) *replace* the strategy's previous quote of the same symbol and ``key``
  with as few order changes as possible (unchanged levels keep their queue place, amend where
  the venue can, else cancel + place); an empty quote (:meth:`OrderGroup.withdraw`) cancels
  it.  :mod:`hean_framework.quotes` has the rules; quote legs skip the open-position checks
  and have no deadline.

* **Exits** (``kind="exit"``: reduce-only legs, e.g. :meth:`OrderGroup.exit`) close a
  strategy's legs as *one* decision, on the group's own exit rule (convergence, max hold, a
  spread stop), never on per-leg take-profit/stop: every leg must have a position of the
  strategy to close (else every leg is ``SKIP NO_POSITION`` / ``GROUP_LEG_BLOCKED`` and
  nothing is sent); then every leg is sent (stage ``exit``, skipping filters, sizers and
  gates like any exit).  ``closes`` names the entry group it closes (its PnL is booked
  there, :mod:`hean_framework.group_ledger`).  When one exit leg fills and another does not
  by ``after_ms``, the policy acts: ``hedge`` (the usual one for exits) closes the rest by
  taker (reduce-only market orders, tag ``GROUP_EXIT_HEDGE``), ``unwind`` re-opens what was
  closed by taker (tag ``GROUP_EXIT_UNWIND``) so the pair stays hedged, ``none`` leaves it.
  The GroupBook applies the exit policy itself (executors' ``on_group_deadline`` is for
  entry groups).

The end of every group is journaled (``order_group_end`` with status ``filled``,
``unwound``, ``hedged``, ``cancelled``, ``replaced`` or ``aborted``), and every group's
decision once (``group_decision``: ``CREATE`` when every leg was created, else the first
stopped leg's verdict; the legs' decision ids, ``closes`` and ``reason`` of exits), so the
journal links one group decision to one decision per leg by ``group_id`` (``hean why`` lists
them).  Per-group and per-leg PnL (fills, fees, funding) is followed by the
:class:`~hean_framework.group_ledger.GroupLedger` (report section ``group_pnl``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from .group_ledger import GroupLedger
from .models import CREATE, SKIP, Fill, Order, OrderDecision, Signal

if TYPE_CHECKING:
    from .components import Executor
    from .context import RunContext
    from .pipeline import Pipeline
    from .portfolio import Portfolio

GroupKind = Literal["all_or_none", "quote", "exit"]


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
    #: exits: the entry group whose legs this exit closes (0: none named)
    closes: int = 0
    #: exits: the group's exit rule that fired (``CONVERGED``, ``MAX_HOLD`` ...), journaled
    reason: str = ""
    #: empty quotes (:meth:`withdraw`): the strategy whose quote is withdrawn
    strategy_id: str = ""
    #: empty quotes (:meth:`withdraw`): the symbol of the quote withdrawn
    symbol: str = ""

    @classmethod
    def withdraw(cls, strategy_id: str, symbol: str, key: str = "") -> OrderGroup:
        """An empty quote: cancels ``strategy_id``'s quote ``key`` of ``symbol``."""
        return cls([], "quote", key=key, strategy_id=strategy_id, symbol=symbol)

    @classmethod
    def exit(cls, strategy_id: str, symbols: list[str], portfolio: Portfolio, *,
             closes: int = 0, reason: str = "", ts: int = 0,
             policy: LegPolicy | None = None) -> OrderGroup:
        """An exit group closing ``strategy_id``'s whole position in each of ``symbols``
        (reduce-only market legs; symbols it is flat in are left out), policy ``hedge``
        after 5 s by default."""
        legs = []
        for sym in symbols:
            q = portfolio.position_qty(strategy_id, sym)
            if q:
                legs.append(Signal(strategy_id, sym, "sell" if q > 0 else "buy", ts, 0.0,
                                   size=abs(q), reduce_only=True, tag=reason or "GROUP_EXIT"))
        return cls(legs, "exit", policy or LegPolicy("hedge"), closes=closes, reason=reason)

    def problem(self) -> str:
        """Why this group cannot be decided ('' when it can)."""
        if not self.legs:
            return "" if self.kind == "quote" else "an order group needs at least one leg " \
                "(only a quote may be empty: OrderGroup.withdraw)"
        owners = {s.strategy_id for s in self.legs}
        if len(owners) != 1:
            return f"legs of one group belong to one strategy (got {sorted(owners)})"
        if self.kind == "exit":
            if not all(s.reduce_only for s in self.legs):
                return "an exit group's legs are reduce-only signals"
            if len({s.symbol for s in self.legs}) != len(self.legs):
                return "an exit group closes each symbol once (one leg per symbol)"
        elif any(s.reduce_only for s in self.legs):
            return "reduce-only signals are exits, not legs of an entry group (kind='exit')"
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
        from .quotes import QuoteBook  # it imports components, which import this module

        #: the live quotes (``kind="quote"``), :mod:`hean_framework.quotes`
        self.quotes = QuoteBook(ctx)
        self.counts: dict[str, int] = {}
        #: per-group, per-leg PnL of entry groups (report section ``group_pnl``)
        self.ledger = GroupLedger(ctx)
        self._ledger_on = False

    def _follow(self, group: OrderGroup, decisions: list[OrderDecision]) -> None:
        """Book the group's fills on the ledger (entry groups, and exits naming one)."""
        ledger = self.ledger
        if not self._ledger_on:
            self._ledger_on = True
            self.ctx.add_section("group_pnl", ledger.report)
            if self.ctx.portfolio is not None:
                self.ctx.portfolio.funding_listeners.append(ledger.on_funding)
                self.ctx.portfolio.borrow_listeners.append(ledger.on_borrow)
        ids = [d.decision_id for d in decisions]
        if group.kind == "all_or_none":
            ledger.open_group(group.group_id, group.legs[0].strategy_id, ids,
                              [d.symbol for d in decisions])
        elif group.kind == "exit" and group.closes:
            ledger.link_exit(group.group_id, group.closes, ids, group.reason)

    def decided(self, group: OrderGroup, decisions: list[OrderDecision]) -> None:
        """Journal the group's one decision (``group_decision``, see the module docstring)."""
        journal = self.ctx.journal
        if journal is None or not decisions:
            return
        first = next((d for d in decisions if d.decision != CREATE), None)
        payload: dict[str, Any] = {
            "group_id": group.group_id, "kind": group.kind,
            "strategy": decisions[0].strategy_id,
            "decision": CREATE if first is None else first.decision,
            "reason_codes": ["ACCEPTED"] if first is None else list(first.reason_codes),
            "message": "" if first is None else first.message,
            "legs": [{"decision_id": d.decision_id, "symbol": d.symbol, "side": d.side,
                      "qty": d.qty, "decision": d.decision} for d in decisions]}
        if group.kind == "exit":
            payload["closes"] = group.closes
            payload["reason"] = group.reason
        journal.event(self.ctx.now, "group_decision", payload)

    def open(self, group: OrderGroup, decisions: list[OrderDecision],
             executor: Executor) -> GroupState:
        """Start following ``group`` (before its legs are placed)."""
        ctx = self.ctx
        state = GroupState(group, decisions, executor, ctx.now,
                           [[] for _ in decisions], [0.0] * len(decisions))
        if group.kind != "quote":
            self._follow(group, decisions)
        for d in decisions:
            self._by_decision[d.decision_id] = state
        self.active = True
        extra: dict[str, Any] = {"closes": group.closes, "reason": group.reason} \
            if group.kind == "exit" else {}
        self._event("order_group", state, {
            "kind": group.kind, "key": group.key, **extra,
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

    # ------------------------------------------------------------------ ends

    def abort(self, state: GroupState, reason: str) -> None:
        """A leg could not be placed: cancel the rest, apply the policy to what filled."""
        for oid in self.open_orders(state):
            self.ctx.orders.cancel(oid, "group_aborted")
        if any(f > 0.0 for f in state.filled):
            self._policy(state)
        self._end(state, "aborted", reason)

    def _policy(self, state: GroupState) -> None:
        """Apply the leg policy: the executor's for entry groups, the book's for exits."""
        if state.group.kind == "exit":
            self._exit_policy(state)
        else:
            state.executor.on_group_deadline(state)

    def _exit_policy(self, state: GroupState) -> None:
        """An exit group not complete in time: cancel its open orders, then ``hedge``
        closes the rest of each leg's position by taker, ``unwind`` re-opens what was closed
        (see the module docstring)."""
        orders = self.ctx.orders
        action = state.group.policy.action
        if action == "none":
            return
        for oid in self.open_orders(state):
            orders.cancel(oid, "group_deadline")
        pf = self.ctx.portfolio
        for i, leg in enumerate(state.group.legs):
            d = state.decisions[i]
            if action == "hedge":
                pos = pf.position_qty(leg.strategy_id, leg.symbol)
                qty = min(state.target(i) - state.filled[i], abs(pos))
                side, reduce, tag = leg.side, True, "GROUP_EXIT_HEDGE"
            else:
                qty, side, reduce, tag = (state.filled[i], "buy" if leg.side == "sell"
                                          else "sell", False, "GROUP_EXIT_UNWIND")
            if qty <= 1e-12:
                continue
            qty = self.ctx.instruments.get(leg.symbol).round_qty(qty) if not reduce else qty
            if qty <= 0.0:
                continue
            sig = Signal(leg.strategy_id, leg.symbol, side, self.ctx.now, d.price,
                         reduce_only=reduce, tag=tag, signal_id=leg.signal_id)
            orders.submit(sig, d, qty, reduce_only=reduce, executor=state.executor, tag=tag)

    def _deadline(self, state: GroupState, now: int) -> None:
        if state.status != "open":
            return
        if state.complete:
            self._end(state, "filled")
            return
        self._policy(state)
        action = state.group.policy.action
        self._end(state, "unwound" if action == "unwind" else
                  "hedged" if action == "hedge" else "cancelled")

    def _end(self, state: GroupState, status: str, reason: str = "") -> None:
        state.status = status
        self.counts[status] = self.counts.get(status, 0) + 1
        for d in state.decisions:
            self._by_decision.pop(d.decision_id, None)
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


def decide_exit(pipeline: Pipeline, group: OrderGroup) -> list[OrderDecision]:
    """Decide an exit group (``kind="exit"``, numbered by the pipeline): every leg has a
    position of the strategy to close or none is sent; then every leg goes to the plain
    executor as an exit (see the module docstring)."""
    from .components import Verdict

    ctx = pipeline.ctx
    problem = group.problem()
    pf = ctx.portfolio
    decisions: list[OrderDecision] = []
    stops: list[Verdict | None] = []
    for leg in group.legs:
        if not leg.ts:
            leg.ts = ctx.now
        d = pipeline._new_decision(leg, leg.entry_price)
        d.details["group_id"] = group.group_id
        if group.closes:
            d.details["closes"] = group.closes
        decisions.append(d)
        pipeline.exits += 1
        if problem:
            stops.append(Verdict("BLOCK", "INVALID_GROUP", problem))
            continue
        pos = pf.position_qty(leg.strategy_id, leg.symbol)
        qty = abs(pos) if leg.size is None else min(leg.size, abs(pos))
        if qty <= 0.0 or leg.side != ("sell" if pos > 0 else "buy"):
            stops.append(Verdict(SKIP, "NO_POSITION", f"{leg.strategy_id} holds no "
                                 f"{'long' if leg.side == 'sell' else 'short'} "
                                 f"{leg.symbol} to close"))
            continue
        d.qty_raw = d.qty = qty
        d.notional = ctx.instruments.get(leg.symbol).notional(qty, d.price)
        stops.append(None)
    if any(v is not None for v in stops):
        blockers = [decisions[i].decision_id for i, v in enumerate(stops) if v is not None]
        for d, v in zip(decisions, stops):
            if v is None:
                v = Verdict(SKIP, "GROUP_LEG_BLOCKED", "another exit leg has nothing to close",
                            {"blocked_by": blockers})
            pipeline._finish(d, v, "exit")
        return decisions
    ex = pipeline.executors["plain"] if "plain" in pipeline.executors else \
        pipeline.executors[pipeline.default_executor]
    state = pipeline.groups.open(group, decisions, ex)
    code = group.reason or "GROUP_EXIT"
    for i, (leg, d) in enumerate(zip(group.legs, decisions)):
        if state.status != "open":
            pipeline._finish(d, Verdict(SKIP, "GROUP_ABORTED", "an earlier exit leg could "
                                        "not be placed"), "exit")
            continue
        v = pipeline._call(ex, ex.execute, leg, d)
        if v is not None:
            pipeline._finish(d, v, "exit")
            pipeline.groups.abort(state, f"exit leg {i} declined: {v.code}")
            continue
        d.reason_codes = [code]
        pipeline._finish(d, None, "exit", codes_set=True)
    return decisions
