"""Plugin-author kit: isolated plugin managers, a fake run context, real sample data and
contract test suites per component kind.

Installed as the ``pytest11`` plugin ``hean`` (fixtures ``hean_plugins``, ``hean_register``,
``hean_ctx``); the contract suites are plain classes to subclass in your tests::

    from hean_framework.testing import StrategyContract

    class TestMyStrategy(StrategyContract):
        plugin_name = "my_strategy"
        plugin_module = "my_package.plugin"   # the module with your hookimpls
"""

from __future__ import annotations

import csv
import gzip
import importlib
from collections.abc import Iterator
from importlib import resources
from typing import Any

from ..components import Component
from ..context import RunContext
from ..models import Bar, Fill, Order, Signal
from ..plugins import HeanPluginManager
from .contracts import (
    ExecutorContract,
    FilterContract,
    GateContract,
    SizerContract,
    StrategyContract,
)

SAMPLE_SYMBOL = "BTC/USDT:USDT"
SAMPLE_FILE = "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"

__all__ = [
    "SAMPLE_SYMBOL", "ExecutorContract", "FakeEngine", "FilterContract", "GateContract",
    "SizerContract", "StrategyContract", "build_component", "isolated_plugins", "make_context",
    "sample_bars",
]


def sample_bars(n: int | None = None, symbol: str = SAMPLE_SYMBOL) -> Iterator[Bar]:
    """Real Binance BTC/USDT:USDT 5m candles shipped with the kernel (10,906 bars).

    Bars are stamped at their close time, as the engine dispatches them.
    """
    ref = resources.files("hean_framework") / "data" / "sample" / SAMPLE_FILE
    with ref.open("rb") as raw, gzip.open(raw, "rt", newline="") as fh:
        rd = csv.reader(fh)
        next(rd)
        for i, row in enumerate(rd):
            if n is not None and i >= n:
                return
            ts = int(row[0]) + 300_000
            yield Bar(ts, symbol, float(row[1]), float(row[2]), float(row[3]), float(row[4]),
                      float(row[5]), 300_000)


def isolated_plugins(*modules: Any, builtins: bool = True,
                     names: list[str] | None = None) -> HeanPluginManager:
    """A loaded plugin manager with autoload OFF: only builtins and ``modules``.

    ``modules`` are module objects or dotted names of modules holding hookimpls.
    """
    pm = HeanPluginManager(autoload=False, allow=(), builtins=builtins)
    for i, m in enumerate(modules):
        mod = importlib.import_module(m) if isinstance(m, str) else m
        name = names[i] if names else getattr(mod, "__name__", f"test_plugin_{i}")
        pm.register_plugin(mod, name)
    return pm.load()


class FakeEngine:
    """Stands in for the engine in unit tests: records orders, fills market orders at once.

    ``budget()`` returns ``budget_value``; orders are filled at ``ctx.market[symbol].price``
    (market) or kept open (limit) -- enough to test sizers, gates and executors alone.
    """

    def __init__(self, ctx: RunContext, budget_value: float = 1000.0) -> None:
        self.ctx = ctx
        self.budget_value = budget_value
        self.orders: list[Order] = []
        self.fills: list[Fill] = []
        self.cancelled: list[int] = []

    def budget(self, strategy_id: str) -> float:
        """The capital the sizers may risk from."""
        return self.budget_value

    def submit_order(self, signal: Signal, decision: Any, qty: float, *,
                     order_type: str = "market", price: float | None = None,
                     post_only: bool = False, reduce_only: bool | None = None,
                     executor: Any = None, tag: str = "", parent_id: int = 0) -> Order:
        """Record the order; fill market orders immediately."""
        o = Order(self.ctx.next_id(), signal.strategy_id, signal.symbol, signal.side, qty,
                  order_type, price, post_only, bool(reduce_only), self.ctx.now,
                  signal_id=signal.signal_id, tag=tag, parent_id=parent_id)
        self.orders.append(o)
        if order_type == "market":
            px = self.ctx.market[signal.symbol].price
            o.status, o.filled, o.avg_price = "filled", qty, px
            f = Fill(self.ctx.next_id(), o.order_id, o.strategy_id, o.symbol, o.side, qty, px,
                     0.0, False, self.ctx.now, o.signal_id)
            self.fills.append(f)
            if executor is not None:
                executor.on_fill(f)
        else:
            o.status = "open"
        return o

    def cancel_order(self, order_id: int, reason: str = "") -> Order | None:
        """Cancel a recorded open order."""
        for o in self.orders:
            if o.order_id == order_id and not o.is_done:
                o.status = "cancelled"
                o.reason = reason
                self.cancelled.append(order_id)
                return o
        return None


def make_context(*, exchange: str = "binance", symbols: list[str] | None = None,
                 capital: float = 1000.0, price: float | None = None,
                 bid: float | None = None, ask: float | None = None,
                 now: int = 1_741_257_000_000) -> RunContext:
    """A RunContext with real instrument metadata, a portfolio and a :class:`FakeEngine`.

    ``price``/``bid``/``ask`` seed ``ctx.market`` for every symbol.
    """
    from ..instruments import Instruments
    from ..portfolio import Portfolio

    syms = symbols or [SAMPLE_SYMBOL]
    ctx = RunContext(config=None)
    ctx.now = now
    ctx.instruments = Instruments.load(exchange, syms)
    ctx.portfolio = Portfolio(capital, ctx.instruments, ctx.market)
    ctx.engine = FakeEngine(ctx, capital)
    for s in syms:
        st = ctx.market[s]
        st.ts = now
        if price is not None:
            st.last = price
            st.prices.append(price)
        if bid is not None and ask is not None:
            st.bid, st.ask, st.bid_size, st.ask_size = bid, ask, 1.0, 1.0
    return ctx


def build_component(pm: HeanPluginManager, kind: str, name: str, ctx: RunContext,
                    config: dict[str, Any] | None = None,
                    symbols: list[str] | None = None) -> Component:
    """Instantiate a registered component the way the engine does."""
    spec = pm.registry.get(kind, name)
    if spec is None:
        raise LookupError(f"no {kind} named {name!r}; registered: {pm.registry.names(kind)}")
    cfg = spec.build_config(config or {})
    if kind in ("strategy", "analyzer"):
        obj = spec.cls(cfg, ctx, name=name, symbols=symbols or [SAMPLE_SYMBOL])  # type: ignore[call-arg]
    else:
        obj = spec.cls(cfg, ctx, name=name)
    obj.on_start()
    return obj
