"""``sizers.risk``: fixed-fractional position sizing (documented in ``docs/risk.md``, "Sizer").

::

    risk_allowed = budget × risk_pct × clamp(signal × regime × governor, 0, 3)
    qty_raw      = risk_allowed / (unit notional × stop distance)

``budget`` is the strategy's budget (``ctx.budgets``), ``risk_pct`` 1 %; the signal multiplier
is ``signal.size_multiplier`` clamped to [0, ``max_signal_multiplier`` 2.5], the regime
multiplier comes from ``regime_multipliers`` (RANGE 0.7, IMPULSE 1.2, others 1) and the governor
multiplier from the ``risk_size_multiplier`` fact.  A signal without a stop (possible only when
the pipeline does not require one) is sized with ``default_stop_pct`` (2 %) and half the risk.

then capped so that ``notional ≤ budget × max_leverage`` and ``notional ≤ max_exposure_multiplier
× equity − gross exposure``.  The sizer never up-sizes: the kernel rounds ``qty_raw`` down to
the lot and BLOCKs ``POSITION_SIZER_ZERO`` (with the exchange minimum, the risk the minimum
would take and ``risk_allowed``) when that is below the exchange minimum.  Only with
``round_up_to_minimum: true`` does it raise the size to the minimum, and only when the risk at
the minimum stays within ``max_risk_pct_at_minimum`` of the budget.

This deliberately differs from the original HEAN sizer, which raised small sizes to a 100 USDT
notional floor (breaking the 1 % risk rule on a small account) and multiplied the quantity by a
leverage factor on top of the stop-based size (counting the risk twice).  Here leverage is only
a notional cap and nothing is raised unless ``round_up_to_minimum`` allows it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ..components import ComponentConfig, Sizer, Verdict, block, skip
from ..facts import REGIME
from ..models import OrderDecision, Signal
from ._common import clamp
from .governor import RISK_SIZE_MULTIPLIER, RISK_STATE


class RiskSizerConfig(ComponentConfig):
    """``sizers.risk``: risk a share of the strategy's budget between entry and stop."""

    risk_pct: float = Field(0.01, gt=0, le=0.2, description="share of the strategy budget "
                            "risked between entry and stop")
    default_stop_pct: float = Field(0.02, gt=0, lt=0.5, description="stop distance assumed "
                                    "when the signal has none (risk is then halved)")
    max_leverage: float = Field(3.0, gt=0, le=100, description="notional cap as a multiple "
                                "of the budget")
    max_exposure_multiplier: float = Field(3.0, gt=0, le=100, description="account gross "
                                           "exposure cap as a multiple of equity")
    max_signal_multiplier: float = Field(2.5, ge=0, le=10, description="upper bound of the "
                                         "signal's size_multiplier")
    max_total_multiplier: float = Field(3.0, ge=0, le=10, description="upper bound of the "
                                        "product of all multipliers")
    regime_multipliers: dict[str, float] = Field(
        default_factory=lambda: {"RANGE": 0.7, "IMPULSE": 1.2},
        description="size multiplier per regime (the regime fact; others 1.0)")
    respect_signal_size: bool = Field(True, description="a signal's explicit size is used "
                                      "(still capped, never raised)")
    round_up_to_minimum: bool = Field(False, description="raise a too-small size to the "
                                      "exchange minimum when its risk stays under "
                                      "max_risk_pct_at_minimum of the budget")
    max_risk_pct_at_minimum: float = Field(0.03, gt=0, le=0.5, description="ceiling of the "
                                           "risk at the exchange minimum, as a budget share")


