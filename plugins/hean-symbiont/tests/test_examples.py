"""Every example runs ``hean optimize`` end to end from its YAML: one strategy of each family
that exists -- directional (MomentumTrader on 5m candles, HFScalping on real trades and best
bid/offer), carry (FundingHarvester), quoting (EnhancedGrid).

Invariants (a small population and one generation, set on the command line, keep it short):
the command succeeds; ``optimize.json`` holds the walk-forward folds, each with the winner's
and the incumbent's in-sample and out-of-sample scorecards, the DSR and the PBO, and the
promotion verdict; ``optimize.html`` draws the four charts.  Skipped when the strategy's plugin
or the data is absent (the plugin's own tox env has neither).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import orjson
import pytest
import yaml
from click.testing import CliRunner

from hean_framework.cli import make_cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CASES = [("symbiont.yaml", "momentum_trader", ["hean_momentum_trader"]),
         ("symbiont_hf_scalping.yaml", "hf_scalping",
          ["hean_hf_scalping", "hean_market_analyzers"]),
         ("symbiont_funding.yaml", "funding_harvester", ["hean_funding_harvester"]),
         ("symbiont_grid.yaml", "enhanced_grid", ["hean_enhanced_grid"])]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "strategy", "modules"), CASES,
                         ids=[c[1] for c in CASES])
def test_example_optimizes_end_to_end(name: str, strategy: str, modules: list[str],
                                      tmp_path: Path) -> None:
    for m in modules:
        if importlib.util.find_spec(m) is None:
            pytest.skip(f"{m} is not installed")
    config = EXAMPLES / name
    raw = yaml.safe_load(config.read_text())
    for f in raw["data"]["files"]:
        if not (config.parent / f["path"]).resolve().is_file():
            pytest.skip(f"data file {f['path']} is absent")
    params = ",".join(raw["optimizers"]["symbiont"]["bounds"])
    out = tmp_path / "out"
    r = CliRunner().invoke(make_cli(), [
        "optimize", str(config), "--strategy", strategy, "--params", params, "--out", str(out),
        "--no-progress", "--set", "optimizers.symbiont.population=4",
        "--set", "optimizers.symbiont.generations=1", "--set", "optimizers.symbiont.workers=2"])
    assert r.exit_code == 0, r.output
    doc = orjson.loads((out / "optimize.json").read_bytes())
    extra = doc["extra"]
    assert doc["optimizer"] == "symbiont" and extra["mode"] == "walk_forward"
    assert len(extra["folds"]) == raw["optimizers"]["symbiont"]["folds"]
    for f in extra["folds"]:
        for key in ("winner_in_sample", "winner_out_of_sample", "incumbent_in_sample",
                    "incumbent_out_of_sample"):
            assert "fitness" in f[key] and "trades" in f[key]
        assert "dsr" in f["dsr"] and "pbo" in f["pbo"]
    assert isinstance(extra["promotion"]["promoted"], bool)
    assert doc["best"] == (extra["candidate"] if extra["promotion"]["promoted"]
                           else doc["incumbent"])
    page = (out / "optimize.html").read_text()
    assert page.count("data:image/png;base64,") == 4


@pytest.mark.slow
def test_bridge_example_backtest(tmp_path: Path) -> None:
    """``examples/symbiont_bridge.yaml`` runs as a backtest; its report lists the bridge's
    decisions, each with a reason, and the journal holds them as events."""
    if importlib.util.find_spec("hean_momentum_trader") is None:
        pytest.skip("hean_momentum_trader is not installed")
    out = tmp_path / "run"
    r = CliRunner().invoke(make_cli(), ["backtest", str(EXAMPLES / "symbiont_bridge.yaml"),
                                        "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    report = orjson.loads((out / "report.json").read_bytes())
    decisions = report["symbiont_bridge"]
    assert decisions, "no cycle ran"
    assert all(d["decision"] in ("PROMOTED", "REFUSED", "ROLLBACK", "KEPT", "FAILED")
               and d["reason"] for d in decisions)
    assert not any(d["decision"] == "FAILED" for d in decisions)
    from hean_framework.journal import Journal

    with Journal.open_readonly(out / "journal.sqlite") as jr:
        assert len(jr.events("symbiont_bridge")) == len(decisions)
