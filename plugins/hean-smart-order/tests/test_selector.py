"""The selector's rules, by hand, on a real BTC quote (Binance USDT-M, 2024-08-08 23:54:16 UTC:
bid 61,800.2, ask 61,800.3; Binance fees taker 4 bp, maker 2 bp).

Invariants:

* ``edge_M = alpha - half_spread - taker_fee - slippage`` and ``edge_L = alpha x P(fill) +
  half_spread - maker_fee``, recorded with every input on ``details["smart_order"]``;
* the defect of the original selector: its market edge ignored the alpha, so an urgent signal
  was always skipped; here an urgent signal with a positive market edge is a market order;
* not urgent: the larger positive edge wins (limit -> the maker chase posts at the touch);
* no positive edge -> SKIP ``SMART_ORDER_NO_EDGE`` with the numbers; no alpha -> ``no_alpha``;
* P(fill) comes from the recent maker outcomes once there are ``min_fill_samples`` (requotes
  are not outcomes), before that from the ``maker_fill_rate`` fact, else the prior;
* ``on_params_updated`` clamps into the declared bounds; bad config is refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from hean_smart_order import SmartOrderConfig, SmartOrderExecutor
from pydantic import ValidationError

from hean_framework.facts import MAKER_FILL_RATE
from hean_framework.models import Order, OrderDecision, Signal
from hean_framework.testing import build_component, isolated_plugins, make_context

SYM = "BTC/USDT:USDT"
BID, ASK = 61800.2, 61800.3
MID = (BID + ASK) / 2
HALF = (ASK - BID) / MID * 1e4 / 2


def _setup(**cfg: Any) -> tuple[Any, SmartOrderExecutor]:
    ctx = make_context(symbols=[SYM], bid=BID, ask=ASK, price=BID)
    ex = build_component(isolated_plugins("hean_smart_order.plugin"), "executor",
                         "smart_order", ctx, cfg)
    assert isinstance(ex, SmartOrderExecutor)
    return ctx, ex


def _go(ex: SmartOrderExecutor, *, edge: float | None = 30.0, urgency: float = 0.5,
        qty: float = 0.01, **kw: Any) -> tuple[Any, OrderDecision]:
    sig = Signal("s", SYM, "buy", ex.ctx.now, ASK, edge_bps=edge, urgency=urgency, size=qty,
                 signal_id=1, **kw)
    d = OrderDecision(1, 1, "s", SYM, "buy", ex.ctx.now, price=ASK, qty=qty)
    return ex.execute(sig, d), d


def test_edges_by_hand_and_larger_edge_wins() -> None:
    ctx, ex = _setup()
    v, d = _go(ex, edge=30.0, urgency=0.5)  # quote size 1.0 >= 0.01: slippage 0 (quote)
    so = d.details["smart_order"]
    assert v is None
    assert so["half_spread_bps"] == pytest.approx(HALF, abs=1e-6)
    assert (so["taker_fee_bps"], so["maker_fee_bps"]) == (pytest.approx(4.0), pytest.approx(2.0))
    assert so["slippage_bps"] == 0.0 and so["slippage_source"] == "quote"
    assert so["p_fill"] == 0.5 and so["p_fill_source"] == "prior"
    assert so["edge_market_bps"] == pytest.approx(30.0 - HALF - 4.0, abs=1e-5)
    assert so["edge_limit_bps"] == pytest.approx(30.0 * 0.5 + HALF - 2.0, abs=1e-5)
    assert so["choice"] == "market" and so["reason"] == "larger_edge"
    [o] = ctx.orders.orders
    assert o.order_type == "market" and d.maker_or_taker == "taker"


def test_limit_when_its_edge_is_larger_goes_to_the_maker_chase() -> None:
    ctx, ex = _setup(default_fill_prob=0.9)
    v, d = _go(ex, edge=8.0)  # market 8 - 4 = 4.0; limit 7.2 - 2 = 5.2
    assert v is None and d.details["smart_order"]["choice"] == "limit"
    [o] = ctx.orders.orders
    assert o.order_type == "limit" and o.post_only and o.price == BID
    assert d.maker_or_taker == "maker" and ex.chase.counts["maker_posted"] == 1


def test_urgent_signals_with_positive_alpha_are_not_skipped() -> None:
    """The original's defect: its market edge (mid - ask)/mid - 5.5 - slippage is negative for
    every quote, so with urgency >= 0.7 every signal was skipped."""
    ctx, ex = _setup(default_fill_prob=0.9)
    original_edge_m = (MID - ASK) / MID * 1e4 - 5.5 - 5.0
    assert original_edge_m < 0.0  # what the original compared with 0.5: always a skip
    v, d = _go(ex, edge=12.0, urgency=0.9)
    so = d.details["smart_order"]
    assert v is None
    assert so["edge_market_bps"] == pytest.approx(12.0 - HALF - 4.0, abs=1e-5)
    assert so["edge_market_bps"] > 0.0
    # the limit's edge is the larger one (12 x 0.9 - 2 = 8.8 > 8.0): urgency takes the market
    assert so["edge_limit_bps"] > so["edge_market_bps"]
    assert so["choice"] == "market" and so["reason"] == "urgent"
    assert ctx.orders.orders[0].order_type == "market"
    # the same signal without urgency takes the larger edge
    _, ex2 = _setup(default_fill_prob=0.9)
    _, d2 = _go(ex2, edge=12.0, urgency=0.5)
    assert d2.details["smart_order"]["choice"] == "limit"


def test_no_positive_edge_is_a_skip_with_the_numbers() -> None:
    ctx, ex = _setup()
    v, _ = _go(ex, edge=3.0, urgency=0.9)  # market 3 - 4 < 0; limit 1.5 - 2 < 0
    assert v is not None and v.decision == "SKIP" and v.code == "SMART_ORDER_NO_EDGE"
    assert v.details["edge_market_bps"] < 0 and v.details["edge_limit_bps"] < 0
    assert v.details["choice"] == "skip" and ctx.orders.orders == []
    assert "market" in v.message and "limit" in v.message


def test_alpha_sources_and_no_alpha() -> None:
    _, ex = _setup()
    _, d = _go(ex, edge=None, take_profit=ASK * 1.004, confidence=0.5)  # 40 bps x 0.5
    so = d.details["smart_order"]
    assert so["alpha_source"] == "take_profit"
    assert so["alpha_bps"] == pytest.approx(20.0, abs=1e-6)
    ctx, ex = _setup(no_alpha="skip")
    v, d = _go(ex, edge=None)
    assert v is not None and v.code == "SMART_ORDER_NO_ALPHA" and ctx.orders.orders == []
    ctx, ex = _setup()  # default: limit
    v, d = _go(ex, edge=None)
    assert v is None and d.details["smart_order"]["reason"] == "no_alpha"
    assert ctx.orders.orders[0].order_type == "limit"


def test_fill_probability_sources() -> None:
    ctx, ex = _setup(min_fill_samples=3)
    assert ex.fill_prob() == (0.5, "prior")
    ctx.facts.set(MAKER_FILL_RATE, 0.25)
    assert ex.fill_prob() == (0.25, "maker_fill_rate_fact")
    for i, (filled, reason) in enumerate(((1.0, ""), (0.0, "chase_requote"), (0.0,
                                          "chase_exhausted"), (0.5, "chase_exhausted"))):
        o = Order(100 + i, "s", SYM, "buy", 1.0, "limit", BID, True, filled=filled,
                  status="cancelled" if reason else "filled", reason=reason)
        ex.chase.on_order_update(o)
    # three outcomes (the requote is not one): 1.0, 0.0, 0.5
    assert ex.fill_prob() == (pytest.approx(0.5), "recent_maker_orders(3)")


def test_params_are_clamped_and_bad_config_refused() -> None:
    _, ex = _setup()
    assert ex.on_params_updated({"urgency_threshold": 3.0, "min_edge_bps": -500,
                                 "unknown": 1}) == ["min_edge_bps", "urgency_threshold"]
    assert ex.config.urgency_threshold == 1.0 and ex.config.min_edge_bps == -50.0
    with pytest.raises(ValidationError):
        SmartOrderConfig(default_fill_prob=1.5)
    with pytest.raises(ValidationError):
        SmartOrderConfig(no_alpha="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        SmartOrderConfig.model_validate({"slippage": {"book_weight": 2}})
