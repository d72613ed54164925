"""Engine runs of ``twap`` on real data.

``run_twap(out, files, twap=..., parents=..., raw=...)``: a real engine run (journal on) of a
test strategy that sends one market order of a pinned size at the first trade (or candle) at
or after each pinned time, through ``twap``; returns a :class:`TwapRun` with the run result,
the journal's decisions, orders, fills and ``twap_*`` / ``risk_state`` events.

The test strategy sends no stop or target (``pipeline.require_stop_loss: false``) and the
small-capital mode is off, so what reaches the executor is exactly the pinned parent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.models import Bar, Trade
from hean_framework.run import RunResult
from hean_framework.testing import isolated_plugins

BTC = "BTC/USDT:USDT"
#: 2024-08-08 23:54:30 UTC, 14 s into the Binance USDT-M capture
T0 = 1_723_161_270_000


class PinnedConfig(ComponentConfig):
    """``strategies.pinned``: ``parents`` = ``[[ts, side, size], ...]``."""

    parents: list[tuple[int, str, float]] = []


class Pinned(Strategy):
    """One market order per pinned (time, side, size), at the first trade/candle at or after
    the time."""

    config: PinnedConfig

    def on_start(self) -> None:
        self.todo = sorted(self.config.parents)

    def _due(self, ts: int, price: float) -> Any:
        if not self.todo or ts < self.todo[0][0]:
            return None
        _, side, size = self.todo.pop(0)
        return self.signal(self.symbols[0], side, ts, price, size=size)

    def on_trade(self, trade: Trade) -> Any:
        return self._due(trade.ts, trade.price)

    def on_bar(self, bar: Bar) -> Any:
        return self._due(bar.ts, bar.close)


class _Plugin:
    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("pinned", Pinned, config=PinnedConfig)


@dataclass
class TwapRun:
    """What a test reads back from one run."""

    result: RunResult
    decisions: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def twap(self) -> dict[str, Any]:
        """The report section."""
        out: dict[str, Any] = self.result.sections["twap"]
        return out

    @property
    def tca(self) -> dict[str, Any]:
        """The transaction-cost section."""
        out: dict[str, Any] = self.result.sections["tca"]
        return out

    def slices(self, decision_id: int) -> list[dict[str, Any]]:
        """The ``twap_slice`` payloads of one parent, in order."""
        return [e for e in self.events.get("twap_slice", []) if e["decision_id"] == decision_id]


def _run_twap(out: Path, files: list[dict[str, Any]], *, twap: dict[str, Any],
              parents: list[tuple[int, str, float]], raw: dict[str, Any] | None = None,
              seed: int = 7, capital: float = 1_000_000.0) -> TwapRun:
    pm = isolated_plugins(_Plugin(), "hean_twap.plugin", names=["pinned_test", "twap"])
    cfg: dict[str, Any] = {
        "run": {"name": "twap", "seed": seed}, "account": {"capital": capital},
        "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
        "venue": {"name": "sim", "exchange": "binance"}, "data": {"files": files},
        "strategies": {"pinned": {"symbols": [files[0]["symbol"]], "executor": "twap",
                                  "parents": [list(p) for p in parents]}},
        "executors": {"twap": twap}, "report": {"progress": False}}
    for k, v in (raw or {}).items():
        cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
    setup = load_setup(None, pm.registry, raw=cfg, environ={})
    eng = Engine(setup, pm, out_dir=out, journal=True, progress=False)
    try:
        res = eng.run()
    finally:
        eng.close()
    with Journal.open_readonly(out / "journal.sqlite") as j:
        events: dict[str, list[dict[str, Any]]] = {}
        for e in j.events():
            events.setdefault(e["kind"], []).append({"ts": e["ts"], **(e["payload"] or {})})
        return TwapRun(res, j.decisions(), j.orders(), j.fills(), events)


@pytest.fixture(scope="session")
def run_twap() -> Callable[..., TwapRun]:
    """``run_twap(out, files, twap=..., parents=..., raw=None, seed=7)`` (module
    docstring)."""
    return _run_twap


@pytest.fixture(scope="session")
def btc_files(shared_data: Path) -> Callable[..., list[dict[str, Any]]]:
    """``btc_files(l2=False)``: the 2024-08-08 Binance USDT-M BTCUSDT trades and best
    bid/offer of ``../shared/data`` (and the complete L2 capture with ``l2=True``)."""

    def files(l2: bool = False) -> list[dict[str, Any]]:
        ob = shared_data / "orderbook"
        out = [{"kind": "bbo", "symbol": BTC,
                "path": str(ob / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
               {"kind": "trades", "symbol": BTC, "path": str(
                   shared_data / "trades" / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}]
        if l2:
            out.insert(0, {"kind": "l2", "symbol": BTC,
                           "path": str(ob / "binance_usdm_perp_BTCUSDT_l2_20240808.csv.gz")})
        return out

    return files
