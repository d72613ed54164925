"""The ``risk`` sizer (:mod:`hean_framework.risk.sizer`): 1 % of the budget per stop, bounded
multipliers, leverage/exposure caps, and the kernel's POSITION_SIZER_ZERO block instead of an
up-size."""

from __future__ import annotations

import math

import pytest

from hean_framework.builtin.pipeline import PlainConfig, PlainExecutor
from hean_framework.facts import REGIME
from hean_framework.models import Fill, OrderDecision, Signal
from hean_framework.pipeline import Pipeline
from hean_framework.risk.governor import RISK_SIZE_MULTIPLIER, RISK_STATE
from hean_framework.risk.sizer import RiskSizer, RiskSizerConfig
from hean_framework.testing import make_context

BTC = "BTC/USDT:USDT"


def _setup(budget: float = 30.0, capital: float = 300.0, price: float = 80_000.0, **cfg):
    ctx = make_context(capital=capital, price=price)
    ctx.budgets.budget_value = budget
    sizer = RiskSizer(RiskSizerConfig(**cfg), ctx, name="risk")
    sizer.on_start()
    pipe = Pipeline(ctx, sizers=[sizer],
                    executors={"plain": PlainExecutor(PlainConfig(), ctx, name="plain")},
                    default_executor="plain")
    return ctx, sizer, pipe


def _sig(price: float = 80_000.0, stop_pct: float | None = 0.02, side: str = "buy",
         **kw) -> Signal:
    stop = None if stop_pct is None else (price * (1 - stop_pct) if side == "buy"
                                          else price * (1 + stop_pct))
    return Signal("momentum_trader", BTC, side, 0, price, stop_loss=stop, **kw)


def test_300_account_btc_blocks_position_sizer_zero_with_numbers() -> None:
    # $300 account, 10 % budget ($30), BTC at 80k, 2 % stop: 1 % risk = $0.30 allowed;
    # the exchange minimum 0.001 BTC (~$80) would risk $1.60 -> BLOCK, never up-sized.
    ctx, _, pipe = _setup(budget=30.0)
    d = pipe.process(_sig())
    assert d.decision == "BLOCK"
    assert d.reason_codes == ["POSITION_SIZER_ZERO"]
    assert d.stage == "sizer:exchange"
    det = d.details
    assert det["risk_allowed"] == pytest.approx(0.30)
    assert d.risk_allowed == pytest.approx(0.30)
    assert det["qty_raw"] == pytest.approx(0.30 / (80_000 * 0.02))
    assert det["min_qty"] == pytest.approx(0.001)
    assert det["min_notional"] == pytest.approx(80.0)
    assert det["risk_at_minimum"] == pytest.approx(1.6)
    assert "0.001 BTC" in det["exchange_minimum"] and "80" in det["exchange_minimum"]
    assert det["stop_distance_pct"] == pytest.approx(2.0)
    assert d.budget == pytest.approx(30.0)
    assert d.qty == 0.0
    assert ctx.orders.orders == []


def test_sized_order_never_risks_more_than_allowed() -> None:
    ctx, _, pipe = _setup(budget=300.0, price=2_000.0)
    ctx.market[BTC].last = 2_000.0
    d = pipe.process(_sig(price=2_000.0, stop_pct=0.01))
    # 1 % of 300 = 3 USDT over a 1 % stop = 300 USDT notional = 0.15 BTC (lot 0.001)
    assert d.decision == "CREATE"
    assert d.qty == pytest.approx(0.15)
    assert d.risk_amount <= d.risk_allowed + 1e-9
    assert ctx.orders.orders[0].qty == pytest.approx(0.15)


def test_round_up_to_minimum_respects_the_ceiling() -> None:
    # ceiling 3 % of a $30 budget = $0.90 < $1.60 at the minimum: still blocked
    _, _, pipe = _setup(budget=30.0, round_up_to_minimum=True, max_risk_pct_at_minimum=0.03)
    d = pipe.process(_sig())
    assert d.reason_codes == ["POSITION_SIZER_ZERO"]
    assert "rounded_up_to_minimum" not in d.details
    # ceiling 3 % of $60 = $1.80 >= $1.60: rounded up to 0.001 BTC, risk_allowed says so
    _, _, pipe = _setup(budget=60.0, round_up_to_minimum=True, max_risk_pct_at_minimum=0.03)
    d = pipe.process(_sig())
    assert d.decision == "CREATE"
    assert d.qty == pytest.approx(0.001)
    ru = d.details["rounded_up_to_minimum"]
    assert ru["risk_at_minimum"] == pytest.approx(1.6)
    assert ru["risk_allowed_before"] == pytest.approx(0.6)
    assert d.risk_amount == pytest.approx(d.risk_allowed)


