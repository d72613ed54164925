"""The quote executor: a strategy's resting orders are kept equal to the quote it sent last.

A quoting strategy (``style = "quoting"``, :mod:`hean_framework.styles`) publishes a quote as
an :class:`~hean_framework.groups.OrderGroup` of ``kind="quote"``: limit legs of one symbol (a
bid and an ask, one side, or a ladder of levels), identified by ``(strategy, symbol, key)``.
Every quote passes the pipeline as one group decision (each leg is validated, filtered,
sized, rounded and gated; one stopped leg stops the group, ``GROUP_LEG_BLOCKED``).  Then the
:class:`QuoteBook` makes the venue's orders equal the new quote, changing as little as it can:

1. **unchanged levels are left alone** -- a live order of the previous quote on the same side
   at the same (tick-rounded) price with the same remaining quantity is kept, so it keeps its
   place in the queue (decision ``details.quote = "kept"``);
2. **amend where the venue can** -- when the port amends in place (``ctx.orders.can_amend``),
   a level of the same price with another quantity, then the remaining levels of a side in
   order, are amended to the new price/quantity (``"amended"``; the simulated venue's ``amend``
   option, its docstring has the queue rules);
3. **cancel + place otherwise** -- every other order of the previous quote is cancelled (reason
   ``requote``) *before* the new levels are placed as post-only limit orders (``"placed"``).

An **empty quote** (:meth:`OrderGroup.withdraw <hean_framework.groups.OrderGroup.withdraw>`)
cancels the quote's orders (reason ``quote_withdrawn``), and so does a quote the pipeline
stopped (reason ``requote_blocked``: a quote the risk layer refuses must not leave the previous
prices resting).  Levels that fill simply leave the quote; the strategy hears the fill and
requotes when it wants.  So, at every moment, every open order of a quoting strategy belongs to
its current quote -- except orders whose cancel or amend is still in flight (venue latency).

Journal: every quote is an ``order_group`` event (``kind: quote``; ``kept``, ``amended``,
``placed``, ``cancelled`` counts) and the quote it replaced ends (``order_group_end``:
``replaced``, ``withdrawn``).  The report gets a ``quotes`` section (counts per strategy).

Speed: a requote with nothing to change costs the pipeline's screening of its legs and one
dictionary look-up per level; no order is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .components import Verdict
from .execution.margin import refusal_verdict
from .models import OrderDecision

if TYPE_CHECKING:
    from .context import RunContext
    from .groups import OrderGroup
    from .pipeline import Pipeline

__all__ = ["Level", "LiveQuote", "QuoteBook"]

QuoteKey = tuple[str, str, str]

_COUNTS = ("quotes", "kept", "amended", "placed", "cancelled", "rejected", "withdrawn",
           "blocked")


@dataclass(slots=True)
class Level:
    """One level of a live quote: the order resting for it and what it should be."""

    side: str
    price: float  #: tick-rounded limit price
    total: float  #: the order's quantity the level asks for (filled + remaining)
    order_id: int


@dataclass(slots=True)
class LiveQuote:
    """The quote a strategy sent last for one ``(symbol, key)``."""

    strategy_id: str
    symbol: str
    key: str
    group_id: int
    levels: list[Level]


class QuoteBook:
    """The live quotes of a run (kept by the run's :class:`~hean_framework.groups.GroupBook`
    as ``groups.quotes``); see the module docstring."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.live: dict[QuoteKey, LiveQuote] = {}
        #: strategy -> counter name -> count (report section ``quotes``)
        self.counts: dict[str, dict[str, int]] = {}
        self._reported = False

    # ------------------------------------------------------------------ queries

    def resting(self, strategy_id: str, symbol: str | None = None) -> set[int]:
        """Ids of the live orders of ``strategy_id``'s current quotes (of ``symbol``)."""
        get = self.ctx.orders.get
        out: set[int] = set()
        for (sid, sym, _), q in self.live.items():
            if sid != strategy_id or (symbol is not None and sym != symbol):
                continue
            for lv in q.levels:
                o = get(lv.order_id)
                if o is not None and not o.is_done:
                    out.add(lv.order_id)
        return out

    def quote(self, strategy_id: str, symbol: str, key: str = "") -> LiveQuote | None:
        """The live quote of ``(strategy_id, symbol, key)``, or None."""
        return self.live.get((strategy_id, symbol, key))

    def report(self) -> dict[str, dict[str, int]]:
        """The ``quotes`` report section: counts per strategy."""
        return {k: dict(v) for k, v in sorted(self.counts.items())}

    # ------------------------------------------------------------------ changes

    def withdraw(self, strategy_id: str, symbol: str, key: str = "",
                 reason: str = "quote_withdrawn") -> int:
        """Cancel the quote's live orders and forget it; returns the orders cancelled."""
        q = self.live.pop((strategy_id, symbol, key), None)
        if q is None:
            return 0
        n = self._cancel(q.levels, reason)
        counts = self._counts(strategy_id)
        counts["cancelled"] += n
        counts["withdrawn" if reason == "quote_withdrawn" else "blocked"] += 1
        self._end(q, "withdrawn" if reason == "quote_withdrawn" else "blocked", n)
        return n

    def withdraw_group(self, pipeline: Pipeline, group: OrderGroup) -> list[OrderDecision]:
        """An empty quote: withdraw ``(group.strategy_id, group.symbol, group.key)``."""
        if not group.strategy_id or not group.symbol:
            return [pipeline.reject(group.strategy_id or "?", "legs", "an empty quote "
                                    "withdraws a quote: build it with OrderGroup.withdraw("
                                    "strategy_id, symbol, key)")]
        self.withdraw(group.strategy_id, group.symbol, group.key)
        return []

    def place(self, pipeline: Pipeline, group: OrderGroup,
              decisions: list[OrderDecision]) -> list[OrderDecision]:
        """Make the venue's orders equal ``group`` (its legs passed the pipeline)."""
        ctx = self.ctx
        orders = ctx.orders
        legs = group.legs
        leg0 = legs[0]
        sid, symbol = leg0.strategy_id, leg0.symbol
        qkey = (sid, symbol, group.key)
        inst = ctx.instruments.get(symbol)
        prices = [inst.round_price(float(leg.limit_price), leg.side)  # type: ignore[arg-type]
                  for leg in legs]
        old = self.live.pop(qkey, None)
        live_old: list[Level] = []
        if old is not None:
            for old_lv in old.levels:
                o = orders.get(old_lv.order_id)
                if o is not None and not o.is_done:
                    live_old.append(old_lv)
        amend_ok = bool(getattr(orders, "can_amend", False))
        plan: list[Level | None] = [None] * len(legs)
        if live_old:
            free = list(live_old)
            for i, leg in enumerate(legs):  # same side and price: keep (or amend the size)
                for cand in free:
                    if cand.side == leg.side and cand.price == prices[i]:
                        plan[i] = cand
                        free.remove(cand)
                        break
            if free and amend_ok:
                for i, leg in enumerate(legs):  # the side's other levels, in order: amend
                    if plan[i] is None:
                        for cand in free:
                            if cand.side == leg.side:
                                plan[i] = cand
                                free.remove(cand)
                                break
            cancelled = self._cancel(free, "requote")
        else:
            cancelled = 0
        counts = self._counts(sid)
        counts["quotes"] += 1
        counts["cancelled"] += cancelled
        c = pipeline.counters["executor"]
        tol = inst.lot_size * 0.5 if inst.lot_size > 0.0 else 1e-12
        levels: list[Level] = []
        done = {"kept": 0, "amended": 0, "placed": 0}
        for i, (leg, d) in enumerate(zip(legs, decisions)):
            c.inn += 1
            qty, price = d.qty, prices[i]
            d.maker_or_taker = "maker"
            lv = plan[i]
            how = ""
            if lv is not None:
                o = orders.get(lv.order_id)
                if o is not None and not o.is_done:
                    want = o.filled + qty
                    if lv.price == price and abs(lv.total - want) <= tol:
                        how = "kept"
                    elif amend_ok:
                        amended = orders.amend(
                            lv.order_id, qty=want if abs(lv.total - want) > tol else None,
                            price=price if price != lv.price else None)
                        if amended is not None and not amended.is_done:
                            how = "amended"
                            if amended.order_id != lv.order_id:  # replaced by the port
                                lv = Level(leg.side, price, want, amended.order_id)
                    if how:
                        lv.price, lv.total = price, want
                        levels.append(lv)
                        d.details["order_id"] = lv.order_id
                    elif orders.cancel(lv.order_id, "requote") is not None:
                        counts["cancelled"] += 1
                        cancelled += 1
            v: Verdict | None = None
            if not how:
                how = "placed"
                before = pipeline.orders
                order = orders.submit(leg, d, qty, order_type="limit", price=price,
                                      post_only=True, tag=leg.tag or "QUOTE")
                d.details["orders"] = pipeline.orders - before
                d.details["order_id"] = order.order_id
                v = refusal_verdict(order)
                if order.status == "rejected":
                    counts["rejected"] += 1
                    d.details["venue_reason"] = order.reason
                else:
                    levels.append(Level(leg.side, price, qty, order.order_id))
            done[how] += 1
            counts[how] += 1
            d.details["quote"] = how
            if v is not None:
                c.reasons[v.code] += 1
            else:
                c.out += 1
            pipeline._finish(d, v, "executor:quote")
        self.live[qkey] = LiveQuote(sid, symbol, group.key, group.group_id, levels)
        if ctx.journal is None:  # nothing to journal: skip building the events
            return decisions
        if old is not None:
            self._end(old, "replaced", cancelled)
        self._event("order_group", group.group_id, {
            "kind": "quote", "key": group.key, "symbol": symbol, **done,
            "cancelled": cancelled,
            "legs": [{"decision_id": d.decision_id, "side": d.side, "qty": d.qty,
                      "price": prices[i]} for i, d in enumerate(decisions)]})
        return decisions

    # ------------------------------------------------------------------ helpers

    def _cancel(self, levels: list[Level], reason: str) -> int:
        orders = self.ctx.orders
        n = 0
        for lv in levels:
            if orders.cancel(lv.order_id, reason) is not None:
                n += 1
        return n

    def _counts(self, strategy_id: str) -> dict[str, int]:
        counts = self.counts.get(strategy_id)
        if counts is None:
            counts = self.counts[strategy_id] = dict.fromkeys(_COUNTS, 0)
            if not self._reported:
                self._reported = True
                self.ctx.add_section("quotes", self.report)
        return counts

    def _end(self, q: LiveQuote, status: str, cancelled: int) -> None:
        self._event("order_group_end", q.group_id, {"status": status, "kind": "quote",
                                                    "cancelled": cancelled})

    def _event(self, kind: str, group_id: int, payload: dict[str, Any]) -> None:
        journal = self.ctx.journal
        if journal is not None:
            journal.event(self.ctx.now, kind, {"group_id": group_id, **payload})
