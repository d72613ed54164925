"""A level's life, step by step, on the real BTC 1m candles around the first build
(2025-05-04 22:04 UTC, range 95,066 .. 95,700, 1,000 USDT: two levels a side of 0.002 BTC),
with the testing kit's context and fills handed to the strategy as the engine would.

Invariants:

* at the build the close (95,118.6) is under both buy levels: the quote holds only the sells;
  at 22:08 the close is above 95,154.0 and the buy level -2 joins the quote;
* a fill of that buy (entry complete) replaces it in the next quote by its take-profit, a sell
  of the filled size one level up (95,268.6); the position is bounded: no second buy at the
  level while it holds;
* a partial entry fill keeps the rest of the entry resting and takes profit on what filled;
* the take-profit's fill recycles the level: the buy at 95,154.0 rests again as soon as a
  close is above it (the next bar closes at 95,131.7, under it: it waits);
* a fill at a price that is no order of the grid changes nothing (counted);
* an unchanged grid is not quoted again;
* a budget too small for any level builds no grid; the levels are proposed once as signals
  of their share (tag ``GRID_LEVEL_BELOW_MINIMUM``) -- not again on the next evaluations.
"""

from __future__ import annotations

from typing import Any

import pytest
from grid_runs import BTC, Row
from hean_enhanced_grid import EnhancedGrid

from hean_framework.components import as_signals
from hean_framework.groups import OrderGroup
from hean_framework.models import Bar, Fill, Signal
from hean_framework.testing import build_component, isolated_plugins, make_context, step_market

BUILD_TS = 1_746_396_240_000  # 2025-05-04 22:04 UTC


def bars_to(rows: list[Row], ts: int) -> list[Bar]:
    return [Bar(r.ts, BTC, r.open, r.high, r.low, r.close, 0.0, 60_000) for r in rows
            if r.ts <= ts]


class Driver:
    """The strategy on a testing-kit context, fed bar by bar."""

    def __init__(self, rows: list[Row], budget: float = 1000.0,
                 config: dict[str, Any] | None = None) -> None:
        self.ctx = make_context(symbols=[BTC])
        self.ctx.orders.budget_value = budget  # type: ignore[attr-defined]
        pm = isolated_plugins("hean_enhanced_grid.plugin")
        strat = build_component(pm, "strategy", "enhanced_grid", self.ctx,
                                {"rebuild_wait_bars": 10, **(config or {})}, symbols=[BTC])
        assert isinstance(strat, EnhancedGrid)
        self.strat = strat
        self.rows = rows
        self.i = 0
        self.fill_id = 0

    def bar(self) -> list[Signal | OrderGroup]:
        r = self.rows[self.i]
        self.i += 1
        b = Bar(r.ts, BTC, r.open, r.high, r.low, r.close, 0.0, 60_000)
        step_market(self.ctx, b)
        return list(as_signals(self.strat.on_bar(b)))

    def run_to(self, ts: int) -> list[Signal | OrderGroup]:
        out: list[Signal | OrderGroup] = []
        while self.rows[self.i].ts <= ts:
            out = self.bar()
        return out

    def fill(self, side: str, price: float, qty: float) -> None:
        self.fill_id += 1
        f = Fill(self.fill_id, 0, "enhanced_grid", BTC, side, qty, price, 0.0, True,
                 self.ctx.now)
        self.ctx.portfolio.apply_fill(f)
        self.strat.on_fill(f)


def legs(out: list[Signal | OrderGroup]) -> set[tuple[str, float, float, str]]:
    (q,) = [x for x in out if isinstance(x, OrderGroup)]
    return {(s.side, s.limit_price or 0.0, s.size or 0.0, s.tag) for s in q.legs}


@pytest.fixture
def driver(btc_1m: list[Row]) -> Driver:
    return Driver(btc_1m)


