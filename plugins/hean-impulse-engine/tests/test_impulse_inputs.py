"""impulse_engine: the gates that read the market state, facts and the strategy's own position,
and its position management -- the kernel alone (no analyzer plugin needed).

Invariants (on the kernel's real BTC 5m candles, with quotes, facts and positions set on the
test context):

* regime families: a RANGE-like regime rejects every tick (``REGIME``), a TREND regime changes
  nothing, NORMAL halves the size (``normal``), NORMAL with ``allow_normal: false`` rejects,
  no published regime passes;
* a quoted spread above ``max_spread_bps`` of the price rejects at gate 1 (``SPREAD_ZONE``);
  one just below it of the price but above it of the bid rejects at gate 6
  (``SPREAD_FILTER``); in the IMPULSE regime the maker edge decides (``MAKER_EDGE``);
* the risk governor's HARD_STOP / KILLSWITCH rejects (``RISK_ENVELOPE``); an own position
  rejects (``POSITION_OPEN``); an own working entry order rejects (``ENTRY_WORKING``);
* the win-rate multiplier scales the threshold from the strategy's own closed trades (only
  after ``win_rate_min_trades``);
* oracle: a reversal or a contrary confident prediction rejects; a confident prediction
  pre-positions with a resting limit entry (stop 0.3 %, target 1 %, x1.5) and -- the fixed
  defect -- respects the cooldown instead of firing on every tick;
* brain and context change only the size: the brain's penalty by confidence, the context's
  multiplier and its reduce-size halving, the chain capped at ``max_size_multiplier``;
* break-even: once the price reaches TP1 the resting stop is amended to the entry price, once
  per position; no stop, no move; the moved stop is cancelled when the position goes flat; a
  closed trade feeds the win rate;
* the time stop is the signal's ``max_hold_ms`` (the kernel's single exit), 0 gives none.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
from hean_impulse_engine.facts import (
    BRAIN,
    CONTEXT,
    ORACLE,
    BrainAnalysis,
    MarketContext,
    OraclePrediction,
)

from hean_framework.context import RunContext
from hean_framework.facts import REGIME
from hean_framework.models import Bar, ClosedTrade, Fill, MarketEvent, OrderDecision, Signal
from hean_framework.risk.governor import RISK_STATE

BTC = "BTC/USDT:USDT"
FREE = {"use_hours": False}


@pytest.fixture(scope="module")
def bars(btc_bars: list[Bar]) -> list[Bar]:
    return btc_bars[:3000]


@pytest.fixture(scope="module")
def free(bars: list[Bar], replay: Callable[..., Any]) -> Any:
    return replay(bars, FREE)


def with_fact(key: Any, value: Any) -> Callable[[int, MarketEvent, RunContext], None]:
    def before(i: int, ev: MarketEvent, ctx: RunContext) -> None:
        ctx.facts.set(key, value, ev.symbol)
    return before


def sides(run: Any) -> list[tuple[int, str]]:
    return [(i, s.side) for i, _, s in run.signals]


@pytest.mark.parametrize("regime", ["RANGE", "ACCUMULATION"])
def test_range_like_regime_rejects_everything(regime: str, bars: list[Bar],
                                              replay: Callable[..., Any]) -> None:
    run = replay(bars, FREE, before=with_fact(REGIME, regime))
    assert run.signals == []
    assert run.strategy.stats()["rejected"] == {"REGIME": len(bars)}


def test_trend_and_volatile_regimes_pass_normal_halves(bars: list[Bar], free: Any,
                                                      replay: Callable[..., Any]) -> None:
    assert free.signals
    assert all(s.metadata["regime"] == "" for _, _, s in free.signals)
    for regime in ("MARKUP", "markdown", "DISTRIBUTION"):
        run = replay(bars, FREE, before=with_fact(REGIME, regime))
        assert sides(run) == sides(free)
    normal = replay(bars, FREE, before=with_fact(REGIME, "NORMAL"))
    assert sides(normal) == sides(free)
    for (_, _, a), (_, _, b) in zip(normal.signals, free.signals):
        assert a.metadata["size_chain"]["normal"] == 0.5
        assert math.isclose(a.size_multiplier, min(_raw(b) * 0.5, 2.5), rel_tol=1e-9)
    off = replay(bars, {**FREE, "allow_normal": False}, before=with_fact(REGIME, "NORMAL"))
    assert off.signals == [] and off.strategy.stats()["rejected"] == {"REGIME": len(bars)}


def _raw(s: Signal) -> float:
    """The uncapped product of a signal's size chain."""
    out = 1.0
    for k, v in s.metadata["size_chain"].items():
        if k != "cap":
            out *= v
    return out


