"""Fixtures of the liquidity_sweep tests: where the real data is, how to read it, how to build
and replay the strategy the way the engine calls it.

* ``sample_data``, ``shared_data``, ``read_events(files)`` and :func:`step_market` come from the
  kernel's testing kit (the ``hean`` pytest plugin and :mod:`hean_framework.testing`).
* ``make(config=None, symbols=None, ctx=None)``: a started ``liquidity_sweep`` and its test
  context.
* ``replay(strategy, ctx, events)``: feeds each event as the engine does (``ctx.now`` and the
  symbol's last price first) and returns ``(event index, signal)`` of every signal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hean_liquidity_sweep import LiquiditySweep

from hean_framework.context import RunContext
from hean_framework.models import Bar, MarketEvent, Signal, Trade
from hean_framework.testing import build_component, isolated_plugins, make_context

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"

Replay = Callable[[LiquiditySweep, RunContext, Iterable[MarketEvent]], list[tuple[int, Signal]]]
Make = Callable[..., tuple[LiquiditySweep, RunContext]]


@pytest.fixture(scope="session")
def make() -> Make:
    """``make(config=None, symbols=None, ctx=None)`` -> (started strategy, its context)."""
    pm = isolated_plugins("hean_liquidity_sweep.plugin")

    def build(config: dict[str, Any] | None = None, symbols: list[str] | None = None,
              ctx: RunContext | None = None) -> tuple[LiquiditySweep, RunContext]:
        syms = symbols or [BTC]
        ctx = ctx or make_context(symbols=syms)
        strat = build_component(pm, "strategy", "liquidity_sweep", ctx, config or {},
                                symbols=syms)
        assert isinstance(strat, LiquiditySweep)
        return strat, ctx

    return build


def _replay(strat: LiquiditySweep, ctx: RunContext,
            events: Iterable[MarketEvent]) -> list[tuple[int, Signal]]:
    out: list[tuple[int, Signal]] = []
    for i, ev in enumerate(events):
        ctx.now = ev.ts
        st = ctx.market[ev.symbol]
        st.ts = ev.ts
        if isinstance(ev, Bar):
            st.last = ev.close
            sig = strat.on_bar(ev)
        elif isinstance(ev, Trade):
            st.last = ev.price
            sig = strat.on_trade(ev)
        else:
            continue
        if sig is not None:
            out.append((i, sig))
    return out


@pytest.fixture(scope="session")
def replay() -> Replay:
    """``replay(strategy, ctx, events)`` -> [(event index, signal), ...]."""
    return _replay
