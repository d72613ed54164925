"""``executors.twap``: cut large parent orders into time-spread market slices (issue 19).

A parent is one accepted pipeline decision.  Its notional at the arrival price decides:

* ``notional >= threshold_notional`` (500 USDT): the parent is cut into ``slices`` (10)
  child market orders spread over ``duration_s`` (300 s) -- slice 0 at once, each next one
  ``duration / slices x (1 + u)`` later, ``u`` uniform in ``+-jitter`` (0.2) from a generator
  seeded with the run's seed (``run.seed``) and the parent's decision id, at least
  ``min_interval_s`` apart (:mod:`hean_twap.schedule`).  Same seed, same parent: same
  schedule.
* below it: one market order, or the parent goes to the ``inner`` executor when one is named
  (an executor of the run's ``executors:`` section, e.g. ``smart_order``; TWAP builds its own
  instance of it with that section's settings).

**Minimums.**  No slice is below the exchange minimum (``min_order_qty`` at the arrival
price: minimum quantity and minimum notional): the count is reduced and the merge recorded
(``twap_merge`` journal event, the decision's ``details.twap.merge``, the report row).  The last
slice takes the lot-rounding remainder.  A slice that has fallen below the minimum notional
by the time it is sent (the price moved) is added to the next slice (``merges_at_send``).

**Linking.**  Every slice is an order of the parent's decision (same ``decision_id``), so the
transaction-cost report (``tca``) aggregates the slices' fills as one parent of executor
``twap``; the journal gets ``twap_parent`` (the plan), ``twap_slice`` (each child: index,
quantity, planned and actual time, order id), ``twap_abort`` and ``twap_done`` events, all
carrying ``decision_id``.

**Aborts**, checked before every slice after the first:

* ``stop_trading``: the risk governor's state (fact ``risk_state``) is one of
  ``stop_states`` (HARD_STOP, KILLSWITCH);
* ``adverse_move``: the mid moved more than ``abort_adverse_bps`` (50 = 0.5 %) against the
  parent from the arrival price (None: never);
* ``position_exited``: an entry parent's position was closed (its stop or target filled)
  after some slices filled -- the remaining slices would open a new position.

The remaining slices are then not sent and any open slice order is cancelled; the abort is
journaled with its reason and numbers.  A reduce-only parent (an exit, sliced only with
``slice_exits: true``) is not dropped but *accelerated*: its remaining quantity goes out at
once as one market order.

**Exits** (reduce-only) are not sliced unless ``slice_exits``.  Note that the kernel's
pipeline sends every exit signal through the ``plain`` executor, so within a run TWAP sees a
reduce-only parent only when a component hands one to it directly.

**Report** (section ``twap``, :mod:`hean_twap.parent`): per parent the VWAP of its fills,
participation, implementation shortfall vs the arrival price in bps, and the slices planned,
sent, filled, rejected and aborted.
"""

from __future__ import annotations

from collections import deque
from functools import partial
from typing import Any

from pydantic import Field, field_validator

from hean_framework.components import ComponentConfig, Executor, Verdict
from hean_framework.config import ResolvedComponent
from hean_framework.context import RunContext
from hean_framework.errors import ConfigError
from hean_framework.execution.margin import refusal_verdict
from hean_framework.models import Fill, Order, OrderDecision, Signal
from hean_framework.optimize import space_of
from hean_framework.risk.governor import RISK_STATE, STATES

from .parent import ABORTED, ACCELERATED, COMPLETE, INCOMPLETE, REJECTED, RUNNING, TwapParent
from .schedule import parent_rng, slice_offsets, slice_quantities

__all__ = ["TwapConfig", "TwapExecutor"]

#: parents listed one by one in the report (the most recent)
RECENT_PARENTS = 100
#: states a governor publishes (``risk_state``), plus its killswitch
KNOWN_STOP_STATES = (*STATES, "KILLSWITCH")


