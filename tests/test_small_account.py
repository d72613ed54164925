"""End to end: the $300 example (examples/small_account.yaml) on the bundled real data.

BTC at ~80-90k with a $19.20 MomentumTrader budget cannot meet the exchange minimum within
1 % risk: the kernel must BLOCK POSITION_SIZER_ZERO (never up-size), while ETH trades; no
filled entry may risk more at its stop than its decision allowed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.testing import isolated_plugins

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "small_account.yaml"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hean_momentum_trader") is None,
    reason="the hean-momentum-trader plugin is not installed "
           "(pip install -e plugins/hean-momentum-trader)")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("small_account")
    pm = isolated_plugins("hean_momentum_trader.plugin")
    setup = load_setup(CONFIG, pm.registry, environ={})
    engine = Engine(setup, pm, out_dir=out, progress=False)
    try:
        result = engine.run()
    finally:
        engine.close()
    return result, out / "journal.sqlite"


def test_components_are_the_risk_core(run) -> None:
    result, _ = run
    comps = result.sections["components"]
    assert {"sizer:risk", "gate:risk_limits", "gate:inflight", "gate:governor"} <= set(comps)
    alloc = result.sections["allocation"]
    assert alloc["changes"][0]["budgets"] == {"momentum_trader": pytest.approx(19.2)}
    assert alloc["changes"][0]["deployable"] == pytest.approx(240.0)
    assert result.sections["risk"]["state"] in ("NORMAL", "SOFT_BRAKE", "QUARANTINE",
                                                "HARD_STOP")


def test_funnel_has_position_sizer_zero_blocks_with_numbers(run) -> None:
    result, jpath = run
    sizer = next(s for s in result.funnel["stages"] if s["stage"] == "sizer")
    assert sizer["reasons"].get("POSITION_SIZER_ZERO", 0) > 0
    assert result.funnel["orders"] > 0, "ETH should still trade"
    with Journal.open_readonly(jpath) as j:
        zero = j.decisions(decision="BLOCK")
    zero = [d for d in zero if d["reason_codes"] == ["POSITION_SIZER_ZERO"]]
    assert len(zero) == sizer["reasons"]["POSITION_SIZER_ZERO"]
    for d in zero:
        det = d["details"]
        assert det["risk_at_minimum"] > det["risk_allowed"] > 0
        assert det["qty_raw"] < det["min_qty"]
        assert "minimum" in det["exchange_minimum"]
        assert d["qty"] < det["min_qty"]  # nothing was sent
        assert "refusing to up-size" in d["message"]
    assert any(d["symbol"] == "BTC/USDT:USDT" for d in zero)


def test_no_filled_entry_risks_more_than_allowed(run) -> None:
    _, jpath = run
    with Journal.open_readonly(jpath) as j:
        decisions = {d["decision_id"]: d for d in j.decisions(decision="CREATE")}
        orders = j.orders()
    entries = [o for o in orders if not o["reduce_only"] and o["filled"] > 0
               and o["decision_id"] in decisions]
    assert entries, "the run should fill some entries"
    for o in entries:
        d = decisions[o["decision_id"]]
        assert d["stage"] != "exit"
        assert d["risk_allowed"] > 0
        # risk at the stop = new position qty × |entry − stop| (a reversal's order also
        # closes the old position: close_qty is not new risk)
        stop_dist = d["details"]["stop_distance_pct"] / 100.0 * d["price"]
        risk = max(0.0, o["filled"] - d["close_qty"]) * stop_dist
        assert risk <= d["risk_allowed"] * (1 + 1e-9), (o, d)
        assert d["risk_amount"] <= d["risk_allowed"] * (1 + 1e-9)
        assert d["budget"] == pytest.approx(19.2, rel=0.05)
        assert "rounded_up_to_minimum" not in d["details"]
