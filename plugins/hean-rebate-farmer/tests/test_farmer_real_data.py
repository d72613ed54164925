"""Engine runs of the example YAML on the real 2024-08-08 capture (L2 + BBO + trades).

Invariants, and the original's bugs, each shown fixed:

* after every market event (checked before the strategy answers it, trades included): every
  open order of the farmer at the venue belongs to the kernel's current quote of it, except
  orders whose cancel/amend is still in flight; at most one settled order per side per symbol;
  each settled order rests at exactly the price the strategy quotes now for that side --
  with amend in place and with cancel + replace;
* a pinned situation: the first BTC and ETH quotes, at the capture's first best bid/offer,
  have the hand-computed prices; every quote of the run equals the rule recomputed with
  decimals from the touch it saw;
* [BUG] "deep orders re-priced at the touch": every order the venue got is at a price the
  strategy quoted, ``offset_bps`` beyond the touch of its quote, never at the best bid/ask;
* [BUG] "old orders never cancelled on refresh": refreshes amend or cancel the previous
  order (the ``quotes`` section; the per-event invariant above);
* [BUG] "R:R = 1.0": the quoting style is exempt from reward:risk by its declared style --
  with ``require_take_profit`` every quote is still created, while the same strategy
  declared directional is blocked ``RISK_BLOCKED``;
* the metrics agree with the kernel's ``markouts`` section computed independently: fills per
  side, rebates = −maker fees, reversion at 60 s = the 60 s markout;
* the inventory stop is a journaled exit decision and a taker fill.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import pytest
from hean_rebate_farmer import RebateFarmer

from hean_framework.models import Trade

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
TICK = {BTC: Decimal("0.1"), ETH: Decimal("0.01")}


def install_checker(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Check the resting-order invariant before the strategy sees each event."""
    checked: list[int] = []
    orig = RebateFarmer._tick

    def check(self: RebateFarmer) -> None:
        router: Any = self.ctx.orders
        venue = router.venue
        live = [o for o in venue.open_orders() if o.strategy_id == self.name
                and o.order_type == "limit"]
        settled = [o for o in live if not venue.in_flight(o.order_id)]
        resting = router.groups.quotes.resting(self.name)
        assert {o.order_id for o in settled} <= resting <= {o.order_id for o in live}, \
            self.ctx.now
        per_side = Counter((o.symbol, o.side) for o in settled)
        assert max(per_side.values(), default=0) <= 1, (self.ctx.now, per_side)
        for o in settled:
            bid, ask = self.quoted(o.symbol)
            assert o.price == (bid if o.side == "buy" else ask), (self.ctx.now, o)
        checked.append(len(settled))

    def tick(self: RebateFarmer, symbol: str, ts: int) -> Any:
        check(self)
        return orig(self, symbol, ts)

    def on_trade(self: RebateFarmer, trade: Trade) -> Any:
        check(self)
        return None

    monkeypatch.setattr(RebateFarmer, "_tick", tick)
    monkeypatch.setattr(RebateFarmer, "on_trade", on_trade, raising=False)
    return checked


def rule(touch_bid: float, touch_ask: float, tick: Decimal, bps: float) -> dict[str, float]:
    """The pricing rule recomputed with decimals (floor / ceil to the tick, >= 1 tick)."""
    f = Decimal(str(bps)) / Decimal(10_000)
    b, a = Decimal(str(touch_bid)), Decimal(str(touch_ask))
    bid = min((b * (1 - f) / tick).to_integral_value(ROUND_FLOOR) * tick, b - tick)
    ask = max((a * (1 + f) / tick).to_integral_value(ROUND_CEILING) * tick, a + tick)
    return {"buy": float(bid), "sell": float(ask)}


