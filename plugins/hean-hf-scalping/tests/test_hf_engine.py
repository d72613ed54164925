"""Real engine runs (``hean_framework.engine.Engine`` + ``load_setup``) on the bundled
2024-08-08 BTC/ETH trades and best bid/offer, journal on.

Invariants checked:

* the plugin's example YAML validates and runs; with the analyzers installed it gives the
  numbers its README states (3 trades, 10 fills, 5.37 USDT fees, net -10.79 USDT; 4 CREATE,
  2 SKIP ``COOLDOWN``); without them it runs on the neutral facts;
* **the decision trail explains every SKIP and BLOCK**: every entry signal the strategy counted
  has exactly one decision; every decision that is not a CREATE names its stage and an
  UPPER_SNAKE_CASE reason code with a message, and its numbers agree with the code
  (``EDGE_TOO_LOW_FOR_COST``: the edge below cost x 4; ``COOLDOWN``: the loss lockout of
  ``risk_limits``); the strategy's own counters account for every event and tick;
* the engine hands the strategy the events the direct replay does: with every entry blocked by
  the trade gate (no position ever), the engine's decisions are exactly the replay's signals;
* the same run twice gives the same journal digest;
* with the analyzers, the pinned tick (BTC, 23:57:53.112) is refused in the engine because the
  regime detector calls BTC ``DISTRIBUTION`` then; with volatile regimes allowed, the best
  bid/offer imbalance (+0.16) is against the sell.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hean_hf_scalping import REASONS
from hean_hf_scalping.strategy import NOT_TICKS

from hean_framework.config_yaml import read_yaml

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "hf_scalping.yaml"
HAVE_ANALYZERS = importlib.util.find_spec("hean_market_analyzers") is not None
needs_analyzers = pytest.mark.skipif(
    not HAVE_ANALYZERS, reason="needs the optional hean-market-analyzers plugin "
                               "(pip install -e plugins/hean-market-analyzers)")
CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def example_raw(analyzers: bool, **strategy: Any) -> dict[str, Any]:
    """The example YAML as a dict (paths resolving beside it), minus the analyzers when they
    are not installed."""
    raw = read_yaml(EXAMPLE)
    raw["base_dir"] = str(EXAMPLE.parent)
    if not analyzers:
        raw.pop("analyzers", None)
    raw["strategies"]["hf_scalping"].update(strategy)
    raw.setdefault("report", {})["progress"] = False
    return raw


def check_trail(run: Any) -> None:
    """Every signal ends in one decision and every SKIP/BLOCK explains itself."""
    stats = run.strategy.stats()
    assert stats["events"] == sum(stats[k] for k in NOT_TICKS) + stats["ticks"]
    assert stats["ticks"] == stats["entries"] + sum(stats[k] for k in REASONS)
    entries = [d for d in run.decisions if d["stage"] != "exit"]
    assert len(entries) == stats["entries"]
    for d in run.decisions:
        codes = d["reason_codes"]
        assert codes and all(CODE.match(c) for c in codes), d
        if d["decision"] == "CREATE":
            assert codes == (["ACCEPTED"] if d["stage"] != "exit" else codes)
            continue
        assert d["decision"] in ("SKIP", "BLOCK")
        assert d["stage"].split(":")[0] in ("validation", "filter", "sizer", "gate",
                                            "executor", "group"), d
        assert d["message"], d
        if "EDGE_TOO_LOW_FOR_COST" in codes:
            assert d["stage"] == "gate:trade_gate"
            assert d["expected_edge_bps"] < d["required_edge_bps"]
            assert d["required_edge_bps"] == pytest.approx(d["cost_bps"] * 4, rel=1e-3)
        if "COOLDOWN" in codes:
            assert d["stage"] == "gate:risk_limits" and "losses in a row" in d["message"]


@pytest.fixture(scope="module")
def example_run(sample_data: Path, run_engine: Callable[..., Any],
                tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_engine(example_raw(HAVE_ANALYZERS), tmp_path_factory.mktemp("example"),
                      analyzers=HAVE_ANALYZERS)


def test_example_runs_and_its_trail_explains_itself(example_run: Any) -> None:
    run = example_run
    check_trail(run)
    res = run.result
    print(f"\nexample: trades {len(run.trades)} fills {res.fills} "
          f"net {res.final_equity - res.initial_capital:.2f} funnel {res.funnel['decisions']}")
    if HAVE_ANALYZERS:
        counts = {k: sum(d["decision"] == k for d in run.decisions)
                  for k in ("CREATE", "SKIP", "BLOCK")}
        assert counts == {"CREATE": 4, "SKIP": 2, "BLOCK": 0}
        assert [d["reason_codes"] for d in run.decisions if d["decision"] == "SKIP"] == \
            [["COOLDOWN"], ["COOLDOWN"]]
        assert (len(run.trades), res.fills) == (3, 10)
        assert sum(t["fees"] for t in run.trades) == pytest.approx(5.37, abs=0.01)
        assert res.final_equity - res.initial_capital == pytest.approx(-10.79, abs=0.01)


@needs_analyzers
def test_example_yaml_validates_as_written(sample_data: Path) -> None:
    from hean_framework.config import load_setup
    from hean_framework.testing import isolated_plugins

    pm = isolated_plugins("hean_hf_scalping.plugin", "hean_market_analyzers.plugin")
    setup = load_setup(EXAMPLE, pm.registry, need_strategy=True)
    assert [c.instance for c in setup.components["strategy"]] == ["hf_scalping"]
    assert [c.instance for c in setup.components["analyzer"]] == [
        "regime_detector", "ofi_monitor", "price_anomaly"]


def test_stated_edge_is_blocked_by_the_gate(sample_data: Path, run_engine: Callable[..., Any],
                                            tmp_path: Path) -> None:
    run = run_engine(example_raw(HAVE_ANALYZERS, edge_hint_factor=0.6), tmp_path,
                     analyzers=HAVE_ANALYZERS)
    check_trail(run)
    assert run.decisions and all(
        d["decision"] == "BLOCK" and d["reason_codes"] == ["EDGE_TOO_LOW_FOR_COST"]
        and d["expected_edge_bps"] == pytest.approx(13.8) for d in run.decisions)
    assert run.orders == [] and run.result.fills == 0


def test_engine_gives_the_replays_signals(sample_data: Path, run_engine: Callable[..., Any],
                                          replay: Callable[..., Any],
                                          read_events: Callable[..., list[Any]],
                                          tick_files: Callable[..., list[dict[str, str]]],
                                          tmp_path: Path) -> None:
    cfg = {"min_move_bps": 3, "edge_hint_factor": 0.6}  # every entry refused: no position
    run = run_engine(example_raw(False, **cfg), tmp_path)
    check_trail(run)
    strategy = example_raw(False, **cfg)["strategies"]["hf_scalping"]
    direct = replay(read_events(tick_files(sample_data)),
                    {k: v for k, v in strategy.items() if k != "symbols"})
    got = [(d["ts"], d["symbol"], d["side"], d["price"]) for d in run.decisions]
    want = [(s.ts, s.symbol, s.side, s.entry_price) for s in direct.signals]
    assert len(got) > 5 and got == want
    assert all(d["decision"] == "BLOCK" for d in run.decisions)
    assert run.strategy.stats() == direct.strategy.stats()


def test_same_run_same_journal(example_run: Any, run_engine: Callable[..., Any],
                               tmp_path: Path) -> None:
    again = run_engine(example_raw(HAVE_ANALYZERS), tmp_path, analyzers=HAVE_ANALYZERS)
    assert again.digest == example_run.digest


@needs_analyzers
def test_analyzer_facts_refuse_the_pinned_tick(sample_data: Path, run_engine: Callable[..., Any],
                                               tmp_path: Path) -> None:
    defaults = {"min_move_bps": 10, "edge_hint_factor": 0.6}
    run = run_engine(example_raw(True, **defaults), tmp_path / "a", analyzers=True)
    st = run.strategy.stats()
    assert run.decisions == [] and st["entries"] == 0 and st["regime_excluded"] == 4
    vol = run_engine(example_raw(True, regime_families=["RANGE_LIKE", "NEUTRAL", "TREND",
                                                        "VOLATILE"], **defaults),
                     tmp_path / "b", analyzers=True)
    st = vol.strategy.stats()
    assert vol.decisions == [] and st["regime_excluded"] == 0 and st["ofi_against"] == 4
