"""Engine runs of the example YAML on the real 2024-08-08 capture (L2 + BBO + trades).

Invariants, and the original's defects, each shown fixed:

* the example runs: quotes are decided (all CREATE under the ``risk_limits`` gate: the quoting
  style is exempt from reward:risk, one position per symbol and the daily attempt cap -- the
  original's R:R ~ 0.1 blocked every quote), maker fills happen and the report has the
  ``markouts`` and ``quotes`` sections;
* quote prices lost downstream (a defect of the original): every resting order is at a price
  the strategy quoted, away from the touch (offset >= 3 bps), never re-priced at the best bid/ask;
* one position per symbol allowed one leg (a defect of the original): while the strategy holds
  inventory it still quotes both sides;
* fills never updated the inventory (a defect of the original): after fills the quotes are
  skewed by the portfolio's position (long -> the quote centre below the mid);
* the inventory stop is an exit decision (reduce-only, its tag as reason code) and a taker
  fill.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hean_inventory_neutral_mm import InventoryNeutralMM

from hean_framework.groups import OrderGroup

BTC = "BTC/USDT:USDT"


def capture(monkeypatch: Any) -> list[dict[str, Any]]:
    """Record every quote the strategy sends with the market and position it saw."""
    seen: list[dict[str, Any]] = []
    orig = InventoryNeutralMM._quote

    def spy(self: InventoryNeutralMM, symbol: str, s: Any, st: Any, mid: float, off: float,
            inventory: float, limit: float, budget: float, ts: int) -> Any:
        out = orig(self, symbol, s, st, mid, off, inventory, limit, budget, ts)
        if isinstance(out, OrderGroup) and out.legs:
            seen.append({"mid": mid, "bid": st.bid, "ask": st.ask, "inv": inventory,
                         "legs": {x.side: x.limit_price for x in out.legs}})
        return out

    monkeypatch.setattr(InventoryNeutralMM, "_quote", spy)
    return seen


def test_example_runs_and_fixes_the_original(run_mm: Any, tmp_path: Path,
                                             monkeypatch: Any) -> None:
    seen = capture(monkeypatch)
    res, _ = run_mm(tmp_path, journal=True)
    by = res.funnel["by_strategy"]["inventory_neutral_mm"]
    assert by["CREATE"] > 300 and by.get("BLOCK", 0) == 0  # risk_limits is configured
    q = res.sections["quotes"]["inventory_neutral_mm"]
    assert q["quotes"] > 300 and q["placed"] > 0 and q["amended"] > 0
    m = res.sections["markouts"]["strategies"]["inventory_neutral_mm"]
    assert sum(s["maker_fills"] for s in m["symbols"].values()) > 0
    # prices kept: deep of the touch, exactly as quoted
    quoted = {p for x in seen for p in x["legs"].values()}
    for x in seen:
        if "buy" in x["legs"]:
            assert x["legs"]["buy"] < x["bid"] or x["ask"] - x["bid"] > 2e-4 * x["mid"]
        if "sell" in x["legs"]:
            assert x["legs"]["sell"] > x["ask"] or x["ask"] - x["bid"] > 2e-4 * x["mid"]
    import sqlite3

    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        orders = db.execute("SELECT price, tag FROM orders WHERE tag LIKE 'MM_%'").fetchall()
    assert orders and all(p in quoted for p, _ in orders)
    # both legs while holding inventory, skewed by it
    holding = [x for x in seen if abs(x["inv"]) > 1.0]
    assert any(len(x["legs"]) == 2 for x in holding)
    long_two = [x for x in holding if x["inv"] > 0 and len(x["legs"]) == 2]
    assert long_two and all((x["legs"]["buy"] + x["legs"]["sell"]) / 2 < x["mid"]
                            for x in long_two)


def test_inventory_stop_is_a_journaled_exit(run_mm: Any, tmp_path: Path) -> None:
    res, _ = run_mm(tmp_path, symbols=[BTC], strategy={"adverse_move_pct": 0.0001},
                    journal=True)
    import sqlite3

    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        stops = db.execute("SELECT decision, reason_codes FROM decisions WHERE stage = 'exit'"
                           ).fetchall()
        tags = [r[0] for r in db.execute("SELECT tag FROM orders")]
    assert stops and all(d == "CREATE" and "INVENTORY_STOP_ADVERSE" in codes
                         for d, codes in stops)
    assert tags.count("INVENTORY_STOP_ADVERSE") == len(stops)
    m = res.sections["markouts"]["strategies"]["inventory_neutral_mm"]["symbols"][BTC]
    assert m["taker_fills"] == len(stops)
