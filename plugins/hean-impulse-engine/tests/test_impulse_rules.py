"""impulse_engine: the cascade, the threshold, the size chain and the modes, on the kernel's real
BTC/USDT:USDT 5m candles, against an independent plain-Python computation on the same bars.

Invariants:

* with no quote, no published fact and no position, the strategy emits exactly on the bars the
  reference cascade says (warm-up, cooldown, impulse ``|p/p[-10] - 1| > theta`` with
  ``theta = clamp(1.5 ATR%, 0.3 b, 1.5 b)``, volatility expansion ``sigma_10/sigma_49 >= 1.03``,
  trading hours), on the side of the impulse, and counts every other bar under the reason of
  the first gate that stopped it: ``ticks == emitted + sum(rejected)``;
* each signal's size multiplier is the product of the volatility-spike and MTF factors
  computed from the bars, capped at 2.5; its mode is ``breakout`` exactly when the spike's
  percentile is >= 95 (``is_breakout``), with the mode's stop, target, TP1, maker preference and
  minimum maker edge; every signal carries ``max_hold_ms`` and ``edge_bps``;
* the fixed defects: the impulse spans ``impulse_window`` (10) ticks, not the 50-price
  volatility buffer (real bars where the two disagree, and the strategy follows the 10-tick
  one); the mode follows ``is_breakout`` and not the multiplier (real signals at x2 or more in
  standard mode, breakouts below x2); the MTF factor applies only when the three returns agree
  with the side;
* the hours filter, the cooldown and the volatility-expansion switch do what their keys say;
* the same bars and config give the same signals, field by field.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Callable
from typing import Any

import pytest

from hean_framework.models import Bar

B = 0.005
WINDOWS = [(7 * 60, 11 * 60), (12 * 60, 16 * 60), (17 * 60, 21 * 60)]


def in_hours(ts: int) -> bool:
    m = (ts // 60_000) % 1440
    return any(a <= m <= b for a, b in WINDOWS)


def reference(bars: list[Bar], *, window: int = 10, hours: bool = True,
              cooldown_ms: int = 120_000, ratio_min: float = 1.03
              ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The cascade on bars without quote, facts or position, recomputed from scratch per bar."""
    p = [b.close for b in bars]
    lr = [math.log(p[j] / p[j - 1]) for j in range(1, len(p))]  # lr[j - 1]: bar j's return
    rms: list[float] = []
    out: list[dict[str, Any]] = []
    reasons: dict[str, int] = {}
    last = -(1 << 62)
    for i, bar in enumerate(bars):
        if i >= 1:
            rets = [p[j] / p[j - 1] - 1 for j in range(max(1, i - 48), i + 1)]
            rms.append(math.sqrt(sum(r * r for r in rets) / len(rets)))

        def stop(code: str) -> None:
            reasons[code] = reasons.get(code, 0) + 1

        if i + 1 <= window:
            stop("WARMUP")
            continue
        if bar.ts - last < cooldown_ms:
            stop("COOLDOWN")
            continue
        r = p[i] / p[i - window] - 1
        diffs = [abs(p[j] - p[j - 1]) for j in range(max(1, i - 13), i + 1)]
        theta = B if len(diffs) < 2 else min(max(1.5 * (sum(diffs) / len(diffs)) / p[i],
                                                 0.3 * B), 1.5 * B)
        if abs(r) <= theta:
            stop("NO_IMPULSE")
            continue
        side = "buy" if r > 0 else "sell"
        s_short = statistics.pstdev(lr[max(0, i - 10):i])
        s_long = statistics.pstdev(lr[max(0, i - 49):i])
        ratio = s_short / s_long if s_long > 0 else 0.0
        if ratio_min > 0 and ratio < ratio_min:
            stop("NO_VOL_EXPANSION")
            continue
        if hours and not in_hours(bar.ts):
            stop("OUTSIDE_HOURS")
            continue
        # size chain
        hist = rms[-10:]
        mult, pct, brk = 1.0, -1.0, False
        if len(hist) >= 5:
            prev = sum(hist[:-1]) / (len(hist) - 1)
            if prev > 0 and hist[-1] / prev > 1.02:
                pct = 100.0 * sum(1 for v in hist if v <= hist[-1]) / len(hist)
                brk = pct >= 95
                if brk:
                    mult *= 2.0
                mult *= max(0.3, 1 - 0.4 * (pct - 75) / 24) if pct >= 75 else 0.8
        mtf = 1.0
        if i >= 900:
            rs = [p[i] / p[i - k] - 1 for k in (60, 300, 900)]
            if (side == "buy" and all(x > 0 for x in rs)) or \
                    (side == "sell" and all(x < 0 for x in rs)):
                mtf = 2.0
        out.append({"i": i, "side": side, "r": r, "theta": theta, "ratio": ratio,
                    "pct": pct, "breakout": brk, "mult": min(mult * mtf, 2.5),
                    "raw_mult": mult * mtf, "mtf": mtf})
        last = bar.ts
    return out, reasons