class TwapConfig(ComponentConfig):
    """``executors.twap``."""

    threshold_notional: float = Field(500.0, ge=0.0, le=1e9, description="parents of at "
                                      "least this notional (quote currency, at the arrival "
                                      "price) are sliced; smaller ones go out at once")
    slices: int = Field(10, ge=1, le=200, description="slices per parent (fewer when a "
                        "slice would be below the exchange minimum)")
    duration_s: float = Field(300.0, ge=1.0, le=86_400.0, description="time over which the "
                              "slices are spread, seconds")
    jitter: float = Field(0.2, ge=0.0, le=0.5, description="each wait is duration/slices x "
                          "(1 + U(-jitter, +jitter))")
    min_interval_s: float = Field(1.0, ge=0.0, le=3_600.0, description="least wait between "
                                  "two slices, seconds")
    abort_adverse_bps: float | None = Field(50.0, gt=0.0, le=5_000.0, description="abort the "
                                            "remaining slices when the mid moved this far "
                                            "against the parent from the arrival price "
                                            "(None: never)")
    stop_states: list[str] = Field(default_factory=lambda: ["HARD_STOP", "KILLSWITCH"],
                                   description="risk governor states that abort the "
                                   "remaining slices")
    slice_exits: bool = Field(False, description="slice reduce-only parents too")
    inner: str | None = Field(None, description="executor of this run (its executors: "
                              "section) for parents below the threshold and unsliced exits; "
                              "None: one market order")

    @field_validator("stop_states")
    @classmethod
    def _known_states(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s not in KNOWN_STOP_STATES]
        if bad:
            raise ValueError(f"unknown governor state(s) {bad}; allowed: "
                             f"{', '.join(KNOWN_STOP_STATES)}")
        return v


