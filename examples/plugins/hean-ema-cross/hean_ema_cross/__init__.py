"""EMA cross, long/flat -- the anchor benchmark strategy, in its speed-tuned form (batch
``on_bars``/``on_trades``, hand-kept state; ``docs/writing_plugins.md``, "The speed-tuned
form").  Copy ``examples/plugins/hean-breakout`` instead when writing a strategy.

Rules (bench/README.md, the anchor workload): EMA(fast) and EMA(slow) of the event price
(bar close or trade price), ``alpha = 2 / (n + 1)``, both seeded with the first price;
decisions from event index ``slow - 1``; when fast > slow and flat: market BUY ``qty``; when
not (fast > slow) and long: market SELL ``qty``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from hean_framework import ComponentConfig, Strategy, hookimpl
from hean_framework.blocks import BarBlock, TradeBlock, view
from hean_framework.hookspecs import RegisterComponent
from hean_framework.models import Bar, Signal, Trade

__version__ = "0.1.0"


class EmaCrossConfig(ComponentConfig):
    """``strategies.ema_cross``."""

    fast: int = Field(10, ge=1, description="fast EMA length")
    slow: int = Field(30, ge=2, description="slow EMA length")
    qty: float = Field(1.0, gt=0, description="units bought on a cross up")


class EmaCross(Strategy):
    """Long/flat EMA cross with a fixed quantity (no stop: set
    ``pipeline.require_stop_loss: false``)."""

    config: EmaCrossConfig

    def on_start(self) -> None:
        cfg = self.config
        self.af = 2.0 / (cfg.fast + 1)
        self.bf = 1.0 - self.af
        self.aslow = 2.0 / (cfg.slow + 1)
        self.bslow = 1.0 - self.aslow
        self.warm = cfg.slow - 1.0
        self.qty = cfg.qty
        self.state: dict[str, list[float]] = {}  # symbol -> [fast, slow, n, long]

    def _price(self, symbol: str, ts: int, px: float) -> Signal | None:
        st = self.state.get(symbol)
        if st is None:
            st = self.state[symbol] = [px, px, 0.0, 0.0]
        fast = st[0] = self.af * px + self.bf * st[0]
        slow = st[1] = self.aslow * px + self.bslow * st[1]
        n = st[2]
        st[2] = n + 1.0
        if n < self.warm:
            return None
        if fast > slow:
            if st[3] == 0.0:
                st[3] = 1.0
                return Signal(self.name, symbol, "buy", ts, px, size=self.qty)
        elif st[3] != 0.0:
            st[3] = 0.0
            return Signal(self.name, symbol, "sell", ts, px, size=self.qty, reduce_only=True,
                          tag="EMA_CROSS_DOWN")
        return None

    def on_bar(self, bar: Bar) -> Signal | None:
        return self._price(bar.symbol, bar.ts, bar.close)

    def on_trade(self, trade: Trade) -> Signal | None:
        return self._price(trade.symbol, trade.ts, trade.price)

    # Batch forms (the engine's fast path): the same rules over a run of rows, returning at
    # the first row that signals.  The contract suite checks they match on_bar / on_trade.

    def on_bars(self, block: BarBlock, start: int, stop: int) -> tuple[int, Signal] | None:
        return self._prices(block.symbol, block.ts, block.close, start, stop)

    def on_trades(self, block: TradeBlock, start: int, stop: int) -> tuple[int, Signal] | None:
        return self._prices(block.symbol, block.ts, block.price, start, stop)

    def _prices(self, symbol: str, ts: Sequence[int], px: Sequence[float], start: int,
                stop: int) -> tuple[int, Signal] | None:
        st = self.state.get(symbol)
        if st is None:
            p0 = px[start]
            st = self.state[symbol] = [p0, p0, 0.0, 0.0]
        fast, slow, n, long = st
        af, bf, aslow, bslow = self.af, self.bf, self.aslow, self.bslow
        i = start
        # warm-up rows: update the averages only
        warm_stop = min(stop, start + max(0, int(self.warm - n)))
        while i < warm_stop:
            p = px[i]
            fast = af * p + bf * fast
            slow = aslow * p + bslow * slow
            i += 1
        n += i - start
        found = -1
        for p in view(px, i, stop):
            fast = af * p + bf * fast
            slow = aslow * p + bslow * slow
            if fast > slow:
                if long == 0.0:
                    long = 1.0
                    found = i
                    break
            elif long != 0.0:
                long = 0.0
                found = i
                break
            i += 1
        if found < 0:
            st[0], st[1], st[2], st[3] = fast, slow, n + (stop - warm_stop), long
            return None
        st[0], st[1], st[2], st[3] = fast, slow, n + (found - warm_stop + 1), long
        if long:
            return found, Signal(self.name, symbol, "buy", ts[found], px[found], size=self.qty)
        return found, Signal(self.name, symbol, "sell", ts[found], px[found], size=self.qty,
                             reduce_only=True, tag="EMA_CROSS_DOWN")


@hookimpl
def hean_register_strategies(register: RegisterComponent) -> None:
    """Register ``ema_cross``."""
    register("ema_cross", EmaCross, config=EmaCrossConfig)
