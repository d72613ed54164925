"""Execution edge estimator on the real Binance USDT-M BTC trades and best bid/offer.

Invariants checked:

* one estimate recomputed by hand from the last 20 trade prices and the current quote
  (spread, fill probability, volatility penalty, edge of a 30 bps move, threshold);
* after every trade the volatility penalty equals a from-scratch mean of |dp/p| over the last
  20 prices, and every estimate's fields stay within their bounds;
* the regime of the symbol (the ``REGIME`` fact) picks the spread sensitivity, multiplier and
  threshold, Wyckoff labels by family; ``edge_threshold_scale: 0.5`` gives the original's
  thresholds (4 / 1.5 / 2.5 bps);
* without a bid/ask the edge is -1000 bps and never passes; with fewer than 5 prices the
  penalty is the default 0.1;
* nobody publishing gives the neutral estimate (no discount, zero threshold);
* deterministic replay.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
from hean_market_analyzers.facts import (
    EXECUTION_EDGE,
    NEUTRAL_EDGE,
    NO_QUOTE_EDGE_BPS,
    EdgeEstimate,
)

from hean_framework.facts import REGIME
from hean_framework.models import MarketEvent, Quote, Trade
from hean_framework.testing import sample_bars

BTC = "BTC/USDT:USDT"


@pytest.fixture(scope="module")
def btc_ticks(sample_data: Path, read_events: Any) -> list[MarketEvent]:
    return read_events([
        {"kind": "bbo", "symbol": BTC,
         "path": str(sample_data / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
        {"kind": "trades", "symbol": BTC,
         "path": str(sample_data / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")},
    ])


def test_one_estimate_by_hand(make_analyzer: Any, drive: Any,
                              btc_ticks: list[MarketEvent]) -> None:
    est, ctx = make_analyzer("execution_edge")
    trades: list[Trade] = []
    quotes: list[Quote] = []
    stop = 0
    for i, ev in enumerate(btc_ticks):
        (trades if isinstance(ev, Trade) else quotes).append(ev)  # type: ignore[arg-type]
        if len(trades) == 200:
            stop = i + 1
            break
    drive(ctx, [est], btc_ticks[:stop])
    e = ctx.facts.get(EXECUTION_EDGE, BTC)
    q = quotes[-1]
    px = [t.price for t in trades[-20:]]
    mean_abs = sum(abs(b - a) / a for a, b in itertools.pairwise(px)) / 19
    spread = (q.ask - q.bid) / trades[-1].price * 1e4
    fill = min(max(0.75 * (1 - 0.8 * min(spread / 16, 0.6)), 0.3), 0.95)
    assert e.known and e.has_quote and e.regime == ""
    assert math.isclose(e.spread_bps, spread, rel_tol=1e-12)
    assert math.isclose(e.fill_prob, fill, rel_tol=1e-12)
    assert math.isclose(e.vol_penalty, min(50 * mean_abs, 0.5), rel_tol=1e-9)
    assert (e.regime_mult, e.threshold_bps) == (1.0, 5.0)
    edge = (30 * fill - spread) * (1 - e.vol_penalty)
    assert math.isclose(e.edge_bps(30.0), edge, rel_tol=1e-12)
    # on this calm tape: a 0.016 bps spread, fill ~0.75, a tiny penalty -> ~22 bps of 30
    assert 20.0 < e.edge_bps(30.0) < 23.0 and e.passes(30.0) and not e.passes(6.0)


def test_penalty_equals_from_scratch_after_every_trade(make_analyzer: Any, drive: Any,
                                                       btc_ticks: list[MarketEvent]) -> None:
    est, ctx = make_analyzer("execution_edge", {"vol_window": 20})
    prices: list[float] = []
    n = 0

    def check(ev: MarketEvent) -> None:
        nonlocal n
        e = ctx.facts.get(EXECUTION_EDGE, BTC)
        assert 0.3 <= e.fill_prob <= 0.95 and 0.0 <= e.vol_penalty <= 0.5
        if not isinstance(ev, Trade):
            return
        prices.append(ev.price)
        if len(prices) < 5:
            assert e.vol_penalty == 0.1
            return
        px = prices[-20:]
        ch = [abs(b - a) / a for a, b in itertools.pairwise(px)]
        assert math.isclose(e.vol_penalty, min(50 * sum(ch) / len(ch), 0.5),
                            rel_tol=1e-9, abs_tol=1e-15)
        n += 1

    drive(ctx, [est], btc_ticks, check)
    assert n > 20_000


@pytest.mark.parametrize(("regime", "c", "mult", "need"), [
    ("IMPULSE", 1.2, 1.05, 8.0), ("DISTRIBUTION", 1.2, 1.05, 8.0),
    ("RANGE", 0.4, 0.95, 3.0), ("ACCUMULATION", 0.4, 0.95, 3.0),
    ("NORMAL", 0.8, 1.0, 5.0), ("MARKUP", 0.8, 1.0, 5.0), ("", 0.8, 1.0, 5.0)])
def test_regime_picks_the_parameters(make_analyzer: Any, drive: Any,
                                     btc_ticks: list[MarketEvent], regime: str, c: float,
                                     mult: float, need: float) -> None:
    est, ctx = make_analyzer("execution_edge", {"spread_ref_bps": 0.01})
    if regime:
        ctx.facts.set(REGIME, regime, BTC)
    drive(ctx, [est], btc_ticks[:3000])
    e = ctx.facts.get(EXECUTION_EDGE, BTC)
    ratio = min(e.spread_bps / 0.01, 0.6)
    assert e.regime == regime and e.regime_mult == mult and e.threshold_bps == need
    assert math.isclose(e.fill_prob, min(max(0.75 * (1 - c * ratio), 0.3), 0.95))
    # label mapping: only the exact labels count
    est2, ctx2 = make_analyzer("execution_edge", {"regime_mapping": "label",
                                                  "edge_threshold_scale": 0.5})
    if regime:
        ctx2.facts.set(REGIME, regime, BTC)
    drive(ctx2, [est2], btc_ticks[:3000])
    e2 = ctx2.facts.get(EXECUTION_EDGE, BTC)
    exact = {"IMPULSE": 4.0, "RANGE": 1.5}.get(regime, 2.5)
    assert e2.threshold_bps == exact


def test_regime_change_republishes_on_the_next_quote(make_analyzer: Any, drive: Any,
                                                     btc_ticks: list[MarketEvent]) -> None:
    est, ctx = make_analyzer("execution_edge")
    drive(ctx, [est], btc_ticks[:1000])
    assert ctx.facts.get(EXECUTION_EDGE, BTC).threshold_bps == 5.0
    ctx.facts.set(REGIME, "IMPULSE", BTC)
    nxt = next(e for e in btc_ticks[1000:] if isinstance(e, Quote))
    drive(ctx, [est], [nxt])
    assert ctx.facts.get(EXECUTION_EDGE, BTC).threshold_bps == 8.0


def test_no_quote_never_passes(make_analyzer: Any) -> None:
    est, ctx = make_analyzer("execution_edge")
    for i, bar in enumerate(sample_bars(30)):
        ctx.now = bar.ts
        est.on_bar(bar)
        e = ctx.facts.get(EXECUTION_EDGE, BTC)
        assert not e.has_quote and e.edge_bps(500.0) == NO_QUOTE_EDGE_BPS == -1000.0
        assert not e.passes(500.0)
        assert (e.vol_penalty == 0.1) == (i < 4)


def test_neutral_default(make_analyzer: Any) -> None:
    _, ctx = make_analyzer("execution_edge")
    e = ctx.facts.get(EXECUTION_EDGE, BTC)
    assert e is NEUTRAL_EDGE and not e.known
    assert e.edge_bps(12.5) == 12.5 and e.passes(0.0) and not e.passes(-1.0)
    assert EdgeEstimate.move_bps("buy", 100.0, 101.0) == pytest.approx(100.0)
    assert EdgeEstimate.move_bps("sell", 100.0, 101.0) == pytest.approx(-100.0)


def test_deterministic(make_analyzer: Any, drive: Any, btc_ticks: list[MarketEvent]) -> None:
    out = []
    for _ in range(2):
        est, ctx = make_analyzer("execution_edge")
        vals: list[EdgeEstimate] = []
        drive(ctx, [est], btc_ticks[:10_000],
              lambda ev, c=ctx, v=vals: v.append(c.facts.get(EXECUTION_EDGE, BTC)))
        out.append(vals)
    assert out[0] == out[1]
