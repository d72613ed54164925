"""The physics components inside real engine runs configured from YAML.

Invariants checked:

* the filter stops signals inside the pipeline (the original's filter listened in parallel
  and could not): with a Wyckoff regime that conflicts with every buy, ``strict: true`` blocks
  buys with ``PHYSICS_PHASE_CONFLICT`` on the decision trail and ``strict: false`` does not
  (the conflict is flagged and the confidence halved): strict lets no buy through, non-strict
  creates orders; every rejection is a PHYSICS_* code with the physics numbers, and the filter
  blocks a minority of the signals on real candles (the original's raw values would have
  blocked nearly all);
* the capital allocator's phase affinity (hybrid 70/30) gets a real input: with ``physics``
  in the run, ``phase_weights()`` differ from the prior and equal prior x affinity factor of
  the published phases (2 x confidence in an affine phase, else 0.5); without it they equal
  the prior (neutral);
* the plugin's example YAML runs (with momentum_trader) and its filter and sizer act;
* with hean-market-analyzers installed, ``wyckoff_regime`` is the regime detector's REGIME of
  the same bar and reaches the decision trail.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hean_physics.facts import PHYSICS

from hean_framework import Strategy, hookimpl
from hean_framework.components import Analyzer
from hean_framework.config import load_setup, read_yaml
from hean_framework.engine import Engine
from hean_framework.facts import PHASE, PHASE_CONFIDENCE, REGIME
from hean_framework.models import Bar, OrderDecision
from hean_framework.risk.allocator import PHASE_AFFINITY, normalise
from hean_framework.testing import isolated_plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "physics_momentum.yaml"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class EveryN(Strategy):
    """Buys every 25th bar of each symbol with a 1 % stop and a 2 % target; records its
    decisions and the confidence its signals left the filter with."""

    def on_start(self) -> None:
        self.n: dict[str, int] = {}
        self.decisions: list[OrderDecision] = []
        self.sent: list[Any] = []

    def on_bar(self, bar: Bar) -> Any:
        k = self.n[bar.symbol] = self.n.get(bar.symbol, 0) + 1
        if k % 25:
            return None
        sig = self.signal(bar.symbol, "buy", bar.ts, bar.close, stop_loss=bar.close * 0.99,
                          take_profit=bar.close * 1.02, confidence=0.8, prefer_maker=True,
                          size=None)
        self.sent.append(sig)
        return sig

    def on_decision(self, decision: OrderDecision) -> None:
        self.decisions.append(decision)


class Markdown(Analyzer):
    """Publishes REGIME = MARKDOWN for every symbol it sees (a stand-in regime detector)."""

    def on_bar(self, bar: Bar) -> None:
        self.ctx.facts.set(REGIME, "MARKDOWN", bar.symbol)


@hookimpl
def hean_register_strategies(register: Any) -> None:
    register("every_n", EveryN)


@hookimpl
def hean_register_analyzers(register: Any) -> None:
    register("markdown", Markdown)


def _pm(*more: str) -> Any:
    return isolated_plugins(sys.modules[__name__], "hean_physics.plugin", *more)


BASE = """
run: {name: physics-engine-test, seed: 3}
account: {capital: 1000}
small_capital: {enabled: false}
data:
  files:
    - kind: bars
      symbol: BTC/USDT:USDT
      path: DATA/binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz
    - kind: bars
      symbol: ETH/USDT:USDT
      path: DATA/binance_usdm_perp_ETHUSDT_5m_20250306_20250413.csv.gz
"""


def _run(sample_data: Path, extra: str, pm: Any | None = None) -> Engine:
    raw = yaml.safe_load(BASE.replace("DATA", str(sample_data)) + extra)
    pm = pm or _pm()
    eng = Engine(load_setup(None, pm.registry, raw=raw), pm, journal=False, progress=False)
    eng.run()
    return eng


FILTER_RUN = """
analyzers:
  markdown: {}
  physics: {}
strategies:
  every_n: {symbols: [BTC/USDT:USDT, ETH/USDT:USDT]}
filters:
  physics: {strict: STRICT}
sizers:
  fixed_risk: {}
  physics: {}
