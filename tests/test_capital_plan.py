"""``hean capital-plan`` and ``risk.disable_non_viable`` on the $300 example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.risk.capital_plan import capital_plan, plan_for_run
from hean_framework.testing import isolated_plugins

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "small_account.yaml"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hean_momentum_trader") is None,
    reason="the hean-momentum-trader plugin is not installed "
           "(pip install -e plugins/hean-momentum-trader)")


def _engine(*sets: str) -> Engine:
    pm = isolated_plugins("hean_momentum_trader.plugin")
    setup = load_setup(CONFIG, pm.registry, sets=sets, environ={})
    return Engine(setup, pm, journal=False, progress=False).build()


def plan_for_engine(engine: Engine, capital: float) -> dict:
    return plan_for_run(engine.ctx, engine.setup, capital)


def test_plan_at_300_btc_not_viable_eth_viable() -> None:
    plan = plan_for_engine(_engine(), 300.0)
    assert plan["deployable"] == pytest.approx(240.0)
    rows = {r["symbol"]: r for r in plan["rows"]}
    btc, eth = rows["BTC/USDT:USDT"], rows["ETH/USDT:USDT"]
    assert btc["budget"] == pytest.approx(19.2) and btc["risk_amount"] == pytest.approx(0.192)
    assert not btc["viable"] and "exchange minimum" in btc["reason"]
    assert btc["exchange_minimum"].startswith("Binance BTC/USDT:USDT minimum: 0.001 BTC")
    assert btc["viable_at_capital"] is None  # the 19.2 USDT ceiling never allows it
    assert eth["viable"]
    assert eth["qty"] >= eth["min_qty"]
    assert "sqrt(20)" in eth["stop_source"]


def test_viable_at_capital_solves_the_formula() -> None:
    plan = plan_for_engine(_engine("analyzers.allocator.ceilings={}"), 300.0)
    for r in plan["rows"]:
        w, stop = r["weight"], r["typical_stop_pct"]
        expect = max(r["min_notional"] * stop / (0.01 * w * 0.8),
                     r["min_notional"] / (3.0 * w * 0.8))
        assert r["viable_at_capital"] == pytest.approx(expect, abs=0.02)
        assert r["viable"] == (r["viable_at_capital"] - 0.01 <= 300.0)


def test_cli_json_and_table() -> None:
    runner = CliRunner()
    res = runner.invoke(capital_plan, [str(CONFIG), "--capital", "300", "--json"])
    assert res.exit_code == 0, res.output
    plan = orjson.loads(res.output)
    assert {r["symbol"]: r["viable"] for r in plan["rows"]} == {
        "BTC/USDT:USDT": False, "ETH/USDT:USDT": True}
    res = runner.invoke(capital_plan, [str(CONFIG), "--capital", "300"],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "not viable" in res.output and "viable" in res.output
    assert "minimum: 0.001 BTC" in res.output


def test_disable_non_viable_skips_strategy_not_viable(tmp_path: Path) -> None:
    pm = isolated_plugins("hean_momentum_trader.plugin")
    setup = load_setup(CONFIG, pm.registry, sets=("risk.disable_non_viable=true",),
                       environ={})
    eng = Engine(setup, pm, out_dir=tmp_path, journal=False, progress=False)
    res = eng.run()
    sizer = next(s for s in res.funnel["stages"] if s["stage"] == "sizer")
    # BTC (not viable at $300) is refused up front with the reason, ETH still trades
    assert sizer["reasons"].get("STRATEGY_NOT_VIABLE", 0) > 0
    assert res.funnel["orders"] > 0
    recent = [d for d in res.recent_decisions if d["symbol"] == "BTC/USDT:USDT"
              and d["stage"] != "exit" and d["decision"] != "SKIP"]
    assert all("POSITION_SIZER_ZERO" not in d["reason_codes"] for d in recent)


def test_bad_risk_section_is_reported_with_its_path(tmp_path: Path) -> None:
    text = CONFIG.read_text().replace("disable_non_viable: false", "disable_non_viable: maybe")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text.replace("path: data/", f"path: {CONFIG.parent}/data/"))
    res = CliRunner().invoke(capital_plan, [str(cfg)])
    assert res.exit_code != 0
    assert "risk.disable_non_viable" in str(res.exception) + res.output
