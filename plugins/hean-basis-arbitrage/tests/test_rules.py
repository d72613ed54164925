"""BasisArbitrage's rules on real Binance spot + USDⓈ-M perpetual 5m candles and funding.

Invariants (README "Rules"):

* a pinned situation: with a cost model computed by hand (12 bp for both legs' round trip),
  the first entry over January 2025 BTC is at the first bar where the rule -- basis from both
  candles' closes, mean of the previous 288, EWMA funding of the settlements so far -- says so,
  computed here from the files; the group is long spot + short perp of the same quantity;
* the original's defects are gone: the two legs are two instruments (spot and perpetual) of one
  base; the close rule sends one exit group that flattens both legs; the basis is never made of
  prices of different times; the legs carry no per-leg stop/target and still pass the risk
  layer (style ``carry``);
* the reverse trade (short spot) only with ``allow_reverse``; without margin mode the venue
  refuses the spot short and nothing is left open;
* the premium variant trades the perpetual alone on the premium's z;
* parameter updates are clamped into the declared bounds.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from hean_framework.groups import OrderGroup
from hean_framework.models import Bar
from hean_framework.testing import build_component, isolated_plugins, make_context

sys.path.insert(0, str(Path(__file__).parent))
from basis_kit import FLAT_COST, FUNDING, PERP, SPOT, read_rows

BTC_S, BTC_P = "BTC/USDT", "BTC/USDT:USDT"
PINNED = {"cost": FLAT_COST, "entry_annual": 0.3, "notional_usdt": 1000.0}


def expected_first_entry(data: Path, annual: float, window: int = 288, hold_h: float = 24.0,
                         halflife: int = 3, cost_bps: float = 12.0) -> tuple[int, float]:
    """(bar time, spot close) of the first long-spot entry by the README's rule."""
    spot = {int(r["timestamp"]) + 300_000: float(r["close"])
            for r in read_rows(data / SPOT.format(b="BTC"))}
    perp = [(int(r["timestamp"]) + 300_000, float(r["close"]))
            for r in read_rows(data / PERP.format(b="BTC"))]
    stamps = sorted((int(r["timestamp"]), float(r["funding_rate"]))
                    for r in read_rows(data / FUNDING["BTC"][0]))
    a = 1.0 - 0.5 ** (1.0 / halflife)
    hist: deque[float] = deque(maxlen=window)
    ewma: float | None = None
    k = 0
    for ts, p in perp:
        while k < len(stamps) and stamps[k][0] <= ts:  # settled before this bar is seen
            rate = stamps[k][1]
            ewma = rate if ewma is None else ewma + a * (rate - ewma)
            k += 1
        s = spot[ts]
        b = (p - s) / s
        if len(hist) == window:
            m = sum(hist) / window
            net = (b - m) * 1e4 + (ewma or 0.0) * 1e4 * hold_h / 8 - cost_bps
            if net > 0 and net * 1e-4 * 8760 / hold_h >= annual:
                return ts, s
        hist.append(b)
    raise AssertionError("no entry in the data")


def test_pinned_situation_gives_the_expected_group(run_basis: Any, shared_data: Path) -> None:
    r = run_basis(PINNED)
    ts, s = expected_first_entry(shared_data, PINNED["entry_annual"])
    first = r.kind("group_decision")[0]
    assert first["ts"] == ts and first["kind"] == "all_or_none"
    assert first["decision"] == "CREATE"
    qty = math.floor(1000.0 / s / 0.001 + 1e-9) * 0.001  # the perp's lot (coarser than spot)
    legs = [(leg["side"], leg["symbol"]) for leg in first["legs"]]
    assert legs == [("buy", BTC_S), ("sell", BTC_P)]
    assert all(math.isclose(leg["qty"], qty, rel_tol=1e-9) for leg in first["legs"])
    e = r.strategy.entries[0]
    assert math.isclose(e["cost_bps"], 12.0, rel_tol=1e-9)


def test_bug_legs_are_two_instruments_of_one_base(run_basis: Any) -> None:
    r = run_basis(PINNED)
    inst = r.eng.ctx.instruments
    for g in r.kind("group_decision"):
        if g["kind"] != "all_or_none":
            continue
        a, b = (inst.get(leg["symbol"]) for leg in g["legs"])
        assert {a.type, b.type} == {"spot", "swap"} and a.base == b.base
        assert a.symbol != b.symbol and g["legs"][0]["side"] != g["legs"][1]["side"]


def test_bug_the_close_rule_sends_one_exit_group_that_flattens_both(run_basis: Any) -> None:
    r = run_basis(PINNED)
    groups = r.kind("group_decision")
    entries = [g for g in groups if g["kind"] == "all_or_none" and g["decision"] == "CREATE"]
    exits = [g for g in groups if g["kind"] == "exit"]
    assert len(entries) >= 2 and len(exits) >= len(entries) - 1
    for x in exits:
        assert x["decision"] == "CREATE" and x["reason"] in ("CONVERGED", "MAX_HOLD")
        assert x["closes"] in {g["group_id"] for g in entries}
        assert {leg["symbol"] for leg in x["legs"]} == {BTC_S, BTC_P}
    pf = r.eng.ctx.portfolio
    held = [pf.position_qty("basis_arbitrage", s) for s in (BTC_S, BTC_P)]
    assert held[0] == -held[1]  # flat, or exactly one hedged pair still open at the end
    closed = [g for g in r.result.sections["group_pnl"] if not g["open"]]
    assert len(closed) >= len(entries) - 1