"""


def test_filter_strict_and_non_strict_in_an_engine_run(sample_data: Path) -> None:
    runs = {}
    for strict in ("true", "false"):
        eng = _run(sample_data, FILTER_RUN.replace("STRICT", strict))
        runs[strict] = eng
    strict, loose = runs["true"], runs["false"]
    reasons = {k: dict(e.pipeline.counters["filter"].reasons) for k, e in runs.items()}
    assert reasons["true"].get("PHYSICS_PHASE_CONFLICT", 0) > 20
    assert "PHYSICS_PHASE_CONFLICT" not in reasons["false"]
    s_strat, l_strat = strict.strategies["every_n"], loose.strategies["every_n"]
    assert isinstance(s_strat, EveryN) and isinstance(l_strat, EveryN)
    # every rejection is a PHYSICS_* code on the decision, with the physics numbers
    for d in s_strat.decisions:
        if d.stage == "filter:physics":
            assert d.decision == "BLOCK" and d.reason_codes[0].startswith("PHYSICS_")
            assert d.reason_codes[0] in d.details["physics_reasons"]
            assert d.details["physics"]["wyckoff_regime"] == "MARKDOWN"
    # non-strict: the conflicts that passed the other rules were flagged, confidence halved
    flagged = [d for d in l_strat.decisions if "physics_flags" in d.details]
    assert flagged and all(d.details["physics_flags"] == ["PHYSICS_PHASE_CONFLICT"]
                           for d in flagged)
    by_id = {s.signal_id: s for s in l_strat.sent}
    assert all(by_id[d.signal_id].confidence == pytest.approx(0.4) for d in flagged)
    # strict: every buy conflicts with MARKDOWN, so none passes; non-strict: some trade
    assert strict.pipeline.counters["filter"].out == 0
    assert strict.pipeline.decisions["CREATE"] == 0
    assert loose.pipeline.decisions["CREATE"] > 0
    # normalised inputs: the filter blocks a minority of the signals on real candles
    assert 0 < sum(reasons["false"].values()) < 0.6 * len(l_strat.sent)


ALLOC_RUN = """
analyzers:
  allocator: {mode: hybrid}
  PHYSICS
strategies:
  momentum_trader: {plugin: every_n, symbols: [BTC/USDT:USDT]}
  funding_harvester: {plugin: every_n, symbols: [ETH/USDT:USDT]}
"""


def test_allocator_phase_weights_follow_the_physics_phase(sample_data: Path) -> None:
    without = _run(sample_data, ALLOC_RUN.replace("PHYSICS", ""))
    alloc = next(a for a in without.components["analyzer"] if a.name == "allocator")
    assert alloc.phase_weights() == alloc.prior  # neutral without a phase

    eng = _run(sample_data, ALLOC_RUN.replace("PHYSICS", "physics: {}"))
    alloc = next(a for a in eng.components["analyzer"] if a.name == "allocator")
    facts = eng.ctx.facts
    factors = {}
    for strat, sym in (("momentum_trader", BTC), ("funding_harvester", ETH)):
        phase, conf = facts.get(PHASE, sym), facts.get(PHASE_CONFIDENCE, sym)
        assert phase == facts.get(PHYSICS, sym).phase.lower()
        hit = any(phase.startswith(a) for a in PHASE_AFFINITY[strat])
        factors[strat] = 2.0 * conf if hit else 0.5
    expected = normalise({s: alloc.prior[s] * factors[s] for s in alloc.ids}, alloc.ids)
    assert alloc.phase_weights() == pytest.approx(expected)
    assert alloc.phase_weights() != pytest.approx(alloc.prior)


def _momentum() -> bool:
    return importlib.util.find_spec("hean_momentum_trader") is not None


def test_example_yaml_runs(sample_data: Path) -> None:
    if not _momentum():
        pytest.skip("the example runs momentum_trader: pip install -e "
                    "plugins/hean-momentum-trader (the plugin's 'examples' extra)")
    raw = read_yaml(EXAMPLE)
    raw["base_dir"] = str(EXAMPLE.parent)
    pm = _pm("hean_momentum_trader.plugin")
    eng = Engine(load_setup(None, pm.registry, raw=raw), pm, journal=False, progress=False)
    result = eng.run()
    assert result is not None
    phys = next(a for a in eng.components["analyzer"] if a.name == "physics")
    assert phys.stats()["physics_phase_changes"][BTC] > 50
    f = eng.pipeline.counters["filter"].reasons
    assert any(code.startswith("PHYSICS_") for code in f)
    sizer = next(s for s in eng.components["sizer"] if s.name == "physics")
    assert sizer.stats()["sized"] > 10
    assert eng.pipeline.decisions["CREATE"] > 10


def test_wyckoff_regime_comes_from_the_regime_detector(sample_data: Path) -> None:
    if importlib.util.find_spec("hean_market_analyzers") is None:
        pytest.skip("hean-market-analyzers is not installed (the plugin's 'analyzers' extra)")
    pm = _pm("hean_market_analyzers.plugin")
    eng = _run(sample_data, """
analyzers:
  regime_detector: {}
  physics: {publish_min_interval_ms: 0}
strategies:
  every_n: {symbols: [BTC/USDT:USDT, ETH/USDT:USDT]}
filters:
  physics: {}
""", pm)
    for sym in (BTC, ETH):
        ph = eng.ctx.facts.get(PHYSICS, sym)
        assert ph.wyckoff_regime and ph.wyckoff_regime == eng.ctx.facts.get(REGIME, sym)
    strat = eng.strategies["every_n"]
    assert isinstance(strat, EveryN)
    seen = {d.details["physics"]["wyckoff_regime"] for d in strat.decisions
            if isinstance(d.details.get("physics"), dict)}
    assert len(seen) >= 3  # several regimes reached the filter's decision trail
