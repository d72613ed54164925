"""Trade gate: the seed's two ORDER_DECISION examples exactly, and the maker/taker rules."""

from __future__ import annotations

from typing import Any

import pytest

from hean_framework.execution.costs import CostConfig, CostEngine
from hean_framework.execution.trade_gate import TradeGate, TradeGateConfig, evaluate
from hean_framework.facts import REGIME
from hean_framework.models import BLOCK, OrderDecision, Signal
from hean_framework.testing import SAMPLE_SYMBOL, build_component, isolated_plugins, make_context

SYM = SAMPLE_SYMBOL


def _ctx(spread_bps: float, regime: str = "IMPULSE") -> Any:
    ctx = make_context()
    st = ctx.market[SYM]
    half = spread_bps / 2e4 * 100.0
    st.bid, st.ask, st.bid_size, st.ask_size = 100.0 - half, 100.0 + half, 5.0, 5.0
    st.last = 100.0
    st.prices.clear()
    p = 100.0
    for _ in range(21):  # volatility proxy exactly 1 %
        st.prices.append(p)
        p *= 1.01
    ctx.facts.set(REGIME, regime, SYM)
    return ctx


def _gate(ctx: Any, **cfg: Any) -> TradeGate:
    pm = isolated_plugins()
    gate = build_component(pm, "gate", "trade_gate", ctx, cfg)
    assert isinstance(gate, TradeGate)
    return gate


def _decide(gate: TradeGate, ctx: Any, edge: float, *, symbol: str = SYM,
            prefer_maker: bool = True, notional: float = 100.0) -> tuple[Any, OrderDecision]:
    sig = Signal("impulse_engine", symbol, "buy", ctx.now, 100.0, stop_loss=99.0,
                 take_profit=101.0, edge_bps=edge, prefer_maker=prefer_maker,
                 order_type="market")
    d = OrderDecision(1, 1, "impulse_engine", symbol, "buy", ctx.now, price=100.0,
                      qty=notional / 100.0, notional=notional,
                      regime=str(ctx.facts.get(REGIME, symbol)))
    return gate.vote(sig, d), d


ORIGINAL = {"cost": {"formula": "original"}}


def test_seed_order_decision_blocked() -> None:
    """BLOCK: cost 14.2, edge 18.5, ratio 1.30, required 56.8 at x4, maker, IMPULSE."""
    ctx = _ctx(18.2)  # fee 2x1 + half spread 9.1 + slippage (1 + 0.5*(18.2-15) + 0.5)
    gate = _gate(ctx, **ORIGINAL)
    v, d = _decide(gate, ctx, 18.5)
    assert v is not None and v.decision == BLOCK and v.code == "EDGE_TOO_LOW_FOR_COST"
    assert d.cost_bps == pytest.approx(14.2, abs=1e-6)
    assert d.cost_breakdown["total_cost_bps"] == pytest.approx(14.2, abs=1e-6)
    assert d.expected_edge_bps == 18.5
    assert round(d.edge_cost_ratio, 2) == 1.30
    assert d.required_edge_bps == pytest.approx(56.8, abs=1e-6)
    assert d.required_multiplier == 4.0
    assert d.maker_or_taker == "maker"
    assert d.regime == "IMPULSE"
    assert d.details["gate_reason_codes"] == ["EDGE_TOO_LOW_FOR_COST"]


def test_seed_order_decision_created() -> None:
    """CREATE: cost 12.1, edge 65.3, ratio 5.40, required 48.4, maker, IMPULSE."""
    ctx = _ctx(16.1)
    gate = _gate(ctx, **ORIGINAL)
    v, d = _decide(gate, ctx, 65.3)
    assert v is None
    assert d.cost_bps == pytest.approx(12.1, abs=1e-6)
    assert d.expected_edge_bps == 65.3
    assert round(d.edge_cost_ratio, 2) == 5.40
    assert d.required_edge_bps == pytest.approx(48.4, abs=1e-6)
    assert d.required_multiplier == 4.0 and d.maker_or_taker == "maker"
    assert set(d.cost_breakdown) >= {"fee_bps", "spread_bps", "slippage_bps", "total_cost_bps"}


