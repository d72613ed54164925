"""Regime detector on real Binance 5m candles.

Invariants checked:

* the first classification (bar 21 of the sample, 20 returns) has the features and the
  regime computed by hand from those bars with the fallback thresholds;
* on every bar of 3,000, the incremental features and thresholds equal a from-scratch
  computation over the same window and history (``statistics`` on plain lists), and the
  published regime sequence equals a from-scratch replay of the classification table with
  hysteresis and the confirmation rule;
* a published regime changes only after ``confirm_ticks`` equal classifications in a row;
* regimes are per symbol: BTC and ETH interleaved in one detector give each symbol exactly
  the regimes it gets alone, and the two symbols' regimes differ on many bars (one global
  regime -- the original's defect -- would be wrong for one of them);
* neutral while warming up: NORMAL / 0.3 before ``min_returns`` returns, or nothing published
  (the kernel default ``''``) with ``warmup_normal: false``;
* the same bars give the same regimes (deterministic replay); the config refuses bad windows.
"""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from hean_market_analyzers.regime import RegimeDetectorConfig
from pydantic import ValidationError

from hean_framework.facts import REGIME, REGIME_CONFIDENCE
from hean_framework.models import Bar
from hean_framework.testing import sample_bars

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
BARS = list(sample_bars(3000))


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-13)


def replay(make_analyzer: Any, bars: list[Bar], config: dict[str, Any] | None = None,
           symbols: list[str] | None = None) -> tuple[Any, list[tuple[str, str, float]]]:
    det, ctx = make_analyzer("regime_detector", config, symbols or [BTC])
    out = []
    for b in bars:
        ctx.now = b.ts
        det.on_bar(b)
        out.append((b.symbol, ctx.facts.get(REGIME, b.symbol),
                    ctx.facts.get(REGIME_CONFIDENCE, b.symbol)))
    return det, out


# ------------------------------------------------------------------ a from-scratch reference


