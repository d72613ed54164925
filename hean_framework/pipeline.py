"""The decision pipeline: every signal ends in exactly one :class:`OrderDecision`.

Order of stages::

    validation -> filters -> sizers -> exchange rounding -> gates -> executor

* a filter or sizer verdict stops the signal at that stage;
* every gate votes; any BLOCK blocks (SKIP when only SKIPs); an exception counts as BLOCK
  (``COMPONENT_ERROR``): gates fail closed;
* after the last sizer the kernel rounds the quantity down to the lot size and checks the
  exchange minimums: when they would force a larger order than the sizers allowed, the
  decision is BLOCK ``POSITION_SIZER_ZERO`` with the numbers -- never a silent up-size;
* reduce-only signals (exits) skip filters, sizers and gates: closing risk is never blocked.

The pipeline keeps the funnel counters (signals -> passed filters -> sized -> passed gates
-> orders -> fills) and the reason codes per stage.
"""

from __future__ import annotations

import math
import re
import traceback
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .components import Executor, Filter, Gate, Sizer, Verdict
from .facts import REGIME
from .groups import GroupBook, OrderGroup, decide_exit
from .models import BLOCK, CREATE, SKIP, OrderDecision, Signal, to_dict
from .styles import exempt

if TYPE_CHECKING:
    from .context import RunContext

STAGES = ("filter", "sizer", "gate", "executor")