def test_multipliers_are_bounded() -> None:
    ctx, sizer, _ = _setup(budget=100.0)
    d = OrderDecision(1, 1, "momentum_trader", BTC, "buy", 0, price=80_000.0)
    assert sizer.size(_sig(size_multiplier=5.0), d) is None
    m = d.details["multipliers"]
    assert m["signal"] == 2.5 and m["total"] == 2.5
    ctx.facts.set(REGIME, "IMPULSE", BTC)
    ctx.facts.set(RISK_SIZE_MULTIPLIER, 1.5)
    d = OrderDecision(2, 2, "momentum_trader", BTC, "buy", 0, price=80_000.0)
    sizer.size(_sig(size_multiplier=2.5), d)
    assert d.details["multipliers"]["total"] == 3.0  # 2.5 × 1.2 × 1.5 = 4.5 -> 3
    assert d.risk_allowed == pytest.approx(100 * 0.01 * 3.0)
    ctx.facts.set(REGIME, "RANGE", BTC)
    ctx.facts.set(RISK_SIZE_MULTIPLIER, 0.5)
    d = OrderDecision(3, 3, "momentum_trader", BTC, "buy", 0, price=80_000.0)
    sizer.size(_sig(), d)
    assert d.details["multipliers"]["total"] == pytest.approx(0.35)
    assert d.risk_allowed == pytest.approx(0.35)


def test_governor_zero_skips_trading_disabled_not_sizer_zero() -> None:
    ctx, _, pipe = _setup(budget=100.0)
    ctx.facts.set(RISK_SIZE_MULTIPLIER, 0.0)
    ctx.facts.set(RISK_STATE, "HARD_STOP")
    d = pipe.process(_sig())
    assert d.decision == "SKIP" and d.reason_codes == ["TRADING_DISABLED"]
    assert "HARD_STOP" in d.message


def test_leverage_cap() -> None:
    _, sizer, _ = _setup(budget=100.0)
    d = OrderDecision(1, 1, "s", BTC, "buy", 0, price=80_000.0)
    sizer.size(_sig(stop_pct=0.0001), d)
    assert d.qty_raw * 80_000 == pytest.approx(300.0)  # budget × 3
    assert d.details["capped_by"] == "max_leverage"


def test_exposure_cap_and_limit() -> None:
    ctx, sizer, _ = _setup(budget=300.0)
    ctx.portfolio.apply_fill(Fill(1, 1, "other", BTC, "buy", 0.01, 80_000.0, 0.0, False, 0))
    # equity 300, gross exposure 800 -> room 3 × 300 − 800 = 100 USDT
    d = OrderDecision(1, 1, "s", BTC, "buy", 0, price=80_000.0)
    sizer.size(_sig(stop_pct=0.001), d)
    assert d.details["capped_by"] == "max_exposure"
    assert d.qty_raw * 80_000 == pytest.approx(100.0, rel=1e-6)
    ctx.portfolio.apply_fill(Fill(2, 2, "other", BTC, "buy", 0.01, 80_000.0, 0.0, False, 0))
    d = OrderDecision(2, 2, "s", BTC, "buy", 0, price=80_000.0)
    v = sizer.size(_sig(), d)
    assert v is not None and v.code == "EXPOSURE_LIMIT" and v.decision == "BLOCK"


def test_no_stop_halves_risk_with_assumed_two_percent() -> None:
    _, sizer, _ = _setup(budget=100.0)
    d = OrderDecision(1, 1, "s", BTC, "buy", 0, price=80_000.0)
    assert sizer.size(_sig(stop_pct=None), d) is None
    assert d.risk_allowed == pytest.approx(0.5)
    assert d.qty_raw == pytest.approx(0.5 / (80_000 * 0.02))
    assert d.details["stop_assumed_pct"] == 2.0


def test_no_budget_skips_and_missing_stop_is_blocked_by_the_pipeline() -> None:
    _, _, pipe = _setup(budget=0.0)
    d = pipe.process(_sig())
    assert d.decision == "SKIP" and d.reason_codes == ["NO_BUDGET"]
    _, _, pipe = _setup(budget=30.0)
    d = pipe.process(_sig(stop_pct=None))
    assert d.reason_codes == ["MISSING_STOP_LOSS"]
    assert math.isclose(d.risk_allowed, 0.0)