def _pct(values: list[float], p: float) -> float:
    """Linear-interpolated percentile through the standard library (independent of the
    plugin's own percentile code)."""
    if p == 95.0:
        return statistics.quantiles(values, n=20, method="inclusive")[18]
    return statistics.quantiles(values, n=4, method="inclusive")[int(p // 25) - 1]


def reference(bars: list[Bar], cfg: RegimeDetectorConfig) -> list[dict[str, Any]]:
    """Features, classification and published regime per bar, recomputed from scratch."""
    W, w = cfg.window, cfg.short_window
    ex = {"IMPULSE": cfg.exit_impulse, "MARKUP": cfg.exit_markup,
          "MARKDOWN": cfg.exit_markdown, "DISTRIBUTION": cfg.exit_distribution,
          "ACCUMULATION": cfg.exit_accumulation, "RANGE": cfg.exit_range}
    rets: list[float] = []
    vols: list[float] = []
    vol_hist: list[float] = []
    abs_hist: list[float] = []
    regime, cand, cand_n = "", "", 0
    out: list[dict[str, Any]] = []
    for i, b in enumerate(bars):
        vols.append(b.volume)
        if i:
            rets.append(math.log(b.close / bars[i - 1].close))
        if len(rets) < cfg.min_returns:
            out.append({"published": ("NORMAL", 0.3)})
            continue
        win = rets[-W:]
        m = statistics.fmean(win)
        vol = statistics.pstdev(win)
        abs_ret = abs(rets[-1])
        short = rets[-w:]
        if len(short) < 3 or m == 0:
            pers = 0.5
        else:
            pers = sum(1 for r in short if (r > 0 if m > 0 else r < 0)) / len(short)
        vw = vols[-W:]
        vc = 1.0
        if len(vw) >= 2 * w and statistics.fmean(vw[:-w]) > 0:
            vc = statistics.fmean(vw[-w:]) / statistics.fmean(vw[:-w])
        accel = abs(statistics.fmean(rets[-w:]) - statistics.fmean(rets[-2 * w:-w])) \
            if len(rets) >= 2 * w else 0.0
        hv, ha = vol_hist[-cfg.history:], abs_hist[-cfg.history:]
        vol_low = _pct(hv, 25.0) if len(hv) >= 10 else cfg.vol_low_fallback
        vol_high = _pct(hv, 75.0) if len(hv) >= 10 else cfg.vol_high_fallback
        imp = _pct(ha, 95.0) if len(ha) >= 20 else cfg.impulse_fallback
        vol_hist.append(vol)
        abs_hist.append(abs_ret)

        def k(r: str, regime: str = regime) -> float:
            return ex[r] if regime == r else 1.0

        at = max(2 * vol_low, cfg.accel_floor)
        if accel > at * k("IMPULSE") or abs_ret > imp * k("IMPULSE"):
            label, c = "IMPULSE", max(accel / at, abs_ret / imp) - 1
        elif m > 0.4 * vol_low * k("MARKUP") and pers >= 0.65 and vol >= vol_low * k("MARKUP"):
            label, c = "MARKUP", m / (0.4 * vol_low * k("MARKUP")) - 1
        elif m < -0.4 * vol_low * k("MARKDOWN") and pers >= 0.65 \
                and vol >= vol_low * k("MARKDOWN"):
            label, c = "MARKDOWN", -m / (0.4 * vol_low * k("MARKDOWN")) - 1
        elif vol > vol_high * k("DISTRIBUTION") and pers < 0.65:
            label, c = "DISTRIBUTION", vol / vol_high - 1
        elif vol < vol_low * k("ACCUMULATION") and vc >= 1.2:
            label, c = "ACCUMULATION", 0.5 * (1 - vol / vol_low) + 0.5 * (vc / 1.2 - 1)
        elif vol < vol_low * k("RANGE") and vc <= 0.8:
            label, c = "RANGE", 0.6 * (1 - vol / vol_low) + 0.4 * (1 - vc / 0.8)
        else:
            label, c = "NORMAL", 0.3
        c = min(1.0, max(0.0, c))
        if not regime or label == regime:
            regime, conf_now, cand, cand_n = label, c, "", 0
        else:
            cand_n = cand_n + 1 if label == cand else 1
            cand = label
            if cand_n >= cfg.confirm_ticks:
                regime, conf_now, cand, cand_n = label, c, "", 0
            else:
                conf_now = out[-1]["published"][1]
        out.append({"published": (regime, conf_now), "label": label, "mean": m, "vol": vol,
                    "abs_ret": abs_ret, "persistence": pers, "vol_change": vc, "accel": accel,
                    "vol_low": vol_low, "vol_high": vol_high, "imp": imp})
    return out


# ------------------------------------------------------------------ tests


def test_first_classification_by_hand(make_analyzer: Any) -> None:
    bars = BARS[:21]
    det, out = replay(make_analyzer, bars)
    assert [r for _, r, _ in out[:20]] == ["NORMAL"] * 20  # 19 returns or fewer: warm-up
    assert det.features(BTC) is not None
    closes = [b.close for b in bars]
    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    assert len(rets) == 20
    f = det.features(BTC)
    m = sum(rets) / 20
    assert close(f.mean, m) and close(f.mean, -0.0002373361468340273)
    assert close(f.vol, math.sqrt(sum((r - m) ** 2 for r in rets) / 20))
    assert close(f.vol, 0.001100502654376852)
    assert f.persistence == 0.8  # 8 of the last 10 returns are negative, like the mean
    vols = [b.volume for b in bars]  # 21 volumes >= 2w: last 10 against the 11 before
    assert close(f.vol_change, (sum(vols[-10:]) / 10) / (sum(vols[:-10]) / 11))
    assert close(f.accel, abs(sum(rets[-10:]) / 10 - sum(rets[:10]) / 10))
    # no history yet: the fallback thresholds
    assert (f.vol_low, f.vol_high, f.imp) == (0.0008, 0.003, 0.008)
    # accel 0.00026 < 0.0016, |r| 0.00022 < 0.008: no impulse; mean -0.00024 is not below
    # -0.4 x 0.0008 = -0.00032: no markdown; vol 0.0011 is between vol_low and vol_high: NORMAL
    assert f.label == "NORMAL" and out[-1][1:] == ("NORMAL", 0.3)
    # the next bar classifies MARKDOWN (mean -0.000333 < -0.00032, persistence 0.9), but one
    # tick is not enough to change the regime
    det.on_bar(BARS[21])
    f2 = det.features(BTC)
    assert f2.label == "MARKDOWN"
    assert close(f2.label_confidence, -f2.mean / (0.4 * 0.0008) - 1.0)
    assert det.regime(BTC) == "NORMAL"


def test_incremental_equals_from_scratch(make_analyzer: Any) -> None:
    cfg = RegimeDetectorConfig(history=300)  # a short history so it rolls over in 3,000 bars
    det, ctx = make_analyzer("regime_detector", cfg.model_dump())
    ref = reference(BARS, cfg)
    labels = set()
    for b, r in zip(BARS, ref, strict=True):
        det.on_bar(b)
        assert ctx.facts.get(REGIME, BTC) == r["published"][0]
        assert close(ctx.facts.get(REGIME_CONFIDENCE, BTC), r["published"][1])
        f = det.features(BTC)
        if "label" not in r:
            assert f is None
            continue
        labels.add(r["label"])
        assert f.label == r["label"]
        for name in ("mean", "vol", "abs_ret", "persistence", "vol_change", "accel", "vol_low",
                     "vol_high", "imp"):
            assert close(getattr(f, name), r[name]), (name, getattr(f, name), r[name])
    # the real bars exercise most of the table
    assert {"IMPULSE", "MARKUP", "MARKDOWN", "NORMAL"} <= labels


def test_change_needs_confirm_ticks_in_a_row(make_analyzer: Any) -> None:
    det, ctx = make_analyzer("regime_detector", {"confirm_ticks": 3})
    labels: list[str] = []
    published: list[str] = []
    for b in BARS:
        det.on_bar(b)
        f = det.features(BTC)
        labels.append(f.label if f else "")
        published.append(ctx.facts.get(REGIME, BTC))
    changes = [i for i in range(1, len(published)) if published[i] != published[i - 1]
               and labels[i - 1]]
    assert len(changes) > 20
    for i in changes:
        assert labels[i - 2:i + 1] == [published[i]] * 3


def test_regime_is_per_symbol(make_analyzer: Any, sample_data: Path,
                              read_events: Any) -> None:
    eth = [e for e in read_events([{
        "kind": "bars", "symbol": ETH,
        "path": str(sample_data / "binance_usdm_perp_ETHUSDT_5m_20250306_20250413.csv.gz")}])
        if isinstance(e, Bar)][:3000]
    both = sorted(BARS + eth, key=lambda b: (b.ts, b.symbol))
    _, mixed = replay(make_analyzer, both, symbols=[BTC, ETH])
    _, btc_alone = replay(make_analyzer, BARS)
    _, eth_alone = replay(make_analyzer, eth, symbols=[ETH])
    assert [r for r in mixed if r[0] == BTC] == btc_alone
    assert [r for r in mixed if r[0] == ETH] == eth_alone
    differ = sum(1 for a, b in zip(btc_alone, eth_alone, strict=True) if a[1] != b[1])
    assert differ > 300, "two real symbols should not share one regime"


def test_neutral_while_warming_up(make_analyzer: Any) -> None:
    det, ctx = make_analyzer("regime_detector", {"min_returns": 30, "warmup_normal": False})
    for b in BARS[:30]:  # 29 returns
        det.on_bar(b)
        assert not ctx.facts.has(REGIME, BTC)
        assert ctx.facts.get(REGIME, BTC) == ""
        assert ctx.facts.get(REGIME_CONFIDENCE, BTC) == 1.0
    det.on_bar(BARS[30])
    assert ctx.facts.get(REGIME, BTC) in {"IMPULSE", "MARKUP", "MARKDOWN", "DISTRIBUTION",
                                         "ACCUMULATION", "RANGE", "NORMAL"}
    assert 0.0 <= ctx.facts.get(REGIME_CONFIDENCE, BTC) <= 1.0


def test_deterministic_replay(make_analyzer: Any) -> None:
    det1, a = replay(make_analyzer, BARS)
    det2, b = replay(make_analyzer, BARS)
    assert a == b
    assert det1.stats() == det2.stats()
    assert sum(det1.stats()["regime_changes"].values()) > 0


def test_config_bounds() -> None:
    with pytest.raises(ValidationError):
        RegimeDetectorConfig(window=20, short_window=11)
    with pytest.raises(ValidationError):
        RegimeDetectorConfig(window=30, min_returns=31)
    with pytest.raises(ValidationError):
        RegimeDetectorConfig(confirm_ticks=0)
    with pytest.raises(ValidationError):
        RegimeDetectorConfig.model_validate({"windw": 50})
