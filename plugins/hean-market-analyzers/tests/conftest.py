"""Fixtures of the market-analyzer tests: where the real data is, how to read it and how to
drive analyzers the way the engine does.

* ``sample_data``: the kernel's bundled real data (``examples/data`` of the repository); the
  test is skipped when the plugin is tested outside the repository.
* ``shared_data``: ``../shared/data`` beside the project root; skipped with a clear reason when
  it is absent.
* ``read_events(files)``: the events of data files, read by the kernel's own ``csv`` feed (so
  rows are validated and ordered exactly as in a run).
* ``drive(ctx, analyzers, events, after=None)``: for each event, update ``ctx.now`` and
  ``ctx.market[symbol]`` as the engine does before any component sees it (last price, best
  bid/offer, the L2 book), then call each analyzer's callback in order, then ``after(event)``.
  ``test_engine_run.py`` checks that this gives the same facts as a real engine run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from hean_framework.book import OrderBook
from hean_framework.context import RunContext
from hean_framework.models import Bar, BookUpdate, MarketEvent, Quote, Trade
from hean_framework.testing import build_component, isolated_plugins, make_context

PLUGIN = Path(__file__).resolve().parents[1]
ROOT = PLUGIN.parents[1]
SAMPLE_DATA = ROOT / "examples" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"

CALLBACK = {Bar: "on_bar", Trade: "on_trade", Quote: "on_quote", BookUpdate: "on_book"}


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
    pm = isolated_plugins()
    feed = build_component(pm, "feed", "csv", make_context(), {"files": files})
    return list(feed.events())  # type: ignore[attr-defined]


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


def step_market(ctx: RunContext, ev: MarketEvent) -> None:
    """What the engine does to the market state before the components see ``ev``."""
    ctx.now = ev.ts
    st = ctx.market[ev.symbol]
    st.ts = ev.ts
    if isinstance(ev, Bar):
        st.last = ev.close
    elif isinstance(ev, Trade):
        st.last = ev.price
    elif isinstance(ev, Quote):
        st.bid, st.ask, st.bid_size, st.ask_size = ev.bid, ev.ask, ev.bid_size, ev.ask_size
    elif isinstance(ev, BookUpdate):
        if st.book is None:
            st.book = OrderBook(ev.symbol)
        st.book.apply(ev)
        b = st.book
        st.bid, st.ask, st.bid_size, st.ask_size = b.bid, b.ask, b.bid_size, b.ask_size


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
