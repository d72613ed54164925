"""Shared test kit: a small channel-break strategy on the kernel's bundled real BTC 5m candles
(fixture ``kit``: the plugin, the searched parameters and a config factory).  Dask worker
processes of the tests are forked, so they know these classes without importing this file.

``crash_marker``: when set, the first backtest that starts while the file does not exist
creates it and kills its own process (``os._exit``) -- a worker dying mid-evaluation.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import pytest
from pydantic import Field

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.models import Bar, Signal
from hean_framework.testing import SAMPLE_FILE, SAMPLE_SYMBOL

SAMPLE = Path(str(resources.files("hean_framework") / "data" / "sample" / SAMPLE_FILE))
PARAMS = ["lookback", "stop_pct", "mode"]


class ChannelConfig(ComponentConfig):
    lookback: int = Field(24, ge=5, le=60)
    stop_pct: float = Field(0.01, ge=0.002, le=0.05)
    mode: Literal["follow", "fade"] = "follow"
    crash_marker: str = ""


class Channel(Strategy):
    """A close outside the channel of the last ``lookback`` closes: follow it or fade it;
    stop ``stop_pct`` away, target twice as far."""

    config: ChannelConfig

    def on_start(self) -> None:
        self.closes: list[float] = []
        marker = self.config.crash_marker
        if marker:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.close(fd)
            os._exit(17)

    def on_bar(self, bar: Bar) -> Signal | None:
        cfg = self.config
        h = self.closes
        h.append(bar.close)
        if len(h) <= cfg.lookback:
            return None
        del h[:-cfg.lookback - 1]
        up, down = bar.close > max(h[:-1]), bar.close < min(h[:-1])
        if not (up or down):
            return None
        sign = 1.0 if up == (cfg.mode == "follow") else -1.0
        return self.signal(bar.symbol, "buy" if sign > 0 else "sell", bar.ts, bar.close,
                           stop_loss=bar.close * (1 - sign * cfg.stop_pct),
                           take_profit=bar.close * (1 + 2 * sign * cfg.stop_pct))


class ChannelPlugin:
    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("channel", Channel, config=ChannelConfig)


SYMBIONT = {"population": 6, "generations": 3, "folds": 2, "in_sample_segments": 2,
            "pbo_blocks": 4, "wfa_min_periods": 24, "wfa_oos_periods": 12, "workers": 1}


def raw(**symbiont: Any) -> dict[str, Any]:
    """A run config on the kernel's bundled real BTC 5m candles (to 2025-03-20)."""
    return {
        "run": {"name": "symbiont_backends", "seed": 11}, "account": {"capital": 10_000},
        "small_capital": {"enabled": False},
        "data": {"files": [{"kind": "bars", "symbol": SAMPLE_SYMBOL, "path": str(SAMPLE)}],
                 "end": "2025-03-20"},
        "strategies": {"channel": {}}, "optimizers": {"symbiont": {**SYMBIONT, **symbiont}},
        "report": {"progress": False},
    }


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """``plugin`` (registers ``channel``), ``params`` (searched), ``raw(**symbiont)``."""
    return SimpleNamespace(plugin=ChannelPlugin, params=PARAMS, raw=raw)
