"""``executors.smart_order``: send each entry as a market order, as a maker limit (the kernel's
maker chase) or not at all, whichever has the larger positive net edge.

The original HEAN smart order selector (never wired there) priced the market order without
the signal's alpha, ``edge_M = (mid - ask)/mid - 5.5 - slippage``: always negative, so urgent
signals were always skipped.  Here both edges start from the signal's alpha (bps of the
entry, one side)::

    edge_M = alpha - half_spread - taker_fee - slippage
    edge_L = alpha x P(fill) + half_spread - maker_fee

* ``alpha``: the decision's ``expected_edge_bps`` (a trade gate's), else the signal's
  ``edge_bps``, else the take-profit distance x ``confidence`` (``alpha_source`` says which);
* ``half_spread``: half the quoted spread; without a quote the kernel's estimate
  (``hean_framework.execution.costs.estimate_spread``: Corwin-Schultz on candles), else 5 bps;
* ``taker_fee`` / ``maker_fee``: the instrument's rates (negative maker fee = rebate) unless
  ``taker_fee_bps`` / ``maker_fee_bps`` are set;
* ``slippage``: the estimator of :mod:`hean_smart_order.slippage` for the order's quantity;
* ``P(fill)``: the share of the quantity the recent maker orders filled -- the last
  ``fill_rate_window`` post-only orders of this executor's maker chase that ended (filled,
  exhausted or given up; re-quotes and post-only rejections are not outcomes) -- once there
  are ``min_fill_samples``; before that the ``maker_fill_rate`` fact when a maker executor
  published one, else ``default_fill_prob`` (``p_fill_source`` says which).

Choice (``urgency`` is the signal's, 0..1):

1. reduce-only signals (exits) are market orders; a signal with its own ``limit_price`` goes
   to the maker chase at that price (``reason`` ``explicit_limit``);
2. no alpha: ``no_alpha`` decides (``limit`` by default; ``skip`` gives SKIP
   ``SMART_ORDER_NO_ALPHA``);
3. ``urgency >= urgency_threshold`` (0.7) and ``edge_M > min_edge_bps``: **market**
   (``reason`` ``urgent``);
4. otherwise the larger of ``edge_M`` and ``edge_L`` when it is above ``min_edge_bps``
   (``larger_edge``; a tie goes to the limit);
5. otherwise SKIP ``SMART_ORDER_NO_EDGE`` with every number.

Every choice is recorded on the decision: ``details["smart_order"]`` holds ``choice``,
``reason``, the edges and every input above.  A limit choice is executed by a maker chase
(``hean_framework.execution.maker_chase``, settings under ``chase:``) that this executor owns;
a market choice remembers the touch at submit and adds each fill's distance from it (with the
order's quantity) to the estimator's realised history.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

from pydantic import Field

from hean_framework.components import ComponentConfig, Executor, Verdict, skip
from hean_framework.context import RunContext
from hean_framework.execution.costs import estimate_spread
from hean_framework.execution.maker_chase import MakerChaseConfig, MakerChaseExecutor
from hean_framework.execution.margin import refusal_verdict
from hean_framework.facts import MAKER_FILL_RATE
from hean_framework.models import Fill, Order, OrderDecision, Signal
from hean_framework.optimize import space_of

from .slippage import SlippageConfig, SlippageEstimator

__all__ = ["REASONS", "SmartOrderConfig", "SmartOrderExecutor"]

#: reason codes of the verdicts this executor returns
REASONS = ("SMART_ORDER_NO_EDGE", "SMART_ORDER_NO_ALPHA")
#: half spread assumed when neither a quote nor a bar estimate exists, bps
ASSUMED_HALF_SPREAD_BPS = 5.0


class SmartOrderConfig(ComponentConfig):
    """``executors.smart_order``."""

    urgency_threshold: float = Field(0.7, ge=0.0, le=1.0, description="signals at least this "
                                     "urgent take the market order whenever edge_M is positive")
    min_edge_bps: float = Field(0.0, ge=-50.0, le=100.0, description="an edge must exceed "
                                "this to be chosen")
    taker_fee_bps: float | None = Field(None, ge=0.0, le=100.0, description="taker fee; None = "
                                        "the instrument's")
    maker_fee_bps: float | None = Field(None, ge=-100.0, le=100.0, description="maker fee "
                                        "(negative = rebate); None = the instrument's")
    default_fill_prob: float = Field(0.5, ge=0.0, le=1.0, description="P(fill) before enough "
                                     "maker outcomes (and without a maker_fill_rate fact)")
    fill_rate_window: int = Field(50, ge=1, le=10_000, description="recent maker orders in "
                                  "P(fill)")
    min_fill_samples: int = Field(10, ge=1, le=10_000, description="maker outcomes needed "
                                  "before P(fill) is measured")
    no_alpha: Literal["limit", "market", "skip"] = Field(
        "limit", description="what a signal with no alpha (no edge, no take-profit) gets")
    slippage: SlippageConfig = Field(default_factory=SlippageConfig,
                                     description="the slippage estimator")
    chase: MakerChaseConfig = Field(default_factory=MakerChaseConfig,
                                    description="the maker chase that executes limit choices")


class TrackedChase(MakerChaseExecutor):
    """The kernel's maker chase, also keeping the outcome of each post-only order it ends:
    the filled share of its quantity (re-quotes and post-only rejections are not outcomes)."""

    def __init__(self, config: MakerChaseConfig, ctx: RunContext, name: str,
                 window: int) -> None:
        super().__init__(config, ctx, name)
        self.outcomes: deque[float] = deque(maxlen=window)

    def on_order_update(self, order: Order) -> None:
        super().on_order_update(order)
        if order.post_only and order.is_done and order.qty > 0.0 \
                and not order.reason.startswith(("chase_requote", "post_only_would_cross")):
            self.outcomes.append(min(1.0, order.filled / order.qty))

    def recent_fill_rate(self) -> tuple[float | None, int]:
        """Mean filled share of the recent outcomes, and their number."""
        n = len(self.outcomes)
        return (sum(self.outcomes) / n if n else None), n


class SmartOrderExecutor(Executor):
    """Market, maker chase or skip by net edge (see the module docstring)."""

    config_model = SmartOrderConfig
    config: SmartOrderConfig

    def on_start(self) -> None:
        cfg = self.config
        self.ctx.market.keep_bars = True  # bar spreads and the volume estimate
        self.estimator = SlippageEstimator(cfg.slippage)
        self.chase = TrackedChase(cfg.chase, self.ctx, f"{self.name}.maker_chase",
                                  cfg.fill_rate_window)
        self.chase.on_start()
        #: market orders awaiting fills: order id -> (touch at submit, order quantity)
        self._touch: dict[int, tuple[float, float]] = {}
        self._submitting = (0.0, 0.0)
        self.counts: dict[str, int] = {"market": 0, "limit": 0, "skip": 0, "exits": 0,
                                       "urgent_market": 0, "no_alpha": 0}

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply new values of the bounded top-level parameters, clamped into their bounds
        (unknown keys ignored); returns the keys accepted."""
        space = space_of(type(self.config))
        known = {k: space[k].clip(v) for k, v in params.items() if k in space}
        if known:
            self.config = type(self.config).model_validate(self.config.model_dump() | known)
        return sorted(known)

    # ------------------------------------------------------------------ inputs

    @staticmethod
    def alpha(signal: Signal, decision: OrderDecision) -> tuple[float | None, str]:
        """The signal's expected move in bps of the entry, and where it came from."""
        if decision.expected_edge_bps is not None:
            return float(decision.expected_edge_bps), "decision"
        if signal.edge_bps is not None:
            return float(signal.edge_bps), "signal"
        price = decision.price
        if signal.take_profit is not None and price > 0.0:
            sgn = 1.0 if signal.side == "buy" else -1.0
            move = sgn * (signal.take_profit - price) / price * 1e4
            return move * signal.confidence, "take_profit"
        return None, "none"

    def fill_prob(self) -> tuple[float, str]:
        """P(fill) of a maker order, and its source."""
        rate, n = self.chase.recent_fill_rate()
        if rate is not None and n >= self.config.min_fill_samples:
            return rate, f"recent_maker_orders({n})"
        fact = self.ctx.facts.get(MAKER_FILL_RATE)
        if fact >= 0.0:
            return float(fact), "maker_fill_rate_fact"
        return self.config.default_fill_prob, "prior"

    def numbers(self, signal: Signal, decision: OrderDecision, qty: float) -> dict[str, Any]:
        """Every input of the choice and both edges (the decision's ``smart_order`` record)."""
        cfg = self.config
        ctx = self.ctx
        sym = signal.symbol
        st = ctx.market[sym]
        inst = ctx.instruments.get(sym)
        sp = estimate_spread(st, inst)
        half = sp.bps / 2.0 if sp.bps is not None else ASSUMED_HALF_SPREAD_BPS
        taker = cfg.taker_fee_bps if cfg.taker_fee_bps is not None else inst.taker_fee * 1e4
        maker = cfg.maker_fee_bps if cfg.maker_fee_bps is not None else inst.maker_fee * 1e4
        slip = self.estimator.estimate(sym, signal.side, qty, st)
        p_fill, p_src = self.fill_prob()
        alpha, a_src = self.alpha(signal, decision)
        out: dict[str, Any] = {
            "alpha_bps": None if alpha is None else round(alpha, 6), "alpha_source": a_src,
            "half_spread_bps": round(half, 6), "spread_source": sp.source,
            "taker_fee_bps": round(taker, 6), "maker_fee_bps": round(maker, 6),
            **slip.as_dict(), "p_fill": round(p_fill, 6), "p_fill_source": p_src,
            "urgency": signal.urgency, "qty": qty,
        }
        if alpha is not None:
            out["edge_market_bps"] = round(alpha - half - taker - slip.bps, 6)
            out["edge_limit_bps"] = round(alpha * p_fill + half - maker, 6)
        return out

    # ------------------------------------------------------------------ the choice

    def choose(self, signal: Signal, nums: dict[str, Any]) -> tuple[str, str]:
        """``(choice, reason)``: choice ``market``, ``limit`` or ``skip``."""
        cfg = self.config
        if signal.order_type == "limit" and signal.limit_price:
            return "limit", "explicit_limit"
        if nums["alpha_bps"] is None:
            return cfg.no_alpha, "no_alpha"
        em, el, floor = nums["edge_market_bps"], nums["edge_limit_bps"], cfg.min_edge_bps
        if signal.urgency >= cfg.urgency_threshold and em > floor:
            return "market", "urgent"
        if max(em, el) > floor:
            return ("market" if em > el else "limit"), "larger_edge"
        return "skip", "no_positive_edge"

    def execute(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        qty = decision.qty + decision.close_qty
        if signal.reduce_only:
            self.counts["exits"] += 1
            decision.maker_or_taker = "taker"
            return refusal_verdict(self.ctx.orders.submit(signal, decision, qty, executor=self))
        nums = self.numbers(signal, decision, qty)
        choice, reason = self.choose(signal, nums)
        nums["choice"], nums["reason"] = choice, reason
        decision.details["smart_order"] = nums
        self.counts[choice] += 1
        if reason == "no_alpha":
            self.counts["no_alpha"] += 1
        if choice == "skip":
            if reason == "no_alpha":
                return skip("SMART_ORDER_NO_ALPHA", "the signal states no edge and no "
                            "take-profit (executors.smart_order.no_alpha: skip)", **nums)
            return skip("SMART_ORDER_NO_EDGE",
                        f"no positive edge: market {nums['edge_market_bps']:.2f} bps, limit "
                        f"{nums['edge_limit_bps']:.2f} bps (min {self.config.min_edge_bps:g})",
                        **nums)
        if choice == "limit":
            return self.chase.execute(signal, decision)
        if reason == "urgent":
            self.counts["urgent_market"] += 1
        decision.maker_or_taker = "taker"
        decision.details["execution"] = "smart_order:market"
        touch = float(nums["touch"])
        self._submitting = (touch, qty)  # a venue without latency fills inside submit()
        try:
            order = self.ctx.orders.submit(signal, decision, qty, executor=self)
        finally:
            self._submitting = (0.0, 0.0)
        if not order.is_done:
            self._touch[order.order_id] = (touch, qty)
        return refusal_verdict(order)

    # ------------------------------------------------------------------ venue callbacks

    def on_fill(self, fill: Fill) -> None:
        touch, qty = self._touch.get(fill.order_id, self._submitting)
        if touch > 0.0:
            self.estimator.record(fill.symbol, fill.side, touch, fill.price, qty)

    def on_order_update(self, order: Order) -> None:
        if order.is_done:
            self._touch.pop(order.order_id, None)

    def stats(self) -> dict[str, Any]:
        rate, n = self.chase.recent_fill_rate()
        return {**self.counts, "recent_maker_fill_rate": None if rate is None else round(rate, 4),
                "maker_outcomes": n, "maker_chase": self.chase.stats()}