class StageCounter:
    """In/out counts and reason codes of one pipeline stage."""

    __slots__ = ("inn", "out", "reasons", "stage")

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.inn = 0
        self.out = 0
        self.reasons: Counter[str] = Counter()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form used by the report."""
        return {"stage": self.stage, "in": self.inn, "out": self.out,
                "reasons": dict(self.reasons.most_common())}


class Pipeline:
    """Runs filters, sizers, gates and the executor for each signal, in YAML order."""

    def __init__(self, ctx: RunContext, *, filters: Sequence[Filter] = (),
                 sizers: Sequence[Sizer] = (), gates: Sequence[Gate] = (),
                 executors: dict[str, Executor], default_executor: str,
                 strategy_executor: dict[str, str] | None = None,
                 require_stop_loss: bool = True, allow_pyramiding: bool = False,
                 allow_reversal: bool = True,
                 on_decision: Callable[[OrderDecision], None] | None = None,
                 on_error: Callable[[str, Exception, Any], None] | None = None,
                 keep_recent: int = 100, groups: GroupBook | None = None) -> None:
        self.ctx = ctx
        self.filters = list(filters)
        self.sizers = list(sizers)
        self.gates = list(gates)
        self.executors = executors
        self.default_executor = default_executor
        self.strategy_executor = strategy_executor or {}
        self.require_stop_loss = require_stop_loss
        self.allow_pyramiding = allow_pyramiding
        self.allow_reversal = allow_reversal
        #: strategies whose style is exempt from the open-position check (hean_framework.styles)
        self.any_position_ok = frozenset(
            sid for sid, info in ctx.run.strategies.items()
            if exempt(info.style, "position_open"))
        self.on_decision = on_decision
        self.on_error = on_error
        self.counters = {s: StageCounter(s) for s in STAGES}
        self.signals = 0
        self.exits = 0
        self.orders = 0
        self.fills = 0
        self.decisions: Counter[str] = Counter()
        self.validation_reasons: Counter[str] = Counter()
        self.by_strategy: dict[str, Counter[str]] = {}
        self.recent: deque[OrderDecision] = deque(maxlen=keep_recent)
        self._next_signal = 0
        self._next_decision = 0
        self._next_group = 0
        #: the run's live order groups (the order router's book in a run)
        self.groups = groups if groups is not None else GroupBook(ctx)

    # ------------------------------------------------------------------ entry point

    def process(self, signal: Signal) -> OrderDecision:
        """Decide on one signal; returns the (already recorded) decision."""
        bad = malformed(signal)
        if bad is not None:
            return self._invalid(signal, *bad)
        d = self._new_decision(signal, signal.entry_price)
        if signal.reduce_only:
            return self._exit(signal, d)
        stop = self._screen(signal, d)
        if stop is not None:
            return self._finish(d, *stop)
        # executor
        c = self.counters["executor"]
        c.inn += 1
        ex_name = self.strategy_executor.get(signal.strategy_id, self.default_executor)
        ex = self.executors[ex_name]
        before = self.orders
        v = self._call(ex, ex.execute, signal, d)
        if v is not None:
            c.reasons[v.code] += 1
            return self._finish(d, v, "executor:" + ex_name)
        c.out += 1
        d.stage = stage = "executor:" + ex_name
        details = d.details
        if "orders" not in details:
            details["orders"] = self.orders - before
        return self._finish(d, None, stage)

    def process_group(self, group: OrderGroup) -> list[OrderDecision]:
        """Decide an order group: every leg passes or none is sent (see
        :mod:`hean_framework.groups`); returns the legs' decisions."""
        self._next_group += 1
        group.group_id = gid = self._next_group
        for leg in group.legs:
            bad = malformed(leg) if type(leg) is Signal else ("legs", leg)
            if bad is not None:  # the whole group is one strategy's bug: every leg says so
                field, value = bad
                return [self._invalid(x, field, value, group_id=gid) if type(x) is Signal
                        else self.reject("?", field, f"a group leg is {_shown(x)}, not a "
                                         "Signal", value=x)
                        for x in group.legs]
        if group.kind == "exit":  # reduce-only legs closed together (hean_framework.groups)
            return decide_exit(self, group)
        quote = group.kind == "quote"
        if quote and not group.legs:  # an empty quote withdraws (hean_framework.quotes)
            return self.groups.quotes.withdraw_group(self, group)
        problem = group.problem()
        ctx = self.ctx
        decisions: list[OrderDecision] = []
        stops: list[tuple[Verdict, str, bool] | None] = []
        for leg in group.legs:
            if not leg.ts:
                leg.ts = ctx.now
            d = self._new_decision(leg, leg.entry_price or leg.limit_price)
            d.details["group_id"] = gid
            decisions.append(d)
            if problem:
                stops.append((Verdict(BLOCK, "INVALID_GROUP", problem), "validation", False))
            else:
                stops.append(self._screen(leg, d, quote=quote))
        if any(st is not None for st in stops):
            blockers = [decisions[i].decision_id for i, st in enumerate(stops) if st]
            for d, st in zip(decisions, stops):
                if st is None:
                    st = (Verdict(BLOCK, "GROUP_LEG_BLOCKED", "another leg of the group was "
                                  "stopped", {"blocked_by": blockers}), "group", False)
                self._finish(d, *st)
            if quote:  # a refused requote leaves no old prices resting
                leg = group.legs[0]
                self.groups.quotes.withdraw(leg.strategy_id, leg.symbol, group.key,
                                            "requote_blocked")
            return decisions
        if quote:  # the quote executor (hean_framework.quotes)
            return self.groups.quotes.place(self, group, decisions)
        ex_name = self.strategy_executor.get(group.legs[0].strategy_id, self.default_executor)
        ex = self.executors[ex_name]
        c = self.counters["executor"]
        state = self.groups.open(group, decisions, ex)
        for i, (leg, d) in enumerate(zip(group.legs, decisions)):
            if state.status != "open":  # an earlier leg aborted the group
                self._finish(d, Verdict(SKIP, "GROUP_ABORTED", "an earlier leg could not be "
                                        "placed"), "executor:" + ex_name)
                continue
            c.inn += 1
            before = self.orders
            v = self._call(ex, ex.execute, leg, d)
            if v is not None:
                c.reasons[v.code] += 1
                self._finish(d, v, "executor:" + ex_name)
                self.groups.abort(state, f"leg {i} declined: {v.code}")
                continue
            c.out += 1
            d.details.setdefault("orders", self.orders - before)
            self._finish(d, None, "executor:" + ex_name)
        return decisions

    def decline(self, signal: Signal, code: str, message: str,
                details: dict[str, Any]) -> OrderDecision:
        """Record a strategy's own SKIP of ``signal`` (``ctx.orders.decline``), stage
        ``strategy``; a malformed signal or reason code is ``BLOCK INVALID_SIGNAL``."""
        bad = malformed(signal)
        if bad is not None:
            return self._invalid(signal, *bad)
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            return self._invalid(signal, "code", code)
        d = self._new_decision(signal, signal.entry_price or signal.limit_price)
        return self._finish(d, Verdict(SKIP, code, message or code, details), "strategy")

    def reject(self, strategy_id: str, field: str, message: str, *,
               symbol: str = "", side: str = "", value: Any = None) -> OrderDecision:
        """Record ``BLOCK INVALID_SIGNAL`` for something a strategy produced that is not a
        usable signal (its plugin is named in the dead letter the engine writes)."""
        self._next_decision += 1
        d = OrderDecision(self._next_decision, 0, strategy_id, symbol, side, self.ctx.now,
                          price=0.0)
        self.signals += 1
        strat = self.by_strategy.get(strategy_id)
        if strat is None:
            strat = self.by_strategy[strategy_id] = Counter()
        strat["signals"] += 1
        return self._finish(d, Verdict(BLOCK, "INVALID_SIGNAL", message,
                                       {"field": field, "value": _shown(value)}), "validation")

    def _invalid(self, signal: Signal, field: str, value: Any,
                 group_id: int = 0) -> OrderDecision:
        self._next_signal += 1
        signal.signal_id = self._next_signal
        d = self.reject(str(signal.strategy_id), field,
                        f"signal.{field} is not usable: {_shown(value)}",
                        symbol=str(signal.symbol), side=str(signal.side), value=value)
        d.signal_id = signal.signal_id
        if group_id:
            d.details["group_id"] = group_id
        if self.on_error is not None:
            self.on_error(str(signal.strategy_id), ValueError(d.message), signal)
        return d

    def _new_decision(self, signal: Signal, price: float | None) -> OrderDecision:
        """Number the signal, open its decision (at ``price``, else the market's) and count
        it."""
        self._next_signal += 1
        signal.signal_id = sid = self._next_signal
        self._next_decision += 1
        ctx = self.ctx
        symbol = signal.symbol
        d = OrderDecision(self._next_decision, sid, signal.strategy_id, symbol, signal.side,
                          ctx.now, price=price or ctx.market[symbol].price,
                          qty_requested=signal.size or 0.0, cause_seq=signal.cause_seq)
        regime = ctx.facts.get(REGIME, symbol)
        if regime:
            d.regime = regime
        self.signals += 1
        strat = self.by_strategy.get(signal.strategy_id)
        if strat is None:
            strat = self.by_strategy[signal.strategy_id] = Counter()
        strat["signals"] += 1
        return d

    # ------------------------------------------------------------------ stages

    def _screen(self, signal: Signal, d: OrderDecision, quote: bool = False
                ) -> tuple[Verdict, str, bool] | None:
        """Validation, filters, sizers, exchange rounding and gates: ``(verdict, stage,
        codes_set)`` of the stage that stopped the signal, or None when it passed them all."""
        verdict = self._validate(signal, d, quote)
        if verdict is not None:
            return verdict, "validation", False
        # filters
        c = self.counters["filter"]
        c.inn += 1
        for f in self.filters:
            v = self._call(f, f.check, signal, d)
            if v is not None:
                c.reasons[v.code] += 1
                return v, "filter:" + f.name, False
        c.out += 1
        # sizers
        c = self.counters["sizer"]
        c.inn += 1
        d.qty_raw = signal.size or 0.0
        for s in self.sizers:
            v = self._call(s, s.size, signal, d)
            if v is not None:
                c.reasons[v.code] += 1
                return v, "sizer:" + s.name, False
        v = self._round(signal, d)
        if v is not None:
            c.reasons[v.code] += 1
            return v, "sizer:exchange", False
        c.out += 1
        # gates: everyone votes
        c = self.counters["gate"]
        c.inn += 1
        votes: list[tuple[str, Verdict]] = []
        for g in self.gates:
            v = self._call(g, g.vote, signal, d)
            if v is not None:
                votes.append((g.name, v))
        if votes:
            blocks = [(n, v) for n, v in votes if v.decision == BLOCK]
            deciding = blocks or votes
            for _, v in votes:
                c.reasons[v.code] += 1
            name, first = deciding[0]
            merged = Verdict(first.decision, first.code, first.message, dict(first.details))
            for _, v in deciding[1:]:
                merged.details.update(v.details)
            d.reason_codes = [v.code for _, v in deciding]
            return merged, "gate:" + name, True
        c.out += 1
        return None

    def _validate(self, signal: Signal, d: OrderDecision, quote: bool = False
                  ) -> Verdict | None:
        if signal.side not in ("buy", "sell"):
            return Verdict(BLOCK, "VALIDATION_FAIL", f"side must be 'buy' or 'sell', "
                           f"got {signal.side!r}")
        if self.ctx.instruments.find(signal.symbol) is None:
            return Verdict(BLOCK, "VALIDATION_FAIL",
                           f"no instrument metadata for {signal.symbol!r}")
        if not d.price or d.price <= 0.0:
            return Verdict(SKIP, "VALIDATION_FAIL", "no usable price yet for " + signal.symbol)
        pos = 0.0 if quote or signal.strategy_id in self.any_position_ok else \
            self.ctx.portfolio.position_qty(signal.strategy_id, signal.symbol)
        if pos:
            if (pos > 0.0) == (signal.side == "buy"):
                if not self.allow_pyramiding:
                    return Verdict(SKIP, "POSITION_OPEN",
                                   f"{signal.strategy_id} already holds {pos:g} "
                                   f"{signal.symbol} (pipeline.allow_pyramiding is false)")
            elif not self.allow_reversal:
                return Verdict(SKIP, "POSITION_OPEN", "opposite position open and "
                               "pipeline.allow_reversal is false")
            else:
                d.close_qty = abs(pos)
        sl = signal.stop_loss
        if sl is None:
            if self.require_stop_loss and signal.size is None:
                return Verdict(BLOCK, "MISSING_STOP_LOSS",
                               "signal has no stop_loss; the risk sizer needs one "
                               "(or set pipeline.require_stop_loss: false and give a size)")
        elif (signal.side == "buy" and sl >= d.price) or (signal.side == "sell" and sl <= d.price):
            return Verdict(BLOCK, "VALIDATION_FAIL",
                           f"stop_loss {sl} is on the wrong side of the entry {d.price} for a "
                           f"{signal.side}")
        return None

    def _round(self, signal: Signal, d: OrderDecision) -> Verdict | None:
        """Round down to the lot size; refuse orders below the exchange minimum."""
        inst = self.ctx.instruments.get(signal.symbol)
        qty = inst.round_qty(max(d.qty_raw, 0.0))
        d.qty = qty
        d.notional = inst.notional(qty, d.price)
        if signal.stop_loss is not None:
            d.risk_amount = qty * inst.contract_size * abs(d.price - signal.stop_loss)
        if qty >= inst.lot_size > 0.0 and inst.check_minimum(qty, d.price):
            return None  # whole lots meeting every minimum: min_order_qty would agree
        min_qty = inst.min_order_qty(d.price)
        if qty > 0.0 and qty + 1e-12 >= min_qty:
            return None
        details: dict[str, Any] = {
            "qty_raw": d.qty_raw, "lot_size": inst.lot_size, "min_qty": min_qty,
            "min_notional": round(inst.min_order_notional(d.price), 8),
            "exchange_minimum": inst.describe_minimum(d.price),
        }
        if signal.stop_loss is not None:
            stop_dist = abs(d.price - signal.stop_loss) * inst.contract_size
            details["risk_at_minimum"] = round(min_qty * stop_dist, 8)
            details["risk_allowed"] = round(d.risk_allowed, 8)
        details["qty_rounded"] = qty
        d.qty = d.notional = d.risk_amount = 0.0
        return Verdict(BLOCK, "POSITION_SIZER_ZERO",
                       f"size {d.qty_raw:.8g} rounds below the exchange minimum "
                       f"({details['exchange_minimum']}); refusing to up-size", details)

    def _exit(self, signal: Signal, d: OrderDecision) -> OrderDecision:
        self.exits += 1
        pos_qty = self.ctx.portfolio.position_qty(signal.strategy_id, signal.symbol)
        qty = abs(pos_qty) if signal.size is None else min(signal.size, abs(pos_qty))
        want = "sell" if pos_qty > 0 else "buy"
        if qty <= 0.0 or signal.side != want:
            return self._finish(d, Verdict(SKIP, "NO_POSITION", "nothing to close"), "exit")
        d.qty_raw = d.qty = qty
        inst = self.ctx.instruments.get(signal.symbol)
        d.notional = inst.notional(qty, d.price)
        ex = self.executors["plain"] if "plain" in self.executors else \
            self.executors[self.default_executor]
        v = self._call(ex, ex.execute, signal, d)
        if v is not None:
            return self._finish(d, v, "exit")
        d.reason_codes = [signal.tag or "EXIT"]
        return self._finish(d, None, "exit", codes_set=True)

    # ------------------------------------------------------------------ helpers

    def _call(self, comp: Any, fn: Callable[[Signal, OrderDecision], Verdict | None],
              signal: Signal, d: OrderDecision) -> Verdict | None:
        try:
            return fn(signal, d)
        except Exception as exc:  # isolate the component; fail closed
            if self.on_error is not None:
                self.on_error(comp.name, exc, signal)
            return Verdict(BLOCK, "COMPONENT_ERROR",
                           f"{comp.kind} {comp.name!r} raised {type(exc).__name__}: {exc}",
                           {"component": comp.name,
                            "traceback": traceback.format_exc(limit=3)})

    def _finish(self, d: OrderDecision, v: Verdict | None, stage: str,
                codes_set: bool = False) -> OrderDecision:
        d.stage = stage
        if v is None:
            d.decision = CREATE
            if not codes_set:
                d.reason_codes = ["ACCEPTED"]
        else:
            d.decision = v.decision
            if not codes_set:
                d.reason_codes = [v.code]
            d.message = v.message
            if v.details:
                d.details.update(v.details)
            if stage == "validation":
                self.validation_reasons[v.code] += 1
        self.decisions[d.decision] += 1
        self.by_strategy[d.strategy_id][d.decision] += 1
        self.recent.append(d)
        if self.on_decision is not None:
            self.on_decision(d)
        return d

    # ------------------------------------------------------------------ reporting

    def funnel(self) -> dict[str, Any]:
        """Signals -> passed filters -> sized -> passed gates -> orders -> fills."""
        c = self.counters
        return {
            "signals": self.signals,
            "exits": self.exits,
            "validated": c["filter"].inn,
            "passed_filters": c["filter"].out,
            "sized": c["sizer"].out,
            "passed_gates": c["gate"].out,
            "orders": self.orders,
            "fills": self.fills,
            "decisions": {k: self.decisions.get(k, 0) for k in (CREATE, SKIP, BLOCK)},
            "validation_reasons": dict(self.validation_reasons),
            "stages": [c[s].as_dict() for s in STAGES],
            "by_strategy": {k: dict(v) for k, v in sorted(self.by_strategy.items())},
        }

    def recent_dicts(self) -> list[dict[str, Any]]:
        """The last decisions as plain dicts (for report.json and ``hean why``)."""
        return [to_dict(d) for d in self.recent]


