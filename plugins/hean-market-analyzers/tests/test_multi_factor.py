"""Multi-factor confirmation on real Binance BTC 5m candles.

Invariants checked:

* one bar's factors recomputed by hand (momentum means, volume ratio, time of day) and the
  total as the weighted mean with the default weights (sum 5.1);
* on every bar of 3,000, every factor equals a from-scratch computation over the same
  window -- including the volatility percentile among the last ``vol_history`` short
  volatilities -- and stays within [0.2, 1];
* the OFI factor follows the ``OFI`` fact and is neutral (0.5) while ``OFI_SOURCE`` is unknown;
  the regime factor follows the ``REGIME`` fact and the signal type's table (Wyckoff labels by
  family, 0.7 unknown);
* ``confirmed``/``confidence`` apply the threshold and the required factors;
* neutral with too little data (0.5 factors) and without the analyzer (score 0.5, confirmed,
  confidence 0.5); deterministic replay; the config refuses bad ranges.
"""

from __future__ import annotations

import itertools
import math
import statistics
from typing import Any

import pytest
from hean_market_analyzers.confirmation import MultiFactorConfig
from hean_market_analyzers.facts import (
    CONFIRMATION,
    NEUTRAL_CONFIRMATION,
    OFI,
    OFI_SOURCE,
    Confirmation,
    regime_score,
)
from pydantic import ValidationError

from hean_framework.facts import REGIME
from hean_framework.testing import sample_bars

BTC = "BTC/USDT:USDT"
BARS = list(sample_bars(3000))


def replay(make_analyzer: Any, config: dict[str, Any] | None = None,
           bars: list[Any] = BARS, before: Any = None) -> tuple[Any, list[Confirmation]]:
    mf, ctx = make_analyzer("multi_factor", config)
    out = []
    for b in bars:
        ctx.now = b.ts
        if before is not None:
            before(ctx, b)
        mf.on_bar(b)
        out.append(ctx.facts.get(CONFIRMATION, BTC))
    return mf, out


def test_one_bar_by_hand(make_analyzer: Any) -> None:
    _, out = replay(make_analyzer, bars=BARS[:50])
    c = out[-1]
    closes = [b.close for b in BARS[:50]]
    s, ll = sum(closes[-10:]) / 10, sum(closes) / 50
    d = abs(s - ll) / ll
    up, down = min(1, 0.6 + 4 * d), max(0.2, 0.5 - 2 * d)
    assert (c.momentum_buy, c.momentum_sell) == pytest.approx((up, down) if s > ll
                                                              else (down, up), rel=1e-12)
    vols = [b.volume for b in BARS[:50]]
    r = vols[-1] / (sum(vols[-21:-1]) / 20)
    v = min(1, 0.5 + 0.3 * (r - 1)) if r >= 1 else max(0.2, 0.5 - 0.4 * (1 - r))
    assert c.volume == pytest.approx(v, rel=1e-12)
    hour = BARS[49].ts // 3_600_000 % 24
    assert c.time == (0.9 if hour in {*range(8, 18), *range(20, 24)} else 0.6)
    assert (c.ofi_buy, c.ofi_sell, c.regime) == (0.5, 0.5, "")
    total = (1.0 * c.momentum_buy + 0.8 * c.volume + 1.2 * 0.5 + 0.9 * 0.7
             + 0.7 * c.volatility + 0.5 * c.time) / 5.1
    assert c.score("buy") == pytest.approx(total, rel=1e-12)
    assert c.confirmed("buy") == (total >= 0.5)
    assert c.confidence("buy") == (pytest.approx(total) if total >= 0.5 else 0.0)


def test_every_factor_equals_from_scratch(make_analyzer: Any) -> None:
    cfg = MultiFactorConfig(vol_history=200)
    _, out = replay(make_analyzer, cfg.model_dump())
    closes = [b.close for b in BARS]
    vols = [b.volume for b in BARS]
    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    svs: list[float] = []
    in_band = 0
    for i, c in enumerate(out):
        assert c.known
        if i + 1 >= 10:
            s = statistics.fmean(closes[i - 9:i + 1])
            ll = statistics.fmean(closes[max(0, i - 49):i + 1])
            d = abs(s - ll) / ll
            if s > ll:
                exp = (min(1, 0.6 + 4 * d), max(0.2, 0.5 - 2 * d))
            elif s < ll:
                exp = (max(0.2, 0.5 - 2 * d), min(1, 0.6 + 4 * d))
            else:
                exp = (0.5, 0.5)
            assert (c.momentum_buy, c.momentum_sell) == pytest.approx(exp, rel=1e-9)
        else:
            assert (c.momentum_buy, c.momentum_sell) == (0.5, 0.5)
        prev = vols[max(0, i - 20):i]
        if len(prev) >= 5:
            r = vols[i] / statistics.fmean(prev)
            exp_v = min(1, 0.5 + 0.3 * (r - 1)) if r >= 1 else max(0.2, 0.5 - 0.4 * (1 - r))
            assert c.volume == pytest.approx(exp_v, rel=1e-9)
        else:
            assert c.volume == 0.5
        if i >= 10:
            svs.append(statistics.pstdev(rets[i - 10:i]))
        hist = svs[-200:]
        if len(hist) >= 20:
            pct = 100 * sum(1 for x in hist if x <= hist[-1]) / len(hist)
            assert c.volatility_pct == pytest.approx(pct)
            exp_f = 0.9 if 30 <= pct <= 70 else 0.7 if 20 <= pct <= 80 else 0.5
            assert c.volatility == exp_f
            in_band += exp_f == 0.9
        else:
            assert (c.volatility, c.volatility_pct) == (0.5, -1.0)
        for side in ("buy", "sell"):
            f = c.factors(side)
            assert all(0.2 <= v <= 1.0 for v in f.values())
            assert 0.0 <= c.score(side) <= 1.0
    assert 0 < in_band < len(out)  # the percentile really moves (the original: always 50)


