"""The analyzers inside real engine runs.

Invariants checked:

* in an engine run over real BTC/ETH trades, best bid/offer and the BTC L2 book, a probe
  strategy (which sees each event after the analyzers) reads, after every event, exactly the
  facts that the direct replay of ``conftest.drive`` publishes -- so the unit tests' driver
  feeds the analyzers what the engine feeds them, and the YAML order is the call order;
* the edge-confirmation desk works through ``ctx.facts`` from a strategy inside the engine;
* both example YAMLs of the plugin validate and run on the kernel's bundled data: with
  ``momentum_trader`` when it is installed (the regime then blocks some of its signals), else
  with the probe strategy in its place; every analyzer sees both symbols.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hean_market_analyzers.facts import (
    ANOMALY,
    ANOMALY_SCORE,
    CONFIRMATION,
    EDGE_CANDIDATES,
    EDGE_CONFIRMATION,
    EXECUTION_EDGE,
    OFI,
    OFI_SOURCE,
)
from hean_market_analyzers.plugin import ANALYZERS

from hean_framework import Strategy, hookimpl
from hean_framework.config import load_setup, read_yaml
from hean_framework.context import RunContext
from hean_framework.engine import Engine
from hean_framework.facts import REGIME, REGIME_CONFIDENCE
from hean_framework.models import BookUpdate, MarketEvent, Quote, Trade
from hean_framework.testing import build_component, isolated_plugins, make_context

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def snapshot(ctx: RunContext, ev: MarketEvent) -> tuple[Any, ...]:
    f, s = ctx.facts, ev.symbol
    return (type(ev).__name__, s, ev.ts, f.get(REGIME, s), f.get(REGIME_CONFIDENCE, s),
            f.get(OFI, s), f.get(OFI_SOURCE, s), f.get(ANOMALY, s), f.get(ANOMALY_SCORE, s),
            f.get(EXECUTION_EDGE, s), f.get(CONFIRMATION, s), f.get(EDGE_CANDIDATES, s))


class Probe(Strategy):
    """Records the facts after every event; proposes a BTC buy on every 200th trade."""

    def on_start(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.answers: list[str] = []
        self.trades = 0

    def _see(self, ev: MarketEvent) -> None:
        self.rows.append(snapshot(self.ctx, ev))
        if isinstance(ev, Trade) and ev.symbol == BTC:
            self.trades += 1
            if self.trades % 200 == 0:
                self.answers.append(
                    self.ctx.facts.get(EDGE_CONFIRMATION).propose(self.name, BTC, "buy"))

    def on_trade(self, trade: Trade) -> None:
        self._see(trade)

    def on_quote(self, quote: Quote) -> None:
        self._see(quote)

    def on_book(self, update: BookUpdate) -> None:
        self._see(update)

    def on_bar(self, bar: Any) -> None:
        self._see(bar)


@hookimpl
def hean_register_strategies(register: Any) -> None:
    register("probe", Probe)


def _pm(*more: str) -> Any:
    return isolated_plugins(sys.modules[__name__], "hean_market_analyzers.plugin", *more)


def test_engine_run_equals_direct_replay(sample_data: Path, read_events: Any,
                                         drive: Callable[..., None]) -> None:
    files = [
        {"kind": "l2", "symbol": BTC,
         "path": str(sample_data / "binance_usdm_perp_BTCUSDT_l2_20240808_first60s.csv.gz")},
        {"kind": "bbo", "symbol": BTC,
         "path": str(sample_data / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
        {"kind": "bbo", "symbol": ETH,
         "path": str(sample_data / "binance_usdm_perp_ETHUSDT_bbo_20240808.csv.gz")},
        {"kind": "trades", "symbol": BTC,
         "path": str(sample_data / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")},
        {"kind": "trades", "symbol": ETH,
         "path": str(sample_data / "binance_usdm_perp_ETHUSDT_trades_20240808.csv.gz")},
    ]
    events = read_events(files)
    end = events[0].ts + 100_000  # 100 s: the L2 book goes stale after 60 s
    events = [e for e in events if e.ts < end]
    pm = _pm()
    setup = load_setup(None, pm.registry, raw={
        "run": {"name": "engine-vs-direct"}, "account": {"capital": 1000},
        "data": {"files": files, "end": end},
        "analyzers": {name: {} for name in ANALYZERS},
        "strategies": {"probe": {"symbols": [BTC, ETH]}}})
    eng = Engine(setup, pm, journal=False, progress=False)
    eng.run()
    probe = eng.strategies["probe"]
    assert isinstance(probe, Probe)
    assert len(probe.rows) == len(events) > 40_000

    ctx = make_context(symbols=[BTC, ETH])
    analyzers = [build_component(pm, "analyzer", name, ctx, {}, symbols=[BTC, ETH])
                 for name in ANALYZERS]
    rows: list[tuple[Any, ...]] = []
    answers: list[str] = []
    n = 0

    def after(ev: MarketEvent) -> None:
        nonlocal n
        rows.append(snapshot(ctx, ev))
        if isinstance(ev, Trade) and ev.symbol == BTC:
            n += 1
            if n % 200 == 0:
                answers.append(ctx.facts.get(EDGE_CONFIRMATION).propose("probe", BTC, "buy"))

    drive(ctx, analyzers, events, after)
    assert rows == probe.rows
    assert answers == probe.answers and "CONFIRMED" in answers
    sources = {(r[1], r[6]) for r in rows}
    assert {(BTC, "book"), (BTC, "quote"), (ETH, "quote")} <= sources


def _momentum() -> bool:
    return importlib.util.find_spec("hean_momentum_trader") is not None


@pytest.mark.parametrize("example", ["analyzers.yaml", "analyzers_ticks.yaml"])
def test_example_yaml_runs(example: str, sample_data: Path) -> None:
    path = EXAMPLES / example
    raw = read_yaml(path)
    raw["base_dir"] = str(path.parent)
    with_momentum = _momentum()
    pm = _pm("hean_momentum_trader.plugin") if with_momentum else _pm()
    if not with_momentum:  # the kernel alone: a probe stands in for the strategy
        raw["strategies"] = {"probe": {"symbols": [BTC, ETH]}}
    setup = load_setup(None, pm.registry, raw=raw)
    assert list(setup.components["analyzer"])  # the analyzers section was read
    eng = Engine(setup, pm, journal=False, progress=False)
    eng.run()
    stats = {a.name: a.stats() for a in eng.components["analyzer"]}
    assert set(stats) == set(raw["analyzers"])
    ticks = stats["regime_detector"]["regime_ticks"]
    assert ticks[BTC] > 1000 and ticks[ETH] > 1000
    if example == "analyzers.yaml":
        assert stats["price_anomaly"]["anomalies"][BTC]["GAP"] == 3
        assert stats["price_anomaly"]["anomalies"][ETH]["GAP"] == 11
        if with_momentum:
            assert eng.strategies["momentum_trader"].stats()["regime_blocked"] > 0
    else:
        assert stats["ofi_monitor"]["ofi_book_updates"][BTC] > 1000
        assert stats["execution_edge"]["edge_estimates"][ETH] > 1000
