"""liquidity_sweep: every rule of the README, checked tick by tick on the kernel's real Binance
BTC/USDT:USDT 5m candles against an independent brute-force computation.

Invariants:

* **detection**: a tick counts as a sweep exactly when the reference finds one -- some level
  (round levels ``n x step`` within ``round_levels_each_side`` steps of the nearest one, and the
  completed 4 h sessions' highs and lows, within ``level_band_pct``) was crossed from one side
  by the close before a tick of the last ``lookback_ticks``, reached ``sweep_pct`` beyond by
  that tick's high (low), and the current close is back on the first side; the level chosen is
  the nearest to the close (session before round, then the lower), the sweeping tick the most
  recent; the other swept levels are counted in ``extra_levels_swept``;
* **decision**: every sweep ends in exactly one outcome -- a signal or one skip counter -- and
  that outcome is the one the reference derives: ``already_traded`` (sweeping tick not newer
  than the last signal's), ``cooldown`` (< ``cooldown_s`` since the last signal),
  ``volume_low`` (volume of the sweeping tick < ``volume_spike`` x the mean of the
  ``volume_window`` ticks before the window), else a signal;
* **the funnel adds up**: ``ticks = warmup + no_sweep + sweeps`` and ``sweeps`` = the skip
  counters + ``entries``;
* **the signal**: a sell after an up-sweep, a buy after a down-sweep; entry at the close; stop
  ``stop_beyond_pct`` beyond the level; target ``max(tp_pct x entry, min_reward_risk x risk)``;
  time stop ``max_hold_s``; ``size_multiplier = min(2, 1 + (spike - volume_spike) / 2)``;
  ``edge_bps = confidence x`` target distance; maker entry;
* regime: a published regime outside ``regime_families`` silences the strategy (counted),
  a regime inside them or none changes nothing;
* no entry while the strategy holds the symbol; at most ``max_signals_per_day`` per UTC day;
* the same bars give the same signals field by field; a window length changed by
  ``on_params_updated`` gives, from then on, the signals of a strategy started then;
* ticks come from one source per symbol: with ``tick_source: bars`` trades are ignored and
  counted, with ``auto`` the first kind seen wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hean_liquidity_sweep import SKIP_REASONS, LiquiditySweep, round_interval

from hean_framework.context import RunContext
from hean_framework.facts import REGIME
from hean_framework.models import Bar, Fill, Signal, Trade
from hean_framework.testing import sample_bars

Make = Callable[..., tuple[LiquiditySweep, RunContext]]
SYMBOL = "BTC/USDT:USDT"
BARS: list[Bar] = list(sample_bars())
SESSION_MS = 4 * 3_600_000


def session_levels_before(keep: int = 24, merge: float = 0.0005) -> dict[int, list[tuple]]:
    """Session id -> the session levels kept once every earlier session was completed."""
    hl: dict[int, list[float]] = {}
    for b in BARS:
        s = (b.ts - b.interval_ms) // SESSION_MS
        cur = hl.setdefault(s, [-math.inf, math.inf])
        cur[0], cur[1] = max(cur[0], b.high), min(cur[1], b.low)
    kept: list[tuple[float, str]] = []
    out: dict[int, list[tuple]] = {}
    for s in sorted(hl):
        out[s] = list(kept)
        for price, kind in ((hl[s][0], "session_high"), (hl[s][1], "session_low")):
            if all(abs(price / k - 1) > merge for k, _ in kept):
                kept.append((price, kind))
                kept = kept[-keep:]
    return out


SESSIONS = session_levels_before()


def reference_sweep(t: int, cfg: dict[str, Any]) -> tuple[list[tuple], tuple | None]:
    """All (level, kind, sweeping bar index, side) swept at bar ``t``, and the chosen one."""
    lookback, pen = cfg["lookback_ticks"], cfg["sweep_pct"]
    p = BARS[t].close
    step = round_interval(0.002 * p)
    centre = round(p / step)
    levels = [(round((centre + j) * step, 8), "round") for j in range(-2, 3)]
    levels += SESSIONS[(BARS[t].ts - BARS[t].interval_ms) // SESSION_MS]
    levels = [(x, k) for x, k in levels if abs(x / p - 1) <= 0.02]
    swept = []
    for level, kind in levels:
        for i in range(t, t - lookback, -1):
            if level > p and BARS[i].high >= level * (1 + pen) and BARS[i - 1].close < level:
                swept.append((level, kind, i, "sell"))
                break
            if level < p and BARS[i].low <= level * (1 - pen) and BARS[i - 1].close > level:
                swept.append((level, kind, i, "buy"))
                break
    chosen = min(swept, key=lambda s: (abs(s[0] - p), s[1] == "round", s[0]), default=None)
    return swept, chosen


def run(make: Make, config: dict[str, Any] | None = None, regime: str | None = None,
        bars: list[Bar] | None = None) -> tuple[LiquiditySweep, list[tuple[int, str, Any]]]:
    """Replay; per bar: (index, the counter that moved, the signal or None)."""
    strat, ctx = make(config)
    if regime is not None:
        ctx.facts.set(REGIME, regime, SYMBOL)
    trail = []
    for i, bar in enumerate(bars or BARS):
        ctx.now = bar.ts
        before = dict(strat.counts)
        sig = strat.on_bar(bar)
        moved = [k for k in strat.counts if strat.counts[k] != before[k]
                 and k not in ("ticks", "sweeps", "extra_levels_swept")]
        assert len(moved) == 1, (i, moved)
        trail.append((i, moved[0], sig))
    return strat, trail


DEFAULTS = {"lookback_ticks": 5, "sweep_pct": 0.002, "volume_window": 20,
            "volume_spike": 1.5, "cooldown_s": 600.0}


@pytest.mark.parametrize("config", [{}, {"lookback_ticks": 3, "sweep_pct": 0.003,
                                         "volume_window": 40, "volume_spike": 2.0,
                                         "cooldown_s": 1800.0}])
def test_every_tick_decided_as_the_reference_decides(make: Make, config: dict[str, Any]) -> None:
    cfg = DEFAULTS | config
    strat, trail = run(make, config)
    lookback, window = cfg["lookback_ticks"], cfg["volume_window"]
    last_sweep_tick, last_ts = -1, None
    extra = 0
    outcomes: dict[str, int] = {}
    for t, moved, sig in trail:
        outcomes[moved] = outcomes.get(moved, 0) + 1
        if t + 1 < lookback + window:
            assert moved == "warmup"
            continue
        swept, chosen = reference_sweep(t, cfg)
        extra += max(0, len(swept) - 1)
        if chosen is None:
            assert moved == "no_sweep", t
            continue
        level, kind, i, side = chosen
        base = [b.volume for b in BARS[t - lookback - window + 1:t - lookback + 1]]
        spike = BARS[i].volume / (sum(base) / window)
        if i <= last_sweep_tick:
            want = "already_traded"
        elif last_ts is not None and BARS[t].ts - last_ts < cfg["cooldown_s"] * 1000:
            want = "cooldown"
        elif spike < cfg["volume_spike"]:
            want = "volume_low"
        else:
            want = "entries"
        assert moved == want, (t, chosen, spike)
        if sig is None:
            continue
        last_sweep_tick, last_ts = i, BARS[t].ts
        assert isinstance(sig, Signal)
        assert (sig.side, sig.metadata["level"], sig.metadata["level_kind"]) == \
            (side, pytest.approx(level), kind)
        assert sig.metadata["sweep_ts"] == BARS[i].ts
        assert sig.metadata["volume_spike"] == pytest.approx(spike, rel=1e-9)
    assert strat.counts["extra_levels_swept"] == extra > 0
    assert outcomes.get("entries", 0) > 100
    for reason in ("no_sweep", "already_traded", "cooldown", "volume_low"):
        assert outcomes.get(reason, 0) > 0, reason


def test_funnel_adds_up(make: Make) -> None:
    strat, _ = run(make, {"max_signals_per_day": 3})
    c = strat.stats()
    assert c["ticks"] == len(BARS) == c["warmup"] + c["no_sweep"] + c["sweeps"]
    assert c["sweeps"] == sum(c[r] for r in SKIP_REASONS) + c["entries"]
    assert c["daily_cap"] > 0


def test_signal_prices_and_fields(make: Make) -> None:
    config = {"stop_beyond_pct": 0.004, "tp_pct": 0.012, "min_reward_risk": 2.5,
              "max_hold_s": 1800, "confidence": 0.6}
    _, trail = run(make, config)
    sigs = [s for _, _, s in trail if s is not None]
    assert len(sigs) > 100
    floor_binds = 0
    for s in sigs:
        level, p = s.metadata["level"], s.entry_price
        sign = 1.0 if s.side == "buy" else -1.0
        assert (level < p) if s.side == "buy" else (level > p)
        assert s.tag == ("SWEEP_LOW" if s.side == "buy" else "SWEEP_HIGH")
        assert s.stop_loss == pytest.approx(level * (1 - sign * 0.004), rel=1e-12)
        risk = sign * (p - s.stop_loss)
        reward = max(0.012 * p, 2.5 * risk)
        floor_binds += reward == 0.012 * p
        assert s.take_profit == pytest.approx(p + sign * reward, rel=1e-12)
        assert sign * (s.take_profit - p) >= 2.5 * risk * (1 - 1e-12)
        assert s.max_hold_ms == 1_800_000
        assert s.confidence == 0.6 and s.prefer_maker is True
        assert s.edge_bps == pytest.approx(0.6 * reward / p * 1e4)
        spike = s.metadata["volume_spike"]
        assert s.size_multiplier == pytest.approx(min(2.0, 1.0 + max(0.0, (spike - 1.5) / 2)))
        assert 1.0 <= s.size_multiplier <= 2.0
    assert floor_binds > 0, "the tp_pct floor should bind on some real sweeps"


def test_regime_outside_the_families_silences_inside_changes_nothing(make: Make) -> None:
    free = [(i, s.side) for i, _, s in run(make)[1] if s is not None]
    strat, trail = run(make, regime="RANGE")
    assert all(s is None for _, _, s in trail)
    assert strat.counts["regime_blocked"] > 0
    for regime in ("MARKUP", "impulse", "NORMAL"):
        assert [(i, s.side) for i, _, s in run(make, regime=regime)[1] if s is not None] == free
    only_range = [(i, s.side) for i, _, s in
                  run(make, {"regime_families": ["RANGE_LIKE"]}, regime="ACCUMULATION")[1]
                  if s is not None]
    assert only_range == free


def test_no_entry_while_holding_the_symbol(make: Make) -> None:
    strat, ctx = make()
    sigs = []
    for bar in BARS[:3000]:
        ctx.now = bar.ts
        sig = strat.on_bar(bar)
        if sig is not None:
            sigs.append(sig)
            ctx.portfolio.apply_fill(Fill(ctx.next_id(), 1, strat.name, SYMBOL, sig.side,
                                          0.001, bar.close, 0.0, False, bar.ts))
    assert len(sigs) == 1
    assert strat.counts["in_position"] > 0


def test_daily_cap_per_utc_day(make: Make) -> None:
    _, trail = run(make, {"max_signals_per_day": 2})
    days: dict[int, int] = {}
    for i, _, s in trail:
        if s is not None:
            days[BARS[i].ts // 86_400_000] = days.get(BARS[i].ts // 86_400_000, 0) + 1
    assert max(days.values()) == 2 and len(days) > 20


def test_deterministic_field_by_field(make: Make) -> None:
    config = {"session_minutes": 60, "lookback_ticks": 4}
    a = [s for _, _, s in run(make, config)[1] if s is not None]
    b = [s for _, _, s in run(make, config)[1] if s is not None]
    assert a == b and len(a) > 100


def test_window_update_equals_a_strategy_started_then(make: Make) -> None:
    switch = 4000
    strat, ctx = make({"lookback_ticks": 5})
    got = []
    for i, bar in enumerate(BARS):
        if i == switch:
            assert strat.on_params_updated({"lookback_ticks": 3, "nope": 0}) == \
                ["lookback_ticks"]
        ctx.now = bar.ts
        sig = strat.on_bar(bar)
        if sig is not None and i >= switch:
            got.append((i, sig.side, sig.stop_loss, sig.metadata["level"]))
    fresh, fctx = make({"lookback_ticks": 3})
    want = []
    for i, bar in enumerate(BARS[switch:], start=switch):
        fctx.now = bar.ts
        sig = fresh.on_bar(bar)
        if sig is not None:
            want.append((i, sig.side, sig.stop_loss, sig.metadata["level"]))
    assert got == want and len(got) > 50


def test_one_tick_source_per_symbol(make: Make) -> None:
    trades = [Trade(b.ts, SYMBOL, b.close, 1.0, "buy") for b in BARS[:200]]
    strat, _ = make({"tick_source": "bars"})
    for t in trades:
        assert strat.on_trade(t) is None
    assert strat.counts["other_source_ignored"] == 200 and strat.counts["ticks"] == 0
    strat, _ = make()  # auto: the first kind seen (bars) wins
    for b, t in zip(BARS[:200], trades, strict=True):
        strat.on_bar(b)
        strat.on_trade(t)
    assert strat.counts["ticks"] == 200 and strat.counts["other_source_ignored"] == 200


def test_each_trade_is_a_tick_with_trade_tick_ms_zero(make: Make) -> None:
    strat, _ = make({"trade_tick_ms": 0})
    for b in BARS[:100]:
        strat.on_trade(Trade(b.ts, SYMBOL, b.close, b.volume, "sell"))
    assert strat.counts["ticks"] == 100
    strat, _ = make({"trade_tick_ms": 600_000})  # two 5m closes per 10 min bucket
    for b in BARS[:100]:
        strat.on_trade(Trade(b.ts, SYMBOL, b.close, b.volume, "sell"))
    assert 49 <= strat.counts["ticks"] <= 50
