"""examples/execution_stack.yaml: physics + smart order + TWAP with two strategies, through the
CLI (issue 19's "one example YAML uses physics + smart-order + TWAP").

Invariants checked on the run (journal on; bundled real BTC/ETH trades + best bid/offer of
2024-08-08):

* the run finishes with exit code 0 and no dead letter;
* physics acted: the analyzer classified every trade of both symbols and changed phase; the
  filter decided every entry it saw (passed + blocked = checked) and its blocks are decisions
  with ``PHYSICS_*`` codes at stage ``filter:physics``; every entry that reached an executor
  carries the physics state on the decision and was sized by the physics sizer;
* smart order acted: every decision its selector handled records the choice with both edges,
  and a market choice had the larger (or an urgent positive) market edge;
* TWAP acted: parents at or above the threshold were sliced (``twap_slice`` journal events,
  every slice's order carrying the parent's decision id), smaller ones went to smart_order;
* the transaction-cost section lists the executors, and each sliced parent there is one
  ``twap`` parent whose fill count is its slices' fills in the journal.

Skipped when any plugin of the stack is not installed (the kernel-only tox environments do not
have them; ``tox -e all`` does).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hean_framework.cli import make_cli
from hean_framework.config_yaml import read_yaml
from hean_framework.journal import Journal

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "execution_stack.yaml"
PACKAGES = {
    "hean_physics": "plugins/hean-physics",
    "hean_smart_order": "plugins/hean-smart-order",
    "hean_twap": "plugins/hean-twap",
    "hean_momentum_trader": "plugins/hean-momentum-trader",
    "hean_hf_scalping": "plugins/hean-hf-scalping",
    "hean_market_analyzers": "plugins/hean-market-analyzers",
}
_MISSING = [folder for pkg, folder in PACKAGES.items() if importlib.util.find_spec(pkg) is None]

pytestmark = pytest.mark.skipif(
    bool(_MISSING),
    reason="examples/execution_stack.yaml needs the physics, smart-order and twap plugins, two "
           "strategies and the analyzers; not installed: " + ", ".join(_MISSING)
           + " (pip install -e " + " -e ".join(_MISSING) + "; tox -e all has them)")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("stack")
    r = CliRunner().invoke(make_cli(), [
        "backtest", str(CONFIG), "--out", str(out), "--overwrite", "--no-progress",
        "--set", "report.html=false"])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "report.json").read_text())
    with Journal.open_readonly(out / "journal.sqlite") as j:
        return {"report": report, "decisions": j.decisions(), "orders": j.orders(),
                "fills": j.fills(), "slices": [e["payload"] for e in j.events("twap_slice")],
                "parents": [e["payload"] for e in j.events("twap_parent")]}


def test_run_is_clean(run: dict[str, Any]) -> None:
    rep = run["report"]
    assert rep["run"]["dead_letters"] == 0
    assert rep["metrics"]["fills"] > 0
    per = rep["per_strategy"]
    assert per["momentum_trader"]["signals"] > 0 and per["hf_scalping"]["signals"] > 0


def test_physics_analyzer_filter_and_sizer_acted(run: dict[str, Any]) -> None:
    comps = run["report"]["components"]
    an = comps["analyzer:physics"]
    for sym in ("BTC/USDT:USDT", "ETH/USDT:USDT"):
        assert an["physics_ticks"][sym] > 10_000  # every trade of the capture is a tick
        assert an["physics_phase_changes"][sym] > 0
    flt = comps["filter:physics"]
    assert flt["checked"] == flt["passed"] + flt["blocked"] and flt["blocked"] > 0
    blocks = [d for d in run["decisions"] if d["stage"] == "filter:physics"]
    assert len(blocks) == flt["blocked"]
    assert all(c.startswith("PHYSICS_") for d in blocks for c in d["reason_codes"])
    entries = [d for d in run["decisions"] if d["stage"].startswith("executor:")]
    assert entries
    for d in entries:
        assert d["details"]["physics"]["phase"] in ("ICE", "WATER", "WATER_BULL",
                                                    "WATER_BEAR", "VAPOR")
        assert "physics_size" in d["details"]
    assert comps["sizer:physics"]["sized"] >= len(entries)


def test_smart_order_recorded_every_choice(run: dict[str, Any]) -> None:
    recs = [d for d in run["decisions"] if "smart_order" in d["details"]]
    strategies = {d["strategy_id"] for d in recs}
    assert {"hf_scalping", "momentum_trader"} <= strategies  # directly and as twap's inner
    for d in recs:
        so = d["details"]["smart_order"]
        assert so["choice"] in ("market", "limit", "skip")
        if so["choice"] == "market":
            em, el = so["edge_market_bps"], so["edge_limit_bps"]
            assert em > 0 and (so["reason"] == "urgent" or em > el)
        elif so["choice"] == "skip":
            assert d["decision"] == "SKIP"


def test_twap_sliced_the_large_parents(run: dict[str, Any]) -> None:
    threshold = read_yaml(CONFIG)["executors"]["twap"]["threshold_notional"]
    twap = [d for d in run["decisions"] if d["stage"] == "executor:twap"]
    sliced = [d for d in twap if d["details"]["twap"]["sliced"]]
    small = [d for d in twap if not d["details"]["twap"]["sliced"]]
    assert sliced and small
    assert all(d["details"]["twap"]["notional"] >= threshold for d in sliced)
    assert all(d["details"]["twap"]["executor"] == "twap.smart_order" for d in small)
    orders = {o["order_id"]: o for o in run["orders"]}
    by_parent: dict[int, int] = {}
    for s in run["slices"]:
        assert orders[s["order_id"]]["decision_id"] == s["decision_id"]
        by_parent[s["decision_id"]] = by_parent.get(s["decision_id"], 0) + 1
    assert set(by_parent) == {d["decision_id"] for d in sliced}
    assert max(by_parent.values()) > 1
    totals = run["report"]["twap"]["totals"]
    assert totals["sliced"] == len(sliced) and totals["slices_sent"] == len(run["slices"])


def test_tca_shows_each_sliced_parent_once(run: dict[str, Any]) -> None:
    tca = run["report"]["tca"]
    assert {"twap", "smart_order"} <= set(tca["by_executor"])
    parents = {p["decision_id"]: p for p in tca["parents"]}
    slice_orders: dict[int, set[int]] = {}
    for s in run["slices"]:
        slice_orders.setdefault(s["decision_id"], set()).add(s["order_id"])
    for did, oids in slice_orders.items():
        p = parents.get(did)
        if p is None:  # only the last parents are listed one by one
            continue
        assert p["executor"] == "twap"
        assert p["fills"] == sum(1 for f in run["fills"] if f["order_id"] in oids)
