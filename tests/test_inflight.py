"""The ``inflight`` tracker (:mod:`hean_framework.risk.inflight`): reservations, TTL, release
paths and fair access (a fast strategy cannot starve a slow one)."""

from __future__ import annotations

from typing import Any

from hean_framework.models import Fill, Order, OrderDecision, Signal
from hean_framework.ports import RunInfo, StrategyInfo
from hean_framework.risk.inflight import INFLIGHT_COUNT, InFlightConfig, InFlightTracker
from hean_framework.testing import make_context

T0 = 1_741_305_600_000
SYMS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "DOGE/USDT:USDT", "XRP/USDT:USDT"]


def _tracker(names: tuple[str, ...] = ("fast", "slow"), **cfg: Any) -> InFlightTracker:
    ctx = make_context(capital=1000.0, price=100.0, now=T0, symbols=SYMS)
    ctx.run = RunInfo(strategies={n: StrategyInfo(n, n, tuple(SYMS)) for n in names})
    t = InFlightTracker(InFlightConfig(**cfg), ctx, name="inflight")
    t.on_start()
    return t


_ids = iter(range(1, 10_000))


def _vote(t: InFlightTracker, sid: str, sym: str, ts: int | None = None) -> tuple[Any, int]:
    if ts is not None:
        t.ctx.now = ts
    i = next(_ids)
    sig = Signal(sid, sym, "buy", t.ctx.now, 100.0, stop_loss=99.0, signal_id=i)
    return t.vote(sig, OrderDecision(i, i, sid, sym, "buy", t.ctx.now, price=100.0,
                                     notional=10.0)), i


def _fill(t: InFlightTracker, sid: str, sym: str, signal_id: int) -> None:
    f = Fill(next(_ids), 1, sid, sym, "buy", 0.1, 100.0, 0.0, False, t.ctx.now, signal_id)
    t.ctx.portfolio.apply_fill(f)
    t.on_fill(f)


def test_reserve_symbol_and_capacity() -> None:
    t = _tracker(max_open_positions=2, fair_share=False)
    v, _ = _vote(t, "fast", SYMS[0])
    assert v is None and t.count() == 1
    assert t.ctx.facts.get(INFLIGHT_COUNT) == 1
    v, _ = _vote(t, "slow", SYMS[0])
    assert v.code == "INFLIGHT_LIMIT" and v.decision == "SKIP"
    v, _ = _vote(t, "slow", SYMS[1])
    assert v is None
    v, _ = _vote(t, "slow", SYMS[2])  # 0 open + 2 in flight >= 2
    assert v.code == "INFLIGHT_LIMIT" and v.details["in_flight"] == 2
    assert t.notional_reserved("slow") == 10.0


def test_release_paths_and_ttl() -> None:
    t = _tracker(fair_share=False)
    _, a = _vote(t, "fast", SYMS[0])
    _, b = _vote(t, "fast", SYMS[1])
    _, c = _vote(t, "fast", SYMS[2])
    _, d = _vote(t, "fast", SYMS[3])
    # rejected with nothing filled
    t.on_order_update(Order(1, "fast", SYMS[0], "buy", 1.0, status="rejected", signal_id=a))
    # position opened
    _fill(t, "fast", SYMS[1], b)
    # another gate refused the signal
    t.on_decision(OrderDecision(c, c, "fast", SYMS[2], "buy", T0, decision="BLOCK"))
    assert t.count() == 1 and d in t.signals
    # TTL 30 s of data time
    v, _ = _vote(t, "slow", SYMS[3], ts=T0 + 29_000)
    assert v is not None
    v, _ = _vote(t, "slow", SYMS[3], ts=T0 + 30_000)
    assert v is None
    assert t.counts["expired"] == 1 and t.counts["released"] == 3


def test_fast_strategy_cannot_starve_a_slow_one() -> None:
    t = _tracker(max_open_positions=2)  # 2 strategies -> fair share 1 slot each
    assert t.share == 1
    # the fast strategy may use idle capacity ...
    v, s1 = _vote(t, "fast", SYMS[0])
    _fill(t, "fast", SYMS[0], s1)
    v, s2 = _vote(t, "fast", SYMS[1])
    assert v is None
    _fill(t, "fast", SYMS[1], s2)
    # ... the slow one finds the book full and waits
    v, _ = _vote(t, "slow", SYMS[2], ts=T0 + 1_000)
    assert v.code == "INFLIGHT_LIMIT"
    # a slot frees up (fast closes one position); fast signals first but is refused
    f = Fill(next(_ids), 2, "fast", SYMS[0], "sell", 0.1, 100.0, 0.0, False, T0 + 2_000)
    t.ctx.portfolio.apply_fill(f)
    v, _ = _vote(t, "fast", SYMS[3], ts=T0 + 2_000)
    assert v.code == "INFLIGHT_LIMIT" and v.details["waiting"] == ["slow"]
    v, _ = _vote(t, "slow", SYMS[2], ts=T0 + 3_000)
    assert v is None
    assert t.counts["refused_fair_share"] == 1
