"""Fixtures of the impulse-engine tests: the real data and a replay driver.

* ``btc_bars``: the kernel's real Binance BTC/USDT:USDT 5m candles (10,906, stamped at their
  close), shipped with the kernel -- the core tests need nothing else;
* ``sample_data``: the repository's bundled real data (``examples/data``: BTC/ETH trades and best
  bid/offer of 2024-08-08); skipped with the reason when the plugin is tested outside the
  repository;
* ``shared_data``: ``../shared/data`` beside the project root; skipped when absent;
* ``read_events(files)``: the events of data files, read by the kernel's own ``csv`` feed;
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
from hean_framework.testing import build_component, isolated_plugins, make_context, sample_bars

PLUGIN = Path(__file__).resolve().parents[1]
ROOT = PLUGIN.parents[1]
SAMPLE_DATA = ROOT / "examples" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"
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


def step_market(ctx: RunContext, ev: MarketEvent) -> None:
    """What the engine does to the market state before the components see ``ev``."""
    ctx.now = ev.ts
    st = ctx.market[ev.symbol]
    st.ts = ev.ts
    if isinstance(ev, Bar):
        st.last = ev.close
        st.prices.append(ev.close)
    elif isinstance(ev, Trade):
        st.last = ev.price
        st.prices.append(ev.price)
    elif isinstance(ev, Quote):
        st.bid, st.ask, st.bid_size, st.ask_size = ev.bid, ev.ask, ev.bid_size, ev.ask_size


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
def sample_data() -> Path:
    """The bundled real data of the repository (``examples/data``)."""
    if not (SAMPLE_DATA / "README.md").is_file():
        pytest.skip(f"bundled sample data not found at {SAMPLE_DATA} (the tests expect the "
                    "plugin inside the HEAN repository)")
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project root; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA} (place ../shared beside the "
                    "project root)")
    return SHARED_DATA


def _read_events(files: list[dict[str, str]]) -> list[MarketEvent]:
    feed = build_component(isolated_plugins(), "feed", "csv", make_context(), {"files": files})
    return list(feed.events())


@pytest.fixture(scope="session")
def read_events() -> Callable[[list[dict[str, str]]], list[MarketEvent]]:
    """``read_events([{kind, symbol, path}, ...])``: the events of the files, merged by time."""
    cache: dict[str, list[MarketEvent]] = {}

    def read(files: list[dict[str, str]]) -> list[MarketEvent]:
        key = repr(files)
        if key not in cache:
            cache[key] = _read_events(files)
        return cache[key]

    return read


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
