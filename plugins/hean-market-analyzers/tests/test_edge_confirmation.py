"""Edge-confirmation loop on the real Binance USDT-M BTC trades and best bid/offer.

Invariants checked:

* without the analyzer the desk is the pass-through one (every proposal CONFIRMED at once);
* the protocol: first proposal CANDIDATE, then PENDING until a rule confirms, then CONFIRMED
  once (the candidate is consumed), the live-candidate count published per symbol;
* for 300 candidates stored at different ticks, the tick and the rule of the first transition
  (spread / volatility / pullback confirmation, invalidation, expiry) equal a from-scratch
  evaluation that slices the trade prices by the candidate's sequence number (the original
  indexed a shifting 50-element buffer);
* candidates are independent per (strategy, side); a cancelled candidate is gone;
* on 5-minute candles a timeout shorter than a bar expires every candidate, a timeout of a few
  bars confirms some;
* deterministic replay; the config refuses inverted ranges.
"""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from hean_market_analyzers.edge_confirmation import EdgeConfirmationConfig
from hean_market_analyzers.facts import (
    CANDIDATE,
    CONFIRMED,
    EDGE_CANDIDATES,
    EDGE_CONFIRMATION,
    EXPIRED,
    INVALIDATED,
    PASS_THROUGH,
    PENDING,
)
from pydantic import ValidationError

from hean_framework.facts import MARKET
from hean_framework.models import MarketEvent, Quote, Trade
from hean_framework.testing import make_context, sample_bars

BTC = "BTC/USDT:USDT"


