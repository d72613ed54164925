"""The slippage estimator on real data.

Invariants:

* on the bundled Binance BTCUSDT L2 book (2024-08-08, first 60 s) the book estimate equals an
  independent level-by-level walk of the ask (buy) or bid (sell) side for every tested size;
  a size beyond the whole side is ``thin_book`` at the configured penalty;
* a quote without a book: 0 when the quantity fits in the touch's size, else no model;
* on the bundled BTC 5m candles the volume estimate is ``Y sigma sqrt(qty / mean volume)``
  computed by hand from the last 20 bars;
* the history is blended 0.7 / 0.3 with the model once 5 fills of a comparable size exist.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
from hean_smart_order import SlippageConfig, SlippageEstimator

from hean_framework.models import BookUpdate
from hean_framework.testing import make_context, sample_bars, step_market

BTC = "BTC/USDT:USDT"


def _walk(levels: list[tuple[float, float]], qty: float) -> float | None:
    left, cost = qty, 0.0
    for p, s in levels:
        take = min(s, left)
        cost += take * p
        left -= take
        if left <= 1e-12:
            return abs(cost / qty - levels[0][0]) / levels[0][0] * 1e4
    return None


@pytest.fixture(scope="module")
def book_ctx(sample_data: Path, read_events: Any) -> Any:
    evs = read_events([{"kind": "l2", "symbol": BTC, "path": str(
        sample_data / "binance_usdm_perp_BTCUSDT_l2_20240808_first60s.csv.gz")}])
    ctx = make_context(symbols=[BTC])
    for ev in evs[: len(evs) // 2]:
        if isinstance(ev, BookUpdate):
            step_market(ctx, ev)
    return ctx


@pytest.mark.parametrize("qty", [0.001, 0.5, 3.0, 25.0, 120.0])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_book_walk_matches_an_independent_walk(book_ctx: Any, side: str, qty: float) -> None:
    st = book_ctx.market[BTC]
    book = st.book
    levels = book.levels("ask" if side == "buy" else "bid", len(book))
    est = SlippageEstimator().estimate(BTC, side, qty, st)
    expect = _walk(levels, qty)
    assert expect is not None
    assert est.source == "book" and est.bps == pytest.approx(expect, abs=1e-9)
    assert est.touch == levels[0][0]


def test_thin_book_and_quote(book_ctx: Any) -> None:
    st = book_ctx.market[BTC]
    depth = sum(s for _, s in st.book.levels("ask", len(st.book)))
    est = SlippageEstimator(SlippageConfig(thin_book_penalty_bps=33.0)).estimate(
        BTC, "buy", depth * 2, st)
    assert (est.source, est.bps) == ("thin_book", 33.0)
    ctx = make_context(symbols=[BTC], bid=61800.2, ask=61800.3, price=61800.2)  # sizes 1.0
    q = ctx.market[BTC]
    assert SlippageEstimator().estimate(BTC, "buy", 0.5, q).source == "quote"
    big = SlippageEstimator().estimate(BTC, "buy", 5.0, q)
    assert (big.source, big.bps) == ("default", 5.0)


def test_volume_estimate_on_real_candles_by_hand() -> None:
    ctx = make_context(symbols=[BTC])
    ctx.market.keep_bars = True
    bars = list(sample_bars(300))
    for b in bars:
        step_market(ctx, b)
    st = ctx.market[BTC]
    est = SlippageEstimator().estimate(BTC, "sell", 2.0, st)
    last = bars[-20:]
    closes = [b.close for b in bars[-21:]]
    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    m = sum(rets) / len(rets)
    sigma = math.sqrt(sum((r - m) ** 2 for r in rets) / len(rets))
    mean_vol = sum(b.volume for b in last) / 20
    assert est.source == "volume"
    assert est.bps == pytest.approx(sigma * math.sqrt(2.0 / mean_vol) * 1e4, rel=1e-9)


def test_history_blend_with_size_band(book_ctx: Any) -> None:
    st = book_ctx.market[BTC]
    est = SlippageEstimator()
    model = est.estimate(BTC, "buy", 3.0, st).bps
    touch = 100.0
    for _ in range(5):
        est.record(BTC, "buy", touch, 100.04, qty=3.5)  # 4 bps at a comparable size
        est.record(BTC, "buy", touch, 100.5, qty=50.0)  # 50 bps, much larger orders
    e = est.estimate(BTC, "buy", 3.0, st)
    assert e.source == "book+history" and e.history_fills == 5
    assert e.bps == pytest.approx(0.7 * model + 0.3 * 4.0, rel=1e-6)
    plain = SlippageEstimator(SlippageConfig(history_size_band=0.0))
    for _ in range(5):
        plain.record(BTC, "buy", touch, 100.04, qty=3.5)
        plain.record(BTC, "buy", touch, 100.5, qty=50.0)
    assert plain.estimate(BTC, "buy", 3.0, st).bps == pytest.approx(0.7 * model + 0.3 * 27.0,
                                                                     rel=1e-6)