@pytest.mark.parametrize("amend", [True, False], ids=["amend", "cancel_replace"])
def test_no_order_rests_outside_the_current_quote(run_farmer: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  spy_quotes: list[dict[str, Any]],
                                                  amend: bool) -> None:
    checked = install_checker(monkeypatch)
    res, _ = run_farmer(tmp_path, venue={"amend": amend}, journal=True)
    assert len(checked) > 100_000 and max(checked) == 4  # both sides of both symbols rested
    q = res.sections["quotes"]["rebate_farmer"]
    assert q["quotes"] > 100 and q["placed"] > 0
    if amend:
        assert q["amended"] > 0  # a refresh moved the resting order in place
    else:
        assert q["amended"] == 0
        with sqlite3.connect(tmp_path / "journal.sqlite") as db:
            requoted = db.execute("SELECT COUNT(*) FROM orders WHERE reason = 'requote'"
                                  ).fetchone()[0]
        assert requoted > 0  # ... or cancelled it before placing the new one
    # the pinned situation: the capture's first best bid/offer of each symbol
    first = {s: next(x for x in spy_quotes if x["symbol"] == s) for s in (BTC, ETH)}
    assert (first[BTC]["ts"], first[BTC]["bid"], first[BTC]["ask"]) == \
        (1723161256313, 61800.2, 61800.3)
    # 61800.2 x (1 - 8e-4) = 61750.75984 -> 61750.7 ; 61800.3 x 1.0008 = 61849.74024 -> .8
    assert first[BTC]["legs"] == {"buy": 61750.7, "sell": 61849.8}
    assert (first[ETH]["ts"], first[ETH]["bid"], first[ETH]["ask"]) == \
        (1723161256310, 2681.62, 2681.63)
    # 2681.62 x 0.9992 = 2679.474704 -> 2679.47 ; 2681.63 x 1.0008 = 2683.775304 -> 2683.78
    assert first[ETH]["legs"] == {"buy": 2679.47, "sell": 2683.78}
    for x in spy_quotes:  # every quote, recomputed from the touch it saw
        want = rule(x["bid"], x["ask"], TICK[x["symbol"]], 8.0)
        assert x["legs"] == {k: want[k] for k in x["legs"]}, x


def test_example_fixes_the_original(run_farmer: Any, tmp_path: Path,
                                    spy_quotes: list[dict[str, Any]]) -> None:
    res, _ = run_farmer(tmp_path, journal=True)
    by = res.funnel["by_strategy"]["rebate_farmer"]
    assert by["CREATE"] > 100 and by.get("BLOCK", 0) == 0  # risk_limits is configured
    quoted = {(x["symbol"], p) for x in spy_quotes for p in x["legs"].values()}
    for x in spy_quotes:  # deep: offset_bps beyond the touch, never at it
        if "buy" in x["legs"]:
            assert x["legs"]["buy"] <= x["bid"] * (1 - 8e-4)
        if "sell" in x["legs"]:
            assert x["legs"]["sell"] >= x["ask"] * (1 + 8e-4)
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        orders = db.execute("SELECT symbol, price, post_only FROM orders "
                            "WHERE tag LIKE 'FARM_%'").fetchall()
    assert orders and all((s, p) in quoted and post for s, p, post in orders)
    # the metrics against the kernel's markouts section
    farm = res.sections["rebate_farmer"]
    mk = res.sections["markouts"]["strategies"]["rebate_farmer"]["symbols"]
    assert farm["horizon_s"] == 60.0 and farm["total"]["reversion_counted"] > 0
    for sym, row in farm["symbols"].items():
        m = mk[sym]
        assert row["fills"]["buy"] + row["fills"]["sell"] == m["maker_fills"]
        assert row["rebates_earned"] == pytest.approx(-m["maker_fees"])
        assert row["rebate_bps"] == pytest.approx(1.0)  # the example's -1 bp maker fee
        if row["reversion_counted"]:
            assert row["reversion_counted"] == m["markouts_counted"]["60s"]
            assert row["reversion_bps"] == pytest.approx(m["markout_bps"]["60s"], abs=1e-3)
        assert row["expected_value"] == pytest.approx(row["rebates_earned"]
                                                      + row["reversion_captured"])


def test_quoting_style_is_what_exempts_it_from_reward_risk(
        run_farmer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gates = {"risk_limits": {"require_take_profit": True}}
    end = "2024-08-08T23:55:00Z"
    res, _ = run_farmer(tmp_path / "q", end=end, gates=gates)
    by = res.funnel["by_strategy"]["rebate_farmer"]
    assert by["CREATE"] > 10 and by.get("BLOCK", 0) == 0
    monkeypatch.setattr(RebateFarmer, "style", "directional")
    res, _ = run_farmer(tmp_path / "d", end=end, gates=gates)
    by = res.funnel["by_strategy"]["rebate_farmer"]
    assert by.get("CREATE", 0) == 0 and by["BLOCK"] > 10


def test_inventory_stop_is_a_journaled_exit(run_farmer: Any, tmp_path: Path) -> None:
    res, _ = run_farmer(tmp_path, symbols=[BTC], strategy={"adverse_move_pct": 0.0005},
                        journal=True)
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        stops = db.execute("SELECT decision, reason_codes FROM decisions WHERE stage = 'exit'"
                           ).fetchall()
        tags = [r[0] for r in db.execute("SELECT tag FROM orders")]
    assert stops and all(d == "CREATE" and "INVENTORY_STOP_ADVERSE" in codes
                         for d, codes in stops)
    assert tags.count("INVENTORY_STOP_ADVERSE") == len(stops)
    farm = res.sections["rebate_farmer"]
    assert farm["counts"]["stops_adverse"] == len(stops)
    assert farm["symbols"][BTC]["taker_fills"] == len(stops)
