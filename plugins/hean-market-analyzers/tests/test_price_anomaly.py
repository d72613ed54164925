"""Price-anomaly detector on real Binance BTC 5m candles and trades.

Invariants checked:

* the real -2.17 % bar of 2025-03-07 00:20 UTC (bar 165 of the sample) is a GAP: counted,
  size multiplier 0.75, no block; the sample's three real >= 2 % moves are the only GAPs;
* a crash of 12 % (a real bar's close scaled, injected) is a FLASH_CRASH and a +6 % jump a
  SPIKE: trading is blocked for 5 minutes (``is_blocked`` / ``size_multiplier`` answer 0 at
  any time inside the block and the count's multiplier after it);
* on every bar, ``ANOMALY_SCORE`` equals a from-scratch ``|d - mean| / std`` over the
  previous 100 changes (0 with fewer than 20) and STAT_GAP is flagged exactly when it reaches
  4 on a move below the gap size;
* missing candles (more than 2 intervals) and a trade after 60 s of silence are STALE;
* the count ladder (1 / 0.75 / 0.5 / 0.25), its reset on a winning round trip (not on a losing
  one) and its expiry with ``count_window_s``;
* nothing published before the second price (neutral defaults); deterministic replay.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from hean_market_analyzers.facts import (
    ANOMALY,
    ANOMALY_BLOCKED_UNTIL,
    ANOMALY_SCORE,
    ANOMALY_SIZE_MULTIPLIER,
)
from hean_market_analyzers.price_anomaly import (
    PriceAnomalyConfig,
    is_blocked,
    multiplier_of_count,
    size_multiplier,
)
from pydantic import ValidationError

from hean_framework.models import Bar, ClosedTrade, Trade
from hean_framework.testing import sample_bars

BTC = "BTC/USDT:USDT"
BARS = list(sample_bars())


def replay(make_analyzer: Any, bars: list[Bar], config: dict[str, Any] | None = None
           ) -> tuple[Any, Any, list[tuple[str, float, int, float]]]:
    det, ctx = make_analyzer("price_anomaly", config)
    out = []
    for b in bars:
        ctx.now = b.ts
        det.on_bar(b)
        f = ctx.facts
        out.append((f.get(ANOMALY, BTC), f.get(ANOMALY_SCORE, BTC),
                    f.get(ANOMALY_BLOCKED_UNTIL, BTC), f.get(ANOMALY_SIZE_MULTIPLIER, BTC)))
    return det, ctx, out


def scaled(bar: Bar, k: float) -> Bar:
    return Bar(bar.ts, bar.symbol, bar.open, bar.high, bar.low, bar.close * k, bar.volume,
               bar.interval_ms)


def test_real_gap(make_analyzer: Any) -> None:
    det, ctx, out = replay(make_analyzer, BARS[:166])
    d = BARS[165].close / BARS[164].close - 1
    assert d == pytest.approx(-0.0217, abs=5e-5)
    assert out[-1][0] == "GAP" and out[-1][2] == 0 and out[-1][3] == 0.75
    assert det.count(BTC) == 1
    assert not is_blocked(ctx.facts, BTC, BARS[165].ts)
    assert [a for a, *_ in out[:165]].count("GAP") == 0
    _, _, full = replay(make_analyzer, BARS)
    gaps = [i for i, r in enumerate(full) if r[0] == "GAP"]
    assert gaps == [165, 9262, 9874]
    assert full[-1][3] == 0.5  # three counted anomalies


@pytest.mark.parametrize(("k", "kind"), [(0.88, "FLASH_CRASH"), (1.06, "SPIKE"),
                                         (0.93, "SPIKE")])
def test_spike_blocks_for_five_minutes(make_analyzer: Any, k: float, kind: str) -> None:
    bars = [*BARS[200:500], scaled(BARS[500], k)]  # no real gap in these bars
    det, ctx, out = replay(make_analyzer, bars)
    t = BARS[500].ts
    assert out[-1][0] == kind and out[-1][2] == t + 300_000
    assert det.count(BTC) == 1 and out[-1][3] == 0.75
    for now in (t, t + 1, t + 299_999):
        assert is_blocked(ctx.facts, BTC, now) and size_multiplier(ctx.facts, BTC, now) == 0
    assert not is_blocked(ctx.facts, BTC, t + 300_000)
    assert size_multiplier(ctx.facts, BTC, t + 300_000) == 0.75


def test_score_equals_from_scratch(make_analyzer: Any) -> None:
    bars = BARS[:4000]
    _, _, out = replay(make_analyzer, bars)
    changes: list[float] = []
    stat = 0
    for i, b in enumerate(bars):
        if i == 0:
            assert out[0] == ("", 0.0, 0, 1.0)
            continue
        d = b.close / bars[i - 1].close - 1
        prev = changes[-100:]
        z = 0.0
        if len(prev) >= 20:
            sd = statistics.pstdev(prev)
            z = abs(d - statistics.fmean(prev)) / sd if sd > 0 else 0.0
        assert math.isclose(out[i][1], z, rel_tol=1e-9, abs_tol=1e-12)
        if abs(d) < 0.02:
            assert (out[i][0] == "STAT_GAP") == (z >= 4.0)
            stat += out[i][0] == "STAT_GAP"
        changes.append(d)
    assert stat > 10


def test_stale(make_analyzer: Any, sample_data: Path, read_events: Any) -> None:
    bars = BARS[:50] + BARS[52:60]  # two candles missing: 15 minutes between two bars
    _, _, out = replay(make_analyzer, bars)
    assert out[50][0] == "STALE" and [r[0] for r in out].count("STALE") == 1
    _, _, ok = replay(make_analyzer, BARS[:50] + BARS[51:60])  # one missing: 10 minutes
    assert "STALE" not in [r[0] for r in ok]
    trades = [e for e in read_events([{
        "kind": "trades", "symbol": BTC,
        "path": str(sample_data / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}])
        if isinstance(e, Trade)][:500]
    det, ctx = make_analyzer("price_anomaly")
    late = Trade(trades[-1].ts + 61_000, BTC, trades[-1].price, 0.01, "buy")
    kinds: list[str] = []
    for t in [*trades, late]:
        ctx.now = t.ts
        det.on_trade(t)
        kinds.append(ctx.facts.get(ANOMALY, BTC))
    assert kinds[-1] == "STALE" and "STALE" not in kinds[:-1]


def _closed(pnl: float, fees: float = 0.0) -> ClosedTrade:
    return ClosedTrade("s", BTC, "long", 0.01, 80_000.0, 80_000.0 + pnl * 100, 0, 1, pnl,
                       fees, 0.0)


def test_count_ladder_reset_and_window(make_analyzer: Any) -> None:
    assert [multiplier_of_count(n) for n in range(7)] == [1, 0.75, 0.75, 0.5, 0.5, 0.25, 0.25]
    det, ctx, out = replay(make_analyzer, BARS[:2000], {"gap_pct": 0.004})
    n = det.count(BTC)
    assert n >= 5 and out[-1][3] == 0.25
    det.on_position_closed(_closed(pnl=5.0, fees=6.0))  # net loss: no reset
    assert det.count(BTC) == n
    det.on_position_closed(_closed(pnl=5.0, fees=1.0))
    assert det.count(BTC) == 0 and ctx.facts.get(ANOMALY_SIZE_MULTIPLIER, BTC) == 1.0
    det2, _, out2 = replay(make_analyzer, BARS[:2000], {"gap_pct": 0.004,
                                                        "count_window_s": 6 * 3600})
    # a six-hour window forgets old gaps: the count is the gaps of the last six hours
    gaps = [BARS[i].ts for i, r in enumerate(out2) if r[0] in ("GAP", "SPIKE")]
    recent = sum(1 for t in gaps if t > BARS[1999].ts - 6 * 3_600_000)
    assert det2.count(BTC) == recent < len(gaps)


def test_neutral_and_deterministic(make_analyzer: Any) -> None:
    det, ctx = make_analyzer("price_anomaly")
    assert (ctx.facts.get(ANOMALY, BTC), ctx.facts.get(ANOMALY_SCORE, BTC),
            ctx.facts.get(ANOMALY_BLOCKED_UNTIL, BTC),
            ctx.facts.get(ANOMALY_SIZE_MULTIPLIER, BTC)) == ("", 0.0, 0, 1.0)
    assert size_multiplier(ctx.facts, BTC, 0) == 1.0 and not is_blocked(ctx.facts, BTC, 0)
    det.on_bar(BARS[0])
    assert not ctx.facts.has(ANOMALY_SCORE, BTC)
    a = replay(make_analyzer, BARS[:3000])[2]
    b = replay(make_analyzer, BARS[:3000])[2]
    assert a == b


def test_config_bounds() -> None:
    with pytest.raises(ValidationError):
        PriceAnomalyConfig(gap_pct=0.06)  # above spike_pct
    with pytest.raises(ValidationError):
        PriceAnomalyConfig(z_window=10, z_min_history=20)
    with pytest.raises(ValidationError):
        PriceAnomalyConfig(block_s=-1)