def quote(bid_frac: float, ask_frac: float = 0.0) -> Callable[[int, MarketEvent, RunContext],
                                                               None]:
    """A best bid/offer at close x (1 - bid_frac) / close x (1 + ask_frac)."""
    def before(i: int, ev: MarketEvent, ctx: RunContext) -> None:
        assert isinstance(ev, Bar)
        st = ctx.market[ev.symbol]
        st.bid, st.ask = ev.close * (1 - bid_frac), ev.close * (1 + ask_frac)
    return before


def test_spread_zone_and_spread_filter(bars: list[Bar], free: Any,
                                       replay: Callable[..., Any]) -> None:
    wide = replay(bars, FREE, before=quote(0.0007, 0.0007))          # 14 bps of the price
    assert wide.signals == []
    assert wide.strategy.stats()["rejected"] == {"SPREAD_ZONE": len(bars)}
    edge = replay(bars, FREE, before=quote(0.0011999))                # 11.999 bps of the price
    rej = edge.strategy.stats()["rejected"]
    assert edge.signals == [] and "SPREAD_ZONE" not in rej
    assert rej["SPREAD_FILTER"] == free.strategy.stats()["impulses"]  # 12.0134 bps of the bid
    assert "NO_VOL_EXPANSION" not in rej  # the spread filter runs first in gate 6
    tight = replay(bars, FREE, before=quote(0.0001, 0.0001))
    assert sides(tight) == sides(free)


def test_maker_edge_only_in_the_impulse_regime(bars: list[Bar], free: Any,
                                               replay: Callable[..., Any]) -> None:
    def impulse(bid_frac: float) -> Callable[[int, MarketEvent, RunContext], None]:
        q = quote(bid_frac, bid_frac)

        def before(i: int, ev: MarketEvent, ctx: RunContext) -> None:
            q(i, ev, ctx)
            ctx.facts.set(REGIME, "IMPULSE", ev.symbol)
        return before

    # bid 0.5 bp under the price: a buy's maker edge ~1.5 bp < 3 bp; a sell's mirrored
    thin = replay(bars, FREE, before=impulse(0.00005))
    assert thin.signals == []
    assert thin.strategy.stats()["rejected"]["MAKER_EDGE"] > 100
    # 3 bp each side: edge ~4 bp >= 3 bp
    fat = replay(bars, FREE, before=impulse(0.0003))
    assert sides(fat) == sides(free)
    # the same thin quote in a TREND regime: no maker-edge gate
    def trend(i: int, ev: MarketEvent, ctx: RunContext) -> None:
        quote(0.00005, 0.00005)(i, ev, ctx)
        ctx.facts.set(REGIME, "MARKUP", ev.symbol)
    assert sides(replay(bars, FREE, before=trend)) == sides(free)


@pytest.mark.parametrize("state", ["HARD_STOP", "KILLSWITCH"])
def test_risk_envelope(state: str, bars: list[Bar], free: Any,
                       replay: Callable[..., Any]) -> None:
    def before(i: int, ev: MarketEvent, ctx: RunContext) -> None:
        ctx.facts.set(RISK_STATE, state)
    run = replay(bars, FREE, before=before)
    assert run.signals == [] and run.strategy.stats()["rejected"] == {"RISK_ENVELOPE": len(bars)}
    soft = replay(bars, FREE, before=with_fact(RISK_STATE, "SOFT_BRAKE"))
    assert sides(soft) == sides(free)


