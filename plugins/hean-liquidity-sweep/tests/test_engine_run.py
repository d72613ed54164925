"""liquidity_sweep inside real engine runs (``Engine`` + ``load_setup``), with the journal.

Invariants:

* the plugin's example YAML (``examples/liquidity_sweep.yaml``: the bundled 5 weeks of BTC and
  ETH 5m candles, a 1,000 USDT account, so the small-capital filters, trade gate and maker
  chase join) validates and runs; every signal the strategy returned is exactly one entry
  decision of the journal, and every decision that did not create an order names its stage
  and a reason code that this file explains (:data:`EXPLAINED`); the counts per (stage, code)
  are the report's funnel; a trade-gate BLOCK carries the strategy's own ``edge_bps`` and an
  edge below the required one; the strategy's funnel adds up; the run's numbers are printed
  (``pytest -s``) and are what the README reports;
* the same config run twice gives the same metrics and the same decisions;
* on the bundled 2024-08-08 BTC/ETH trades (10 s ticks) the pinned sweep of 61,700 is one
  entry decision at 23:59:10.000 UTC in the engine too.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hean_framework.config import load_setup, read_yaml
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.report import write_report
from hean_framework.testing import isolated_plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "liquidity_sweep.yaml"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"

#: every (decision, stage, code) a run of this strategy may end in besides an order, and why
EXPLAINED: dict[tuple[str, str, str], str] = {
    ("BLOCK", "gate:trade_gate", "EDGE_TOO_LOW_FOR_COST"):
        "the signal's edge_bps (confidence x target distance) is below cost x 4",
    ("BLOCK", "gate:trade_gate", "MIN_NOTIONAL_LIMIT"):
        "the sized order is below the gate's minimum notional",
    ("BLOCK", "sizer:fixed_risk", "POSITION_SIZER_ZERO"):
        "the exchange minimum would take more risk than the budget allows",
    ("SKIP", "pipeline", "POSITION_OPEN"):
        "an entry order of the same symbol is still open (the strategy only sees filled "
        "positions)",
    ("CREATE", "exit", "TIMEOUT_TTL"): "the time stop (max_hold_s) closed the position",
}


def _run(tmp: Path, raw: dict[str, Any]) -> tuple[Engine, dict[str, Any], list[dict[str, Any]]]:
    pm = isolated_plugins("hean_liquidity_sweep.plugin")
    setup = load_setup(None, pm.registry, raw=raw, need_strategy=True)
    eng = Engine(setup, pm, out_dir=tmp, progress=False)
    try:
        result = eng.run()
    finally:
        eng.close()
    report = write_report(result, tmp, html=False)
    reader = Journal.open_readonly(tmp / "journal.sqlite")
    try:
        decisions = reader.decisions()
    finally:
        reader.close()
    return eng, report, decisions


def _example_raw() -> dict[str, Any]:
    raw = read_yaml(EXAMPLE)
    raw["base_dir"] = str(EXAMPLE.parent)
    raw.setdefault("report", {})["progress"] = False
    return raw


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory, sample_data: Path
                ) -> tuple[Engine, dict[str, Any], list[dict[str, Any]]]:
    return _run(tmp_path_factory.mktemp("sweep"), _example_raw())


def test_example_trail_explains_every_decision(
        example_run: tuple[Engine, dict[str, Any], list[dict[str, Any]]]) -> None:
    eng, report, decisions = example_run
    strat = eng.strategies["liquidity_sweep"]
    stats = strat.stats()
    entries = [d for d in decisions if d["stage"] != "exit"]
    assert len(entries) == stats["entries"] > 100
    assert {d["symbol"] for d in entries} == {BTC, ETH}
    seen: Counter[tuple[str, str, str]] = Counter()
    for d in decisions:
        assert d["decision"] in ("CREATE", "SKIP", "BLOCK")
        assert d["stage"] and d["reason_codes"], d
        if d["decision"] == "CREATE" and d["stage"] != "exit":
            assert d["stage"].startswith("executor:")
            continue
        key = (d["decision"], d["stage"], d["reason_codes"][0])
        assert key in EXPLAINED, f"unexplained decision {key}: {d['message']}"
        if d["decision"] != "CREATE":
            assert d["message"]
        seen[key] += 1
        if key[2] == "EDGE_TOO_LOW_FOR_COST":
            assert d["details"]["edge_source"] == "signal"
            assert d["expected_edge_bps"] < d["required_edge_bps"]
    funnel = {(s["stage"], code): n for s in report["funnel"]["stages"]
              for code, n in s["reasons"].items()}
    for (decision, stage, code), n in seen.items():
        if decision != "CREATE":
            assert funnel[(stage.split(":")[0], code)] == n
    c = stats
    assert c["ticks"] == c["warmup"] + c["no_sweep"] + c["sweeps"]
    assert c["sweeps"] == sum(c[r] for r in ("already_traded", "in_position", "cooldown",
                                             "daily_cap", "no_volume", "volume_low",
                                             "regime_blocked", "anomaly_blocked",
                                             "ofi_against", "bad_prices")) + c["entries"]
    m = report["metrics"]
    print("\nexample run:", {k: m[k] for k in ("trades", "fills", "fees", "net_pnl",
                                                "win_rate", "profit_factor")})
    print("decisions:", dict(seen), "entries:", len(entries))
    print("strategy funnel:", stats)


def test_same_config_same_run(tmp_path: Path, sample_data: Path,
                              example_run: tuple[Engine, dict[str, Any],
                                                 list[dict[str, Any]]]) -> None:
    raw = _example_raw()
    _, report, decisions = _run(tmp_path, raw)
    _, report0, decisions0 = example_run
    keep = ("trades", "fills", "fees", "net_pnl", "turnover")
    assert {k: report["metrics"][k] for k in keep} == {k: report0["metrics"][k] for k in keep}
    strip = ("decision_id", "signal_id")
    assert [{k: v for k, v in d.items() if k not in strip} for d in decisions] == \
        [{k: v for k, v in d.items() if k not in strip} for d in decisions0]


def test_trades_run_has_the_pinned_sweep(tmp_path: Path, sample_data: Path) -> None:
    files = [{"kind": "trades", "symbol": sym, "path": str(
        sample_data / f"binance_usdm_perp_{n}_trades_20240808.csv.gz")}
        for sym, n in ((BTC, "BTCUSDT"), (ETH, "ETHUSDT"))]
    raw = {"run": {"name": "sweep-trades"}, "account": {"capital": 10_000},
           "small_capital": {"enabled": False}, "data": {"files": files},
           "report": {"progress": False},
           "strategies": {"liquidity_sweep": {
               "symbols": [BTC, ETH], "trade_tick_ms": 10_000, "lookback_ticks": 10,
               "volume_window": 5, "round_min_pct": 0.0005, "sweep_pct": 0.001}}}
    eng, _, decisions = _run(tmp_path, raw)
    entries = [d for d in decisions if d["stage"] != "exit"]
    assert [(d["ts"], d["symbol"], d["side"], d["price"]) for d in entries] == \
        [(1_723_161_550_000, BTC, "buy", 61_712.8)]
    assert entries[0]["decision"] == "CREATE"
    assert eng.strategies["liquidity_sweep"].stats()["entries"] == 1