def test_entry_take_profit_recycle(driver: Driver) -> None:
    assert legs(driver.run_to(BUILD_TS)) == {("sell", 95_497.5, 0.002, "GRID_ENTRY"),
                                             ("sell", 95_612.0, 0.002, "GRID_ENTRY")}
    quote = legs(driver.run_to(BUILD_TS + 4 * 60_000))
    assert ("buy", 95_154.0, 0.002, "GRID_ENTRY") in quote
    assert ("buy", 95_268.5, 0.002, "GRID_ENTRY") not in quote  # close 95,262.x: not passive
    driver.fill("buy", 95_154.0, 0.002)
    q = legs(driver.bar())
    assert ("sell", 95_268.6, 0.002, "GRID_TP") in q
    assert not [x for x in q if x[0] == "buy" and x[1] == 95_154.0]
    assert driver.strat.holdings(BTC) == {-2: 0.002}
    driver.fill("sell", 95_268.6, 0.002)
    assert driver.strat.stats()["recycled"] == 1 and driver.strat.holdings(BTC) == {}
    q = legs(driver.bar())  # close 95,131.7: the recycled buy is not passive yet
    assert not [x for x in q if x[3] == "GRID_TP" or x[1] == 95_154.0]
    for _ in range(60):  # it rests again once a close is above it
        out = driver.bar()
        if driver.ctx.market[BTC].last > 95_154.0:
            assert ("buy", 95_154.0, 0.002, "GRID_ENTRY") in legs(out)
            break
    else:
        pytest.fail("no close above the level")
    assert driver.ctx.portfolio.position_qty("enhanced_grid", BTC) == pytest.approx(0.0)


def test_partial_entry_fill(driver: Driver) -> None:
    driver.run_to(BUILD_TS + 4 * 60_000)
    driver.fill("buy", 95_154.0, 0.001)
    q = legs(driver.bar())
    assert {("buy", 95_154.0, 0.001, "GRID_ENTRY"), ("sell", 95_268.6, 0.001, "GRID_TP")} <= q
    driver.fill("buy", 95_154.0, 0.001)
    q = legs(driver.bar())
    assert ("sell", 95_268.6, 0.002, "GRID_TP") in q
    assert not [x for x in q if x[0] == "buy" and x[1] == 95_154.0]


def test_unknown_fill_and_unchanged_grid(driver: Driver) -> None:
    driver.run_to(BUILD_TS + 4 * 60_000)
    driver.fill("buy", 95_000.0, 0.002)
    assert driver.strat.stats()["fills_unattributed"] == 1
    assert driver.strat.holdings(BTC) == {}
    # a quote is proposed only when the wanted orders change
    prev = set(driver.strat.quote(BTC))
    silent = 0
    for _ in range(20):
        out = driver.bar()
        now = set(driver.strat.quote(BTC))
        if [x for x in out if isinstance(x, OrderGroup)]:
            assert now != prev
        else:
            silent += 1
            assert now == prev
        prev = now
    assert silent >= 10


def test_no_level_fits_says_so_once(btc_1m: list[Row]) -> None:
    d = Driver(btc_1m, budget=150.0, config={"retry_bars": 1})
    out = d.run_to(BUILD_TS)
    assert not [x for x in out if isinstance(x, OrderGroup)]
    probes = [x for x in out if isinstance(x, Signal)]
    assert sorted((p.side, p.limit_price) for p in probes) == [
        ("buy", 95_154.0), ("buy", 95_268.5), ("sell", 95_497.5), ("sell", 95_612.0)]
    for p in probes:
        assert p.tag == "GRID_LEVEL_BELOW_MINIMUM" and p.order_type == "limit"
        assert p.size is not None and p.size == pytest.approx(75.0 / 2 / 95_383.0)
        assert p.size < 0.001
        assert p.metadata["min_qty"] == 0.001
    assert d.strat.grid(BTC) is None and d.strat.stats()["no_level_fits"] == 1
    for _ in range(4):
        assert not d.bar()
    assert d.strat.stats()["no_level_fits"] >= 2 and d.strat.stats()["probes"] == 4