def test_own_position_and_working_entry(bars: list[Bar], make: Any,
                                        replay: Callable[..., Any]) -> None:
    strat, ctx = make(FREE)

    def after(i: int, ev: MarketEvent, got: list[Signal]) -> None:
        for s in got:  # the first entry fills and is never closed here
            ctx.portfolio.apply_fill(Fill(ctx.next_id(), 1, strat.name, BTC, s.side, 0.001,
                                          s.entry_price, 0.0, False, ev.ts))
    run = replay(bars, strategy=strat, after=after)
    assert len(run.signals) == 1
    assert strat.stats()["rejected"]["POSITION_OPEN"] > 2000

    strat, ctx = make(FREE)

    def rest(i: int, ev: MarketEvent, got: list[Signal]) -> None:
        for s in got:  # the entry rests unfilled
            d = OrderDecision(ctx.next_id(), 1, strat.name, BTC, s.side, ev.ts, price=s.entry_price)
            ctx.orders.submit(s, d, 0.001, order_type="limit", price=s.entry_price * 0.9)
    run = replay(bars, strategy=strat, after=rest)
    assert len(run.signals) == 1
    assert strat.stats()["rejected"]["ENTRY_WORKING"] > 10


def closed(symbol: str, net_win: bool, ts: int) -> ClosedTrade:
    pnl = 5.0 if net_win else -5.0
    return ClosedTrade("impulse_engine", symbol, "long", 0.001, 100.0, 100.0, ts - 1, ts, pnl,
                       0.0, 0.0)


T, F = True, False


@pytest.mark.parametrize(("results", "w"), [
    ([T, T, T, T], 1.0),                    # fewer than win_rate_min_trades (5): no effect
    ([T, F], 1.0),
    ([T, T, T, T, F], 0.7),                 # 0.80 > 0.60
    ([T, T, T, F, F], 0.85),                # 0.60 is not > 0.60, but > 0.55
    ([T] * 11 + [F] * 9, 1.0),              # 0.55: neither > 0.55 nor < 0.45
    ([T, F, F, F, F], 1.3),                 # 0.20 < 0.40
    ([T] * 30 + [F] * 12 + [T] * 8, 1.15),  # the last 20 decide: 0.40 (all 50: 0.76)
])
def test_win_rate_multiplier_scales_the_threshold(results: list[bool], w: float,
                                                  bars: list[Bar], make: Any,
                                                  replay: Callable[..., Any]) -> None:
    strat, _ = make(FREE)
    for k, win in enumerate(results):
        strat.on_position_closed(closed(BTC, win, bars[0].ts + k))
    run = replay(bars, strategy=strat)
    assert run.signals
    for _, _, s in run.signals:
        assert s.metadata["win_rate_multiplier"] == w
        b = 0.005 * w
        assert 0.3 * b - 1e-15 <= s.metadata["threshold"] <= 1.5 * b + 1e-15


def test_oracle_gates(bars: list[Bar], free: Any, replay: Callable[..., Any]) -> None:
    rev = OraclePrediction(known=True, should_exit=True, reversal_prob=0.9)
    run = replay(bars, FREE, before=with_fact(ORACLE, rev))
    # every tick that passed gates 1-6 in the free run stops at gate 8
    assert run.signals == []
    assert run.strategy.stats()["rejected"]["ORACLE_REVERSAL"] == len(free.signals)
    weak = OraclePrediction(known=True, should_exit=True, reversal_prob=0.85)
    assert sides(replay(bars, FREE, before=with_fact(ORACLE, weak))) == sides(free)
    # a confident prediction of +0.06 % over 500 ms (below the pre-positioning confidence):
    up = OraclePrediction(known=True, confidence=0.72, predicted_return=0.0006)
    run = replay(bars, FREE, before=with_fact(ORACLE, up))
    assert run.signals and all(s.side == "buy" for _, _, s in run.signals)
    assert run.strategy.stats()["rejected"]["ORACLE_CONTRA"] == \
        sum(1 for _, _, s in free.signals if s.side == "sell")


