"""FundingHarvester's rules, one at a time, on real Binance data driven through a test context.

Invariants:

* the forecast follows the formulas in the docstring of :mod:`hean_funding_harvester.predict`
  (checked against a separate computation on the first real ADA settlements);
* the next settlement is on the UTC grid (00, 08, 16 h) whatever the host's time zone (a
  defect of the original: it converted it as local time);
* entries come from the timer, at times that are not funding stamps, only 0.5-4 h before a
  settlement (the fix: evaluate on a timer, not only on funding events);
* the carry rule: an entry is proposed exactly when the expected funding over the held
  settlements is at least ``carry_margin`` x the round-trip cost; over one settlement the real
  rates (about 1 bp) never pay a round trip;
* every entry's time stop reaches ``exit_margin_s`` past the ``settlements_to_hold``-th
  settlement (a defect of the original: its 900 s global stop closed it before funding);
* parameter updates are clamped into the declared bounds; unknown keys ignored.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hean_funding_harvester import FundingHarvester, next_settlement, predict

from hean_framework.models import Bar, Funding, MarketEvent, Signal
from hean_framework.testing import build_component, isolated_plugins, make_context, step_market

BTC = "BTC/USDT:USDT"
H = 3_600_000


def make(config: dict[str, Any] | None = None,
         symbols: Sequence[str] = (BTC,)) -> FundingHarvester:
    ctx = make_context(symbols=list(symbols), capital=10_000)
    strat = build_component(isolated_plugins("hean_funding_harvester.plugin"), "strategy",
                            "funding_harvester", ctx, config or {}, symbols=list(symbols))
    assert isinstance(strat, FundingHarvester)
    return strat


def drive(strat: FundingHarvester, events: Sequence[MarketEvent]) -> list[Signal]:
    """Timers first, then the event, as the engine orders them; what the timer proposed."""
    ctx = strat.ctx
    for ev in events:
        ctx.clock.run_due(ev.ts)
        step_market(ctx, ev)
        if isinstance(ev, Bar):
            strat.on_bar(ev)
        elif isinstance(ev, Funding):
            strat.on_funding(ev)
    proposed = ctx.orders.proposed  # type: ignore[attr-defined]
    return [p for p in proposed if isinstance(p, Signal)]


@pytest.fixture(scope="module")
def btc_events(shared_data: Path,
               read_events: Callable[[list[dict[str, str]]], list[MarketEvent]]
               ) -> list[MarketEvent]:
    """January 2025: real BTC perpetual 5m bars and funding settlements."""
    ev = read_events([
        {"kind": "bars", "symbol": BTC, "path": str(
            shared_data / "ohlcv/binance_usdm_perp_BTCUSDT_5m_20250101_20250331.csv.gz")},
        {"kind": "funding", "symbol": BTC, "path": str(
            shared_data / "funding/binance_usdm_perp_BTCUSDT_funding_8h_20250101_20250306.csv.gz")},
    ])
    end = 1_738_368_000_000  # 2025-02-01
    return [e for e in ev if e.ts < end]


def test_prediction_follows_the_spec_on_real_rates(btc_events: list[MarketEvent]) -> None:
    rates = [e.rate for e in btc_events if isinstance(e, Funding)][:40]
    for n in (1, 2, 3, 5, 6, 9, 40):
        r = rates[:n]
        p = predict(r)
        if n < 3:
            assert p.pred == r[-1] and p.conf == 0.5
            continue
        weights = [0.5 ** age for age in range(n)][::-1]
        ewma = sum(w * x for w, x in zip(weights, r)) / sum(weights)
        mom = (statistics.fmean(r[-3:]) - statistics.fmean(r[:3])) if n >= 6 else 0.0
        mom2 = (statistics.fmean(r[-3:]) - statistics.fmean(r[-6:-3])) if n >= 6 else 0.0
        persist = 0
        for x in r[-2::-1]:
            if x * r[-1] <= 0:
                break
            persist += 1
        pred = ewma + 0.3 * mom + 0.6 * mom2 + (0.2 * mom2 if persist >= 3 else 0.0)
        fvol = statistics.pstdev(r[-5:])
        conf = max(0.3, min(0.95, 0.6 - min(0.3, 0.3 * fvol / 0.001) + min(0.2, 0.05 * persist)))
        assert p.pred == pytest.approx(pred, rel=1e-12, abs=1e-15)
        assert p.pred0 == pytest.approx(ewma + 0.3 * mom, rel=1e-12, abs=1e-15)
        assert p.persist == persist and p.conf == pytest.approx(conf, rel=1e-12)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_bug_next_settlement_is_utc_whatever_the_local_zone(zone: str) -> None:
    old = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        start = datetime(2025, 1, 1, tzinfo=UTC)
        for minutes in range(0, 3 * 24 * 60, 37):
            now = start + timedelta(minutes=minutes, milliseconds=15)
            ms = int(now.timestamp() * 1000)
            nxt = datetime.fromtimestamp(next_settlement(ms, 8 * H) / 1000, UTC)
            assert nxt.hour in (0, 8, 16) and nxt.minute == 0 and nxt.second == 0
            assert timedelta(0) < nxt - now <= timedelta(hours=8)
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_entries_come_from_the_timer_inside_the_window(btc_events: list[MarketEvent]) -> None:
    strat = make({"settlements_to_hold": 21, "cooldown_s": 0})
    sigs = drive(strat, btc_events)
    assert len(sigs) >= 3, strat.stats()
    stamps = {e.ts for e in btc_events if isinstance(e, Funding)}
    for s in sigs:
        assert s.ts not in stamps
        assert s.ts % (300_000) == 0  # the evaluation grid, not a market event's time
        to_next = next_settlement(s.ts, 8 * H) - s.ts
        assert 0.5 * H <= to_next <= 4 * H
        assert s.side == ("sell" if s.metadata["rate"] > 0 else "buy")
    assert strat.stats()["outside_window"] > 0


def test_carry_rule_decides_every_entry(btc_events: list[MarketEvent]) -> None:
    one = make({"settlements_to_hold": 1})
    assert drive(one, btc_events) == []
    assert one.carry_checks and all(not ok for *_, ok in one.carry_checks)
    # about 1 bp of funding never covers a round trip (fees alone are 2 x 2 bps at maker)
    assert max(c[2] for c in one.carry_checks) < min(c[3] for c in one.carry_checks)
    many = make({"settlements_to_hold": 21, "carry_margin": 1.5})
    sigs = drive(many, btc_events)
    for _ts, _sym, expected, cost, ok in many.carry_checks:
        assert ok == (expected >= 1.5 * cost)
    entered = {s.ts for s in sigs}
    assert entered <= {c[0] for c in many.carry_checks if c[4]}
    for s in sigs:
        assert s.metadata["expected_funding_bps"] >= 1.5 * s.metadata["round_trip_cost_bps"]
        assert s.edge_bps == pytest.approx(s.metadata["expected_funding_bps"], abs=1e-3)


@pytest.mark.parametrize("k", [1, 3, 21])
def test_bug_time_stop_reaches_past_the_held_settlements(btc_events: list[MarketEvent],
                                                         k: int) -> None:
    strat = make({"settlements_to_hold": k, "carry_margin": 1.0, "exit_margin_s": 300,
                  "min_abs_rate": 0.0})
    # any entry will do for the hold arithmetic: the carry rule is checked elsewhere
    strat.config.carry_margin = 1.0
    strat._cost_bps = lambda *a: 0.0  # type: ignore[method-assign]
    sigs = drive(strat, btc_events[:3000])
    assert sigs
    for s in sigs:
        now = datetime.fromtimestamp(s.ts / 1000, UTC)
        nxt = now.replace(minute=0, second=0, microsecond=0)
        while nxt <= now or nxt.hour % 8:
            nxt += timedelta(hours=1)
        last = nxt + timedelta(hours=8 * (k - 1))
        assert s.max_hold_ms == int((last - now).total_seconds() * 1000) + 300_000
        assert s.max_hold_ms > 900_000 or k == 1  # the original's global stop was 900 s
        assert s.stop_loss is not None and s.take_profit is None


def test_params_are_clamped_into_their_bounds() -> None:
    strat = make()
    assert strat.on_params_updated({"carry_margin": 1000, "history": 1,
                                    "not_a_param": 3}) == ["carry_margin", "history"]
    assert strat.config.carry_margin == 20.0 and strat.config.history == 3
    assert strat.on_params_updated({"settlements_to_hold": 0.2}) == ["settlements_to_hold"]
    assert strat.config.settlements_to_hold == 1
    # a combination the model refuses changes nothing
    before = strat.config.model_dump()
    assert strat.on_params_updated({"min_hours_before": 5.0, "max_hours_before": 1.0}) == []
    assert strat.config.model_dump() == before
    assert strat.on_params_updated({"mode": "not_a_mode"}) == []
