"""Fixtures of the hf_scalping tests: where the real data is, how to read it and how to drive
the strategy the way the engine does.

* ``sample_data``, ``shared_data``, ``read_events(files)`` and :func:`step_market` come from the
  kernel's testing kit (the ``hean`` pytest plugin and :mod:`hean_framework.testing`).
* ``tick_files(data, symbols, l2=False)``: the data-section rows of the 2024-08-08 capture.
* ``replay(events, config, ...)``: builds ``hf_scalping`` (and optional analyzers) on a testing
  context and, for each event, updates ``ctx.now`` and ``ctx.market[symbol]`` as the engine does
  before any component sees it, calls the analyzers, then the strategy; returns the strategy
  and its signals.  ``test_engine.py`` checks that a real engine run gives the same signals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hean_framework.components import signals_of
from hean_framework.context import RunContext
from hean_framework.models import Bar, BookUpdate, MarketEvent, Quote, Signal, Trade
from hean_framework.testing import build_component, isolated_plugins, make_context, step_market

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"

CALLBACK = {Bar: "on_bar", Trade: "on_trade", Quote: "on_quote", BookUpdate: "on_book"}


def _tick_files(data: Path, symbols: Iterable[str] = (BTC, ETH), l2: bool = False,
               l2_name: str = "binance_usdm_perp_BTCUSDT_l2_20240808_first60s.csv.gz"
               ) -> list[dict[str, str]]:
    """Data-section rows of the 2024-08-08 capture: trades + best bid/offer (+ the BTC L2)."""
    out = []
    if l2:
        out.append({"kind": "l2", "symbol": BTC, "path": str(data / l2_name)})
    for s in symbols:
        n = s.split("/")[0]
        out.append({"kind": "bbo", "symbol": s,
                    "path": str(data / f"binance_usdm_perp_{n}USDT_bbo_20240808.csv.gz")})
        out.append({"kind": "trades", "symbol": s,
                    "path": str(data / f"binance_usdm_perp_{n}USDT_trades_20240808.csv.gz")})
    return out


@dataclass
class Replay:
    """What :func:`replay` returns."""

    strategy: Any
    ctx: RunContext
    signals: list[Signal] = field(default_factory=list)
    #: for every signal, the facts and quote the strategy saw (regime, OFI source, OFI, bid, ask)
    seen: list[dict[str, Any]] = field(default_factory=list)


def _replay(events: Iterable[MarketEvent], config: dict[str, Any] | None = None,
           symbols: list[str] | None = None, analyzers: dict[str, dict[str, Any]] | None = None,
           ctx: RunContext | None = None,
           before: Callable[[RunContext, MarketEvent], None] | None = None) -> Replay:
    """Drive ``hf_scalping`` (after ``analyzers``, in order) over ``events`` as the engine does.

    ``before(ctx, event)`` runs after the market update and before the components (a test
    may publish facts there).
    """
    syms = symbols or [BTC, ETH]
    ctx = ctx or make_context(symbols=syms)
    modules = ["hean_hf_scalping.plugin"]
    if analyzers:
        modules.append("hean_market_analyzers.plugin")
    pm = isolated_plugins(*modules)
    ans = [build_component(pm, "analyzer", name, ctx, cfg, symbols=syms)
           for name, cfg in (analyzers or {}).items()]
    strat = build_component(pm, "strategy", "hf_scalping", ctx, config or {}, symbols=syms)
    out = Replay(strat, ctx)
    for ev in events:
        if ev.symbol not in syms:
            continue
        step_market(ctx, ev)
        if before is not None:
            before(ctx, ev)
        meth = CALLBACK.get(type(ev))
        if meth is None:
            continue
        for a in ans:
            getattr(a, meth)(ev)
        for sig in signals_of(getattr(strat, meth)(ev)):
            out.signals.append(sig)
            m = ctx.market[sig.symbol]
            out.seen.append({"bid": m.bid, "ask": m.ask})
    return out


@pytest.fixture(scope="session")
def tick_files() -> Callable[..., list[dict[str, str]]]:
    """``tick_files(data, symbols=(BTC, ETH), l2=False)`` (see the module docstring)."""
    return _tick_files


@pytest.fixture(scope="session")
def replay() -> Callable[..., Replay]:
    """``replay(events, config=None, symbols=None, analyzers=None, ctx=None, before=None)``."""
    return _replay


@dataclass
class EngineRun:
    """What :func:`run_engine` returns: the result, the strategy and the journal's records."""

    result: Any
    strategy: Any
    decisions: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    trades: list[dict[str, Any]]
    digest: str
    #: ``stats()`` of every component of the run, by ``kind:name``
    stats: dict[str, Any]


def _run_engine(raw: dict[str, Any], out: Path, analyzers: bool = False,
                path: Path | None = None) -> EngineRun:
    """A real engine run (journal on) of ``raw`` (a run config as a dict; relative paths
    resolve against ``raw['base_dir']``) with this plugin (and the analyzers) installed."""
    from hean_framework.config import load_setup
    from hean_framework.engine import Engine
    from hean_framework.journal import Journal

    modules = ["hean_hf_scalping.plugin"]
    if analyzers:
        modules.append("hean_market_analyzers.plugin")
    pm = isolated_plugins(*modules)
    setup = load_setup(None, pm.registry, raw=raw, environ={}, need_strategy=True)
    eng = Engine(setup, pm, out_dir=out, journal=True, progress=False)
    try:
        result = eng.run()
        strat = eng.strategies["hf_scalping"]
        stats = {f"{c.kind}:{c.name}": c.stats()
                 for comps in eng.components.values() for c in comps}
    finally:
        eng.close()
    with Journal.open_readonly(out / "journal.sqlite") as j:
        return EngineRun(result, strat, j.decisions(), j.orders(), j.fills(),
                         j.closed_trades(), j.digest(), stats)


@pytest.fixture(scope="session")
def run_engine() -> Callable[..., EngineRun]:
    """``run_engine(raw, out_dir, analyzers=False)``: a real engine run (see
    :func:`_run_engine`)."""
    return _run_engine
