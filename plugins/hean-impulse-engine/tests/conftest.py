"""Fixtures of the impulse-engine tests: the real data and a replay driver.

* ``btc_bars``: the kernel's real Binance BTC/USDT:USDT 5m candles (10,906, stamped at their
  close), shipped with the kernel -- the core tests need nothing else;
* ``sample_data``, ``shared_data``, ``read_events(files)`` and :func:`step_market` come from the
  kernel's testing kit (the ``hean`` pytest plugin and :mod:`hean_framework.testing`).
* ``replay(events, config=None, ...)``: a started ``impulse_engine`` fed the events the way the
  engine does (``ctx.now`` and ``ctx.market[symbol]`` updated first: last price, best bid/offer),
  after optional analyzers; returns the strategy, its context and every signal with the index
  and event that produced it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hean_impulse_engine import ImpulseEngine

from hean_framework.components import signals_of
from hean_framework.context import RunContext
from hean_framework.models import Bar, MarketEvent, Quote, Signal, Trade
from hean_framework.testing import (
    build_component,
    isolated_plugins,
    make_context,
    sample_bars,
    step_market,
)

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@dataclass
class Replay:
    """What a replay produced."""

    strategy: ImpulseEngine
    ctx: RunContext
    #: (index of the event, the event, the signal)
    signals: list[tuple[int, MarketEvent, Signal]]


def make_strategy(config: dict[str, Any] | None = None, ctx: RunContext | None = None,
                  symbols: Sequence[str] = (BTC,)) -> tuple[ImpulseEngine, RunContext]:
    """A started ``impulse_engine`` on a fresh test context."""
    ctx = ctx or make_context(symbols=list(symbols))
    strat = build_component(isolated_plugins("hean_impulse_engine.plugin"), "strategy",
                            "impulse_engine", ctx, config or {}, symbols=list(symbols))
    assert isinstance(strat, ImpulseEngine)
    return strat, ctx


def run_replay(events: Iterable[MarketEvent], config: dict[str, Any] | None = None, *,
               symbols: Sequence[str] = (BTC,), ctx: RunContext | None = None,
               analyzers: Sequence[Any] = (),
               before: Callable[[int, MarketEvent, RunContext], None] | None = None,
               after: Callable[[int, MarketEvent, list[Signal]], None] | None = None,
               strategy: ImpulseEngine | None = None) -> Replay:
    """Feed ``events`` to a started strategy (see the module docstring)."""
    if strategy is None:
        strat, ctx = make_strategy(config, ctx, symbols)
    else:
        strat, ctx = strategy, strategy.ctx
    out: list[tuple[int, MarketEvent, Signal]] = []
    for i, ev in enumerate(events):
        step_market(ctx, ev)
        if before is not None:
            before(i, ev, ctx)
        for a in analyzers:
            if ev.symbol in a.symbols:
                if isinstance(ev, Bar):
                    a.on_bar(ev)
                elif isinstance(ev, Trade):
                    a.on_trade(ev)
                elif isinstance(ev, Quote):
                    a.on_quote(ev)
        if isinstance(ev, Bar):
            got = signals_of(strat.on_bar(ev))
        elif isinstance(ev, Trade):
            got = signals_of(strat.on_trade(ev))
        else:
            got = []
        for s in got:
            assert isinstance(s, Signal)
            out.append((i, ev, s))
        if after is not None:
            after(i, ev, [s for s in got if isinstance(s, Signal)])
    return Replay(strat, ctx, out)


@pytest.fixture(scope="session")
def btc_bars() -> list[Bar]:
    """The kernel's real BTC/USDT:USDT 5m candles (10,906)."""
    return list(sample_bars())


@pytest.fixture(scope="session")
def replay() -> Callable[..., Replay]:
    """``replay(events, config=None, *, symbols, ctx, analyzers, before, after, strategy)``."""
    return run_replay


@pytest.fixture(scope="session")
def tick_events(sample_data: Path,
                read_events: Callable[[list[dict[str, str]]], list[MarketEvent]]
                ) -> list[MarketEvent]:
    """6 minutes of real BTC and ETH trades and best bid/offer (2024-08-08, bundled)."""
    files = []
    for sym, name in ((BTC, "BTCUSDT"), (ETH, "ETHUSDT")):
        files.append({"kind": "bbo", "symbol": sym,
                      "path": str(sample_data / f"binance_usdm_perp_{name}_bbo_20240808.csv.gz")})
        files.append({"kind": "trades", "symbol": sym, "path": str(
            sample_data / f"binance_usdm_perp_{name}_trades_20240808.csv.gz")})
    return read_events(files)


@pytest.fixture(scope="session")
def make() -> Callable[..., tuple[ImpulseEngine, RunContext]]:
    """``make(config=None, ctx=None, symbols=(BTC,))`` -> (started strategy, its context)."""
    return make_strategy