@pytest.fixture(scope="module")
def btc_ticks(sample_data: Path, read_events: Any) -> list[MarketEvent]:
    return read_events([
        {"kind": "bbo", "symbol": BTC,
         "path": str(sample_data / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
        {"kind": "trades", "symbol": BTC,
         "path": str(sample_data / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")},
    ])


def test_pass_through_without_the_analyzer() -> None:
    desk = make_context().facts.get(EDGE_CONFIRMATION)
    assert desk is PASS_THROUGH
    assert desk.propose("s", BTC, "buy") == CONFIRMED
    assert desk.state("s", BTC, "buy") == "" and not desk.cancel("s", BTC, "buy")


def test_protocol(make_analyzer: Any, drive: Any, btc_ticks: list[MarketEvent]) -> None:
    loop, ctx = make_analyzer("edge_confirmation")
    desk = ctx.facts.get(EDGE_CONFIRMATION, MARKET)
    assert desk is loop.desk
    drive(ctx, [loop], btc_ticks[:2000])
    assert desk.propose("s", BTC, "buy") == CANDIDATE
    assert ctx.facts.get(EDGE_CANDIDATES, BTC) == 1
    assert desk.propose("s", BTC, "buy") == PENDING
    assert desk.propose("t", BTC, "buy") == CANDIDATE  # another strategy: its own candidate
    assert desk.propose("s", BTC, "sell") == CANDIDATE  # another side: its own candidate
    assert ctx.facts.get(EDGE_CANDIDATES, BTC) == 3
    assert desk.cancel("t", BTC, "buy") and desk.state("t", BTC, "buy") == ""
    answers = []
    for ev in btc_ticks[2000:]:
        drive(ctx, [loop], [ev])
        st = desk.state("s", BTC, "buy")
        if st == CONFIRMED:
            answers.append(desk.propose("s", BTC, "buy"))
            break
        if st in (EXPIRED, INVALIDATED):
            break
    if answers:
        assert answers == [CONFIRMED]
        assert desk.state("s", BTC, "buy") == ""  # consumed
        assert loop.stats()["edge_consumed"] == 1
    with pytest.raises(ValueError, match="side"):
        desk.propose("s", BTC, "long")


def _ratio(rets: list[float]) -> float:
    if len(rets) < 10:
        return -1.0
    sl = statistics.pstdev(rets[-49:])
    return statistics.pstdev(rets[-10:]) / sl if sl > 0 else -1.0


def _spread(q: Quote | None) -> float:
    if q is None:
        return -1.0
    return (q.ask - q.bid) / ((q.ask + q.bid) / 2) * 1e4


def reference(events: list[MarketEvent], c0: int, side: str,
              cfg: EdgeConfirmationConfig) -> tuple[str, int] | None:
    """(rule, event index) of a candidate stored after event ``c0``, from scratch; None when
    a decision sits within 1e-9 of a boundary (rounding could go either way)."""
    prices = [e.price for e in events[:c0 + 1] if isinstance(e, Trade)]
    rets = [math.log(b / a) for a, b in itertools.pairwise(prices)]
    quote = next((e for e in reversed(events[:c0 + 1]) if isinstance(e, Quote)), None)
    entry, spread0, ratio0 = prices[-1], _spread(quote), _ratio(rets)
    seq0 = len(prices)  # the candidate's sequence number
    expiry = events[c0].ts + int(cfg.timeout_s * 1000)
    for j in range(c0 + 1, len(events)):
        ev = events[j]
        if isinstance(ev, Trade):
            prices.append(ev.price)
            rets.append(math.log(prices[-1] / prices[-2]))
        else:
            quote = ev  # type: ignore[assignment]
        if ev.ts > expiry:
            return "expired", j
        since = prices[seq0:]  # the prices after the candidate's tick, sliced by sequence
        lo, hi = min([entry, *since]), max([entry, *since])
        adverse = (entry - lo) / entry if side == "buy" else (hi - entry) / entry
        if adverse > cfg.max_adverse:
            return "invalidated", j
        sp = _spread(quote)
        if spread0 > 0 and 0 <= sp <= cfg.spread_tighten * spread0:
            return "spread", j
        r = _ratio(rets)
        if any(0 < abs(r - x) < 1e-9 for x in (ratio0, cfg.vol_expansion_ratio)):
            return None  # equal windows give equal ratios; nearly equal ones are a coin toss
        if r >= cfg.vol_expansion_ratio and r > ratio0:
            return "volatility", j
        back = prices[-1] >= entry if side == "buy" else prices[-1] <= entry
        if cfg.pullback_min <= adverse <= cfg.pullback_max and back:
            return "pullback", j
    return "open", len(events)


def test_outcomes_equal_from_scratch(make_analyzer: Any, drive: Any,
                                     btc_ticks: list[MarketEvent]) -> None:
    events = btc_ticks[:40_000]
    cfg = EdgeConfirmationConfig()
    loop, ctx = make_analyzer("edge_confirmation")
    desk = loop.desk
    starts = {600 + 127 * k: ("buy" if k % 2 else "sell") for k in range(300)}
    live: dict[str, tuple[int, str]] = {}
    got: dict[int, tuple[str, int]] = {}
    for i, ev in enumerate(events):
        drive(ctx, [loop], [ev])
        for sid, (c0, side) in list(live.items()):
            st = desk.state(sid, BTC, side)
            if st == CONFIRMED:
                view = next(v for v in loop.candidates(BTC) if v.strategy_id == sid)
                got[c0] = (view.confirmed, i)
                del live[sid]
            elif st in (EXPIRED, INVALIDATED):
                got[c0] = (st.lower(), i)
                del live[sid]
        if i in starts:
            sid = f"s{i}"
            assert desk.propose(sid, BTC, starts[i]) == CANDIDATE
            view = next(v for v in loop.candidates(BTC) if v.strategy_id == sid)
            assert view.seq == loop.seq(BTC)
            live[sid] = (i, starts[i])
    for c0, _ in live.values():
        got[c0] = ("open", len(events))
    compared = 0
    rules: set[str] = set()
    for c0, side in starts.items():
        ref = reference(events, c0, side, cfg)
        if ref is None:
            continue
        assert got[c0] == ref, (c0, side)
        compared += 1
        rules.add(ref[0])
    assert compared >= 280
    assert {"volatility", "expired"} <= rules


def test_candles_need_a_timeout_of_bars(make_analyzer: Any) -> None:
    bars = list(sample_bars(2000))
    for timeout, confirms in ((5.0, False), (1800.0, True)):
        loop, ctx = make_analyzer("edge_confirmation", {"timeout_s": timeout})
        desk = loop.desk
        answers = []
        for i, b in enumerate(bars):
            ctx.now = b.ts
            ctx.market[BTC].last = b.close
            loop.on_bar(b)
            if i % 10 == 0 or desk.state("s", BTC, "buy") == CONFIRMED:
                answers.append(desk.propose("s", BTC, "buy"))
        assert (CONFIRMED in answers) == confirms
        assert answers.count(CANDIDATE) > 1


def test_deterministic(make_analyzer: Any, drive: Any, btc_ticks: list[MarketEvent]) -> None:
    runs = []
    for _ in range(2):
        loop, ctx = make_analyzer("edge_confirmation")
        out = []
        for i, ev in enumerate(btc_ticks[:15_000]):
            drive(ctx, [loop], [ev])
            if i % 50 == 0:
                out.append(loop.desk.propose("s", BTC, "buy" if i % 100 else "sell"))
        runs.append((out, loop.stats()))
    assert runs[0] == runs[1]


def test_config_bounds() -> None:
    with pytest.raises(ValidationError):
        EdgeConfirmationConfig(vol_short=20, vol_long=10)
    with pytest.raises(ValidationError):
        EdgeConfirmationConfig(pullback_min=0.01, pullback_max=0.001)
    with pytest.raises(ValidationError):
        EdgeConfirmationConfig(timeout_s=0)
