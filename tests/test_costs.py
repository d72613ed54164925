"""Cost engine: the seed's worked example (original formula) and the [PROPOSED] differences."""

from __future__ import annotations

import pytest

from hean_framework.book import OrderBook
from hean_framework.execution.costs import CostConfig, CostEngine, estimate_edge
from hean_framework.models import BookUpdate, Signal
from hean_framework.testing import SAMPLE_SYMBOL, make_context


def test_seed_worked_example_original_formula() -> None:
    """Spread 4 bps, volatility 1 %, maker -> 2x1 + 2 + (1.0 + 0.5) = 5.5 bps; x4 = 22."""
    eng = CostEngine(CostConfig(formula="original"))
    c = eng.estimate_raw(maker=True, spread_bps=4.0, volatility=0.01)
    assert c.fee_bps == 1.0
    assert c.spread_bps == 2.0
    assert c.slippage_bps == pytest.approx(1.5, abs=1e-12)
    assert c.total_bps == pytest.approx(5.5, abs=1e-12)
    assert c.total_bps * 4.0 == pytest.approx(22.0, abs=1e-12)
    assert c.breakdown()["total_cost_bps"] == 5.5


def test_seed_worked_example_from_market_state() -> None:
    """Same example through the market state (a quote 4 bps wide, hand-made 1 % moves) instead
    of explicit inputs."""
    ctx = make_context()
    st = ctx.market[SAMPLE_SYMBOL]
    mid = 100.0
    st.bid, st.ask = mid * (1 - 2e-4), mid * (1 + 2e-4)
    st.prices.clear()
    p = 100.0
    for _ in range(21):
        st.prices.append(p)
        p *= 1.01
    eng = CostEngine(CostConfig(formula="original"))
    c = eng.estimate(symbol=SAMPLE_SYMBOL, side="buy", maker=True, st=st,
                     inst=ctx.instruments.get(SAMPLE_SYMBOL))
    assert c.total_bps == pytest.approx(5.5, abs=1e-9)


def test_original_taker_and_penalties() -> None:
    eng = CostEngine(CostConfig(formula="original"))
    c = eng.estimate_raw(maker=False, spread_bps=20.0, volatility=0.5)
    # fee 6 x2, half spread 10, slippage 3 + 0.5*(20-15) + min(10, 25) = 15.5
    assert c.total_bps == pytest.approx(12 + 10 + 15.5)
    c = eng.estimate_raw(maker=False, spread_bps=60.0, volatility=0.5)
    assert c.slippage_bps == 20.0  # capped at max_slippage_estimate_bps
    assert eng.estimate_raw(maker=True, spread_bps=None, volatility=0).spread_bps == 5.0


def test_proposed_fees_full_spread_for_taker_and_overrides() -> None:
    eng = CostEngine(CostConfig())
    m = eng.estimate_raw(maker=True, spread_bps=4.0, volatility=0.0, maker_fee_bps=2.0,
                         taker_fee_bps=4.0)
    t = eng.estimate_raw(maker=False, spread_bps=4.0, volatility=0.0, maker_fee_bps=2.0,
                         taker_fee_bps=4.0)
    assert m.fee_bps == 2.0 and m.spread_bps == 2.0
    assert t.fee_bps == 4.0 and t.spread_bps == 4.0  # full spread: cross in and out
    rebate = CostEngine(CostConfig(maker_fee_bps=-1.0)).estimate_raw(
        maker=True, spread_bps=4.0, volatility=0.0, maker_fee_bps=2.0)
    assert rebate.fees_bps == -2.0


