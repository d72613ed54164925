"""The README's example YAML on three months of real BTC/ETH/ADA spot + perp candles, and the
accounting of the groups it trades.

Invariants:

* ``examples/basis_arbitrage.yaml`` runs as shipped (the whole quarter) and trades at least one
  group, entered and exited as one decision each; ``hean why`` lists them;
* every group's PnL in the report equals spot-leg PnL + perp-leg PnL + funding − the fees of
  its four fills, each computed here from the journal's fills and funding payments;
* the same run at Binance's retail fees makes no trade (the README's result);
* no look-ahead: the run cut after time ``t`` makes exactly the same group decisions before
  ``t`` as the whole run.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from basis_kit import FLAT_COST

EXAMPLE_END = "2025-04-01"
#: a busier variant for the accounting and look-ahead checks (ADA, two months)
BUSY = {"cost": FLAT_COST, "entry_annual": 0.1, "notional_usdt": 1000.0, "exit_bps": 3.0}


def test_the_example_runs_and_trades_groups(run_basis: Any) -> None:
    r = run_basis(example=True, end=EXAMPLE_END)
    groups = r.kind("group_decision")
    assert groups, "the example made no group decision"
    entries = [g for g in groups if g["kind"] == "all_or_none" and g["decision"] == "CREATE"]
    assert entries
    report = r.result.sections["group_pnl"]
    assert len(report) == len(entries)
    pf = r.eng.ctx.portfolio
    assert math.isclose(sum(g["net_pnl"] for g in report), pf.equity() - pf.initial_cash,
                        rel_tol=1e-9, abs_tol=1e-9)


def test_hean_why_shows_the_groups(run_basis: Any) -> None:
    from hean_framework.report import write_report
    from hean_framework.why import load_why

    r = run_basis(example=True, end=EXAMPLE_END)
    write_report(r.result, r.out)
    shown = load_why(r.out)["groups"]
    assert [g["group_id"] for g in shown] == [g["group_id"] for g in r.kind("group_decision")]
    assert any(g["net_pnl"] is not None for g in shown)


def test_retail_fees_make_no_trade(run_basis: Any) -> None:
    r = run_basis({"cost": {}}, example=True, end=EXAMPLE_END,  # the instruments' fees
                  venue={"maker_fee": None, "taker_fee": None})
    assert r.strategy.counts["entries"] == 0
    assert r.strategy.counts["evaluations"] > 70_000


def test_group_pnl_is_legs_plus_funding_minus_four_fees(run_basis: Any) -> None:
    r = run_basis(BUSY, bases=("ADA",), end="2025-04-01")
    groups = {g["group_id"]: g for g in r.kind("group_decision")}
    fills_by_decision: dict[int, list[dict[str, Any]]] = {}
    orders = {}
    from hean_framework.journal import Journal

    with Journal.open_readonly(r.out / "journal.sqlite") as j:
        for o in j.rows("orders"):
            orders[o["order_id"]] = o
    for f in r.fills:
        fills_by_decision.setdefault(orders[f["order_id"]]["decision_id"], []).append(f)
    funding = [(e["ts"], p) for e in r.kind("funding") for p in e["positions"]]
    checked = 0
    for g in r.result.sections["group_pnl"]:
        if g["open"] or len(g["exit_groups"]) != 1:
            continue
        entry, exit_ = groups[g["group_id"]], groups[g["exit_groups"][0]]
        fills = [f for leg in entry["legs"] + exit_["legs"]
                 for f in fills_by_decision.get(leg["decision_id"], [])]
        assert len(fills) == 4
        legs = {}
        for sym in {f["symbol"] for f in fills}:
            buy = [f for f in fills if f["symbol"] == sym and f["side"] == "buy"]
            sell = [f for f in fills if f["symbol"] == sym and f["side"] == "sell"]
            (b,), (s,) = buy, sell
            legs[sym] = (s["price"] - b["price"]) * b["qty"]
        fees = sum(f["fee"] for f in fills)
        t_in = min(f["ts"] for f in fills)
        t_out = max(f["ts"] for f in fills)
        fund = sum(p["amount"] for ts, p in funding if t_in < ts <= t_out
                   and p["symbol"] == "ADA/USDT:USDT")
        want = legs["ADA/USDT"] + legs["ADA/USDT:USDT"] + fund - fees
        assert math.isclose(g["net_pnl"], want, rel_tol=1e-9, abs_tol=1e-9)
        assert math.isclose(g["fees"], fees, rel_tol=1e-12)
        assert math.isclose(g["funding"], fund, rel_tol=1e-12, abs_tol=1e-12)
        checked += 1
    assert checked >= 3


def test_no_look_ahead_cut_data_gives_the_same_earlier_group_decisions(run_basis: Any) -> None:
    full = run_basis(BUSY, bases=("ADA",), end="2025-04-01")
    cut = run_basis(BUSY, bases=("ADA",), end="2025-03-01")
    t = 1_740_787_200_000  # 2025-03-01 00:00 UTC

    def before(r: Any) -> list[tuple[Any, ...]]:
        return [(g["ts"], g["kind"], g["decision"], g.get("reason"),
                 tuple((leg["side"], leg["symbol"], leg["qty"]) for leg in g["legs"]))
                for g in r.kind("group_decision") if g["ts"] < t]

    early = before(full)
    assert len(early) >= 4
    assert before(cut) == early