_ORDER_TYPES = frozenset(("market", "limit"))


_NUM = (float, int)
_CODE = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
_SIDES = ("buy", "sell")
_INF = math.inf


def _finite(x: Any) -> bool:
    return type(x) in _NUM and math.isfinite(x)


def malformed(s: Signal) -> tuple[str, Any] | None:
    """``(field, value)`` of the first field of ``s`` no venue could act on, else None.

    Numbers must be real finite numbers (not strings, NaN or inf); sizes and prices > 0;
    ``side`` buy/sell; ``order_type`` market/limit, a limit with a ``limit_price``.  The
    usual signal passes one expression without a function call (this runs per signal: NaN
    fails every comparison, so ``0 <= x < inf`` also refuses it).
    """
    ep, size, sm = s.entry_price, s.size, s.size_multiplier
    sl, tp, lp, mh = s.stop_loss, s.take_profit, s.limit_price, s.max_hold_ms
    if (s.side in _SIDES and type(s.symbol) is str and s.symbol
            and type(s.strategy_id) is str and s.strategy_id
            and type(ep) in _NUM and 0 <= ep < _INF
            and (size is None or (type(size) in _NUM and 0 < size < _INF))
            and (sl is None or (type(sl) in _NUM and 0 < sl < _INF))
            and (tp is None or (type(tp) in _NUM and 0 < tp < _INF))
            and (lp is None or (type(lp) in _NUM and 0 < lp < _INF))
            and s.order_type in _ORDER_TYPES and (lp is not None or s.order_type != "limit")
            and type(sm) in _NUM and 0 <= sm < _INF
            and (mh is None or (type(mh) is int and mh > 0))):
        return None
    return _first_bad_field(s)


