"""Fixtures of the hean-sentiment tests: where the data is and how to drive the components the
way the engine does.

* ``PLUGIN``, ``SAMPLE_ITEMS``: the plugin folder and its derived sample items file;
* ``sample_data`` and ``shared_data`` come from the kernel's testing kit (the ``hean`` pytest
  plugin);
* :func:`real_bars` reads 5m candle files into :class:`Bar` (stamped at their close time, as
  the kernel's feed does) merged in time order;
* :func:`context` builds a testing-kit context whose ``ctx.run`` resolves relative paths
  against the plugin folder (as a run resolves them against its YAML);
* :func:`replay` drives a source and a strategy over events as the engine does: ``ctx.now`` and
  the symbol's last price first, then the analyzer, then the strategy.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hean_framework.context import RunContext
from hean_framework.models import Bar, Funding, MarketEvent, Trade
from hean_framework.ports import RunInfo
from hean_framework.testing import build_component, isolated_plugins, make_context

PLUGIN = Path(__file__).resolve().parents[1]
ROOT = PLUGIN.parents[1]
SAMPLE_ITEMS = PLUGIN / "data" / "derived_sentiment_btc_eth_20250306_20250413.csv"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
BTC_5M = "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"
ETH_5M = "binance_usdm_perp_ETHUSDT_5m_20250306_20250413.csv.gz"
BTC_FUNDING = "binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz"
ETH_FUNDING = "binance_usdm_perp_ETHUSDT_funding_8h_20250306_20250615.csv.gz"
MODULE = "hean_sentiment.plugin"


def read_bars(path: Path, symbol: str) -> Iterator[Bar]:
    """Candles of a gzip CSV (timestamp = open time) as Bars stamped at their close."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    step = int(rows[1]["timestamp"]) - int(rows[0]["timestamp"])
    for r in rows:
        yield Bar(int(r["timestamp"]) + step, symbol, float(r["open"]), float(r["high"]),
                  float(r["low"]), float(r["close"]), float(r["volume"]), step)


def read_funding(path: Path, symbol: str) -> Iterator[Funding]:
    """Funding settlements of a gzip CSV."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            yield Funding(int(r["timestamp"]), symbol, float(r["funding_rate"]),
                          float(r["mark_price"]))


def real_bars(data: Path, files: Iterable[tuple[str, str]] = ((BTC, BTC_5M), (ETH, ETH_5M))
              ) -> list[Bar]:
    """The candles of several files merged by (time, symbol)."""
    out: list[Bar] = []
    for symbol, name in files:
        out.extend(read_bars(data / name, symbol))
    out.sort(key=lambda b: (b.ts, b.symbol))
    return out


def context(symbols: list[str] | None = None, base_dir: Path = PLUGIN,
            capital: float = 1000.0) -> RunContext:
    """A testing-kit context whose relative paths resolve against ``base_dir``."""
    ctx = make_context(symbols=symbols or [BTC, ETH], capital=capital)
    ctx.run = RunInfo(strategies={}, base_dir=str(base_dir))
    return ctx


def build(ctx: RunContext, kind: str, name: str, config: dict[str, Any] | None = None,
          symbols: list[str] | None = None, *modules: str) -> Any:
    """A component of this plugin built as the engine builds it (``on_start`` called)."""
    pm = isolated_plugins(MODULE, *modules)
    return build_component(pm, kind, name, ctx, config or {}, symbols=symbols or [BTC, ETH])


CALLBACK = {Bar: "on_bar", Trade: "on_trade", Funding: "on_funding"}


def replay(ctx: RunContext, events: Iterable[MarketEvent], *listeners: Any) -> list[Any]:
    """Drive ``listeners`` (analyzers first, then strategies) over ``events``; the signals."""
    out: list[Any] = []
    for ev in events:
        ctx.now = ev.ts
        st = ctx.market[ev.symbol]
        if isinstance(ev, Bar):
            st.last, st.ts = ev.close, ev.ts
            st.prices.append(ev.close)
        elif isinstance(ev, Trade):
            st.last, st.ts = ev.price, ev.ts
        elif isinstance(ev, Funding):
            st.funding_rate, st.last_funding_ts = ev.rate, ev.ts
        name = CALLBACK[type(ev)]
        for comp in listeners:
            if ev.symbol not in comp.symbols:
                continue
            res = getattr(comp, name)(ev)
            if res is not None:
                out.append(res)
    return out


class Kit:
    """The helpers above, handed to tests by the ``kit`` fixture (test modules cannot import
    each other or this file under pytest's importlib mode)."""

    PLUGIN, ROOT, SAMPLE_ITEMS = PLUGIN, ROOT, SAMPLE_ITEMS
    BTC, ETH = BTC, ETH
    BTC_5M, ETH_5M, BTC_FUNDING, ETH_FUNDING = BTC_5M, ETH_5M, BTC_FUNDING, ETH_FUNDING
    MODULE = MODULE
    read_bars = staticmethod(read_bars)
    read_funding = staticmethod(read_funding)
    real_bars = staticmethod(real_bars)
    context = staticmethod(context)
    build = staticmethod(build)
    replay = staticmethod(replay)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    """The shared test helpers."""
    return Kit


def _check_window(steps: list[tuple[int, float, float, bool]], lookback: int) -> None:
    """Replay adds/evictions and compare the rolling sums with a direct recomputation."""
    from hean_sentiment.aggregate import SourceWindow

    w = SourceWindow(lookback)
    kept: list[tuple[int, float, float]] = []
    now = 0
    for dt, s, c, evict in steps:
        now += dt
        if evict:
            w.evict(now)
            kept = [k for k in kept if k[0] > now - lookback]
        else:
            w.add(now, s, c)
            kept.append((now, s, c))
        assert len(w) == len(kept)
        assert math.isclose(w.sum_sc, sum(k[1] * k[2] for k in kept), abs_tol=1e-9)
        assert math.isclose(w.sum_c, sum(k[2] for k in kept), abs_tol=1e-9)


@pytest.fixture(scope="session")
def window_check() -> Any:
    """``window_check(steps, lookback)``: the rolling-window invariant (seeded and hypothesis
    tests share it)."""
    return _check_window
