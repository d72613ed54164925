"""The online bridge in a backtest on the kernel's real BTC 5m candles (the first 8 days).

Invariants:

* a cycle starts only after closed trades and runs in a background thread (never the run's
  own thread); its result is applied at a later wake-up (data time after the cycle's start);
* a winner is promoted only when its out-of-sample fitness beats the incumbent's by the
  margin; promoted values lie inside the searched space; the strategy receives them through
  ``update_params`` (``hean_params_updated`` fires with source ``optimizer:symbiont_bridge``
  and the accepted keys) and its config then holds them;
* at most one promotion per strategy per 24 h of data time;
* a promotion whose next N trades have a profit factor below the fraction of the backtest's is
  rolled back to the parameters before it;
* with a margin of 1000 % a promotion only happens over an incumbent whose out-of-sample
  fitness is not positive (the margin multiplies a positive fitness only), and every refusal
  says why;
* every decision is in the report section and journaled (events of kind symbiont_bridge);
* the same run twice gives the same decisions (the replay waits for the result at its apply
  time, so machine speed does not change it).
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hean_symbiont.bridge import SymbiontBridge

from hean_framework import hookimpl
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.plugins import HeanPluginManager
from hean_framework.testing import isolated_plugins

#: four real backtests with background searches (~30 s each): the all environment runs them
pytestmark = pytest.mark.slow

HOUR = 3_600_000
BRIDGE = {"strategies": ["channel"], "params": ["lookback", "stop_pct", "mode"],
          "check_minutes": 60, "interval_hours": 24, "min_closed_trades": 3,
          "lookback_days": 2, "apply_after_minutes": 120, "rollback_trades": 4,
          "min_improvement": 0.0,
          "search": {"population": 5, "generations": 2, "patience": 1, "elitism": 1,
                     "min_trades_per_week": 0, "wfa_min_periods": 12, "wfa_oos_periods": 6,
                     "max_drawdown": 0.5}}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str, list[str]]] = []

    @hookimpl
    def hean_params_updated(self, strategy_id: str, params: dict[str, Any], source: str,
                            accepted: list[str]) -> None:
        self.calls.append((strategy_id, dict(params), source, list(accepted)))


KIT: list[SimpleNamespace] = []


@pytest.fixture(autouse=True, scope="module")
def _kit(kit: SimpleNamespace) -> None:
    KIT[:] = [kit]


def backtest(out: Path | None = None, **bridge: Any) -> tuple[Engine, Recorder]:
    kit = KIT[0]
    rec = Recorder()
    pm: HeanPluginManager = isolated_plugins(kit.plugin(), rec, "hean_symbiont.plugin",
                                             names=["channel_test", "recorder", "symbiont"])
    cfg = kit.raw()
    cfg["data"]["end"] = "2025-03-14"
    cfg["optimizers"] = {}
    cfg["analyzers"] = {"symbiont_bridge": {**BRIDGE, **bridge}}
    setup = load_setup(None, pm.registry, raw=cfg, environ={})
    eng = Engine(setup, pm, journal=out is not None, out_dir=out, progress=False)
    eng.run()
    eng.close()
    return eng, rec


def bridge_of(eng: Engine) -> SymbiontBridge:
    (b,) = [a for a in eng.parts.analyzers if isinstance(a, SymbiontBridge)]
    return b


@pytest.fixture(scope="module")
def promoted(_kit: None) -> tuple[Engine, Recorder]:
    return backtest()


def test_cycles_run_in_the_background_and_apply_later(
        promoted: tuple[Engine, Recorder]) -> None:
    eng, _ = promoted
    b = bridge_of(eng)
    assert b.decisions, "no cycle ran"
    assert b.threads and threading.get_ident() not in b.threads
    for d in b.decisions:
        if d["decision"] in ("PROMOTED", "REFUSED"):
            assert d["ts"] >= d["cycle_started"] + 2 * HOUR
            assert d["window"]["end_ms"] == d["cycle_started"]
            assert d["window"]["start_ms"] < d["window"]["cut_ms"] < d["window"]["end_ms"]


def test_promotions_reach_the_strategy_clamped_and_at_most_daily(
        promoted: tuple[Engine, Recorder]) -> None:
    eng, rec = promoted
    b = bridge_of(eng)
    promos = [d for d in b.decisions if d["decision"] == "PROMOTED"]
    assert promos, [d["reason"] for d in b.decisions]
    space = b.spaces["channel"]
    for d in promos:
        assert all(space[k].contains(v) for k, v in d["after"].items())
        assert d["fitness"] > d["incumbent_fitness"]
    sent = [c for c in rec.calls if c[2] == "optimizer:symbiont_bridge"]
    changes = [d for d in b.decisions if d["decision"] in ("PROMOTED", "ROLLBACK")]
    assert [c[1] for c in sent] == [d["after"] for d in changes]
    assert all(sorted(c[3]) == sorted(c[1]) for c in sent)
    ts = [d["ts"] for d in promos]
    assert all(b2 - a >= 24 * HOUR for a, b2 in itertools.pairwise(ts))
    last = changes[-1]["after"]
    cfg = eng.strategies["channel"].config
    assert {k: getattr(cfg, k) for k in last} == last
    for d in b.decisions:
        if d["decision"] == "REFUSED":
            assert d["reason"]


def test_rollback_when_the_live_profit_factor_disappoints() -> None:
    eng, _rec = backtest(rollback_pf_fraction=100.0)
    b = bridge_of(eng)
    kinds = [d["decision"] for d in b.decisions]
    assert "ROLLBACK" in kinds
    for i, d in enumerate(b.decisions):
        if d["decision"] == "ROLLBACK":
            promo = next(p for p in reversed(b.decisions[:i]) if p["decision"] == "PROMOTED")
            assert d["after"] == promo["before"] and d["before"] == promo["after"]
            assert d["fitness"] < 100.0 * d["incumbent_fitness"]


def test_a_huge_margin_refuses_a_positive_incumbent(tmp_path: Path) -> None:
    eng, rec = backtest(tmp_path / "run", min_improvement=10.0)
    b = bridge_of(eng)
    refused = [d for d in b.decisions if d["decision"] == "REFUSED"]
    assert refused and all(d["reason"] for d in refused)
    assert any("does not beat" in d["reason"] for d in refused)
    for d in b.decisions:
        if d["decision"] == "PROMOTED":
            assert d["incumbent_fitness"] <= 0.0
        if d["decision"] == "REFUSED" and d["fitness"] is not None \
                and d["incumbent_fitness"] > 0 and d["after"] != d["before"]:
            assert d["fitness"] < 11.0 * d["incumbent_fitness"]
    assert len([c for c in rec.calls if c[2] == "optimizer:symbiont_bridge"]) == len(
        [d for d in b.decisions if d["decision"] in ("PROMOTED", "ROLLBACK")])
    with Journal.open_readonly(tmp_path / "run" / "journal.sqlite") as jr:
        events = jr.events("symbiont_bridge")
    assert len(events) == len(b.decisions)


def test_the_same_run_gives_the_same_decisions(promoted: tuple[Engine, Recorder]) -> None:
    eng, _ = backtest()
    assert bridge_of(eng).decisions == bridge_of(promoted[0]).decisions
