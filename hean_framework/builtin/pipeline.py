"""Builtin pipeline components: pass-through filter and gate, fixed-risk sizer, plain executor.

They are registered through the same hooks as external plugins, so they can be disabled
(``plugins.disabled: [builtin.pipeline]``) and replaced.

The ``fixed_risk`` sizer's ``max_leverage`` is a risk limit: it caps a size the signal gives
itself too (``details.capped_by: max_leverage`` with the requested size).  The ``plain``
executor reports a venue's size/margin refusal as the signal's decision: when the order it sent
comes back rejected at once with ``insufficient_margin``, ``above_max_qty`` or
``above_max_notional`` (the simulated venue checks those at submit, whatever its latency), the
decision is BLOCK ``INSUFFICIENT_MARGIN`` / ``ABOVE_MAX_QTY`` / ``ABOVE_MAX_NOTIONAL`` with the
venue's message, instead of a CREATE for an order the venue refused.
"""

from __future__ import annotations

from pydantic import Field

from .. import hookimpl
from ..components import ComponentConfig, Executor, Filter, Gate, Sizer, Verdict, skip
from ..execution.margin import refusal_verdict
from ..hookspecs import RegisterComponent
from ..models import OrderDecision, Signal


class PassThroughFilter(Filter):
    """Lets every signal through (the default when no filter is configured)."""


class PassThroughGate(Gate):
    """Votes yes on every order (the default when no gate is configured)."""


class FixedRiskConfig(ComponentConfig):
    """``sizers.fixed_risk``: risk a fixed share of the strategy's budget per trade."""

    risk_pct: float = Field(0.01, gt=0, le=0.2, description="share of the budget risked "
                            "between entry and stop")
    default_stop_pct: float = Field(0.02, gt=0, lt=0.5, description="stop distance assumed "
                                    "when the signal has none (then risk is halved)")
    respect_signal_size: bool = Field(True, description="use the signal's explicit size "
                                      "when it gives one (still capped by max_leverage)")
    max_leverage: float = Field(3.0, gt=0, description="notional cap as a multiple of the "
                                "budget (also for a size the signal gives)")


class FixedRiskSizer(Sizer):
    """``qty = budget * risk_pct / stop distance`` (or the signal's own size), capped at
    ``max_leverage * budget`` of notional.

    A signal's ``size_multiplier`` scales the computed size (clamped to [0, 2.5]).  The kernel
    rounds down to the lot size afterwards and refuses sizes below the exchange minimum.
    """

    config: FixedRiskConfig

    def size(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        cfg = self.config
        price = decision.price
        budget = self.ctx.budgets.budget(signal.strategy_id)
        decision.budget = budget
        if budget <= 0.0:
            return skip("NO_BUDGET", f"{signal.strategy_id} has no capital to risk "
                        f"(budget {budget:.2f})", budget=budget)
        inst = self.ctx.instruments.get(signal.symbol)
        cap = budget * cfg.max_leverage / (price * inst.contract_size)
        if signal.size is not None and cfg.respect_signal_size:
            qty = float(signal.size)
            if qty > cap:
                decision.details["capped_by"] = "max_leverage"
                decision.details["signal_size"] = qty
                qty = cap
            decision.qty_raw = qty
            return None
        risk_pct = cfg.risk_pct
        if signal.stop_loss is not None:
            dist = abs(price - signal.stop_loss) / price
        else:
            dist = cfg.default_stop_pct
            risk_pct *= 0.5
        if dist <= 0.0:
            return skip("VALIDATION_FAIL", "stop distance is zero")
        allowed = budget * risk_pct
        decision.risk_allowed = allowed
        qty = allowed / (price * dist * inst.contract_size)
        qty *= min(max(signal.size_multiplier, 0.0), 2.5)
        if qty > cap:
            decision.details["capped_by"] = "max_leverage"
            qty = cap
        decision.qty_raw = qty
        return None


class PlainConfig(ComponentConfig):
    """``executors.plain``: send the order as the signal asks."""

    maker_offset_bps: float = Field(0.0, ge=0, description="post-only price offset behind "
                                    "the touch for prefer_maker signals")


class PlainExecutor(Executor):
    """One order per decision: market, or limit at ``signal.limit_price``; ``prefer_maker``
    signals become post-only limits at the touch."""

    config: PlainConfig

    def execute(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        orders = self.ctx.orders
        qty = decision.qty + decision.close_qty
        if signal.order_type == "limit" and signal.limit_price:
            decision.maker_or_taker = decision.maker_or_taker or "maker"
            return refusal_verdict(orders.submit(signal, decision, qty, order_type="limit",
                                          price=signal.limit_price,
                                          post_only=signal.prefer_maker, executor=self))
        st = self.ctx.market[signal.symbol]
        if signal.prefer_maker and st.has_quote and not signal.reduce_only:
            off = self.config.maker_offset_bps * 1e-4
            px = st.bid * (1 - off) if signal.side == "buy" else st.ask * (1 + off)
            decision.maker_or_taker = "maker"
            return refusal_verdict(orders.submit(signal, decision, qty, order_type="limit",
                                                 price=px, post_only=True, executor=self))
        decision.maker_or_taker = decision.maker_or_taker or "taker"
        return refusal_verdict(orders.submit(signal, decision, qty, executor=self))


@hookimpl
def hean_register_filters(register: RegisterComponent) -> None:
    """Register the pass-through filter."""
    register("passthrough", PassThroughFilter)


@hookimpl
def hean_register_gates(register: RegisterComponent) -> None:
    """Register the pass-through gate."""
    register("passthrough", PassThroughGate)


@hookimpl
def hean_register_sizers(register: RegisterComponent) -> None:
    """Register the fixed-risk sizer."""
    register("fixed_risk", FixedRiskSizer, config=FixedRiskConfig)


@hookimpl
def hean_register_executors(register: RegisterComponent) -> None:
    """Register the plain executor."""
    register("plain", PlainExecutor, config=PlainConfig)
