"""impulse_engine with the market analyzers' facts (skipped without ``hean-market-analyzers``).

Invariants:

* OFI: while the OFI is unknown (``OFI_SOURCE`` empty, ``OFI`` 0.0 -- no book) the OFI gate is
  skipped, so the signals equal those of a run without the analyzers (the fixed defect: the
  original read "no book" as zero pressure and blocked every signal); a known OFI of 0 rejects
  every would-be signal (``OFI_PRESSURE``); a known positive OFI lets buys through and rejects
  sells; with no aggression floor the three-step extrapolation against the side rejects
  (``OFI_PREDICTION``);
* a spike block rejects every tick (``ANOMALY_BLOCK``); the anomaly size multiplier joins the
  size chain only below 1;
* the execution edge is asked about the *mode's* target: a threshold between the standard and
  the breakout target distances lets only breakouts through (``EDGE_TOO_LOW``);
* the multi-factor confirmation rejects (``MULTI_FACTOR``) or gives its score as the signal's
  confidence and ``edge_bps`` = score x target distance;
* two-step entries: with a desk published, a qualifying tick only stores a candidate
  (``EDGE_CANDIDATE``); the candidate is emitted -- at the confirming tick's price, its stops
  recomputed -- on the tick the desk confirms it; an expired or invalidated one is counted and
  dropped; a confirmed one meeting a position is dropped (``CANDIDATE_DROPPED``);
* on 6 minutes of real BTC/ETH trades and best bid/offer with all six analyzers, every signal
  comes out of a confirmed candidate and the run is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("hean_market_analyzers", reason="hean-market-analyzers is not installed "
                    "(pip install -e 'plugins/hean-impulse-engine[analyzers]')")

from hean_market_analyzers.facts import (
    ANOMALY_BLOCKED_UNTIL,
    ANOMALY_SIZE_MULTIPLIER,
    CANDIDATE,
    CONFIRMATION,
    CONFIRMED,
    EDGE_CONFIRMATION,
    EXECUTION_EDGE,
    EXPIRED,
    INVALIDATED,
    OFI,
    OFI_SOURCE,
    PENDING,
    Confirmation,
    EdgeConfirmationDesk,
    EdgeEstimate,
)
from hean_market_analyzers.plugin import ANALYZERS

from hean_framework.context import RunContext
from hean_framework.models import Bar, Fill, MarketEvent
from hean_framework.testing import build_component, isolated_plugins

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
FREE = {"use_hours": False}


@pytest.fixture(scope="module")
def bars(btc_bars: list[Bar]) -> list[Bar]:
    return btc_bars[:3000]


@pytest.fixture(scope="module")
def free(bars: list[Bar], replay: Callable[..., Any]) -> Any:
    return replay(bars, FREE)


def facts(**values: Any) -> Callable[[int, MarketEvent, RunContext], None]:
    keys = {"ofi": OFI, "ofi_source": OFI_SOURCE, "blocked": ANOMALY_BLOCKED_UNTIL,
            "anomaly_mult": ANOMALY_SIZE_MULTIPLIER, "edge": EXECUTION_EDGE,
            "conf": CONFIRMATION}

    def before(i: int, ev: MarketEvent, ctx: RunContext) -> None:
        for k, v in values.items():
            ctx.facts.set(keys[k], v(ev) if callable(v) else v, ev.symbol)
    return before


def sides(run: Any) -> list[tuple[int, str]]:
    return [(i, s.side) for i, _, s in run.signals]


def test_bug_unknown_ofi_is_skipped_not_zero_pressure(bars: list[Bar], free: Any,
                                                      replay: Callable[..., Any]) -> None:
    unknown = replay(bars, FREE, before=facts(ofi=0.0, ofi_source=""))
    assert sides(unknown) == sides(free) and len(free.signals) > 100
    zero = replay(bars, FREE, before=facts(ofi=0.0, ofi_source="book"))
    assert zero.signals == []
    assert zero.strategy.stats()["rejected"]["OFI_PRESSURE"] == len(free.signals)
    bid_heavy = replay(bars, FREE, before=facts(ofi=0.5, ofi_source="quote"))
    assert sides(bid_heavy) == [(i, s) for i, s in sides(free) if s == "buy"]
    loose = replay(bars, {**FREE, "ofi_min_aggression": 0.0},
                   before=facts(ofi=-0.9, ofi_source="book"))
    assert sides(loose) == [(i, s) for i, s in sides(free) if s == "sell"]
    assert loose.strategy.stats()["rejected"]["OFI_PREDICTION"] == \
        sum(1 for _, s in sides(free) if s == "buy")


def test_anomaly_block_and_size_multiplier(bars: list[Bar], free: Any,
                                           replay: Callable[..., Any]) -> None:
    blocked = replay(bars, FREE, before=facts(blocked=lambda ev: ev.ts + 1))
    assert blocked.signals == []
    assert blocked.strategy.stats()["rejected"] == {"ANOMALY_BLOCK": len(bars)}
    expired = replay(bars, FREE, before=facts(blocked=lambda ev: ev.ts))
    assert sides(expired) == sides(free)
    half = replay(bars, FREE, before=facts(anomaly_mult=0.5))
    for (_, _, a), (_, _, b) in zip(half.signals, free.signals):
        assert a.metadata["size_chain"]["anomaly"] == 0.5
        assert a.size_multiplier == pytest.approx(min(b.size_multiplier * 0.5, 2.5)) or \
            "cap" in b.metadata["size_chain"]


def test_execution_edge_is_asked_about_the_modes_target(bars: list[Bar], free: Any,
                                                        replay: Callable[..., Any]) -> None:
    est = EdgeEstimate(known=True, spread_bps=0.0, fill_prob=1.0, threshold_bps=200.0)
    run = replay(bars, FREE, before=facts(edge=est))
    assert run.signals
    assert all(s.metadata["mode"] == "breakout" for _, _, s in run.signals)   # 250 bps target
    want = [(i, s.side) for i, _, s in free.signals if s.metadata["mode"] == "breakout"]
    assert sides(run) == want
    assert run.strategy.stats()["rejected"]["EDGE_TOO_LOW"] == len(free.signals) - len(want)


def test_multi_factor_confirmation(bars: list[Bar], free: Any,
                                   replay: Callable[..., Any]) -> None:
    weak = Confirmation(known=True, momentum_buy=0.2, momentum_sell=0.2, volume=0.2,
                        ofi_buy=0.2, ofi_sell=0.2, regime="RANGE", volatility=0.5, time=0.6)
    run = replay(bars, FREE, before=facts(conf=weak))
    assert run.signals == []
    assert run.strategy.stats()["rejected"]["MULTI_FACTOR"] == len(free.signals)
    strong = Confirmation(known=True, momentum_buy=1.0, momentum_sell=0.3, volume=0.8,
                          ofi_buy=0.9, ofi_sell=0.4, regime="IMPULSE", volatility=0.9,
                          time=0.9)
    run = replay(bars, FREE, before=facts(conf=strong))
    assert run.signals
    for _, _, s in run.signals:
        score = strong.score(s.side, "momentum")
        assert strong.confirmed(s.side, "momentum")
        assert s.confidence == pytest.approx(score)
        tp = 0.025 if s.metadata["is_breakout"] else 0.015
        assert s.edge_bps == pytest.approx(score * tp * 1e4)


class ScriptedDesk(EdgeConfirmationDesk):
    """A desk that confirms a candidate ``after`` proposals-or-ticks later, or ends it."""

    def __init__(self, end: str, after: int) -> None:
        self.end, self.after = end, after
        self.live: dict[tuple[str, str, str], int] = {}
        self.calls: list[tuple[str, str]] = []

    def propose(self, strategy_id: str, symbol: str, side: str) -> str:
        key = (strategy_id, symbol, side)
        self.calls.append(("propose", side))
        if key not in self.live:
            self.live[key] = 0
            return CANDIDATE
        if self.live[key] >= self.after and self.end == CONFIRMED:
            del self.live[key]
            return CONFIRMED
        return PENDING

    def state(self, strategy_id: str, symbol: str, side: str) -> str:
        key = (strategy_id, symbol, side)
        if key not in self.live:
            return ""
        self.live[key] += 1
        if self.live[key] >= self.after:
            if self.end != CONFIRMED:
                del self.live[key]
            return self.end
        return PENDING

    def cancel(self, strategy_id: str, symbol: str, side: str) -> bool:
        return self.live.pop((strategy_id, symbol, side), None) is not None


def desk_run(bars: list[Bar], replay: Callable[..., Any], desk: EdgeConfirmationDesk,
             config: dict[str, Any] | None = None, **kw: Any) -> Any:
    def before(i: int, ev: MarketEvent, ctx: RunContext) -> None:
        ctx.facts.set(EDGE_CONFIRMATION, desk)
    return replay(bars, {**FREE, **(config or {})}, before=before, **kw)


def test_two_step_entry_emits_the_candidate_on_confirmation(bars: list[Bar], free: Any,
                                                           replay: Callable[..., Any]) -> None:
    desk = ScriptedDesk(CONFIRMED, after=2)
    run = desk_run(bars, replay, desk)
    st = run.strategy.stats()
    assert run.signals and st["rejected"]["EDGE_CANDIDATE"] > 0
    first_candidate = next(i for i, _, s in free.signals)
    first = run.signals[0]
    # stored at the first qualifying bar, confirmed two bars later, emitted at that bar's price
    assert first[0] == first_candidate + 2
    assert first[2].entry_price == bars[first[0]].close
    sign = 1.0 if first[2].side == "buy" else -1.0
    sl = 0.002 if first[2].metadata["is_breakout"] else 0.003
    assert first[2].stop_loss == pytest.approx(bars[first[0]].close * (1 - sign * sl))
    assert st["candidates_confirmed"] >= 1
    assert ("propose", first[2].side) in desk.calls
    one_step = desk_run(bars, replay, desk, {"edge_confirmation": False})
    assert sides(one_step) == sides(free)


@pytest.mark.parametrize(("end", "code"), [(EXPIRED, "EDGE_EXPIRED"),
                                           (INVALIDATED, "EDGE_INVALIDATED")])
def test_dropped_candidates_are_counted(end: str, code: str, bars: list[Bar],
                                        replay: Callable[..., Any]) -> None:
    run = desk_run(bars, replay, ScriptedDesk(end, after=3))
    st = run.strategy.stats()["rejected"]
    assert run.signals == []
    assert st[code] > 0 and st["EDGE_CANDIDATE"] >= st[code]


def test_confirmed_candidate_meeting_a_position_is_dropped(bars: list[Bar], make: Any,
                                                           replay: Callable[..., Any]) -> None:
    strat, _ctx = make(FREE)
    desk = ScriptedDesk(CONFIRMED, after=2)

    def before(i: int, ev: MarketEvent, c: RunContext) -> None:
        c.facts.set(EDGE_CONFIRMATION, desk)
        s = strat._syms.get(BTC)
        if s is not None and s.candidate is not None and \
                c.portfolio.position_qty(strat.name, BTC) == 0.0:
            c.portfolio.apply_fill(Fill(c.next_id(), 1, strat.name, BTC, "buy", 0.001,
                                        ev.price, 0.0, False, ev.ts))
    run = replay(bars, strategy=strat, before=before)
    assert run.signals == []
    assert strat.stats()["rejected"]["CANDIDATE_DROPPED"] == 1


def test_real_ticks_with_all_six_analyzers(tick_events: list[MarketEvent],
                                           replay: Callable[..., Any]) -> None:
    config = {"use_hours": False, "base_threshold": 0.0002, "cooldown_s": 10,
              "sl_pct": 0.001, "tp_pct": 0.004, "tp1_pct": 0.002,
              "breakout_sl_pct": 0.001, "breakout_tp_pct": 0.005, "breakout_tp1_pct": 0.003}

    def run() -> Any:
        pm = isolated_plugins("hean_market_analyzers.plugin", "hean_impulse_engine.plugin")
        from hean_framework.testing import make_context
        ctx = make_context(symbols=[BTC, ETH])
        cfgs: dict[str, dict[str, Any]] = {n: {} for n in ANALYZERS}
        cfgs["edge_confirmation"] = {"timeout_s": 5}
        analyzers = [build_component(pm, "analyzer", n, ctx, cfgs[n], symbols=[BTC, ETH])
                     for n in ANALYZERS]
        return replay(tick_events, config, ctx=ctx, symbols=[BTC, ETH], analyzers=analyzers)

    a = run()
    st = a.strategy.stats()
    rej = st["rejected"]
    assert a.signals, st
    assert rej["EDGE_CANDIDATE"] > 0 and st["candidates_confirmed"] > 0
    assert rej["REGIME"] > 0            # the real regime detector's labels are read
    # every emitted signal came out of a confirmed candidate (no one-step entry with a desk)
    assert len(a.signals) == st["candidates_confirmed"] and "one_step" not in st
    assert {s.symbol for _, _, s in a.signals} <= {BTC, ETH}
    b = run()
    assert [s for _, _, s in a.signals] == [s for _, _, s in b.signals]
    assert a.strategy.stats() == b.strategy.stats()
