"""Fixtures of the liquidity_sweep tests: where the real data is, how to read it, how to build
and replay the strategy the way the engine calls it.

* ``sample_data``: the repository's bundled real data (``examples/data``: Binance USDT-M BTC/ETH
  5m candles, the 2024-08-08 trades); skips when the plugin is tested outside the repository.
* ``shared_data``: ``../shared/data`` beside the project root (1m candles, XRP/SOL); skips with
  the reason when it is absent.
* ``read_events(files)``: the events of data files read by the kernel's own ``csv`` feed (rows
  validated and ordered exactly as in a run), cached per session.
* ``make(config=None, symbols=None, ctx=None)``: a started ``liquidity_sweep`` and its test
  context.
* ``replay(strategy, ctx, events)``: feeds each event as the engine does (``ctx.now`` and the
  symbol's last price first) and returns ``(event index, signal)`` of every signal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hean_liquidity_sweep import LiquiditySweep

from hean_framework.context import RunContext
from hean_framework.models import Bar, MarketEvent, Signal, Trade
from hean_framework.testing import build_component, isolated_plugins, make_context

PLUGIN = Path(__file__).resolve().parents[1]
ROOT = PLUGIN.parents[1]
SAMPLE_DATA = ROOT / "examples" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"

Replay = Callable[[LiquiditySweep, RunContext, Iterable[MarketEvent]], list[tuple[int, Signal]]]
Make = Callable[..., tuple[LiquiditySweep, RunContext]]


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The bundled real data of the repository (``examples/data``)."""
    if not (SAMPLE_DATA / "README.md").is_file():
        pytest.skip(f"bundled sample data not found at {SAMPLE_DATA} (the tests expect the "
                    "plugin inside the HEAN repository)")
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project root; skips the test when it is absent."""
    if not (SHARED_DATA / "ohlcv").is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA} (place ../shared beside the "
                    "project root)")
    return SHARED_DATA


def _read_events(files: Sequence[dict[str, str]]) -> list[MarketEvent]:
    feed = build_component(isolated_plugins(), "feed", "csv", make_context(),
                           {"files": list(files)})
    return list(feed.events())  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def read_events() -> Callable[[Sequence[dict[str, str]]], list[MarketEvent]]:
    """``read_events([{kind, symbol, path}, ...])``: the events of the files, merged by time."""
    cache: dict[str, list[MarketEvent]] = {}

    def read(files: Sequence[dict[str, str]]) -> list[MarketEvent]:
        key = repr(files)
        if key not in cache:
            cache[key] = _read_events(files)
        return cache[key]

    return read


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
