"""A tick strategy and a ``hean`` entry point for paper/live tests against the fake exchange.

:class:`TickFlip` trades on public trades: every ``every`` prints it sends a market signal,
alternating buy and sell, with a stop and a target ``band`` away (no timers, so a recorded
paper session replays to the same decisions).  :func:`main` runs the ``hean`` CLI with the
builtin plugins and this strategy only (a separate process -- the crash-recovery test kills
it -- cannot see a strategy defined in a test module):

    python -m hean_framework.testing.fake_bybit.demo run CONFIG --mode live --live

:func:`config` writes a run config for the fake's URLs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.models import Signal, Trade


class TickFlipConfig(ComponentConfig):
    """Settings of :class:`TickFlip`."""

    every: int = Field(25, ge=1, le=100_000, description="trades between signals")
    band: float = Field(0.002, gt=0, lt=0.5, description="stop/target distance, fraction")
    qty: float = Field(0.002, gt=0, description="order quantity (instrument units)")


class TickFlip(Strategy):
    """Every ``every`` trades: a market signal, buy and sell in turn, stop/target ``band``."""

    config_model = TickFlipConfig

    def on_start(self) -> None:
        self.n = 0
        self.side = "sell"

    def on_trade(self, trade: Trade) -> Signal | None:
        self.n += 1
        if self.n % self.config.every:
            return None
        self.side = "buy" if self.side == "sell" else "sell"
        px = trade.price
        b = self.config.band
        up, down = px * (1 + b), px * (1 - b)
        return self.signal(trade.symbol, self.side, trade.ts, px, size=self.config.qty,
                           stop_loss=down if self.side == "buy" else up,
                           take_profit=up if self.side == "buy" else down)


class DemoPlugin:
    """Registers ``tick_flip``."""

    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("tick_flip", TickFlip, config=TickFlipConfig,
                 description="test strategy: alternating market signals on trades")


def config(path: Path, rest: str, ws: str, *, mode: str = "paper", name: str = "live-test",
           every: int = 25, extra: dict[str, Any] | None = None) -> Path:
    """Write a run config trading BTC/USDT:USDT on the fake at ``rest``/``ws``."""
    raw: dict[str, Any] = {
        "run": {"name": name, "mode": mode},
        "account": {"capital": 10_000},
        "exchange": {"urls": {"rest": rest, "ws": ws}, "rate_limit": False, "tick_ms": 200,
                     "poll_ms": 500, "backoff_ms": 20, "timeout_ms": 1500},
        "data": {"feed": "bybit", "symbols": ["BTC/USDT:USDT"]},
        "venue": {"name": "bybit" if mode == "live" else "sim", "exchange": "bybit"},
        "strategies": {"tick_flip": {"every": every}},
        "small_capital": {"enabled": False},
        "pipeline": {"allow_reversal": True},
        "report": {"progress": False, "html": False},
    }
    for key, val in (extra or {}).items():
        if isinstance(val, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **val}
        else:
            raw[key] = val
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def plugins() -> Any:
    """Builtins and the demo strategy."""
    from hean_framework.testing import isolated_plugins

    return isolated_plugins(DemoPlugin(), names=["fake_bybit_demo"])


def main(argv: Sequence[str] | None = None) -> None:
    """``hean`` with the builtin plugins and :class:`TickFlip` only."""
    import hean_framework.cli as cli_mod
    import hean_framework.session as session_mod

    def only_demo(*args: Any, **kw: Any) -> Any:
        return plugins()

    setattr(session_mod, "plugins_for", only_demo)  # noqa: B010 (patching a module for a run)
    setattr(cli_mod, "load_plugins", only_demo)  # noqa: B010
    cli_mod.main(list(argv) if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