def _first_bad_field(s: Signal) -> tuple[str, Any]:
    """The field :func:`malformed` reports (the slow path: the signal is bad)."""
    if s.side not in _SIDES:
        return "side", s.side
    if not isinstance(s.symbol, str) or not s.symbol:
        return "symbol", s.symbol
    if not isinstance(s.strategy_id, str) or not s.strategy_id:
        return "strategy_id", s.strategy_id
    if not _finite(s.entry_price) or s.entry_price < 0:
        return "entry_price", s.entry_price
    if s.size is not None and (not _finite(s.size) or s.size <= 0):
        return "size", s.size
    for name in ("stop_loss", "take_profit", "limit_price"):
        v = getattr(s, name)
        if v is not None and (not _finite(v) or v <= 0):
            return name, v
    if s.order_type not in _ORDER_TYPES:
        return "order_type", s.order_type
    if s.order_type == "limit" and s.limit_price is None:
        return "limit_price", None
    if not _finite(s.size_multiplier) or s.size_multiplier < 0:
        return "size_multiplier", s.size_multiplier
    return "max_hold_ms", s.max_hold_ms


def _shown(value: Any) -> Any:
    """A JSON-safe, short form of a bad value for the decision record."""
    if value is None or isinstance(value, (bool, int, str)):
        return value if not isinstance(value, str) else value[:80]
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return f"{type(value).__name__} {value!r:.60}"
