"""Fill quality: realized slippage per symbol/side, the 0.7/0.3 blend and the multiplier."""

from __future__ import annotations

import pytest

from hean_framework.execution.fill_quality import FillQualityConfig, FillQualityTracker
from hean_framework.execution.trade_gate import TradeGate
from hean_framework.models import Fill, OrderDecision, Signal
from hean_framework.testing import SAMPLE_SYMBOL, build_component, isolated_plugins, make_context


def _fill(side: str, price: float, expected: float, sid: int = 1, fee: float = 0.0) -> Fill:
    return Fill(1, 1, "s", SAMPLE_SYMBOL, side, 1.0, price, fee, False, 0, sid, expected)


def test_signed_adverse_slippage_per_side() -> None:
    t = FillQualityTracker()
    assert t.on_fill(_fill("buy", 100.1, 100.0)) == pytest.approx(10.0)
    assert t.on_fill(_fill("sell", 100.1, 100.0)) == pytest.approx(-10.0)  # favourable
    assert t.on_fill(_fill("buy", 100.0, 0.0)) is None
    assert t.history(SAMPLE_SYMBOL, "buy") == (pytest.approx(10.0), 1)
    assert t.history(SAMPLE_SYMBOL, "sell") == (pytest.approx(-10.0), 1)
    assert t.history("X", "buy") == (0.0, 0)


def test_multiplier_rises_while_realized_exceeds_estimate_and_falls_back() -> None:
    t = FillQualityTracker(FillQualityConfig(raise_multiplier_when_costs_exceed=True, window=2,
                                             multiplier_step=0.5, max_multiplier_boost=1.0))
    t.expect(1, 3.0)
    for _ in range(6):  # realized 10 bps per fill > 3 estimated
        t.on_fill(_fill("buy", 100.1, 100.0, sid=1))
    assert t.boost == 1.0 and t.raises == 2  # capped
    for _ in range(2):
        t.on_fill(_fill("buy", 100.0, 100.0, sid=1))
    assert t.boost == 0.5 and t.lowers == 1


def test_gate_feeds_realized_history_into_costs() -> None:
    ctx = make_context(bid=99.99, ask=100.01, price=100.0)
    gate = build_component(isolated_plugins(), "gate", "trade_gate", ctx,
                           {"fill_quality": {"raise_multiplier_when_costs_exceed": True,
                                             "window": 5}})
    assert isinstance(gate, TradeGate)
    sig = Signal("s", SAMPLE_SYMBOL, "buy", ctx.now, 100.0, stop_loss=99.0, edge_bps=1000.0,
                 prefer_maker=True, signal_id=7)
    d = OrderDecision(1, 7, "s", SAMPLE_SYMBOL, "buy", ctx.now, price=100.0, qty=1, notional=100)
    assert gate.vote(sig, d) is None
    before = d.cost_bps
    for _ in range(10):
        gate.on_fill(_fill("buy", 100.05, 100.0, sid=7))  # 5 bps adverse each
    d2 = OrderDecision(2, 8, "s", SAMPLE_SYMBOL, "buy", ctx.now, price=100.0, qty=1,
                       notional=100)
    gate.vote(sig, d2)
    assert d2.cost_breakdown["history_slippage_bps"] == pytest.approx(5.0)
    assert d2.cost_bps > before
    assert d2.required_multiplier == 4.0 + 1.0  # two bad windows of 5 fills, +0.5 each