def test_ofi_and_regime_facts(make_analyzer: Any) -> None:
    def set_facts(ctx: Any, bar: Any) -> None:
        i = (bar.ts // 300_000) % 4
        if i == 0:
            ctx.facts.set(OFI_SOURCE, "", BTC)
            ctx.facts.set(OFI, 0.0, BTC)
        else:
            ctx.facts.set(OFI_SOURCE, "book", BTC)
            ctx.facts.set(OFI, (-0.5, 0.0, 0.8)[i - 1], BTC)
        ctx.facts.set(REGIME, ("IMPULSE", "RANGE", "MARKUP", "ACCUMULATION")[i], BTC)

    _, out = replay(make_analyzer, bars=BARS[:40], before=set_facts)
    for b, c in zip(BARS[:40], out, strict=True):
        i = (b.ts // 300_000) % 4
        exp = [(0.5, 0.5), (max(0.2, 0.5 - 0.15), min(1, 0.6 + 0.2)), (0.5, 0.5),
               (min(1, 0.6 + 0.32), max(0.2, 0.5 - 0.24))][i]
        assert (c.ofi_buy, c.ofi_sell) == pytest.approx(exp)
        assert c.regime == ("IMPULSE", "RANGE", "MARKUP", "ACCUMULATION")[i]
    assert regime_score("IMPULSE", "momentum") == 1.0
    assert regime_score("RANGE", "momentum") == 0.4
    assert regime_score("ACCUMULATION", "mean_reversion") == 1.0  # RANGE_LIKE
    assert regime_score("DISTRIBUTION", "breakout") == 1.0  # VOLATILE
    assert regime_score("MARKUP", "momentum") == 1.0  # TREND: max(IMPULSE, NORMAL)
    assert regime_score("MARKDOWN", "mean_reversion") == 0.7
    assert regime_score("", "momentum") == 0.7 == regime_score("SIDEWAYS")
    with pytest.raises(ValueError, match="unknown signal type"):
        regime_score("RANGE", "scalp")
    c = next(c for c in out if c.regime == "RANGE")
    assert c.factors("buy", "momentum")["regime"] == 0.4
    assert c.factors("buy", "mean_reversion")["regime"] == 1.0


def test_threshold_and_required_factors(make_analyzer: Any) -> None:
    _, strict = replay(make_analyzer, {"threshold": 0.9}, bars=BARS[:300])
    assert not any(c.confirmed("buy") or c.confirmed("sell") for c in strict)
    assert all(c.confidence("sell") == 0.0 for c in strict)
    _, loose = replay(make_analyzer, {"threshold": 0.0, "required_factors": ["momentum"],
                                      "required_min": 0.6}, bars=BARS[:300])
    for c in loose:
        for side in ("buy", "sell"):
            assert c.confirmed(side) == (c.factors(side)["momentum"] >= 0.6)
    assert any(c.confirmed("buy") for c in loose) and any(c.confirmed("sell") for c in loose)


def test_neutral_defaults(make_analyzer: Any) -> None:
    mf, ctx = make_analyzer("multi_factor")
    c = ctx.facts.get(CONFIRMATION, BTC)
    assert c is NEUTRAL_CONFIRMATION and not c.known
    assert c.score("buy") == 0.5 and c.confirmed("sell") and c.confidence("buy") == 0.5
    mf.on_bar(BARS[0])
    c = ctx.facts.get(CONFIRMATION, BTC)
    assert c.known
    assert (c.momentum_buy, c.volume, c.ofi_buy, c.volatility) == (0.5, 0.5, 0.5, 0.5)


def test_deterministic(make_analyzer: Any) -> None:
    assert replay(make_analyzer)[1] == replay(make_analyzer)[1]


def test_config_bounds() -> None:
    with pytest.raises(ValidationError):
        MultiFactorConfig(momentum_short=20, momentum_long=10)
    with pytest.raises(ValidationError):
        MultiFactorConfig(active_hours=[(20, 24)])
    with pytest.raises(ValidationError):
        MultiFactorConfig.model_validate({"required_factors": ["sentiment"]})
    with pytest.raises(ValidationError):
        MultiFactorConfig(threshold=1.5)
