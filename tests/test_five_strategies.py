"""examples/five_strategies.yaml: the five strategy plugins in one account, through the CLI.

Invariants checked on the run (journal off for speed; bundled real BTC/ETH 5m candles and
funding):

* the run finishes with exit code 0 (no strategy disabled, no dead letter);
* every one of the five strategies appears in ``report.json["per_strategy"]`` with its signals
  counted (> 0), and the same count in the funnel's ``by_strategy``, whose decisions add up to
  it; every strategy that traded reports realized/unrealized PnL, fees and funding;
* the sentiment source applied items from the plugin's sample file;
* the accounting identity: final equity = initial capital + realized + unrealized - fees +
  funding, summed over the strategies, to 1e-6 relative; and the per-strategy fees and funding
  add up to the run's.

Skipped when any of the six plugins is not installed (the kernel-only tox environments do not
have them; ``tox -e all`` does).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hean_framework.cli import make_cli

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "five_strategies.yaml"
STRATEGIES = ("momentum_trader", "impulse_engine", "hf_scalping", "liquidity_sweep",
              "sentiment_strategy")
PACKAGES = {
    "hean_momentum_trader": "plugins/hean-momentum-trader",
    "hean_impulse_engine": "plugins/hean-impulse-engine",
    "hean_hf_scalping": "plugins/hean-hf-scalping",
    "hean_liquidity_sweep": "plugins/hean-liquidity-sweep",
    "hean_sentiment": "plugins/hean-sentiment",
    "hean_market_analyzers": "plugins/hean-market-analyzers",
}
_MISSING = [folder for pkg, folder in PACKAGES.items() if importlib.util.find_spec(pkg) is None]

pytestmark = pytest.mark.skipif(
    bool(_MISSING),
    reason="examples/five_strategies.yaml needs every strategy plugin and the analyzers; not "
           "installed: " + ", ".join(_MISSING) + " (pip install -e " + " -e ".join(_MISSING)
           + "; tox -e all has them)")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("five")
    r = CliRunner().invoke(make_cli(), [
        "backtest", str(CONFIG), "--out", str(out), "--overwrite", "--no-progress",
        "--set", "journal.enabled=false", "--set", "report.html=false"])
    assert r.exit_code == 0, r.output
    assert not (out / "journal.sqlite").exists()
    return json.loads((out / "report.json").read_text())


def test_every_strategy_reports_its_signals(report: dict) -> None:
    per = report["per_strategy"]
    by_strategy = report["funnel"]["by_strategy"]
    assert set(STRATEGIES) <= set(per), sorted(per)
    for name in STRATEGIES:
        assert per[name]["signals"] > 0, (name, per[name])
        row = by_strategy[name]
        assert row["signals"] == per[name]["signals"], (name, row, per[name]["signals"])
        assert sum(row.get(d, 0) for d in ("CREATE", "SKIP", "BLOCK")) == row["signals"]
        if per[name].get("fills", 0):
            for key in ("realized", "unrealized", "fees", "funding", "net_pnl", "trades"):
                assert key in per[name], (name, key)
    assert report["run"]["dead_letters"] == 0
    # at least one strategy traded, so the PnL and fee lines are not vacuous
    assert report["metrics"]["fills"] > 0 and report["metrics"]["fees"] > 0


def test_sentiment_source_applied_the_sample_items(report: dict) -> None:
    stats = report["components"]["analyzer:sentiment_source"]
    assert stats["items_loaded"] > 0 and stats["items_applied"] > 0, stats


def test_accounting_identity(report: dict) -> None:
    m = report["metrics"]
    per = report["per_strategy"].values()

    def total(key: str) -> float:
        return sum(float(s.get(key, 0.0)) for s in per)

    expected = (m["initial_capital"] + total("realized") + total("unrealized")
                - total("fees") + total("funding"))
    assert m["final_equity"] == pytest.approx(expected, rel=1e-6)
    assert total("fees") == pytest.approx(m["fees"], rel=1e-6)
    assert total("funding") == pytest.approx(m["funding"], rel=1e-6, abs=1e-9)
    assert m["net_pnl"] == pytest.approx(m["final_equity"] - m["initial_capital"], rel=1e-6)