class TwapExecutor(Executor):
    """Time-sliced market execution of large parents (module docstring)."""

    config_model = TwapConfig
    config: TwapConfig

    def __init__(self, config: TwapConfig, ctx: RunContext, name: str = "") -> None:
        super().__init__(config, ctx, name)
        self._inner_rc = self._resolve_inner(config.inner) if config.inner else None

    def on_start(self) -> None:
        ctx = self.ctx
        ctx.market.keep_bars = True  # bar volume for the participation on candle data
        #: parents still working or with orders still open, by decision id
        self.parents: dict[int, TwapParent] = {}
        self.recent: deque[TwapParent] = deque(maxlen=RECENT_PARENTS)
        self._by_order: dict[int, TwapParent] = {}
        self._submitting: TwapParent | None = None
        self.counts: dict[str, int] = {
            "parents": 0, "sliced": 0, "direct": 0, "inner": 0, "exits_unsliced": 0,
            "slices_planned": 0, "slices_sent": 0, "slices_filled": 0, "slices_rejected": 0,
            "slices_aborted": 0, "merged_parents": 0, "merges_at_send": 0, "aborted": 0,
            "completed": 0}
        self.aborts: dict[str, int] = {}
        seed = getattr(getattr(ctx.config, "run", None), "seed", 0)
        self.seed = int(seed or 0)
        self.inner: Executor | None = None
        rc = self._inner_rc
        if rc is not None:  # this executor's own instance, with that section's settings
            inner = rc.spec.cls(rc.config, ctx, name=f"{self.name}.{rc.instance}")
            assert isinstance(inner, Executor)
            inner.on_start()
            self.inner = inner
        section = "twap" if self.name == "twap" else f"twap:{self.name}"
        ctx.add_section(section, self.report)

    def _resolve_inner(self, name: str) -> ResolvedComponent:
        """The run's executor section ``name`` (checked when the run is assembled, so a wrong
        name stops the run before it starts)."""
        setup = self.ctx.run.setup
        rcs = {rc.instance: rc for rc in setup.components.get("executor", [])} if setup \
            else {}
        rc = rcs.get(name)
        if rc is None or name == self.name:
            allowed = [n for n in rcs if n != self.name] or ["(no other executor configured)"]
            raise ConfigError(
                [f"executors.{self.name}.inner: {name!r} is not another executor of this "
                 f"run; allowed: {', '.join(allowed)}"],
                hint=f"add an 'executors.{name}:' section (its settings are used), or remove "
                     "'inner' to send small parents as one market order")
        return rc

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply new values of the bounded top-level parameters, clamped into their bounds
        (unknown keys ignored); returns the keys accepted.  Parents already planned keep
        their schedule."""
        space = space_of(type(self.config))
        known = {k: space[k].clip(v) for k, v in params.items() if k in space}
        if known:
            self.config = type(self.config).model_validate(self.config.model_dump() | known)
        return sorted(known)

    # ------------------------------------------------------------------ entry

    def execute(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        ctx = self.ctx
        cfg = self.config
        qty = decision.qty + decision.close_qty
        st = ctx.market[signal.symbol]
        inst = ctx.instruments.get(signal.symbol)
        arrival = st.mid or decision.price
        notional = inst.notional(qty, arrival) if arrival > 0.0 else decision.notional
        info: dict[str, Any] = {"notional": round(notional, 8),
                                "threshold_notional": cfg.threshold_notional}
        if signal.reduce_only and not cfg.slice_exits:
            self.counts["exits_unsliced"] += 1
            return self._direct(signal, decision, qty, {**info, "sliced": False,
                                                        "why": "exit_not_sliced"})
        if notional < cfg.threshold_notional or qty <= 0.0:
            return self._direct(signal, decision, qty, {**info, "sliced": False,
                                                        "why": "below_threshold"})
        qtys, merge = slice_quantities(qty, cfg.slices, inst.min_order_qty(arrival),
                                       inst.lot_size, arrival)
        rng = parent_rng(self.seed, decision.decision_id)
        offsets = slice_offsets(len(qtys), int(cfg.duration_s * 1000), cfg.jitter,
                                int(cfg.min_interval_s * 1000), rng)
        p = TwapParent(signal, decision, ctx.now, arrival, inst.notional(1.0, arrival), qtys,
                       offsets, cfg.slices, merge, st)
        p.pos0 = ctx.portfolio.position_qty(signal.strategy_id, signal.symbol)
        self.parents[decision.decision_id] = p
        self.recent.append(p)
        self.counts["parents"] += 1
        self.counts["sliced"] += 1
        self.counts["slices_planned"] += len(qtys)
        plan = {**info, "sliced": True, "slices": len(qtys), "slices_configured": cfg.slices,
                "qtys": qtys, "offsets_ms": offsets, "arrival_price": arrival,
                "seed": self.seed, "merge": merge.as_dict() if merge is not None else None}
        decision.details["twap"] = plan
        decision.details["execution"] = "twap"
        decision.maker_or_taker = "taker"
        self._journal("twap_parent", p, {**plan, "strategy_id": signal.strategy_id,
                                          "symbol": signal.symbol, "side": signal.side,
                                          "qty": qty})
        if merge is not None:
            self.counts["merged_parents"] += 1
            self._journal("twap_merge", p, merge.as_dict())
        first = self._send(p)
        if p.sent == 1 and first is not None and first.status == "rejected":
            verdict = refusal_verdict(first)
            if verdict is not None:  # the venue refused the size: the parent's decision
                self._finish(p, REJECTED)
                return verdict
        self._after_send(p)
        return None

    def _direct(self, signal: Signal, decision: OrderDecision, qty: float,
                info: dict[str, Any]) -> Verdict | None:
        """A parent not sliced: the inner executor's, else one market order."""
        decision.details["twap"] = info
        if self.inner is not None:
            self.counts["inner"] += 1
            info["executor"] = self.inner.name
            return self.inner.execute(signal, decision)
        self.counts["direct"] += 1
        decision.maker_or_taker = "taker"
        return refusal_verdict(self.ctx.orders.submit(signal, decision, qty, executor=self))

    # ------------------------------------------------------------------ slices

    def _send(self, p: TwapParent) -> Order | None:
        """Send slice ``p.next_index`` (plus any carried quantity); the order, or None when
        the slice was merged into the next one."""
        ctx = self.ctx
        i = p.next_index
        p.next_index += 1
        sig = p.signal
        inst = ctx.instruments.get(sig.symbol)
        last = i == len(p.qtys) - 1
        qty = round(p.qtys[i] + p.carry, 12)
        px = ctx.market[sig.symbol].price or p.arrival
        if not last and not inst.check_minimum(qty, px):
            p.carry = qty
            rec = {"index": i, "qty": qty, "price": px,
                   "min_qty": inst.min_order_qty(px), "reason": "below_minimum_at_send"}
            p.merges_at_send.append(rec)
            self.counts["merges_at_send"] += 1
            self._journal("twap_merge", p, rec)
            return None
        p.carry = 0.0
        self._submitting = p
        try:
            o = ctx.orders.submit(sig, p.decision, qty, executor=self, tag=sig.tag)
        finally:
            self._submitting = None
        p.sent += 1
        self.counts["slices_sent"] += 1
        self._by_order[o.order_id] = p
        p.orders[o.order_id] = i
        if not o.is_done:
            p.open_orders.add(o.order_id)
        else:
            self._slice_done(p, o)
        self._journal("twap_slice", p, {
            "index": i, "slices": len(p.qtys), "qty": qty, "order_id": o.order_id,
            "planned_ts": p.start + p.offsets[i], "status": o.status,
            "filled": o.filled, "avg_price": o.avg_price or None})
        return o

    def _after_send(self, p: TwapParent) -> None:
        """Schedule the next slice, or finish when every slice is out and done."""
        if p.status != RUNNING:
            return
        if p.next_index < len(p.qtys):
            st = self.ctx.market[p.signal.symbol]
            due = p.start + p.offsets[p.next_index]
            due = max(due, self.ctx.now + (1 if st.bar_ms else 0))
            p.timer = self.ctx.clock.schedule(due, partial(self._on_timer, p.decision_id))
        elif not p.open_orders:
            self._finish(p, COMPLETE)

    def _on_timer(self, decision_id: int, now: int) -> None:
        p = self.parents.get(decision_id)
        if p is None or p.status != RUNNING:
            return
        st = self.ctx.market[p.signal.symbol]
        p.track_bars(st)
        reason = self._abort_reason(p)
        if reason is not None:
            self._abort(p, *reason)
            return
        self._send(p)
        self._after_send(p)

    # ------------------------------------------------------------------ aborts

    def _abort_reason(self, p: TwapParent) -> tuple[str, dict[str, Any]] | None:
        ctx = self.ctx
        cfg = self.config
        state = ctx.facts.get(RISK_STATE)
        if state and state in cfg.stop_states:
            return "stop_trading", {"risk_state": state}
        mid = ctx.market[p.signal.symbol].mid
        if cfg.abort_adverse_bps is not None and mid > 0.0 and p.arrival > 0.0:
            adverse = p.sign * (mid - p.arrival) / p.arrival * 1e4
            if adverse > cfg.abort_adverse_bps:
                return "adverse_move", {"mid": mid, "arrival_price": p.arrival,
                                        "adverse_bps": round(adverse, 6),
                                        "abort_adverse_bps": cfg.abort_adverse_bps}
        expected = p.pos0 + p.sign * p.filled  # where this parent's fills put the position
        eps = 1e-9 * max(1.0, p.total)
        if not p.signal.reduce_only and p.filled > 0.0 and expected * p.sign > eps:
            pos = ctx.portfolio.position_qty(p.signal.strategy_id, p.signal.symbol)
            if pos * p.sign <= eps:
                return "position_exited", {"position_qty": pos, "filled_qty": p.filled,
                                           "expected_qty": round(expected, 12)}
        return None

    def _abort(self, p: TwapParent, reason: str, numbers: dict[str, Any]) -> None:
        """Stop sending slices (an exit: send the rest at once); record why."""
        left = len(p.qtys) - p.next_index
        for oid in sorted(p.open_orders):
            self.ctx.orders.cancel(oid, f"twap_abort: {reason}")
        rest = round(sum(p.qtys[p.next_index:]) + p.carry, 12)
        p.abort = {"reason": reason, "ts": self.ctx.now, "slices_left": left,
                   "qty_left": rest, **numbers}
        self.counts["slices_aborted"] += left
        self.aborts[reason] = self.aborts.get(reason, 0) + 1
        self.counts["aborted"] += 1
        accelerate = p.signal.reduce_only and rest > 0.0
        if accelerate:
            p.abort["accelerated_qty"] = rest
            self._submitting = p
            try:
                o = self.ctx.orders.submit(p.signal, p.decision, rest, executor=self,
                                           tag=p.signal.tag)
            finally:
                self._submitting = None
            self._by_order[o.order_id] = p
            p.orders[o.order_id] = -1
            if not o.is_done:
                p.open_orders.add(o.order_id)
        self._journal("twap_abort", p, p.abort)
        p.next_index = len(p.qtys)
        self._finish(p, ACCELERATED if accelerate else ABORTED)

    # ------------------------------------------------------------------ venue callbacks

    def on_fill(self, fill: Fill) -> None:
        p = self._by_order.get(fill.order_id) or self._submitting
        if p is None:
            return
        p.filled += fill.qty
        p.value += fill.qty * fill.price
        p.fees += fill.fee

    def on_order_update(self, order: Order) -> None:
        if not order.is_done:
            return
        p = self._by_order.get(order.order_id)
        if p is None or order.order_id not in p.open_orders:
            return
        p.open_orders.discard(order.order_id)
        self._slice_done(p, order)
        if p.status == RUNNING and p.next_index >= len(p.qtys) and not p.open_orders:
            self._finish(p, COMPLETE)
        elif p.status != RUNNING and not p.open_orders:
            self._forget(p)

    def _slice_done(self, p: TwapParent, o: Order) -> None:
        if p.orders.get(o.order_id, -1) < 0:
            return  # the accelerated remainder of an exit is not a slice
        if o.status == "rejected":
            p.rejected_slices += 1
            self.counts["slices_rejected"] += 1
        elif o.filled + 1e-12 >= o.qty:
            p.filled_slices += 1
            self.counts["slices_filled"] += 1

    def _finish(self, p: TwapParent, status: str) -> None:
        if p.status != RUNNING:
            return
        p.status = status
        p.end_ts = self.ctx.now
        if p.timer:
            self.ctx.clock.cancel(p.timer)
        if status == COMPLETE:
            self.counts["completed"] += 1
        st = self.ctx.market[p.signal.symbol]
        p.freeze(st)
        self._journal("twap_done", p, {"status": status, **p.numbers(st),
                                       "slices_sent": p.sent,
                                       "slices_filled": p.filled_slices})
        if not p.open_orders:
            self._forget(p)

    def _forget(self, p: TwapParent) -> None:
        """A finished parent with no order left to hear from leaves the working tables (the
        report keeps the last ones in ``recent``)."""
        self.parents.pop(p.decision_id, None)
        for oid in p.orders:
            self._by_order.pop(oid, None)

    def on_stop(self) -> None:
        for p in list(self.parents.values()):
            if p.status == RUNNING:
                self._finish(p, INCOMPLETE)
        if self.inner is not None:
            self.inner.on_stop()

    # ------------------------------------------------------------------ reporting

    def _journal(self, kind: str, p: TwapParent, payload: dict[str, Any]) -> None:
        j = self.ctx.journal
        if j is not None:
            j.event(self.ctx.now, kind, {"decision_id": p.decision_id, "executor": self.name,
                                         **payload})

    def report(self) -> dict[str, Any]:
        """The report section: totals and the last parents one by one."""
        market = self.ctx.market
        rows = [p.as_dict(market[p.signal.symbol]) for p in self.recent]
        return {"totals": {**self.counts, "aborts": dict(sorted(self.aborts.items()))},
                "parents": rows,
                "config": self.config.model_dump(),
                "definitions": {
                    "vwap": "average price of the slices' fills",
                    "is_bps": "side x (vwap - arrival price) / arrival price, bps "
                              "(positive = cost); arrival price = mid when the decision "
                              "was executed",
                    "is_total_bps": "is_bps + fees_bps (the tca section's is_bps)",
                    "participation": "filled qty / market volume traded over the parent's "
                                     "life (public trades, else candle volume)",
                    "slices_aborted": "planned slices not sent because the parent was "
                                      "aborted"}}

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.counts, "aborts": dict(self.aborts)}
        if self.inner is not None:
            out["inner_executor"] = self.inner.stats()
        return out