def test_min_notional() -> None:
    ctx = _ctx(2.0)
    v, _d = _decide(_gate(ctx, **ORIGINAL), ctx, 500.0, notional=5.0)
    assert v is not None and v.code == "MIN_NOTIONAL_LIMIT"


def test_taker_rules() -> None:
    eng = CostEngine(CostConfig(formula="original"))
    maker = eng.estimate_raw(maker=True, spread_bps=4.0, volatility=0.01)   # 5.5
    taker = eng.estimate_raw(maker=False, spread_bps=4.0, volatility=0.01)  # 12+2+3.5 = 17.5
    assert taker.total_bps == pytest.approx(17.5)
    base = TradeGateConfig()
    # maker-only default: a taker request is refused
    r = evaluate(base, 100.0, maker, taker, True, 100.0)
    assert r.codes == ["MAKER_ONLY_ENFORCED"]
    # strong edge allowed as taker: edge >= 17.5 x 8 = 140
    strong = base.model_copy(update={"allow_taker_if_edge_strong": True})
    r = evaluate(strong, 140.0, maker, taker, True, 100.0)
    assert r.codes == [] and r.maker_or_taker == "taker" and r.multiplier == 8.0
    r = evaluate(strong, 139.0, maker, taker, True, 100.0)
    assert "MAKER_ONLY_ENFORCED" in r.codes
    # converted to maker instead of blocked
    conv = base.model_copy(update={"convert_taker_to_maker": True})
    r = evaluate(conv, 22.0, maker, taker, True, 100.0)
    assert r.codes == [] and r.maker_or_taker == "maker"
    # no maker-only policy: taker gated at x4 of the taker cost
    free = base.model_copy(update={"maker_only_default": False})
    assert evaluate(free, 70.0, maker, taker, True, 100.0).codes == []
    assert evaluate(free, 69.0, maker, taker, True, 100.0).codes == ["EDGE_TOO_LOW_FOR_COST"]
    # maker request at exactly the required edge passes
    assert evaluate(base, 22.0, maker, None, False, 100.0).codes == []
    assert evaluate(base, 21.9, maker, None, False, 100.0).codes == ["EDGE_TOO_LOW_FOR_COST"]


def test_taker_request_blocked_through_gate() -> None:
    ctx = _ctx(4.0, "NORMAL")
    v, d = _decide(_gate(ctx, **ORIGINAL), ctx, 1000.0, prefer_maker=False)
    assert v is not None and v.code == "MAKER_ONLY_ENFORCED"
    assert d.maker_or_taker == "taker"


def test_estimator_used_without_signal_edge_and_legacy_mode() -> None:
    ctx = _ctx(4.0, "NORMAL")
    gate = _gate(ctx)
    sig = Signal("s", SYM, "buy", ctx.now, 100.0, stop_loss=99.0, take_profit=100.1,
                 prefer_maker=True)
    d = OrderDecision(1, 1, "s", SYM, "buy", ctx.now, price=100.0, qty=1, notional=100)
    v = gate.vote(sig, d)
    assert d.details["edge_source"] == "estimator" and v is not None
    legacy = _gate(ctx, mode="legacy")
    d2 = OrderDecision(2, 2, "s", SYM, "buy", ctx.now, price=100.0, qty=1, notional=100)
    v2 = legacy.vote(sig, d2)
    assert v2 is not None and v2.code == "LEGACY_EDGE_FILTER"


def test_summary_block_counts_decisions() -> None:
    ctx = _ctx(16.1)
    gate = _gate(ctx, **ORIGINAL)
    for edge in (65.3, 18.5):
        v, d = _decide(gate, ctx, edge)
        d.decision = "CREATE" if v is None else v.decision
        d.reason_codes = ["ACCEPTED"] if v is None else [v.code]
        gate.on_decision(d)
    blk = gate.small_capital_mode()
    assert blk["enabled"] is True
    assert blk["decision_counts"] == {"create": 1, "skip": 0, "block": 1, "total": 2}
    assert blk["top_block_reasons"] == [{"reason": "EDGE_TOO_LOW_FOR_COST", "count": 1}]
    assert blk["avg_cost_bps"] == pytest.approx(12.1, abs=1e-4)
    assert blk["min_notional_usd"] == 10.0 and blk["maker_only_default"] is True
    assert "small_capital_mode" in ctx.sections
