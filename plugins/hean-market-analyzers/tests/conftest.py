"""Fixtures of the market-analyzer tests: where the real data is, how to read it and how to
drive analyzers the way the engine does.

* ``sample_data``, ``shared_data``, ``read_events(files)`` and :func:`step_market` come from the
  kernel's testing kit (the ``hean`` pytest plugin and :mod:`hean_framework.testing`).
* ``drive(ctx, analyzers, events, after=None)``: for each event, update ``ctx.now`` and
  ``ctx.market[symbol]`` as the engine does before any component sees it (last price, best
  bid/offer, the L2 book), then call each analyzer's callback in order, then ``after(event)``.
  ``test_engine_run.py`` checks that this gives the same facts as a real engine run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from hean_framework.context import RunContext
from hean_framework.models import Bar, BookUpdate, MarketEvent, Quote, Trade
from hean_framework.testing import build_component, isolated_plugins, make_context, step_market

CALLBACK = {Bar: "on_bar", Trade: "on_trade", Quote: "on_quote", BookUpdate: "on_book"}


def _drive(ctx: RunContext, analyzers: list[Any], events: Iterable[MarketEvent],
           after: Callable[[MarketEvent], None] | None = None) -> None:
    for ev in events:
        step_market(ctx, ev)
        meth = CALLBACK.get(type(ev))
        if meth is not None:
            for a in analyzers:
                if ev.symbol in a.symbols:
                    getattr(a, meth)(ev)
        if after is not None:
            after(ev)


@pytest.fixture(scope="session")
def drive() -> Callable[..., None]:
    """``drive(ctx, analyzers, events, after=None)`` (see the module docstring)."""
    return _drive


@pytest.fixture
def make_analyzer() -> Callable[..., tuple[Any, RunContext]]:
    """``make_analyzer(name, config=None, symbols=None, ctx=None)`` -> (analyzer, ctx)."""
    pm = isolated_plugins("hean_market_analyzers.plugin")

    def make(name: str, config: dict[str, Any] | None = None,
             symbols: list[str] | None = None,
             ctx: RunContext | None = None) -> tuple[Any, RunContext]:
        syms = symbols or ["BTC/USDT:USDT"]
        ctx = ctx or make_context()  # analyzers need no instrument; market state is lazy
        return build_component(pm, "analyzer", name, ctx, config or {}, symbols=syms), ctx

    return make