def _ctx_strategy(config: dict[str, Any] | None = None) -> Any:
    pm = isolated_plugins("hean_basis_arbitrage.plugin")
    ctx = make_context(symbols=[BTC_S, BTC_P], capital=10_000)
    strat = build_component(pm, "strategy", "basis_arbitrage", ctx,
                            {"basis_window": 12, **(config or {})}, symbols=[BTC_S, BTC_P])
    return ctx, strat


def test_bug_the_basis_never_pairs_prices_of_different_times(shared_data: Path) -> None:
    ctx, strat = _ctx_strategy()
    spot = read_rows(shared_data / SPOT.format(b="BTC"))[:40]
    perp = read_rows(shared_data / PERP.format(b="BTC"))[:40]
    for i, (rs, rp) in enumerate(zip(spot, perp)):
        ts = int(rs["timestamp"]) + 300_000
        for sym, r in ((BTC_S, rs), (BTC_P, rp)):
            if sym == BTC_S and i in (20, 21):  # two spot candles missing
                continue
            ctx.now = ts
            strat.on_bar(Bar(ts, sym, float(r["open"]), float(r["high"]), float(r["low"]),
                             float(r["close"]), float(r["volume"]), 300_000))
    assert strat.counts["stale_leg"] == 2  # the perp bars at 20 and 21 found no spot bar
    pair = strat._pairs[BTC_P]
    assert len(pair.history) == 12
    want = [(float(p["close"]) - float(s["close"])) / float(s["close"])
            for i, (s, p) in enumerate(zip(spot, perp)) if i not in (20, 21)][-12:]
    assert list(pair.history) == pytest.approx(want, rel=1e-12)


def test_bug_no_per_leg_stop_or_target_and_the_risk_layer_lets_the_group_through(
        run_basis: Any) -> None:
    r = run_basis(PINNED)
    from hean_basis_arbitrage import BasisArbitrage

    assert BasisArbitrage.style == "carry"
    gates = [c.name for c in r.eng.components.get("gate", [])]
    assert "risk_limits" in gates  # reward:risk >= 2 for directional strategies
    entry_ids = {leg["decision_id"] for g in r.kind("group_decision")
                 if g["kind"] == "all_or_none" for leg in g["legs"]}
    ds = [d for d in r.decisions if d["decision_id"] in entry_ids]
    assert ds and all(d["decision"] == "CREATE" for d in ds)
    with_exits = [f for f in r.fills if f.get("liquidity", "").startswith("taker")]
    assert with_exits  # every leg filled by a market order; no protective order exists
    assert not r.eng.parts.router.exits.plans


Q1_END = "2025-04-01"
ADA_REVERSE = {"cost": FLAT_COST, "entry_annual": 0.3, "notional_usdt": 1000.0}


def test_reverse_trade_only_with_allow_reverse_and_margin(run_basis: Any) -> None:
    off = run_basis(ADA_REVERSE, bases=("ADA",), end=Q1_END)
    assert all(e["direction"] == 1 for e in off.strategy.entries)
    on = run_basis({**ADA_REVERSE, "allow_reverse": True}, bases=("ADA",), end=Q1_END,
                   venue={"spot_margin": True})
    rev = [e for e in on.strategy.entries if e["direction"] == -1]
    assert rev, "ADA's perp fell far enough below spot for a reverse trade"
    first = next(g for g in on.kind("group_decision") if g["legs"][0]["side"] == "sell"
                 and g["kind"] == "all_or_none")
    assert first["decision"] == "CREATE"
    charges = on.kind("borrow")  # the borrowed spot short pays, hour by hour
    assert charges and all(c["qty"] < 0 for c in charges)
    assert math.isclose(sum(c["amount"] for c in charges), on.eng.ctx.portfolio.borrow,
                        rel_tol=1e-12)
    cash = run_basis({**ADA_REVERSE, "allow_reverse": True}, bases=("ADA",), end=Q1_END)
    refused = [g for g in cash.kind("group_decision") if g["legs"][0]["side"] == "sell"
               and g["kind"] == "all_or_none"]
    assert refused and all(g["decision"] == "BLOCK" for g in refused)
    assert refused[0]["reason_codes"] == ["INSUFFICIENT_BALANCE"]
    pf = cash.eng.ctx.portfolio
    assert pf.position_qty("basis_arbitrage", "ADA/USDT") >= 0.0  # never short spot


def test_premium_variant_trades_the_perp_alone(run_basis: Any) -> None:
    r = run_basis({"mode": "premium", "premium_min": 0.0015, "notional_usdt": 500.0},
                  bases=("ADA",))
    assert r.strategy.entries, "ADA's premium left its EWMA band in January"
    for e in r.strategy.entries:
        assert abs(e["z"]) > 2.5 and abs(e["premium"]) > 0.0015
    ds = [d for d in r.decisions if d["stage"] != "exit"]
    assert ds and {d["symbol"] for d in ds} == {"ADA/USDT:USDT"}
    for d, e in zip(ds, r.strategy.entries):
        assert d["side"] == ("sell" if e["premium"] > 0 else "buy")
    assert not r.kind("group_decision")


def test_params_are_clamped_into_their_bounds() -> None:
    _, strat = _ctx_strategy()
    got = strat.on_params_updated({"entry_annual": 99.0, "basis_window": 1,
                                   "not_a_param": 3})
    assert got == ["basis_window", "entry_annual"]
    assert strat.config.entry_annual == 10.0 and strat.config.basis_window == 12
    assert strat._pairs[BTC_P].window == 12
    assert strat.on_params_updated({"premium_z_exit": 9.0}) == []  # above the entry z
    assert strat.config.premium_z_exit == 0.5


def test_exit_group_helper_builds_reduce_only_legs() -> None:
    ctx, strat = _ctx_strategy()
    assert OrderGroup.exit(strat.name, [BTC_S, BTC_P], ctx.portfolio).legs == []
