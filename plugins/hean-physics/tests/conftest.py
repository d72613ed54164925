"""Fixtures of the physics tests: the real data sets and an analyzer driven over them.

* ``physics_run(kind, symbol, path, config=None)`` builds the ``physics`` analyzer the way the
  engine does (``build_component``), feeds it every event of the file read by the kernel's
  own csv feed (``read_events``), after updating ``ctx.now`` / the market state as the engine
  would (``step_market``), and returns ``(analyzer, ctx)``.  Results are cached per
  (file, config) for the session: treat them as read-only.
* ``make_physics(config=None, symbols=None, ctx=None)`` -> ``(analyzer, ctx)``: one analyzer
  built as the engine builds it.
* ``bars_files`` / ``trades_files``: symbol -> path under ``../shared/data`` of the 1-minute
  candles of four Binance USDT-M perpetuals of very different prices (BTC ~100 k, ETH ~2.5 k,
  SOL ~170, XRP ~2.3 USDT) and of the 2024-08-08 trade captures of BTC and ETH.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hean_framework.context import RunContext
from hean_framework.testing import build_component, isolated_plugins, make_context, step_market

BARS = {
    "BTC/USDT:USDT": "ohlcv/binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz",
    "ETH/USDT:USDT": "ohlcv/binance_usdm_perp_ETHUSDT_1m_20250504_20250615.csv.gz",
    "SOL/USDT:USDT": "ohlcv/binance_usdm_perp_SOLUSDT_1m_20250504_20250603.csv.gz",
    "XRP/USDT:USDT": "ohlcv/binance_usdm_perp_XRPUSDT_1m_20250504_20250603.csv.gz",
}
TRADES = {
    "BTC/USDT:USDT": "trades/binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz",
    "ETH/USDT:USDT": "trades/binance_usdm_perp_ETHUSDT_trades_20240808.csv.gz",
}


def _make_physics(config: dict[str, Any] | None = None, symbols: list[str] | None = None,
                 ctx: RunContext | None = None) -> tuple[Any, RunContext]:
    """A ``physics`` analyzer built as the engine builds it, and its context."""
    pm = isolated_plugins("hean_physics.plugin")
    ctx = ctx or make_context()
    syms = symbols or ["BTC/USDT:USDT"]
    return build_component(pm, "analyzer", "physics", ctx, config or {}, symbols=syms), ctx


@pytest.fixture(scope="session")
def physics_run(shared_data: Path, read_events: Any
                ) -> Callable[..., tuple[Any, RunContext]]:
    cache: dict[str, tuple[Any, RunContext]] = {}

    def run(kind: str, symbol: str, path: str,
            config: dict[str, Any] | None = None) -> tuple[Any, RunContext]:
        key = repr((kind, symbol, path, sorted((config or {}).items())))
        if key not in cache:
            events = read_events([{"kind": kind, "symbol": symbol,
                                   "path": str(shared_data / path)}])
            an, ctx = _make_physics(config, [symbol])
            for ev in events:
                step_market(ctx, ev)
                if kind == "bars":
                    an.on_bar(ev)
                elif kind == "trades":
                    an.on_trade(ev)
                else:
                    an.on_quote(ev)
            cache[key] = (an, ctx)
        return cache[key]

    return run


@pytest.fixture(scope="session")
def make_physics() -> Callable[..., tuple[Any, RunContext]]:
    return _make_physics


@pytest.fixture(scope="session")
def bars_files() -> dict[str, str]:
    return dict(BARS)


@pytest.fixture(scope="session")
def trades_files() -> dict[str, str]:
    return dict(TRADES)