def test_bug_predictive_prepositioning_respects_the_cooldown(
        bars: list[Bar], replay: Callable[..., Any]) -> None:
    """The original never recorded a pre-positioning signal's time and fired on every tick."""
    sure = OraclePrediction(known=True, confidence=0.8, predicted_return=-0.0004)
    run = replay(bars[:400], {**FREE, "cooldown_s": 1800}, before=with_fact(ORACLE, sure))
    sigs = [s for _, _, s in run.signals]
    want, last = [], -(1 << 62)
    for k, bar in enumerate(bars[:400]):     # the first bar at or after each cooldown's end
        if bar.ts - last >= 1_800_000:
            want.append(k)
            last = bar.ts
    assert [i for i, _, _ in run.signals] == want and len(want) > 60
    assert all(b.ts - a.ts >= 1_800_000 for a, b in itertools.pairwise(sigs))
    assert run.strategy.stats()["rejected"] == {"PREDICTIVE_COOLDOWN": 400 - len(sigs)}
    for _i, bar, s in run.signals:
        assert isinstance(bar, Bar)
        assert s.side == "sell" and s.tag == "IMPULSE_PREDICTIVE"
        assert s.order_type == "limit" and s.prefer_maker
        limit = max(bar.close * (1 - 0.0004) * 1.0002, bar.close)   # never below the price
        assert s.limit_price == s.entry_price == pytest.approx(limit)
        assert s.stop_loss == pytest.approx(limit * 1.003)
        assert s.take_profit == pytest.approx(limit * 0.99)
        assert s.metadata["tp1"] == pytest.approx(limit * 0.995)
        assert s.size_multiplier == 1.5 and s.min_maker_edge_bps == 2.0
    off = replay(bars[:400], {**FREE, "predictive": False}, before=with_fact(ORACLE, sure))
    assert all(s.tag != "IMPULSE_PREDICTIVE" for _, _, s in off.signals)
    weak = OraclePrediction(known=True, confidence=0.8, predicted_return=0.0002)
    assert all(s.tag != "IMPULSE_PREDICTIVE"
               for _, _, s in replay(bars[:400], FREE, before=with_fact(ORACLE, weak)).signals)


@pytest.mark.parametrize(("conf", "mult"), [(0.9, 0.5), (0.7, 0.7), (0.5, 0.85)])
def test_brain_conflict_is_a_size_penalty(conf: float, mult: float, bars: list[Bar],
                                          free: Any, replay: Callable[..., Any]) -> None:
    bear = BrainAnalysis(known=True, sentiment="bearish", confidence=conf)
    run = replay(bars, FREE, before=with_fact(BRAIN, bear))
    assert sides(run) == sides(free)
    for (_, _, a), (_, _, b) in zip(run.signals, free.signals):
        if a.side == "buy":
            assert a.metadata["size_chain"]["brain"] == mult
            assert math.isclose(a.size_multiplier, min(_raw(b) * mult, 2.5), rel_tol=1e-9)
        else:
            assert "brain" not in a.metadata["size_chain"]
            assert a.size_multiplier == b.size_multiplier
    # the context's brain view counts above a confidence of 0.3 only
    via = MarketContext(known=True, brain_sentiment="bullish", brain_confidence=conf)
    run = replay(bars, FREE, before=with_fact(CONTEXT, via))
    assert all(("brain" in s.metadata["size_chain"]) == (s.side == "sell")
               for _, _, s in run.signals)
    low = MarketContext(known=True, brain_sentiment="bullish", brain_confidence=0.3)
    run = replay(bars, FREE, before=with_fact(CONTEXT, low))
    assert all("brain" not in s.metadata["size_chain"] for _, _, s in run.signals)


def test_context_multiplier_and_the_cap(bars: list[Bar], free: Any,
                                       replay: Callable[..., Any]) -> None:
    big = MarketContext(known=True, size_multiplier=2.0)
    run = replay(bars, FREE, before=with_fact(CONTEXT, big))
    assert sides(run) == sides(free)
    capped = 0
    for (_, _, a), (_, _, b) in zip(run.signals, free.signals):
        assert math.isclose(a.size_multiplier, min(_raw(b) * 2.0, 2.5), rel_tol=1e-9)
        assert a.size_multiplier <= 2.5
        capped += a.metadata["size_chain"].get("cap") == 2.5
    assert capped > 10
    reduce = MarketContext(known=True, size_multiplier=1.2, consensus="buy",
                           should_reduce_size=True)
    run = replay(bars, FREE, before=with_fact(CONTEXT, reduce))
    assert sides(run) == sides(free)
    for (_, _, a), (_, _, b) in zip(run.signals, free.signals):
        assert a.metadata["size_chain"]["context"] == pytest.approx(0.6)
        assert math.isclose(a.size_multiplier, min(_raw(b) * 0.6, 2.5), rel_tol=1e-9)
    low_cap = replay(bars, {**FREE, "max_size_multiplier": 0.5})
    assert all(s.size_multiplier <= 0.5 for _, _, s in low_cap.signals)


