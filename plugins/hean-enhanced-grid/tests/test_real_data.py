"""enhanced_grid in real engine runs on the Binance USDT-M BTC perpetual 1m candles of
2025-05-04 .. 05-08 (the shared data set), 1,000 USDT, the plugin's ``grid_btc_1m.yaml``.

Invariants, each checked against a computation made here from the CSV file alone (``csv`` +
``gzip``, not the plugin):

* **when**: the grid is built exactly at the bars where, with no grid live, no wait pending
  and a full 100-bar window, ``(high - low) / mid`` is within [0.5 %, 3 %]; it is broken
  exactly at the first later close more than a spacing beyond its outermost placed level
  (the grid's stop, inside ``[low - spacing, high + spacing]``); then 10 bars pass before
  the next build;
* **what**: each build's centre, spacing, levels in range, levels placed and level size are
  the README's formulas ("Rules", 2) on that window and the account (500 USDT a side; BTC's
  minimum 0.001 BTC); the build's quote rests exactly the levels on the passive side of the close;
* **pinned**: the first build is at 2025-05-04 22:04 UTC on the range 95,066 .. 95,700:
  centre 95,383, spacing 114.46 (0.12 %), two levels a side in the range; the close 95,118.6
  is under both buy levels, so the quote is the two sells 95,497.5 and 95,612.0 of 0.002 BTC;
* **breakout**: each breakout cancels the grid (no grid order submitted before it is still
  open after it) and flattens the inventory by a reduce-only exit (tag ``GRID_BREAKOUT``);
* **recycled**: a filled buy level's take-profit sells one level up; after it fills, the
  buy level rests again at the same price, within the same grid;
* **small account**: the levels whose equal share is under the exchange minimum are not
  placed and each has its decision: ``BLOCK POSITION_SIZER_ZERO`` at that level's price with
  the numbers (wanted size, minimum 0.001 BTC), counted by ``hean why``;
* **no orphan**: at the end of a run whose grid is live, the venue's open orders of the
  strategy are exactly its current quote.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from grid_runs import BTC, Row, Run, btc_raw, run_engine

from hean_framework.why import load_why

END_MS = int(datetime(2025, 5, 8, tzinfo=UTC).timestamp() * 1000)
N, LO, HI, LEVELS, SPACING, WAIT = 100, 0.005, 0.03, 10, 0.0012, 10
CAPITAL_SIDE = 500.0  # 0.5 x the 1,000 USDT budget, one symbol
LOT = MIN_QTY = 0.001


def oracle(rows: list[Row], end_ms: int, budget: dict[int, float]
           ) -> list[tuple[int, str, float, float]]:
    """``(ts, "build" | "breakout", high, low)`` of the grid, from the rules alone
    (``budget``: the strategy's budget per bar time, as the kernel's sizer recorded it)."""
    out: list[tuple[int, str, float, float]] = []
    grid: tuple[float, float, float, float] | None = None
    wait = 0
    for i, r in enumerate(rows):
        if r.ts >= end_ms:
            break
        if grid is not None:
            hi, lo, stop_lo, stop_hi = grid
            if r.close < stop_lo or r.close > stop_hi:
                out.append((r.ts, "breakout", hi, lo))
                grid, wait = None, WAIT
            continue
        if wait:
            wait -= 1
            continue
        if i < N - 1:
            continue
        w = rows[i - N + 1:i + 1]
        hi, lo = max(x.high for x in w), min(x.low for x in w)
        mid = (hi + lo) / 2
        if LO <= (hi - lo) / mid <= HI:
            out.append((r.ts, "build", hi, lo))
            e = expected_plan(hi, lo, 0.5 * budget[r.ts])
            reach = (e["n_placed"] + 1) * e["spacing"]  # the stop: a spacing past the last level
            grid = (hi, lo, mid - reach, mid + reach)
    return out


def expected_plan(hi: float, lo: float, capital: float = CAPITAL_SIDE) -> dict[str, Any]:
    """Centre, spacing, levels and size by the README's formulas (BTC: lot = min = 0.001)
    for ``capital`` a side."""
    c = (hi + lo) / 2
    s = max(SPACING * c, (hi - lo) / (2 * LEVELS))
    n_range = min(LEVELS, math.floor((hi - c) / s + 1e-9))
    want = capital / n_range / c
    q = math.floor(want / LOT + 1e-9) * LOT
    if q + 1e-12 >= MIN_QTY:
        n_placed = n_range
    else:
        n_placed, q = min(n_range, math.floor(capital / (MIN_QTY * c))), MIN_QTY
    return {"centre": c, "spacing": s, "n_range": n_range, "n_placed": n_placed,
            "qty": round(q, 9), "want": want}


def level(c: float, s: float, k: int, side: str = "") -> float:
    """Level ``k`` on the 0.1 tick: a buy rounded down, a sell up (``side`` defaults to the
    level's own side: buy below the centre)."""
    n = (c + k * s) / 0.1
    buy = (side or ("buy" if k < 0 else "sell")) == "buy"
    return round((math.floor(n + 1e-9) if buy else math.ceil(n - 1e-9)) * 0.1, 1)


def budgets(run: Run) -> dict[int, float]:
    """The strategy's budget per bar time, as the sizer recorded it on the decisions."""
    return {d["ts"]: d["budget"] for d in run.decisions if d["budget"]}


@pytest.fixture(scope="module")
def run(btc_run: Run) -> Run:
    return btc_run


def quotes_by_ts(run: Run) -> dict[int, list[list[dict[str, Any]]]]:
    """The grid's quote decisions, grouped by group, per bar time."""
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for d in run.decisions:
        gid = d["details"].get("group_id")
        if gid is not None:
            groups[gid].append(d)
    out: dict[int, list[list[dict[str, Any]]]] = defaultdict(list)
    for legs in groups.values():
        out[legs[0]["ts"]].append(legs)
    return out


def test_builds_and_breakouts_happen_exactly_where_the_rules_say(run: Run,
                                                                  btc_1m: list[Row]) -> None:
    want = oracle(btc_1m, END_MS, budgets(run))
    got = [(ts, what, p.high, p.low) for ts, what, p in run.strategy.history]
    assert got == want
    assert sum(1 for x in want if x[1] == "build") == run.strategy.stats()["builds"] >= 10
    assert sum(1 for x in want if x[1] == "breakout") >= 10


def test_each_build_places_the_spec_ladder(run: Run, btc_1m: list[Row]) -> None:
    by_ts = {r.ts: r for r in btc_1m}
    quotes = quotes_by_ts(run)
    budget = budgets(run)
    builds = [(ts, p) for ts, what, p in run.strategy.history if what == "build"]
    for ts, plan in builds:
        e = expected_plan(plan.high, plan.low, 0.5 * budget[ts])
        assert plan.centre == pytest.approx(e["centre"], abs=1e-9)
        assert plan.spacing == pytest.approx(e["spacing"], abs=1e-9)
        assert (plan.n_range, plan.n_placed) == (e["n_range"], e["n_placed"])
        assert plan.qty == pytest.approx(e["qty"], abs=1e-12)
        close = by_ts[ts].close
        ladder = set()
        for k in range(1, e["n_placed"] + 1):
            buy, sell = level(e["centre"], e["spacing"], -k), level(e["centre"], e["spacing"], k)
            if buy < close:
                ladder.add(("buy", buy, e["qty"]))
            if sell > close:
                ladder.add(("sell", sell, e["qty"]))
        (legs,) = quotes[ts]
        assert {(d["side"], d["price"], d["qty"]) for d in legs} == ladder
        assert all(d["decision"] == "CREATE" for d in legs)


def test_pinned_first_build(run: Run, btc_1m: list[Row]) -> None:
    ts, what, plan = run.strategy.history[0]
    assert (ts, what) == (1_746_396_240_000, "build")  # 2025-05-04 22:04 UTC
    assert (plan.high, plan.low, plan.centre) == (95_700.0, 95_066.0, 95_383.0)
    assert plan.spacing == pytest.approx(95_383.0 * 0.0012)
    assert (plan.n_range, plan.n_placed, plan.qty) == (2, 2, 0.002)
    assert next(r.close for r in btc_1m if r.ts == ts) == 95_118.6
    (legs,) = quotes_by_ts(run)[ts]
    assert sorted((d["side"], d["price"], d["qty"]) for d in legs) == \
        [("sell", 95_497.5, 0.002), ("sell", 95_612.0, 0.002)]
    # the buy levels 95,268.5 and 95,154.0 join once a close is above them
    later = [d for q in quotes_by_ts(run)[1_746_396_480_000] for d in q]
    assert ("buy", 95_154.0) in {(d["side"], d["price"]) for d in later}


def test_breakout_cancels_the_grid_and_flattens(run: Run) -> None:
    breakouts = [ts for ts, what, _ in run.strategy.history if what == "breakout"]
    exits = {o["ts"]: o for o in run.orders if o["tag"] == "GRID_BREAKOUT"}
    assert exits, "no breakout held inventory"
    for ts in breakouts:
        still_open = [o for o in run.orders if o["tag"].startswith("GRID_") and o["tag"] !=
                      "GRID_BREAKOUT" and o["ts"] <= ts and o["done_ts"] > ts]
        assert not still_open, (ts, still_open[:2])
    for ts, o in exits.items():
        assert ts in breakouts and o["reduce_only"] and o["order_type"] == "market"
        assert o["status"] == "filled"
    # flat after every flattening exit: the fills of the grid net to zero at each exit
    pos = 0.0
    exit_ids = {o["order_id"] for o in exits.values()}
    for f in sorted(run.fills, key=lambda f: f["fill_id"]):
        pos += f["qty"] if f["side"] == "buy" else -f["qty"]
        if f["order_id"] in exit_ids:
            assert abs(pos) < 1e-9, f
    assert run.strategy.stats()["flattens"] == len(exits)


def test_a_filled_level_is_recycled(run: Run) -> None:
    fills = {f["order_id"]: f for f in run.fills}
    entries = [o for o in run.orders if o["tag"] == "GRID_ENTRY"]
    tps = [o for o in run.orders if o["tag"] == "GRID_TP" and o["order_id"] in fills]
    grids = [(ts, p) for ts, what, p in run.strategy.history if what == "build"]
    cycles = 0
    for e in entries:
        if e["order_id"] not in fills or e["side"] != "buy":
            continue
        t_fill = fills[e["order_id"]]["ts"]
        _, plan = max((g for g in grids if g[0] <= e["ts"]), key=lambda g: g[0])
        k = next(k for k in plan.levels if plan.entry_price(k) == e["price"])
        tp_px = plan.tp_price(k)
        assert tp_px == level(plan.centre, plan.spacing, k + 1, "sell")
        tp = next((o for o in tps if o["side"] == "sell" and o["price"] == tp_px
                   and fills[o["order_id"]]["ts"] >= t_fill), None)
        if tp is None:
            continue
        t_tp = fills[tp["order_id"]]["ts"]
        again = [o for o in entries if o["side"] == "buy" and o["price"] == e["price"]
                 and o["ts"] >= t_tp]
        nxt = [g for g in grids if e["ts"] < g[0] <= t_tp]
        if again and not nxt:
            cycles += 1
    assert cycles >= 10
    assert run.strategy.stats()["recycled"] >= cycles


def test_levels_under_the_exchange_minimum_say_so(run: Run) -> None:
    builds = [(ts, p) for ts, what, p in run.strategy.history if what == "build"]
    with_skips = [(ts, p) for ts, p in builds if p.skipped]
    assert with_skips, "no build had levels under the minimum"
    blocks = [d for d in run.decisions if d["reason_codes"] == ["POSITION_SIZER_ZERO"]]
    assert len(blocks) == sum(len(p.skipped) for _, p in with_skips) == \
        run.strategy.stats()["levels_below_minimum"]
    by_ts: dict[int, set[tuple[str, float]]] = defaultdict(set)
    budget = budgets(run)
    for d in blocks:
        assert d["decision"] == "BLOCK" and d["stage"] == "sizer:exchange"
        assert d["details"]["min_qty"] == MIN_QTY
        assert 0 < d["qty_raw"] < MIN_QTY and d["qty"] == 0.0
        assert "0.001 BTC" in d["details"]["exchange_minimum"]
        by_ts[d["ts"]].add((d["side"], d["price"]))
    for ts, plan in with_skips:
        capital = 0.5 * budget[ts]
        e = expected_plan(plan.high, plan.low, capital)
        assert e["want"] < MIN_QTY and plan.qty == MIN_QTY
        assert plan.n_placed == math.floor(capital / (MIN_QTY * plan.centre)) < e["n_range"]
        skipped = {(("buy" if k < 0 else "sell"), level(plan.centre, plan.spacing, k))
                   for k in range(-e["n_range"], e["n_range"] + 1)
                   if abs(k) > plan.n_placed}
        assert by_ts[ts] == skipped
        for s in plan.skipped:
            assert s.qty_wanted == pytest.approx(e["want"])


def test_hean_why_counts_the_levels_not_placed(run: Run) -> None:
    out = run.engine.out_dir
    why = load_why(out)
    reasons = {r["reason"]: r["count"] for r in why["small_capital_mode"]["top_block_reasons"]}
    assert reasons["POSITION_SIZER_ZERO"] == run.strategy.stats()["levels_below_minimum"]


def test_no_orphan_orders_at_the_end(tmp_path: Path, shared_data: Path) -> None:
    r = run_engine(tmp_path, btc_raw("2025-05-05T06:00"))
    plan = r.strategy.grid(BTC)
    assert plan is not None, "the cut should end with a live grid"
    quote = sorted((side, px, qty) for side, px, qty, _, _ in r.strategy.quote(BTC))
    assert quote and r.open_orders() == quote
    held = r.strategy.holdings(BTC)
    pos = r.engine.ctx.portfolio.position_qty("enhanced_grid", BTC)
    assert pos == pytest.approx(sum(q if k < 0 else -q for k, q in held.items()), abs=1e-12)
