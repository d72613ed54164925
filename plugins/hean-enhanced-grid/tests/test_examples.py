"""The example YAMLs run from the command line (``hean backtest``, ``hean why``), with only
this plugin loaded (``HEAN_DISABLE_PLUGIN_AUTOLOAD=1 HEAN_PLUGINS=enhanced_grid``).

Invariants:

* ``grid_5m.yaml`` (bundled BTC + ETH 5m, 5,000 USDT), its first week: the run ends 0, the
  grid builds, fills, recycles levels and attributes every fill; every decision of the journal
  is one this file explains (:data:`EXPLAINED`) and the funnel's counts per stage agree;
  every fill is the grid's entry, take-profit or breakout exit; two runs give the same
  decisions;
* the same week with the trade gate's default multiplier (4): every quote is refused
  ``EDGE_TOO_LOW_FOR_COST`` (a grid's one-spacing edge is under 4 x its maker round trip), no
  order is sent, and ``hean why --json`` says so -- what the README states;
* ``grid_btc_1m.yaml`` (shared BTC 1m, 1,000 USDT), the whole month: levels under the
  exchange minimum are decided ``POSITION_SIZER_ZERO`` once each, as counted by the strategy
  and by ``hean why``; the fills add up; every level fill is a maker fill and only the
  breakout exits take (the report's markouts section); the numbers are printed
  (``pytest -s``) and are the README's.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from grid_runs import EXAMPLES

from hean_framework.cli import make_cli
from hean_framework.journal import Journal

#: every (decision, stage, first code) the example runs end in besides an order, and why
EXPLAINED: dict[tuple[str, str, str], str] = {
    ("BLOCK", "gate:trade_gate", "EDGE_TOO_LOW_FOR_COST"):
        "the leg's edge (one spacing) is under the cost x the gate's multiplier",
    ("BLOCK", "group", "GROUP_LEG_BLOCKED"): "another leg of the quote was stopped",
    ("BLOCK", "sizer:exchange", "POSITION_SIZER_ZERO"):
        "a level left out under the exchange minimum, proposed to say so",
}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("HEAN_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("HEAN_PLUGINS", "enhanced_grid")

    def invoke(*args: str) -> str:
        r = CliRunner().invoke(make_cli(), list(args))
        assert r.exit_code == 0, r.output
        return r.output

    return invoke


def backtest(cli: Any, example: str, out: Path, *sets: str) -> dict[str, Any]:
    args = ["backtest", str(EXAMPLES / example), "--out", str(out), "--quiet",
            "--set", "report.html=false"]
    for s in sets:
        args += ["--set", s]
    cli(*args)
    return json.loads((out / "report.json").read_text())


def decisions(out: Path) -> list[dict[str, Any]]:
    reader = Journal.open_readonly(out / "journal.sqlite")
    try:
        return reader.decisions()
    finally:
        reader.close()


WEEK = "data.end=1741824000000"  # 2025-03-13 UTC (a YAML date in --set is refused)


def test_grid_5m_first_week(cli: Any, tmp_path: Path, sample_data: Path) -> None:
    report = backtest(cli, "grid_5m.yaml", tmp_path / "a", WEEK)
    s = report["per_strategy"]["enhanced_grid"]
    assert s["builds"] > 5 and s["entry_fills"] > 50 and s["recycled"] > 20
    assert s["fills_unattributed"] == 0 and s["probes_cancelled"] == 0
    assert s["fills"] == s["entry_fills"] + s["tp_fills"] + s["flattens"]
    ds = decisions(tmp_path / "a")
    seen: Counter[tuple[str, str, str]] = Counter()
    for d in ds:
        if d["decision"] == "CREATE":
            assert d["stage"].startswith("executor:") or d["stage"] == "exit", d
            continue
        key = (d["decision"], d["stage"], d["reason_codes"][0])
        assert key in EXPLAINED, f"unexplained {key}: {d['message']}"
        seen[key] += 1
    funnel = {(st["stage"], code): n for st in report["funnel"]["stages"]
              for code, n in st["reasons"].items()}
    for (_, stage, code), n in seen.items():
        if stage != "group":
            assert funnel[(stage.split(":")[0], code)] == n
    again = decisions(tmp_path / "b") if backtest(cli, "grid_5m.yaml", tmp_path / "b",
                                                  WEEK) else []
    strip = ("decision_id", "signal_id")
    assert [{k: v for k, v in d.items() if k not in strip} for d in again] == \
        [{k: v for k, v in d.items() if k not in strip} for d in ds]


def test_default_cost_gate_refuses_the_grid(cli: Any, tmp_path: Path,
                                            sample_data: Path) -> None:
    out = tmp_path / "g"
    report = backtest(cli, "grid_5m.yaml", out, WEEK,
                      "gates.trade_gate.cost_edge_multiplier=4")
    s = report["per_strategy"]["enhanced_grid"]
    assert s["quotes"] > 0 and s["quotes_refused"] == s["quotes"]
    assert set(s["refusal_reasons"]) == {"EDGE_TOO_LOW_FOR_COST"}
    assert report["funnel"]["orders"] == 0
    for d in decisions(out):
        assert d["decision"] == "BLOCK"
        if d["reason_codes"] == ["EDGE_TOO_LOW_FOR_COST"]:
            assert d["expected_edge_bps"] < d["required_edge_bps"] == \
                pytest.approx(4 * d["cost_bps"], abs=1e-3)
    why = json.loads(cli("why", str(out), "--json"))
    top = why["small_capital_mode"]["top_block_reasons"][0]
    assert top["reason"] == "EDGE_TOO_LOW_FOR_COST"


def test_grid_btc_1m_month(cli: Any, tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "m"
    report = backtest(cli, "grid_btc_1m.yaml", out)
    s = report["per_strategy"]["enhanced_grid"]
    assert s["fills"] == s["entry_fills"] + s["tp_fills"] + s["flattens"] > 1000
    assert s["fills_unattributed"] == 0 and s["recycled"] > 500
    assert s["levels_below_minimum"] == s["probes"] > 100
    sizer = {st["stage"]: st for st in report["funnel"]["stages"]}["sizer"]
    assert sizer["reasons"]["POSITION_SIZER_ZERO"] == s["levels_below_minimum"]
    why = json.loads(cli("why", str(out), "--json"))
    reasons = {r["reason"]: r["count"] for r in why["small_capital_mode"]["top_block_reasons"]}
    assert reasons["POSITION_SIZER_ZERO"] == s["levels_below_minimum"]
    mk = report["markouts"]["strategies"]["enhanced_grid"]["symbols"]["BTC/USDT:USDT"]
    assert mk["maker_fills"] == s["entry_fills"] + s["tp_fills"]  # every level fill rests
    assert mk["taker_fills"] == s["flattens"]  # only the breakout exits take
    m = report["metrics"]
    print("\ngrid_btc_1m:", {k: s[k] for k in ("builds", "breakouts", "entry_fills",
                                                "tp_fills", "flattens", "recycled",
                                                "levels_below_minimum")},
          {k: round(m[k], 2) for k in ("fees", "net_pnl")}, "markouts", mk["markout_bps"],
          "pnl", mk["pnl"])
