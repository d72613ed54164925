"""A tick strategy and a ``hean`` entry point for paper/live tests against the fake exchange.

:class:`TickFlip` trades on public trades: every ``every`` prints it sends a market signal,
alternating buy and sell, with a stop and a target ``band`` away.  :class:`Holder` opens one
position and later closes all of it (two of them on opposite sides test the reduce-only
mapping), and can rest and amend a limit order.  :class:`TimerFlip` decides on a timer only,
from mark prices (the replay test).  :func:`main` runs the ``hean`` CLI with the
builtin plugins and this strategy only (a separate process -- the crash-recovery test kills
it -- cannot see a strategy defined in a test module):

    python -m hean_framework.testing.fake_bybit.demo run CONFIG --mode live --live

:func:`config` writes a run config for the fake's URLs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.models import MarkPrice, Order, Signal, Trade


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


class HolderConfig(ComponentConfig):
    """Settings of :class:`Holder`."""

    side: Literal["buy", "sell"] = Field("buy", description="side of the position")
    qty: float = Field(0.01, gt=0, description="position size (instrument units)")
    enter_at: int = Field(20, ge=1, le=10_000_000, description="trade count of the entry")
    exit_at: int = Field(0, ge=0, le=10_000_000, description="trade count of the exit "
                         "(0: never)")
    rest_at: int = Field(0, ge=0, le=10_000_000, description="trade count at which a limit "
                         "order rests 5% away from the market (0: never)")
    amend_at: int = Field(0, ge=0, le=10_000_000, description="trade count at which the "
                          "resting order is amended to 4% away and 1.5x its size (0: never)")
    target: float = Field(0.0, ge=0, lt=0.5, description="take-profit distance of the entry, "
                          "fraction (0: none)")


class Holder(Strategy):
    """Opens one position with a market order at trade ``enter_at`` and closes the whole of
    it with a reduce-only exit signal at ``exit_at``; optionally rests a limit order far from
    the market and amends it (price and size) later."""

    config_model = HolderConfig

    def on_start(self) -> None:
        self.n = 0
        self.resting = 0
        self.amended = False

    def on_order_update(self, order: Order) -> None:
        if order.tag == "HOLDER_REST" and order.status == "open":
            self.resting = order.order_id

    def on_trade(self, trade: Trade) -> Signal | None:
        self.n += 1
        c = self.config
        sym = trade.symbol
        if self.n == c.amend_at and self.resting:
            order = self.ctx.orders.amend(self.resting, qty=c.qty * 1.5,
                                          price=trade.price * (0.96 if c.side == "buy"
                                                               else 1.04))
            self.amended = order is not None
        if self.n == c.rest_at:
            px = trade.price * (0.95 if c.side == "buy" else 1.05)
            return self.signal(sym, c.side, trade.ts, px, size=c.qty, order_type="limit",
                               limit_price=px, tag="HOLDER_REST")
        if self.n == c.enter_at:
            tp = trade.price * (1 + c.target if c.side == "buy" else 1 - c.target)
            return self.signal(sym, c.side, trade.ts, trade.price, size=c.qty,
                               take_profit=tp if c.target else None)
        if self.n == c.exit_at:
            pos = self.ctx.portfolio.position_qty(self.name, sym)
            if pos:
                return self.signal(sym, "sell" if pos > 0 else "buy", trade.ts, trade.price,
                                   reduce_only=True, tag="HOLDER_EXIT")
        return None


class TimerFlipConfig(ComponentConfig):
    """Settings of :class:`TimerFlip`."""

    period_ms: int = Field(300, ge=10, le=3_600_000, description="timer period")
    qty: float = Field(0.002, gt=0, description="order quantity (instrument units)")
    symbol: str = Field("", description="symbol traded ('': the first one that trades)")


class TimerFlip(Strategy):
    """Decides on a wall-clock timer only: every ``period_ms`` (from its first trade) a market
    signal whose side depends on the mark price against the last trade and on how many mark
    updates it has seen -- so a replay that lost the timers' places or the mark events
    decides differently."""

    config_model = TimerFlipConfig

    def on_start(self) -> None:
        self.marks = 0
        self.symbol = ""

    def on_mark(self, ev: MarkPrice) -> None:
        self.marks += 1

    def on_trade(self, trade: Trade) -> None:
        if not self.symbol:
            self.symbol = self.config.symbol or trade.symbol
            self.ctx.clock.schedule(trade.ts + self.config.period_ms, self._tick)

    def _tick(self, ts: int) -> None:
        self.ctx.clock.schedule(max(ts, self.ctx.now) + self.config.period_ms, self._tick)
        st = self.ctx.market[self.symbol]
        if not st.last or not st.mark:
            return
        up = (st.mark >= st.last) != bool(self.marks % 2)
        self.ctx.orders.propose(self.signal(self.symbol, "buy" if up else "sell", ts,
                                            st.last, size=self.config.qty,
                                            tag=f"TIMER_{self.marks}"))


class DemoPlugin:
    """Registers ``tick_flip``, ``holder`` and ``timer_flip``."""

    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("tick_flip", TickFlip, config=TickFlipConfig,
                 description="test strategy: alternating market signals on trades")
        register("holder", Holder, config=HolderConfig,
                 description="test strategy: one position opened, then closed whole")
        register("timer_flip", TimerFlip, config=TimerFlipConfig,
                 description="test strategy: market signals from a timer, by mark vs last")


def config(path: Path, rest: str, ws: str, *, mode: str = "paper", name: str = "live-test",
           every: int = 25, extra: dict[str, Any] | None = None) -> Path:
    """Write a run config trading BTC/USDT:USDT on the fake at ``rest``/``ws`` (``extra``:
    sections merged in, one level deep; ``strategies`` replaces the demo's)."""
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
        if isinstance(val, dict) and isinstance(raw.get(key), dict) and key != "strategies":
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

    # patched for this call only: a test calling main() in-process must not leave the demo
    # registry behind for the tests after it
    saved = session_mod.plugins_for, cli_mod.load_plugins
    setattr(session_mod, "plugins_for", only_demo)  # noqa: B010 (patching a module for a run)
    setattr(cli_mod, "load_plugins", only_demo)  # noqa: B010
    try:
        cli_mod.main(list(argv) if argv is not None else sys.argv[1:])
    finally:
        setattr(session_mod, "plugins_for", saved[0])  # noqa: B010
        setattr(cli_mod, "load_plugins", saved[1])  # noqa: B010


if __name__ == "__main__":
    main()
