"""``gates.inflight``: the in-flight tracker (documented in ``docs/risk.md``, "In-flight tracker").

Closes the race where several signals pass the capacity check before any of their orders
fill.  (The original HEAN design notes describe such a tracker but its code was never
published; the rules below are this framework's own.)  A passing vote *reserves* a slot keyed
``(strategy, symbol, signal_id)``; the reservation is released when

* the decision is not CREATE (another gate refused, the executor declined),
* the order is rejected or cancelled with zero fill (``on_order_update``),
* the position opens (``on_fill``: the slot is then counted as a position), or
* it is older than ``ttl_s`` (30 s of *data* time; journaled as ``inflight_expired``).

Capacity: ``effective_open = open positions + in-flight`` must stay below
``max_open_positions``, and a symbol with an in-flight reservation refuses a second one.

Fair access: a strategy holding ``fair_share = max(1, ceil(max_open_positions / N))`` slots
(positions + reservations) is refused while *another* strategy was refused for capacity within
the last ``ttl_s`` (it is "waiting").  A fast strategy may use idle capacity, but once a slower
one waits, freed slots go to the waiting strategy.  Every refusal is SKIP ``INFLIGHT_LIMIT``.

Published for other gates: the facts :data:`INFLIGHT_COUNT` and
``["inflight_signals"]`` (the set of signal ids holding a reservation).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from ..components import ComponentConfig, Gate, Verdict, skip
from ..facts import declare
from ..models import CREATE, Fill, Order, OrderDecision, Signal
from ._common import journal_event, strategy_ids

INFLIGHT_COUNT = declare("inflight_count", int, owner="builtin.risk:inflight", default=0,
                         doc="reservations the in-flight tracker holds (orders on their way)")
INFLIGHT_SIGNALS: Any = declare(
    "inflight_signals", frozenset, owner="builtin.risk:inflight", default=frozenset(),
    doc="signal ids holding an in-flight reservation")


class InFlightConfig(ComponentConfig):
    """``gates.inflight``: reservation TTL, capacity and fairness."""

    max_open_positions: int = Field(10, ge=1, description="positions + in-flight orders")
    ttl_s: float = Field(30.0, gt=0, description="reservation lifetime (data time)")
    fair_share: bool = Field(True, description="cap a strategy at ceil(max / N) slots while "
                             "another strategy waits")


class InFlightTracker(Gate):
    """Reserves a position slot per accepted signal until its order resolves."""

    config: InFlightConfig

    def on_start(self) -> None:
        self.reservations: dict[tuple[str, str, int], tuple[int, float]] = {}
        self.signals: set[int] = set()
        self.waiting: dict[str, int] = {}
        self.counts = {"reserved": 0, "released": 0, "expired": 0, "refused_capacity": 0,
                       "refused_symbol": 0, "refused_fair_share": 0}
        n = max(1, len(strategy_ids(self.ctx)))
        self.share = max(1, math.ceil(self.config.max_open_positions / n))
        self._publish()

    # ------------------------------------------------------------------ bookkeeping

    def _publish(self) -> None:
        facts = self.ctx.facts
        facts.set(INFLIGHT_COUNT, len(self.reservations))
        facts.set(INFLIGHT_SIGNALS, frozenset(self.signals))

    def count(self) -> int:
        """Reservations currently held."""
        return len(self.reservations)

    def notional_reserved(self, key: str) -> float:
        """Notional reserved for a symbol or a strategy."""
        return sum(n for (s, sym, _), (_, n) in self.reservations.items() if key in (s, sym))

    def cleanup(self, now: int) -> None:
        """Drop reservations older than the TTL."""
        ttl = self.config.ttl_s * 1000.0
        expired = [k for k, (t, _) in self.reservations.items() if now - t >= ttl]
        for k in expired:
            del self.reservations[k]
            self.signals.discard(k[2])
            self.counts["expired"] += 1
            journal_event(self.ctx, "inflight_expired", {
                "strategy": k[0], "symbol": k[1], "signal_id": k[2]})
        if expired:
            self._publish()

    def release(self, strategy: str, symbol: str, signal_id: int) -> bool:
        """Release one reservation; True when it existed."""
        if self.reservations.pop((strategy, symbol, signal_id), None) is None:
            return False
        self.signals.discard(signal_id)
        self.counts["released"] += 1
        self._publish()
        return True

    # ------------------------------------------------------------------ vote

    def vote(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Reserve a slot, or SKIP ``INFLIGHT_LIMIT``."""
        cfg = self.config
        ctx = self.ctx
        now = ctx.now
        if self.reservations:
            self.cleanup(now)
        sid, sym = signal.strategy_id, signal.symbol
        for (s, y, _), _v in self.reservations.items():
            if y == sym:
                self.counts["refused_symbol"] += 1
                return skip("INFLIGHT_LIMIT", f"{sym} already has an order in flight for {s}",
                            in_flight=len(self.reservations))
        positions = ctx.portfolio.positions()
        own_open = bool(ctx.portfolio.position(sid, sym).qty)
        n_open = sum(1 for p in positions if p.qty)
        effective = n_open + len(self.reservations)
        if not own_open and effective >= cfg.max_open_positions:
            self.waiting[sid] = now
            self.counts["refused_capacity"] += 1
            return skip("INFLIGHT_LIMIT", f"{n_open} open + {len(self.reservations)} in flight "
                        f">= max_open_positions {cfg.max_open_positions}",
                        open_positions=n_open, in_flight=len(self.reservations),
                        max_open_positions=cfg.max_open_positions)
        if cfg.fair_share and not own_open:
            held = sum(1 for p in positions if p.qty and p.strategy_id == sid) + \
                sum(1 for (s, _, _) in self.reservations if s == sid)
            if held >= self.share:
                horizon = now - cfg.ttl_s * 1000.0
                others = [s for s, t in self.waiting.items() if s != sid and t >= horizon]
                if others:
                    self.counts["refused_fair_share"] += 1
                    return skip("INFLIGHT_LIMIT", f"{sid} holds {held} slots (fair share "
                                f"{self.share}) while {', '.join(sorted(others))} waits",
                                held=held, fair_share=self.share, waiting=sorted(others))
        self.reservations[(sid, sym, signal.signal_id)] = (now, decision.notional)
        self.signals.add(signal.signal_id)
        self.waiting.pop(sid, None)
        self.counts["reserved"] += 1
        self._publish()
        return None

    # ------------------------------------------------------------------ observers

    def on_decision(self, decision: OrderDecision) -> None:
        """Release the reservation of a signal that ended without an order."""
        if decision.decision != CREATE and decision.signal_id in self.signals:
            self.release(decision.strategy_id, decision.symbol, decision.signal_id)

    def on_order_update(self, order: Order) -> None:
        """Rejected, or cancelled with nothing filled: the slot is free again."""
        if order.status in ("rejected", "cancelled") and order.filled <= 0.0:
            self.release(order.strategy_id, order.symbol, order.signal_id)

    def on_fill(self, fill: Fill) -> None:
        """The position opened: it now counts as a position, not in flight."""
        if fill.signal_id in self.signals:
            self.release(fill.strategy_id, fill.symbol, fill.signal_id)

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "counts", {}))
