"""Maker limit chase executor ``maker_chase`` (``docs/small_capital.md``, "Maker chase executor").

It replaces the original HEAN router's maker-first placement, whose retries moved the limit
price *away* from the touch (making a fill less likely) and whose 150 ms time-to-live was
shorter than a REST round trip to the exchange.

1. Post-only at the touch (buy at the best bid, sell at the best ask; the last price on
   bar-only data) or at the signal's explicit ``limit_price``.
2. Every ``chase_interval_ms`` of *data time* (``ctx.schedule``), if the order is not filled
   and the touch moved away, cancel/replace at the new touch -- only ever *closer* to the
   market (a buy's price only goes up, a sell's only down); at most ``max_chases`` re-quotes.
3. Abort when the touch moved more than ``max_chase_bps`` from the decision price, when
   ``max_chases`` is used up and the touch moved again, or after ``max_rest_ms`` unfilled.
   Then taker fallback for the remaining quantity only if ``allow_taker_fallback`` and
   ``alpha_bps - taker_cost_bps >= min_taker_edge_bps`` (2) and ``urgency >= min_urgency``
   (0.5); otherwise the order is cancelled with reason ``chase_exhausted``.
   ``alpha_bps`` = the decision's expected edge (``signal.edge_bps`` or the gate's estimate,
   else TP distance x confidence) minus the adverse move since the decision;
   ``taker_cost_bps`` = taker fee + half spread + ``taker_slippage_bps``.
4. A post-only rejection (``post_only_would_cross``) is re-quoted one tick behind the touch
   (buy: bid - tick, sell: ask + tick), at most ``max_reject_requotes`` times.
5. Partial fills of every child order are aggregated per decision.

``maker_fill_rate()`` = maker orders that (partly) filled / maker orders posted.
Reduce-only signals (exits) are sent as market orders.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import Field

from ..components import ComponentConfig, Executor, Verdict
from ..facts import MAKER_FILL_RATE
from ..models import Fill, Order, OrderDecision, Signal
from .margin import refusal_verdict

__all__ = ["MakerChaseConfig", "MakerChaseExecutor"]


class MakerChaseConfig(ComponentConfig):
    """``executors.maker_chase``."""

    chase_interval_ms: int = Field(2_000, gt=0, description="re-quote check period (data time)")
    max_chases: int = Field(3, ge=0, description="cancel/replace at most this many times")
    max_chase_bps: float = Field(5.0, ge=0, description="abort when the touch moved more than "
                                 "this from the decision price")
    max_rest_ms: int = Field(30_000, gt=0, description="abort an order resting unfilled this "
                             "long even if the touch did not move")
    allow_taker_fallback: bool = Field(False, description="send the rest as a market order "
                                       "when the chase is abandoned and the edge allows")
    min_taker_edge_bps: float = Field(2.0, description="alpha - taker cost needed for the "
                                      "fallback")
    min_urgency: float = Field(0.5, ge=0, le=1, description="signal urgency needed for the "
                               "fallback")
    taker_fee_bps: float | None = Field(None, description="taker fee for the fallback test; "
                                        "None = instrument")
    taker_slippage_bps: float = Field(1.5, ge=0)
    max_reject_requotes: int = Field(2, ge=0, description="re-quotes after post-only "
                                     "rejections")


class _Chase:
    """State of one decision being worked."""

    __slots__ = ("alpha_bps", "chases", "decision", "decision_px", "done", "filled", "handled",
                 "notional", "order", "rejects", "rested_since", "signal", "total")

    def __init__(self, signal: Signal, decision: OrderDecision, total: float,
                 decision_px: float, alpha_bps: float | None) -> None:
        self.signal = signal
        self.decision = decision
        self.total = total
        self.decision_px = decision_px
        self.alpha_bps = alpha_bps
        self.filled = 0.0
        self.notional = 0.0
        self.chases = 0
        self.rejects = 0
        self.order: Order | None = None
        self.done = False
        self.handled: set[int] = set()
        self.rested_since = 0


class MakerChaseExecutor(Executor):
    """Post-only at the touch, chase closer, give up or take (see the module docstring)."""

    config_model = MakerChaseConfig
    config: MakerChaseConfig

    def on_start(self) -> None:
        self._by_order: dict[int, _Chase] = {}
        self._submitting: _Chase | None = None
        self.counts: dict[str, int] = {
            "decisions": 0, "maker_posted": 0, "maker_filled_orders": 0, "requotes": 0,
            "post_only_rejects": 0, "exhausted": 0, "taker_fallbacks": 0, "market_orders": 0,
            "completed": 0, "partial_then_exhausted": 0}
        self._maker_fill_ids: set[int] = set()

    # ------------------------------------------------------------------ entry

    def execute(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        ctx = self.ctx
        qty = decision.qty + decision.close_qty
        if signal.reduce_only:
            decision.maker_or_taker = "taker"
            self.counts["market_orders"] += 1
            return refusal_verdict(ctx.orders.submit(signal, decision, qty, executor=self))
        st = ctx.market[signal.symbol]
        touch = self._touch(signal.side, st)
        price = signal.limit_price if signal.order_type == "limit" and signal.limit_price \
            else touch
        if not price or price <= 0.0:
            decision.maker_or_taker = "taker"
            self.counts["market_orders"] += 1
            return refusal_verdict(ctx.orders.submit(signal, decision, qty, executor=self))
        alpha = decision.expected_edge_bps
        if alpha is None:
            alpha = signal.edge_bps
        if alpha is None and signal.take_profit is not None and price > 0.0:
            sgn = 1.0 if signal.side == "buy" else -1.0
            alpha = sgn * (signal.take_profit - price) / price * 1e4 * signal.confidence
        chase = _Chase(signal, decision, qty, touch or price, alpha)
        decision.maker_or_taker = "maker"
        self.counts["decisions"] += 1
        decision.details["execution"] = "maker_chase"
        return refusal_verdict(self._place(chase, price))

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _touch(side: str, st: Any) -> float:
        if st.bid > 0.0 and st.ask > 0.0:
            return float(st.bid if side == "buy" else st.ask)
        return float(st.price)

    def _remaining(self, chase: _Chase) -> float:
        inst = self.ctx.instruments.get(chase.signal.symbol)
        return inst.round_qty(max(chase.total - chase.filled, 0.0))

    def _place(self, chase: _Chase, price: float) -> Order | None:
        """Post ``chase``'s remaining quantity at ``price``; the order (None: nothing left)."""
        qty = self._remaining(chase)
        if qty <= 0.0:
            chase.done = True
            return None
        self.counts["maker_posted"] += 1
        self._publish_rate()
        self._submitting = chase
        try:
            o = self.ctx.orders.submit(chase.signal, chase.decision, qty,
                                             order_type="limit", price=price, post_only=True,
                                             executor=self, tag=chase.signal.tag)
        finally:
            self._submitting = None
        self._by_order[o.order_id] = chase
        if o.status == "rejected":
            self._on_done(chase, o)
            return o
        if not o.is_done and o.order_id not in chase.handled:
            chase.order = o
            chase.rested_since = self.ctx.now
            st = self.ctx.market[chase.signal.symbol]
            self.ctx.clock.schedule(
                self.ctx.now + st.granularity_ms(self.config.chase_interval_ms),
                partial(self._check_cb, chase, o.order_id))
        return o

    # ------------------------------------------------------------------ timer

    def _check_cb(self, chase: _Chase, order_id: int, now: int) -> None:
        self._check(chase, order_id)

    def _check(self, chase: _Chase, order_id: int) -> None:
        o = chase.order
        if chase.done or o is None or o.order_id != order_id or o.is_done:
            return
        cfg = self.config
        ctx = self.ctx
        st = ctx.market[chase.signal.symbol]
        touch = self._touch(chase.signal.side, st)
        buy = chase.signal.side == "buy"
        moved_away = touch > 0.0 and ((touch > (o.price or 0.0)) if buy
                                      else (touch < (o.price or 0.0)))
        adverse_bps = 0.0
        if chase.decision_px > 0.0 and touch > 0.0:
            adverse_bps = (touch - chase.decision_px) / chase.decision_px * 1e4 * \
                (1.0 if buy else -1.0)
        if moved_away:
            if adverse_bps > cfg.max_chase_bps or chase.chases >= cfg.max_chases:
                self._abandon(chase, adverse_bps, touch)
                return
            chase.chases += 1
            self.counts["requotes"] += 1
            self._cancel(chase, o, "chase_requote")
            if not chase.done:
                self._place(chase, touch)
            return
        step = st.granularity_ms(cfg.chase_interval_ms)
        if ctx.now - chase.rested_since >= max(cfg.max_rest_ms, 3 * step if st.bar_ms else 0):
            self._abandon(chase, adverse_bps, touch)
            return
        ctx.clock.schedule(ctx.now + step,
                     partial(self._check_cb, chase, order_id))

    def _cancel(self, chase: _Chase, o: Order, reason: str) -> None:
        chase.handled.add(o.order_id)
        chase.order = None
        self.ctx.orders.cancel(o.order_id, reason)

    def taker_cost_bps(self, chase: _Chase) -> float:
        """Taker fee + half spread + taker slippage for the fallback test."""
        cfg = self.config
        sym = chase.signal.symbol
        fee = cfg.taker_fee_bps
        if fee is None:
            fee = self.ctx.instruments.get(sym).taker_fee * 1e4
        sp = self.ctx.market[sym].spread_bps()
        return fee + (sp / 2.0 if sp is not None else 0.0) + cfg.taker_slippage_bps

    def _abandon(self, chase: _Chase, adverse_bps: float, touch: float) -> None:
        cfg = self.config
        o = chase.order
        if o is not None and not o.is_done:
            self._cancel(chase, o, "chase_exhausted")
        rest = self._remaining(chase)
        alpha = None if chase.alpha_bps is None else chase.alpha_bps - max(adverse_bps, 0.0)
        cost = self.taker_cost_bps(chase)
        sig = chase.signal
        info = {"symbol": sig.symbol, "decision_id": chase.decision.decision_id,
                "chases": chase.chases, "adverse_bps": round(adverse_bps, 4),
                "alpha_bps": None if alpha is None else round(alpha, 4),
                "taker_cost_bps": round(cost, 4), "filled": chase.filled, "remaining": rest}
        chase.done = True
        if rest <= 0.0:
            return
        if cfg.allow_taker_fallback and alpha is not None \
                and alpha - cost >= cfg.min_taker_edge_bps and sig.urgency >= cfg.min_urgency:
            self.counts["taker_fallbacks"] += 1
            self._submitting = chase
            try:
                o2 = self.ctx.orders.submit(sig, chase.decision, rest, executor=self,
                                                  tag=sig.tag)
            finally:
                self._submitting = None
            self._by_order[o2.order_id] = chase
            self._journal("taker_fallback", info)
            return
        self.counts["exhausted"] += 1
        if chase.filled > 0.0:
            self.counts["partial_then_exhausted"] += 1
        self._journal("chase_exhausted", info)

    def _journal(self, kind: str, payload: dict[str, Any]) -> None:
        j = self.ctx.journal
        if j is not None:
            j.event(self.ctx.now, "maker_chase." + kind, payload)

    # ------------------------------------------------------------------ venue callbacks

    def _chase_of(self, order_id: int) -> _Chase | None:
        c = self._by_order.get(order_id)
        return c if c is not None else self._submitting

    def on_fill(self, fill: Fill) -> None:
        chase = self._chase_of(fill.order_id)
        if chase is None:
            return
        chase.filled += fill.qty
        chase.notional += fill.qty * fill.price
        if fill.is_maker and fill.order_id not in self._maker_fill_ids:
            self._maker_fill_ids.add(fill.order_id)
            self.counts["maker_filled_orders"] += 1
            self._publish_rate()
        if chase.filled + 1e-12 >= chase.total and not chase.done:
            chase.done = True
            chase.order = None
            self.counts["completed"] += 1

    def on_order_update(self, order: Order) -> None:
        chase = self._chase_of(order.order_id)
        if chase is None or not order.is_done:
            return
        self._on_done(chase, order)

    def _on_done(self, chase: _Chase, order: Order) -> None:
        if order.order_id in chase.handled:
            return
        chase.handled.add(order.order_id)
        if chase.order is not None and chase.order.order_id == order.order_id:
            chase.order = None
        if order.status != "rejected" or chase.done:
            return
        code = order.reason.split(":")[0]
        if code != "post_only_would_cross":
            chase.done = True
            return
        self.counts["post_only_rejects"] += 1
        if chase.rejects >= self.config.max_reject_requotes:
            self._abandon(chase, 0.0, 0.0)
            return
        chase.rejects += 1
        st = self.ctx.market[chase.signal.symbol]
        tick = self.ctx.instruments.get(chase.signal.symbol).tick_size
        if chase.signal.side == "buy":
            ref = st.bid if st.bid > 0.0 else (order.price or 0.0)
            px = ref - tick
        else:
            ref = st.ask if st.ask > 0.0 else (order.price or 0.0)
            px = ref + tick
        if px > 0.0:
            self._place(chase, px)

    # ------------------------------------------------------------------ reporting

    def maker_fill_rate(self) -> float | None:
        """Maker orders that (partly) filled / maker orders posted (None before any post)."""
        posted = self.counts["maker_posted"] if hasattr(self, "counts") else 0
        if not posted:
            return None
        return round(self.counts["maker_filled_orders"] / posted, 4)

    def _publish_rate(self) -> None:
        rate = self.maker_fill_rate()
        if rate is not None:
            self.ctx.facts.set(MAKER_FILL_RATE, rate)

    def stats(self) -> dict[str, Any]:
        return {**self.counts, "maker_fill_rate": self.maker_fill_rate()}