@pytest.fixture(scope="module")
def bars(btc_bars: list[Bar]) -> list[Bar]:
    return btc_bars[:6000]


@pytest.fixture(scope="module")
def ref(bars: list[Bar]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    return reference(bars)


@pytest.fixture(scope="module")
def default_run(bars: list[Bar], replay: Callable[..., Any]) -> Any:
    return replay(bars)


def test_signals_exactly_where_the_reference_cascade_emits(
        default_run: Any, ref: tuple[list[dict[str, Any]], dict[str, int]]) -> None:
    want, reasons = ref
    got = [(i, s.side) for i, _, s in default_run.signals]
    assert got == [(w["i"], w["side"]) for w in want]
    assert len(got) > 300
    st = default_run.strategy.stats()
    assert st["rejected"] == reasons
    assert st["ticks"] == st["emitted"] + sum(st["rejected"].values()) == 6000
    for (_, _, s), w in zip(default_run.signals, want):
        assert math.isclose(s.metadata["impulse_return"], w["r"], rel_tol=1e-9)
        assert math.isclose(s.metadata["threshold"], w["theta"], rel_tol=1e-9)
        assert math.isclose(s.metadata["vol_ratio"], w["ratio"], rel_tol=1e-6)
        assert abs(s.metadata["impulse_return"]) > s.metadata["threshold"]


def test_size_chain_and_mode_follow_the_bars(
        default_run: Any, ref: tuple[list[dict[str, Any]], dict[str, int]]) -> None:
    want, _ = ref
    modes = set()
    for (_, bar, s), w in zip(default_run.signals, want):
        assert math.isclose(s.size_multiplier, w["mult"], rel_tol=1e-9)
        assert s.size_multiplier <= 2.5
        assert s.metadata["is_breakout"] is w["breakout"]
        assert s.metadata["vol_pct"] == pytest.approx(w["pct"])
        mode = "breakout" if w["breakout"] else "standard"
        modes.add(mode)
        assert s.metadata["mode"] == mode and s.tag == f"IMPULSE_{mode.upper()}"
        sl, tp, tp1 = (0.002, 0.025, 0.012) if w["breakout"] else (0.003, 0.015, 0.007)
        sign = 1.0 if s.side == "buy" else -1.0
        assert s.entry_price == bar.close
        assert math.isclose(s.stop_loss, bar.close * (1 - sign * sl), rel_tol=1e-12)
        assert math.isclose(s.take_profit, bar.close * (1 + sign * tp), rel_tol=1e-12)
        assert math.isclose(s.metadata["tp1"], bar.close * (1 + sign * tp1), rel_tol=1e-12)
        assert s.prefer_maker is (not w["breakout"])
        assert s.min_maker_edge_bps == (0.0 if w["breakout"] else 3.0)
        assert s.max_hold_ms == 300_000
        assert s.order_type == "market" and not s.reduce_only
        assert math.isclose(s.edge_bps, 0.5 * tp * 1e4)
        assert s.confidence == 0.5
        if w["raw_mult"] > 2.5:
            assert s.metadata["size_chain"]["cap"] == 2.5
    assert modes == {"standard", "breakout"}


def test_bug_impulse_spans_the_impulse_window_not_the_volatility_buffer(
        bars: list[Bar], default_run: Any, ref: tuple[list[dict[str, Any]], dict[str, int]],
        replay: Callable[..., Any]) -> None:
    """The original measured R over its 50-price volatility buffer (49 ticks back)."""
    p = [b.close for b in bars]
    emitted = {i for i, _, _ in default_run.signals}
    ten_only = fifty_only = 0
    for w in ref[0]:
        i = w["i"]
        if i >= 49 and abs(p[i] / p[i - 49] - 1) <= w["theta"]:
            ten_only += 1          # a 10-tick impulse the 50-price buffer would have missed
            assert i in emitted
    stats = default_run.strategy.stats()["rejected"]
    # and bars whose 49-tick move was large but whose 10-tick move was not: no signal
    for i in range(49, len(p)):
        r10, r49 = p[i] / p[i - 10] - 1, p[i] / p[i - 49] - 1
        if abs(r49) > 1.5 * B and abs(r10) < 0.3 * B:
            fifty_only += 1
            assert i not in emitted
    assert ten_only > 20 and fifty_only > 20 and stats["NO_IMPULSE"] > 0
    # the old behaviour is still reachable on purpose, and differs
    wide = replay(bars, {"impulse_window": 49})
    assert [i for i, _, _ in wide.signals] != sorted(emitted)
    for i, _, s in wide.signals:
        assert math.isclose(s.metadata["impulse_return"], p[i] / p[i - 49] - 1, rel_tol=1e-12)


def test_bug_mode_comes_from_is_breakout_not_from_the_size_multiplier(
        btc_bars: list[Bar], replay: Callable[..., Any]) -> None:
    """The original chose the breakout mode when the final multiplier reached 2.0."""
    run = replay(btc_bars, {"use_hours": False})
    sigs = [s for _, _, s in run.signals]
    mtf_standard = [s for s in sigs if s.size_multiplier >= 2.0 and not s.metadata["is_breakout"]]
    weak_breakouts = [s for s in sigs if s.size_multiplier < 2.0 and s.metadata["is_breakout"]]
    assert mtf_standard, "an MTF agreement alone (x2) must not make a breakout"
    assert weak_breakouts, "a P95 spike penalised below x2 must stay a breakout"
    for s in mtf_standard:
        assert s.metadata["mode"] == "standard" and s.prefer_maker
        assert s.metadata["size_chain"]["mtf_cascade"] == 2.0
        assert math.isclose(abs(s.stop_loss / s.entry_price - 1), 0.003, rel_tol=1e-9)
    for s in weak_breakouts:
        assert s.metadata["mode"] == "breakout" and not s.prefer_maker
        assert s.metadata["vol_pct"] >= 95.0
        assert math.isclose(abs(s.stop_loss / s.entry_price - 1), 0.002, rel_tol=1e-9)
    for s in sigs:
        assert (s.metadata["mode"] == "breakout") == (s.metadata["vol_pct"] >= 95.0)


def test_mtf_factor_only_when_the_returns_agree_with_the_side(
        btc_bars: list[Bar], replay: Callable[..., Any]) -> None:
    run = replay(btc_bars, {"use_hours": False})
    p = [b.close for b in btc_bars]
    against = 0
    for i, _, s in run.signals:
        if i < 900:
            assert "mtf_cascade" not in s.metadata["size_chain"]
            continue
        rs = [p[i] / p[i - k] - 1 for k in (60, 300, 900)]
        agree_up, agree_down = all(x > 0 for x in rs), all(x < 0 for x in rs)
        with_side = agree_up if s.side == "buy" else agree_down
        against += (agree_up or agree_down) and not with_side
        assert ("mtf_cascade" in s.metadata["size_chain"]) is with_side
    assert against > 0, "real bars where the three returns agree against the impulse"


def test_hours_filter(bars: list[Bar], default_run: Any, replay: Callable[..., Any]) -> None:
    free = replay(bars, {"use_hours": False})
    inside = [(i, s.side) for i, _, s in free.signals if in_hours(s.ts)]
    assert [(i, s.side) for i, _, s in default_run.signals] == inside
    assert len(inside) < len(free.signals)
    night = replay(bars, {"allowed_hours": ["22:00-02:00"]})
    assert night.signals
    for _, _, s in night.signals:
        m = (s.ts // 60_000) % 1440
        assert m >= 22 * 60 or m <= 2 * 60


def test_cooldown_spacing(bars: list[Bar], replay: Callable[..., Any]) -> None:
    run = replay(bars, {"cooldown_s": 3600, "use_hours": False})
    ts = [s.ts for _, _, s in run.signals]
    assert len(ts) > 50
    assert all(b - a >= 3_600_000 for a, b in itertools.pairwise(ts))
    want, reasons = reference(bars, hours=False, cooldown_ms=3_600_000)
    assert [(i, s.side) for i, _, s in run.signals] == [(w["i"], w["side"]) for w in want]
    assert run.strategy.stats()["rejected"] == reasons
    assert reasons["COOLDOWN"] > 0


def test_volatility_expansion_switch(bars: list[Bar], replay: Callable[..., Any]) -> None:
    run = replay(bars, {"vol_expansion_ratio": 0.0})
    want, reasons = reference(bars, ratio_min=0.0)
    assert [(i, s.side) for i, _, s in run.signals] == [(w["i"], w["side"]) for w in want]
    assert "NO_VOL_EXPANSION" not in run.strategy.stats()["rejected"]
    assert run.strategy.stats()["rejected"] == reasons


def test_deterministic_field_by_field(bars: list[Bar], replay: Callable[..., Any]) -> None:
    config = {"impulse_window": 12, "cooldown_s": 900, "use_hours": False}
    a = [s for _, _, s in replay(bars, config).signals]
    b = [s for _, _, s in replay(bars, config).signals]
    assert a == b and len(a) > 100