class RiskSizer(Sizer):
    """Fixed-fractional risk sizing on the strategy's budget with bounded multipliers."""

    config: RiskSizerConfig

    def on_start(self) -> None:
        from .capital_plan import load_not_viable

        self._not_viable = load_not_viable(self.ctx)
        self._regime = {k.upper(): float(v) for k, v in self.config.regime_multipliers.items()}
        self.counts = {"sized": 0, "capped_leverage": 0, "capped_exposure": 0,
                       "rounded_up": 0, "no_stop": 0, "zero_multiplier": 0}

    def size(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Set ``decision.qty_raw``, ``risk_allowed``, ``budget`` and the sizing details."""
        cfg = self.config
        ctx = self.ctx
        if self._not_viable:
            why = self._not_viable.get((signal.strategy_id, signal.symbol))
            if why is not None:
                return skip("STRATEGY_NOT_VIABLE", f"{signal.strategy_id} on {signal.symbol} "
                            f"disabled at start (risk.disable_non_viable): {why}")
        price = decision.price
        budget = float(ctx.budgets.budget(signal.strategy_id))
        decision.budget = budget
        if not budget > 0.0:  # also catches NaN
            return skip("NO_BUDGET", f"{signal.strategy_id} has no capital to risk "
                        f"(budget {budget:.2f} USDT)", budget=budget)
        inst = ctx.instruments.get(signal.symbol)
        unit = inst.notional(1.0, price)  # notional of one quantity unit
        if not unit > 0.0:
            return skip("VALIDATION_FAIL", f"no usable price for {signal.symbol}")
        risk_pct = cfg.risk_pct
        if signal.stop_loss is not None:
            dist = abs(price - signal.stop_loss) / price
            stop_assumed = False
        else:
            dist = cfg.default_stop_pct
            risk_pct *= 0.5
            stop_assumed = True
            self.counts["no_stop"] += 1
        if not dist > 0.0:
            return block("VALIDATION_FAIL", "stop distance is zero")
        # multipliers
        m_sig = clamp(float(signal.size_multiplier), 0.0, cfg.max_signal_multiplier)
        m_reg = self._regime.get(ctx.facts.get(REGIME, signal.symbol).upper(), 1.0)
        m_gov = clamp(float(ctx.facts.get(RISK_SIZE_MULTIPLIER)), 0.0, 1.5)
        m_tot = clamp(m_sig * m_reg * m_gov, 0.0, cfg.max_total_multiplier)
        details = decision.details
        details["stop_distance_pct"] = round(dist * 100.0, 6)
        details["multipliers"] = {"signal": m_sig, "regime": m_reg, "governor": m_gov,
                                  "total": m_tot}
        if stop_assumed:
            details["stop_assumed_pct"] = cfg.default_stop_pct * 100.0
        base_risk = budget * risk_pct
        allowed = base_risk * m_tot
        decision.risk_allowed = allowed
        if m_tot <= 0.0:
            self.counts["zero_multiplier"] += 1
            which = [k for k, v in (("signal", m_sig), ("regime", m_reg),
                                    ("governor", m_gov)) if v <= 0.0]
            state = ctx.facts.get(RISK_STATE)
            if m_gov <= 0.0:
                return skip("TRADING_DISABLED", f"risk governor multiplier is 0 (state "
                            f"{state or 'unknown'}): no new risk", risk_state=state)
            return skip("POSITION_SIZER_ZERO", f"size multiplier is 0 ({', '.join(which)})",
                        zero_multipliers=which)
        if signal.size is not None and cfg.respect_signal_size:
            qty = float(signal.size)
        else:
            qty = allowed / (unit * dist)
        # caps: never exceed leverage on the budget or the account's exposure room
        cap_lev = budget * cfg.max_leverage / unit
        if qty > cap_lev:
            qty = cap_lev
            details["capped_by"] = "max_leverage"
            self.counts["capped_leverage"] += 1
        pf = ctx.portfolio
        equity, gross = pf.equity_and_exposure()
        room = cfg.max_exposure_multiplier * equity - gross
        if room <= 0.0:
            return block("EXPOSURE_LIMIT", f"gross exposure already at "
                         f"{cfg.max_exposure_multiplier:g}x equity ({equity:.2f} USDT)",
                         exposure_room=round(room, 8))
        if qty * unit > room:
            qty = room / unit
            details["capped_by"] = "max_exposure"
            self.counts["capped_exposure"] += 1
        decision.qty_raw = qty
        self.counts["sized"] += 1
        if cfg.round_up_to_minimum:
            self._maybe_round_up(decision, inst, unit, dist, budget, min(cap_lev, room / unit))
        return None

    def _maybe_round_up(self, decision: OrderDecision, inst: Any, unit: float, dist: float,
                        budget: float, qty_cap: float) -> None:
        """Raise ``qty_raw`` to the exchange minimum when its risk stays under the ceiling."""
        price = decision.price
        min_qty = inst.min_order_qty(price)
        if inst.round_qty(decision.qty_raw) + 1e-12 >= min_qty:
            return
        risk_at_min = min_qty * unit * dist
        ceiling = self.config.max_risk_pct_at_minimum * budget
        if risk_at_min <= ceiling and min_qty <= qty_cap * (1.0 + 1e-9):
            decision.details["rounded_up_to_minimum"] = {
                "qty_raw": decision.qty_raw, "min_qty": min_qty,
                "risk_at_minimum": round(risk_at_min, 8),
                "risk_allowed_before": round(decision.risk_allowed, 8),
                "ceiling": round(ceiling, 8)}
            decision.qty_raw = min_qty
            decision.risk_allowed = risk_at_min
            self.counts["rounded_up"] += 1

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "counts", {}))
