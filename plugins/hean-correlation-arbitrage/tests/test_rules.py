"""CorrelationArbitrage's rules on real Binance candles, driven through a test context.

Invariants:

* the incremental rolling OLS (O(1) per sample, running sums) equals a batch regression and
  correlation of the same window (``statistics.linear_regression`` / ``correlation``), also
  after several windows have passed (no drift);
* the common clock: a sample only where both symbols have a bar closing at the same time (the
  1m perpetual files differ by gaps and length): samples == common close times;
* the original's reversed logic fixed, the pair enters only while its returns are correlated
  above ``min_corr``: on the real aligned BTC/ETH every entry has corr > 0.5, while the same BTC
  against ETH shifted by a day (uncorrelated returns) is dislocated as often yet never
  entered (the original's ``correlation < 0.5`` would have entered those);
* parameter updates are clamped into the declared bounds; unknown keys ignored.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hean_correlation_arbitrage import CorrelationArbitrage, RollingPair

from hean_framework.groups import OrderGroup
from hean_framework.models import Bar
from hean_framework.testing import build_component, isolated_plugins, make_context, step_market

BTC, ETH = "BTC/USDT", "ETH/USDT"


Closes = Callable[[Path], dict[int, float]]


@pytest.fixture(scope="module")
def spot(shared_data: Path, closes: Closes) -> tuple[dict[int, float], dict[int, float]]:
    base = shared_data / "ohlcv"
    return (closes(base / "binance_spot_BTCUSDT_5m_20221231_20240102.csv.gz"),
            closes(base / "binance_spot_ETHUSDT_5m_20221231_20240102.csv.gz"))


def make(config: dict[str, Any] | None = None,
         symbols: tuple[str, str] = (BTC, ETH)) -> CorrelationArbitrage:
    ctx = make_context(symbols=list(symbols), capital=10_000)
    strat = build_component(isolated_plugins("hean_correlation_arbitrage.plugin"), "strategy",
                            "correlation_arb", ctx, config or {}, symbols=list(symbols))
    assert isinstance(strat, CorrelationArbitrage)
    return strat


def feed(strat: CorrelationArbitrage, a: dict[int, float], b: dict[int, float],
         n: int | None = None) -> list[OrderGroup]:
    """Bars of both symbols in time order (primary first at equal times); entry groups."""
    events = sorted([(t, 0, p) for t, p in a.items()] + [(t, 1, p) for t, p in b.items()])
    if n is not None:
        events = events[:n]
    out = []
    for ts, k, px in events:
        bar = Bar(ts, strat.symbols[k], px, px, px, px, 1.0, 300_000)
        step_market(strat.ctx, bar)
        res = strat.on_bar(bar)
        if isinstance(res, OrderGroup) and res.kind != "exit":
            out.append(res)
    return out


def test_rolling_ols_equals_a_batch_fit(spot: tuple[dict[int, float], dict[int, float]]
                                        ) -> None:
    a, b = spot
    ts = sorted(set(a) & set(b))[:1400]
    w = 100
    pair = RollingPair(w)
    xs, ys = [math.log(b[t]) for t in ts], [math.log(a[t]) for t in ts]
    for i, (x, y) in enumerate(zip(xs, ys)):
        pair.add(x, y)
        if i + 1 >= w + 1 and (i % 97 == 0 or i == len(ts) - 1):
            wx, wy = xs[i + 1 - w:i + 1], ys[i + 1 - w:i + 1]
            slope, intercept = statistics.linear_regression(wx, wy)
            fit = pair.fit()
            assert fit is not None
            beta, alpha, sigma = fit
            assert beta == pytest.approx(slope, rel=1e-7)
            assert alpha == pytest.approx(intercept, rel=1e-7, abs=1e-7)
            res = [yy - intercept - slope * xx for xx, yy in zip(wx, wy)]
            assert sigma == pytest.approx(statistics.pstdev(res), rel=1e-6)
            rx = [xs[j] - xs[j - 1] for j in range(i + 1 - w, i + 1)]
            ry = [ys[j] - ys[j - 1] for j in range(i + 1 - w, i + 1)]
            assert pair.corr() == pytest.approx(statistics.correlation(rx, ry), rel=1e-7)


def test_common_clock_on_the_1m_perpetuals(shared_data: Path, closes: Closes) -> None:
    base = shared_data / "ohlcv"
    a = closes(base / "binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz")
    b = closes(base / "binance_usdm_perp_ETHUSDT_1m_20250504_20250615.csv.gz")
    common = set(a) & set(b)
    assert len(common) < min(len(a), len(b)) or len(a) != len(b)
    strat = make({"window": 60}, ("BTC/USDT:USDT", "ETH/USDT:USDT"))
    feed(strat, a, b)
    st = strat.stats()
    assert st["samples"] == len(common)
    assert st["bars"] == len(a) + len(b)
    assert st["samples"] * 2 + st["unpaired_bars"] + st["waiting_bars"] == st["bars"]


def test_bug_enters_only_a_normally_correlated_pair(
        spot: tuple[dict[int, float], dict[int, float]]) -> None:
    a, b = spot
    cut = sorted(a)[20_000]
    a = {t: p for t, p in a.items() if t < cut}
    b = {t: p for t, p in b.items() if t < cut}
    cfg = {"window": 288, "min_edge_cost_ratio": 0.0, "cooldown_s": 0}
    aligned = make(cfg)
    aligned.record_samples = True
    groups = feed(aligned, a, b)
    assert groups and aligned.stats()["low_correlation"] == 0
    for g in groups:
        assert g.legs[0].metadata["corr"] > 0.5 and abs(g.legs[0].metadata["z"]) > 2.0
    # ETH a day later: the same prices, returns no longer move together
    day = 86_400_000
    shifted = {t - day: p for t, p in b.items() if t - day in a}
    apart = make(cfg)
    apart.record_samples = True
    assert feed(apart, a, shifted) == []
    st = apart.stats()
    assert st["dislocations"] > 100
    assert st["low_correlation"] == st["dislocations"] - st["beyond_stop"]
    # the original's rule (correlation < 0.5 and |z| > 2) would have entered these
    assert sum(1 for s in apart.samples if s.corr < 0.5 and abs(s.z) > 2.0) > 100


def test_params_are_clamped_into_their_bounds() -> None:
    strat = make()
    assert strat.on_params_updated({"window": 5, "z_stop": 99, "nope": 1}) == ["window",
                                                                              "z_stop"]
    assert strat.config.window == 20 and strat.config.z_stop == 20.0
    before = strat.config.model_dump()
    assert strat.on_params_updated({"z_exit": 3.0, "z_entry": 2.0}) == []
    assert strat.config.model_dump() == before


def test_symbols_must_be_a_pair() -> None:
    from hean_framework.errors import HeanError

    with pytest.raises(HeanError, match=r"strategies\.correlation_arb\.symbols must name two"):
        make(symbols=(BTC, BTC))