def open_position(ctx: RunContext, strat: Any, signal: Signal, qty: float = 0.01) -> None:
    """The entry fills and the kernel rests its protective stop (what the engine does)."""
    signal.signal_id = 77
    fill = Fill(ctx.next_id(), 1, strat.name, BTC, signal.side, qty, signal.entry_price, 0.0,
                False, ctx.now, signal_id=77)
    ctx.portfolio.apply_fill(fill)
    side = "sell" if signal.side == "buy" else "buy"
    stub = Signal(strat.name, BTC, side, ctx.now, 0.0, reduce_only=True, signal_id=77)
    d = OrderDecision(0, 77, strat.name, BTC, side, ctx.now)
    ctx.orders.submit(stub, d, qty, order_type="stop_market", price=signal.stop_loss,
                      reduce_only=True, tag="SL_HIT")


def test_break_even_moves_the_stop_once_at_tp1(bars: list[Bar], make: Any) -> None:
    strat, ctx = make(FREE)
    entry: Signal | None = None
    moved_at: list[int] = []
    for i, bar in enumerate(bars):
        ctx.now = bar.ts
        ctx.market[BTC].last = bar.close
        before = strat.stats().get("break_even_moves", 0)
        sig = strat.on_bar(bar)
        if sig is not None and entry is None:
            entry = sig
            open_position(ctx, strat, sig)
        if strat.stats().get("break_even_moves", 0) > before:
            moved_at.append(i)
    assert entry is not None and moved_at, "the real bars reach TP1 of the first entry"
    assert len(moved_at) == 1, "once per position"
    tp1 = entry.metadata["tp1"]
    bar = bars[moved_at[0]]
    assert (bar.close >= tp1) if entry.side == "buy" else (bar.close <= tp1)
    for b in bars[:moved_at[0]]:
        if b.ts > entry.ts:
            assert not ((b.close >= tp1) if entry.side == "buy" else (b.close <= tp1))
    stops = [o for o in ctx.orders.open_orders(BTC) if o.order_type == "stop_market"]
    assert len(stops) == 1
    assert stops[0].price == pytest.approx(entry.entry_price, abs=0.1)
    # flat: the moved stop (unknown to the kernel's exit plan) is cancelled, the trade learnt
    pos = ctx.portfolio.position_qty(strat.name, BTC)
    ctx.portfolio.apply_fill(Fill(ctx.next_id(), 2, strat.name, BTC,
                                  "sell" if pos > 0 else "buy", abs(pos), tp1, 0.0, False,
                                  ctx.now, signal_id=77))
    strat.on_position_closed(closed(BTC, True, ctx.now))
    assert ctx.orders.open_orders(BTC) == []
    st = strat.stats()
    assert st["break_even_stops_cancelled"] == 1 and st["closed_trades_seen"] == 1
    assert list(strat._syms[BTC].results) == [True]


def test_break_even_without_a_stop_and_switched_off(bars: list[Bar], make: Any) -> None:
    for config, key in (({**FREE}, "break_even_no_stop"), ({**FREE, "break_even": False}, None)):
        strat, ctx = make(config)
        opened = False
        for bar in bars:
            ctx.now = bar.ts
            ctx.market[BTC].last = bar.close
            sig = strat.on_bar(bar)
            if sig is not None and not opened:
                opened = True
                sig.signal_id = 5
                ctx.portfolio.apply_fill(Fill(ctx.next_id(), 1, strat.name, BTC, sig.side,
                                              0.01, sig.entry_price, 0.0, False, bar.ts,
                                              signal_id=5))
        st = strat.stats()
        assert "break_even_moves" not in st
        if key:
            assert st[key] == 1
        else:
            assert "break_even_no_stop" not in st


def test_time_stop_is_the_signals_max_hold(bars: list[Bar], replay: Callable[..., Any]) -> None:
    assert {s.max_hold_ms for _, _, s in
            replay(bars[:800], {**FREE, "max_time_in_trade_s": 90}).signals} == {90_000}
    assert {s.max_hold_ms for _, _, s in
            replay(bars[:800], {**FREE, "max_time_in_trade_s": 0}).signals} == {None}
