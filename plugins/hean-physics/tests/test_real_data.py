"""The physics analyzer on real Binance data (``../shared/data``; skipped when absent).

Invariants checked:

* the phase is not constant (the original's failure: raw T and zero volumes kept it ICE): on
  the 1-minute candles of BTC, ETH, SOL and XRP and on the 2024-08-08 BTC and ETH trades every
  phase occurs, none holds more than 90 % of the ticks, and it changes hundreds of times;
* scale-free: the phase shares are comparable across symbols whose prices differ 40,000-fold
  (each share within 0.05 across the four candle files, 0.08 across the two 6-minute trade
  captures), and so is the raw temperature (medians within a factor 3), while the original's
  ``Σ(Δp·v)²/N`` differs by orders of magnitude between BTC and XRP;
* without volume (candles with their volume zeroed, and quotes' mid prices) the entropy falls
  back to the |r| histogram and the phase still moves;
* every internal value on a short real window equals an independent recomputation from the
  definitions (temperature, ranks, volume and histogram entropies, sigma, Kalman momentum);
* publication: at most one per ``publish_min_interval_ms`` unless the phase changed, and every
  phase change is published on its tick;
* the rolling sums stay equal to exact sums over 60,000 candles (the periodic resync).
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hean_physics.facts import PHASES, PHYSICS, WATER, WATER_BEAR, WATER_BULL

from hean_framework.facts import PHASE, PHASE_CONFIDENCE
from hean_framework.models import Bar
from hean_framework.testing import step_market

pytestmark = pytest.mark.shared_data

BARS = {
    "BTC/USDT:USDT": "ohlcv/binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz",
    "ETH/USDT:USDT": "ohlcv/binance_usdm_perp_ETHUSDT_1m_20250504_20250615.csv.gz",
    "SOL/USDT:USDT": "ohlcv/binance_usdm_perp_SOLUSDT_1m_20250504_20250603.csv.gz",
    "XRP/USDT:USDT": "ohlcv/binance_usdm_perp_XRPUSDT_1m_20250504_20250603.csv.gz",
}
TRADES = {
    "BTC/USDT:USDT": "trades/binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz",
    "ETH/USDT:USDT": "trades/binance_usdm_perp_ETHUSDT_trades_20240808.csv.gz",
}

Run = Callable[..., tuple[Any, Any]]


def shares(run: Run, kind: str, files: dict[str, str]) -> dict[str, dict[str, float]]:
    out = {}
    for sym, path in files.items():
        an, _ = run(kind, sym, path)
        out[sym] = an.phase_shares()[sym]
    return out


def table(title: str, sh: dict[str, dict[str, float]]) -> str:
    lines = [title, "| symbol | " + " | ".join(PHASES) + " |",
             "|---|" + "---:|" * len(PHASES)]
    for sym, row in sh.items():
        lines.append(f"| {sym} | " + " | ".join(f"{100 * row[p]:.1f} %" for p in PHASES)
                     + " |")
    return "\n".join(lines)


@pytest.mark.parametrize(("kind", "files"), [("bars", BARS), ("trades", TRADES)])
def test_phase_is_not_constant(physics_run: Run, kind: str, files: dict[str, str]) -> None:
    for sym, path in files.items():
        an, ctx = physics_run(kind, sym, path)
        counts = an.state(sym).counts
        assert all(counts[p] > 0 for p in PHASES), (sym, counts)
        assert max(an.phase_shares()[sym].values()) < 0.9, (sym, counts)
        assert an.stats()["physics_phase_changes"][sym] > 300
        assert ctx.facts.get(PHYSICS, sym).known


@pytest.mark.parametrize(("kind", "files", "tol"), [("bars", BARS, 0.05),
                                                    ("trades", TRADES, 0.08)])
def test_phase_shares_are_comparable_across_symbols(physics_run: Run, kind: str,
                                                    files: dict[str, str], tol: float) -> None:
    sh = shares(physics_run, kind, files)
    print("\n" + table(f"phase shares, {kind}", sh))
    for p in PHASES:
        vals = [row[p] for row in sh.values()]
        assert max(vals) - min(vals) <= tol, (p, vals)


def test_temperature_is_scale_free_and_the_originals_is_not(shared_data: Path,
                                                           read_events: Any,
                                                           make_physics: Any) -> None:
    """The same BTC candles with prices x 1e-4 and volumes x 1e3 (another quote unit and lot
    size) give the same T̂, Ŝ and phases; the original's ``Σ(Δp·v)²/N`` moves 100-fold, and
    with its fixed 400 / 800 thresholds every window of every symbol is "hot"."""
    sym = "BTC/USDT:USDT"
    bars = read_events([{"kind": "bars", "symbol": sym,
                         "path": str(shared_data / BARS[sym])}])[:5000]
    seqs = []
    for kp, kv in ((1.0, 1.0), (1e-4, 1e3)):
        an, ctx = make_physics({"publish_min_interval_ms": 0}, [sym])
        seq = []
        for b in bars:
            an.on_bar(Bar(b.ts, sym, b.open * kp, b.high * kp, b.low * kp, b.close * kp,
                          b.volume * kv, b.interval_ms))
            ph = ctx.facts.get(PHYSICS, sym)
            seq.append((ph.phase, round(ph.temperature, 9), round(ph.entropy, 9)))
        seqs.append(seq)
    assert seqs[0] == seqs[1]
    assert len({p for p, _, _ in seqs[0]}) >= 5  # four phases and "" while warming up
    for path in BARS.values():
        bars = read_events([{"kind": "bars", "symbol": sym, "path": str(shared_data / path)}])
        ke = [((b.close - a.close) * b.volume) ** 2 for a, b in itertools.pairwise(bars[:5001])]
        temps = [sum(ke[i:i + 100]) / 100 for i in range(0, 4900, 10)]
        assert sum(t >= 800 for t in temps) / len(temps) > 0.99, path


def test_without_volume_the_histogram_entropy_keeps_the_phase_moving(
        shared_data: Path, read_events: Any, make_physics: Any) -> None:
    sym = "BTC/USDT:USDT"
    bars = read_events([{"kind": "bars", "symbol": sym, "path": str(shared_data / BARS[sym])}])
    an, ctx = make_physics({}, [sym])
    for b in bars[:20_000]:
        an.on_bar(Bar(b.ts, sym, b.open, b.high, b.low, b.close, 0.0, b.interval_ms))
    ph = ctx.facts.get(PHYSICS, sym)
    assert ph.entropy_source == "returns"
    assert all(an.state(sym).counts[p] > 0 for p in PHASES)
    # quotes: the mid price, no volume
    quotes = read_events([{"kind": "bbo", "symbol": sym, "path": str(
        shared_data / "orderbook" / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")}])
    an, ctx = make_physics({"tick_source": "quotes"}, [sym])
    for q in quotes:
        step_market(ctx, q)
        an.on_quote(q)
    assert ctx.facts.get(PHYSICS, sym).entropy_source == "returns"
    assert an.stats()["physics_phase_changes"][sym] > 50
    assert len([p for p in PHASES if an.state(sym).counts[p]]) >= 4


# ---------------------------------------------------------------- independent recomputation


def midrank(hist: list[float], x: float) -> float:
    below = sum(1 for h in hist if h < x)
    equal = sum(1 for h in hist if h == x)
    return (below + equal / 2) / len(hist)


def entropy(weights: list[float]) -> float:
    tot = sum(weights)
    return -sum(w / tot * math.log(w / tot) for w in weights if w > 0)


@pytest.mark.parametrize("source", ["volume", "returns"])
def test_values_equal_an_independent_recomputation(shared_data: Path, read_events: Any,
                                                   make_physics: Any, source: str) -> None:
    sym = "ETH/USDT:USDT"
    bars = read_events([{"kind": "bars", "symbol": sym,
                         "path": str(shared_data / BARS[sym])}])[:160]
    N, H, MIN = 20, 50, 10
    an, _ = make_physics({"window": N, "history": H, "min_ticks": MIN,
                          "entropy_source": source, "publish_min_interval_ms": 0}, [sym])
    rets: list[float] = []
    vols: list[float] = []
    bins: list[int] = []
    t_hist: list[float] = []
    s_hist: list[float] = []
    scale, mom, kp = 0.0, 0.0, 1.0
    checked = 0
    for i, b in enumerate(bars):
        an.on_bar(b)
        if i == 0:
            continue
        r = math.log(b.close / bars[i - 1].close)
        a = abs(r)
        bins.append(min(9, int(a / scale * 10 / 3)) if scale > 0 else (0 if a == 0 else 9))
        scale += (a - scale) * 2 / (N + 1)
        rets.append(r)
        vols.append(b.volume)
        if len(rets) < MIN:
            continue
        w_r, w_v, w_b = rets[-N:], vols[-N:], bins[-N:]
        m = len(w_r)
        med = statistics.median(vols[-H:])
        t_raw = sum((x * v / med) ** 2 for x, v in zip(w_r, w_v)) / m * 1e8
        if source == "volume":
            s_ln = entropy(w_v) / math.log(m)
        else:
            s_ln = entropy([w_b.count(k) for k in range(10)]) / math.log(10)
        mean = sum(w_r) / m
        sigma = math.sqrt(sum((x - mean) ** 2 for x in w_r) / m)
        pm = sum(rets[-5:]) / 5
        x = math.tanh(0.98 * mom)
        pp = kp + 0.01
        k = pp / (pp + 0.1)
        mom = x + k * (pm - x)
        kp = (1 - k) * pp
        st = an.state(sym)
        assert st.t_raw == pytest.approx(t_raw, rel=1e-9)
        assert st.s_ln == pytest.approx(s_ln, rel=1e-9, abs=1e-12)
        # the ranks of the analyzer's own values (equal to ours up to rounding, checked above:
        # a rank is not continuous, so ties must be of the same floats)
        t_hist = [*t_hist, st.t_raw][-H:]
        s_hist = [*s_hist, st.s_ln][-H:]
        assert st.t_hat == pytest.approx(midrank(t_hist, st.t_raw), abs=1e-12)
        assert st.s_hat == pytest.approx(midrank(s_hist, st.s_ln), abs=1e-12)
        assert st.sigma == pytest.approx(sigma, rel=1e-7)
        assert st.mom == pytest.approx(mom, rel=1e-9, abs=1e-15)
        assert st.source == source
        checked += 1
    assert checked == len(bars) - MIN


def test_hand_computed_first_ticks(shared_data: Path, read_events: Any, make_physics: Any) -> None:
    """The first classified tick of the BTC candles, by hand: 11 bars give 10 returns; with
    ``min_ticks: 10`` the 11th bar is the first classified.  T_raw = Σ(r·v/med)²/10·1e8 with
    med the median of the 10 volumes; T̂ and Ŝ are the only values of their histories
    (mid-rank 0.5).  (0.5, 0.5) is WATER (T̂ is not below t_ice); out of ICE by
    (0.5 - 0.35) / 0.25 = 0.6 (T̂ axis; on the Ŝ axis it is inside), out of VAPOR by
    max((0.85 - 0.5) / 0.25, (0.80 - 0.5) / 0.125) = 2.4 -> confidence 0.6."""
    sym = "BTC/USDT:USDT"
    bars = read_events([{"kind": "bars", "symbol": sym,
                         "path": str(shared_data / BARS[sym])}])[:11]
    an, ctx = make_physics({"publish_min_interval_ms": 0}, [sym])
    for b in bars:
        an.on_bar(b)
    closes = [b.close for b in bars]
    vols = [b.volume for b in bars[1:]]
    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    med = sorted(vols)[4:6]
    med_v = (med[0] + med[1]) / 2
    t_raw = sum((r * v / med_v) ** 2 for r, v in zip(rets, vols)) / 10 * 1e8
    ph = ctx.facts.get(PHYSICS, sym)
    assert ph.known and ph.ticks == 11
    assert ph.temperature_raw == pytest.approx(t_raw, rel=1e-12)
    assert ph.temperature == 0.5 and ph.entropy == 0.5
    assert ph.entropy_ln == pytest.approx(entropy(vols) / math.log(10), rel=1e-12)
    assert ph.phase in (WATER, WATER_BULL, WATER_BEAR)
    assert ph.phase_confidence == pytest.approx(0.6)
    assert ctx.facts.get(PHASE, sym) == ph.phase.lower()
    assert ctx.facts.get(PHASE_CONFIDENCE, sym) == pytest.approx(0.6)


def test_publication_is_throttled_and_every_change_is_published(
        shared_data: Path, read_events: Any, make_physics: Any) -> None:
    sym = "BTC/USDT:USDT"
    trades = read_events([{"kind": "trades", "symbol": sym,
                           "path": str(shared_data / TRADES[sym])}])
    an, ctx = make_physics({"publish_min_interval_ms": 250}, [sym])
    last_ts = None
    published = changes = 0
    for t in trades:
        before = ctx.facts.get(PHYSICS, sym)
        an.on_trade(t)
        after = ctx.facts.get(PHYSICS, sym)
        st = an.state(sym)
        if after is not before:
            published += 1
            if not after.phase_changed and last_ts is not None:
                assert after.ts - last_ts >= 250
            last_ts = after.ts
        if st.phase and before.known and st.phase != before.phase:
            # a change since the last publication is published on this tick
            assert after.phase == st.phase
        changes += after.phase_changed and after is not before
    assert published == an.publishes[sym]
    span_s = (trades[-1].ts - trades[0].ts) / 1000
    assert published <= changes + span_s * 4 + 1
    assert published < len(trades) / 4
    assert changes == an.stats()["physics_phase_changes"][sym]


def test_rolling_sums_stay_exact_over_a_long_run(physics_run: Run) -> None:
    sym = "ETH/USDT:USDT"
    an, _ = physics_run("bars", sym, BARS[sym])
    st = an.state(sym)
    assert st.n > 60_000
    k = st.p.window
    rs = [st.R[st.pos - k + i] for i in range(k)]
    vs = [st.V[st.pos - k + i] for i in range(k)]
    assert st.s_r == pytest.approx(math.fsum(rs), abs=1e-15)
    assert st.s_r2 == pytest.approx(math.fsum(x * x for x in rs), rel=1e-9)
    assert st.s_v == pytest.approx(math.fsum(vs), rel=1e-9)
    assert st.s_l == pytest.approx(math.fsum(v * math.log(v) for v in vs if v > 0), rel=1e-9)


def test_same_ticks_same_facts(shared_data: Path, read_events: Any, make_physics: Any) -> None:
    sym = "ETH/USDT:USDT"
    trades = read_events([{"kind": "trades", "symbol": sym,
                           "path": str(shared_data / TRADES[sym])}])
    runs = []
    for _ in range(2):
        an, ctx = make_physics({}, [sym])
        seen = []
        for t in trades:
            an.on_trade(t)
            seen.append(ctx.facts.get(PHYSICS, sym))
        runs.append(seen)
    assert runs[0] == runs[1]
    assert len({s.phase for s in runs[0]}) == len(PHASES) + 1  # '' while warming up