def test_book_walk_and_history_blend() -> None:
    ctx = make_context()
    st = ctx.market[SAMPLE_SYMBOL]
    book = OrderBook(SAMPLE_SYMBOL)
    book.apply(BookUpdate(0, SAMPLE_SYMBOL, True, [(99.9, 1.0), (99.8, 5.0)],
                          [(100.1, 1.0), (100.2, 5.0)]))
    st.book, st.bid, st.ask = book, book.bid, book.ask
    st.prices.clear()
    inst = ctx.instruments.get(SAMPLE_SYMBOL)
    eng = CostEngine(CostConfig())
    small = eng.estimate(symbol=SAMPLE_SYMBOL, side="buy", maker=False, st=st, inst=inst,
                         qty=0.5)
    big = eng.estimate(symbol=SAMPLE_SYMBOL, side="buy", maker=False, st=st, inst=inst, qty=2)
    assert small.book_slippage_bps == 0.0
    # 2 units: vwap 100.15 vs 100.1 and 99.85 vs 99.9 -> ~5.0 bps round trip
    assert big.book_slippage_bps == pytest.approx(0.05 / 100.1 * 1e4 + 0.05 / 99.9 * 1e4)
    assert eng.estimate(symbol=SAMPLE_SYMBOL, side="buy", maker=False, st=st, inst=inst,
                        qty=100).book_slippage_bps == 20.0
    hist = CostEngine(CostConfig(), history=lambda s, side: (3.0, 10))
    h = hist.estimate(symbol=SAMPLE_SYMBOL, side="buy", maker=False, st=st, inst=inst, qty=0.5)
    assert h.history_slippage_bps == 3.0
    assert h.slippage_bps == pytest.approx(0.7 * small.slippage_bps + 0.3 * 6.0)


def test_funding_over_hold() -> None:
    ctx = make_context(bid=99.99, ask=100.01)
    st = ctx.market[SAMPLE_SYMBOL]
    st.funding_rate = 0.0001  # 1 bp per 8 h
    inst = ctx.instruments.get(SAMPLE_SYMBOL)
    eng = CostEngine(CostConfig())
    iv = 28_800_000
    now = 10 * iv + 1000
    one = eng.estimate(symbol=SAMPLE_SYMBOL, side="buy", maker=True, st=st, inst=inst,
                       now=now, hold_ms=iv)
    none = eng.estimate(symbol=SAMPLE_SYMBOL, side="buy", maker=True, st=st, inst=inst,
                        now=now, hold_ms=1000)
    three = eng.estimate(symbol=SAMPLE_SYMBOL, side="buy", maker=True, st=st, inst=inst,
                         now=now, hold_ms=3 * iv)
    assert (none.funding_bps, one.funding_bps, three.funding_bps) == pytest.approx((0, 1, 3))
    # the side that receives funding is not charged (and income is not a negative cost)
    short = eng.estimate(symbol=SAMPLE_SYMBOL, side="sell", maker=True, st=st, inst=inst,
                         now=now, hold_ms=3 * iv)
    assert short.funding_bps == 0.0 and short.total_bps == pytest.approx(three.total_bps - 3)
    st.funding_rate = -0.0001
    assert eng.estimate(symbol=SAMPLE_SYMBOL, side="sell", maker=True, st=st, inst=inst,
                        now=now, hold_ms=3 * iv).funding_bps == pytest.approx(3)
    assert eng.estimate(symbol=SAMPLE_SYMBOL, side="buy", maker=True, st=st, inst=inst,
                        now=now, hold_ms=3 * iv).funding_bps == 0.0


def test_edge_estimator_spec_2_5() -> None:
    ctx = make_context(bid=99.99, ask=100.01, price=100.0)
    st = ctx.market[SAMPLE_SYMBOL]
    sig = Signal("s", SAMPLE_SYMBOL, "buy", 0, 100.0, take_profit=100.5)
    e = estimate_edge(sig, st, "NORMAL")
    spread = 2.0  # bps
    fp = 0.75 * (1 - 0.8 * min(spread / 16, 0.6))
    assert e.edge_bps == pytest.approx((50 * fp - spread) * (1 - 0.1))
    assert e.threshold_bps == 5.0 and e.passes
    assert estimate_edge(sig, st, "IMPULSE", 0.5).threshold_bps == 4.0  # the original 0.5
    st.bid = st.ask = 0.0
    # no quote and no bars: the assumed 10 bps spread (2 x no_quote_half_spread_bps), not the
    # original's -1000 bps veto; RANGE: c = 0.4, f = 0.95; fewer than 5 prices: vol_pen 0.1
    e = estimate_edge(sig, st, "RANGE")
    assert e.spread_source == "assumed" and e.spread_bps == 10.0
    assert e.edge_bps == pytest.approx((50 * 0.75 * (1 - 0.4 * 0.6) - 10.0) * 0.9 * 0.95)
