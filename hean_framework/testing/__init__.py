"""Plugin-author kit: isolated plugin managers, a fake run context, real sample data and
contract test suites per component kind.

Installed as the ``pytest11`` plugin ``hean`` (fixtures ``hean_plugins``, ``hean_register``,
``hean_ctx``, ``sample_data``, ``shared_data``, ``read_events``); :func:`step_market` updates a
context's market state for an event as the engine does before the components see it.  The
contract suites are plain classes to subclass in your tests::

    from hean_framework.testing import StrategyContract

    class TestMyStrategy(StrategyContract):
        plugin_name = "my_strategy"
        plugin_module = "my_package.plugin"   # the module with your hookimpls

Only the contract suites need pytest (they are pytest test classes): they are imported on first
use, so the rest of the kit (``sample_bars``, ``make_context``, ``step_market``, ...)
imports without it, and importing a suite without pytest is an ``ImportError`` that says what
to install (``pip install 'hean-framework[test]'`` or the plugin's ``[test]`` extra).
"""

from __future__ import annotations

import csv
import gzip
import importlib
from collections.abc import Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..components import Component
from ..context import RunContext
from ..groups import OrderGroup
from ..models import Bar, Fill, Order, OrderDecision, Signal
from ..plugins import HeanPluginManager
from ..ports import RunInfo

if TYPE_CHECKING:
    from ..models import MarketEvent
    from .contracts import (
        ExecutorContract,
        FilterContract,
        GateContract,
        OptimizerContract,
        SizerContract,
        StrategyContract,
    )

SAMPLE_SYMBOL = "BTC/USDT:USDT"
SAMPLE_FILE = "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"

__all__ = [
    "SAMPLE_SYMBOL", "ExecutorContract", "FakeOrders", "FilterContract", "GateContract",
    "OptimizerContract", "SizerContract", "StrategyContract", "build_component",
    "isolated_plugins", "make_context", "sample_bars", "step_market",
]

#: the contract suites, imported from :mod:`.contracts` on first use (they need pytest)
_CONTRACTS = frozenset({"ExecutorContract", "FilterContract", "GateContract",
                        "OptimizerContract", "SizerContract", "StrategyContract"})


def __getattr__(name: str) -> Any:
    """The contract suites, imported lazily: only they need pytest."""
    if name not in _CONTRACTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import contracts
    except ModuleNotFoundError as exc:
        if exc.name != "pytest":
            raise
        raise ImportError(
            f"hean_framework.testing.{name} is a pytest test suite and pytest is not installed: "
            "pip install pytest (or the test extra: pip install 'hean-framework[test]', or your "
            "plugin's: pip install -e '.[test]')", name="pytest") from exc
    return getattr(contracts, name)


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


class FakeOrders:
    """The testing kit's order port, execution sink and budgets (``ctx.orders``,
    ``ctx.sink``, ``ctx.budgets`` of :func:`make_context`): no venue, no pipeline.

    Market orders fill at once at ``ctx.market[symbol].price`` (the owning executor hears the
    fill); other orders rest until cancelled.  ``budget()`` returns ``budget_value``;
    ``propose`` records the item and answers one ``SKIP NO_PIPELINE`` decision per leg.  The
    same port contract (:class:`hean_framework.testing.ports.PortContract`) runs against this
    fake and the engine, so the two cannot drift.
    """

    def __init__(self, ctx: RunContext, budget_value: float = 1000.0) -> None:
        self.ctx = ctx
        self.budget_value = budget_value
        self.orders: list[Order] = []
        self.fills: list[Fill] = []
        self.cancelled: list[int] = []
        self.proposed: list[Signal | OrderGroup] = []
        #: SKIP decisions recorded by :meth:`decline`
        self.declined: list[OrderDecision] = []
        self._owner: dict[int, Any] = {}

    # BudgetPort
    def budget(self, strategy_id: str) -> float:
        """The capital the sizers may risk from."""
        return self.budget_value

    # OrderPort
    def submit(self, signal: Signal, decision: OrderDecision, qty: float, *,
               order_type: str = "market", price: float | None = None,
               post_only: bool = False, reduce_only: bool | None = None,
               executor: Any = None, tag: str = "", parent_id: int = 0) -> Order:
        """Record the order; fill market orders immediately."""
        ctx = self.ctx
        if price is not None and order_type != "market":
            price = ctx.instruments.get(signal.symbol).round_price(price, signal.side)
        o = Order(ctx.next_id(), signal.strategy_id, signal.symbol, signal.side, qty,
                  order_type, price, post_only,
                  signal.reduce_only if reduce_only is None else reduce_only, ctx.now,
                  signal_id=signal.signal_id, decision_id=decision.decision_id,
                  parent_id=parent_id, client_id=f"hean-{ctx.now}", tag=tag or signal.tag,
                  expected_price=price if price is not None else decision.price)
        self.orders.append(o)
        if executor is not None:
            self._owner[o.order_id] = executor
        if order_type == "market":
            px = ctx.market[signal.symbol].price
            o.status, o.filled, o.avg_price = "filled", qty, px
            f = Fill(ctx.next_id(), o.order_id, o.strategy_id, o.symbol, o.side, qty, px,
                     0.0, False, ctx.now, o.signal_id)
            self.on_fill(f, o)
        else:
            o.status = "open"
        return o

    def cancel(self, order_id: int, reason: str = "") -> Order | None:
        """Cancel a recorded open order."""
        o = self.get(order_id)
        if o is None:
            return None
        o.status = "cancelled"
        o.reason = reason
        self.cancelled.append(order_id)
        self.on_order_update(o)
        return o

    def amend(self, order_id: int, *, qty: float | None = None,
              price: float | None = None) -> Order | None:
        """Change a resting order in place."""
        o = self.get(order_id)
        if o is None or (qty is not None and qty <= o.filled + 1e-12):
            return None
        if qty is not None:
            o.qty = qty
        if price is not None:
            o.price = self.ctx.instruments.get(o.symbol).round_price(price, o.side)
        return o

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Recorded orders that can still fill."""
        return [o for o in self.orders
                if not o.is_done and (symbol is None or o.symbol == symbol)]

    def get(self, order_id: int) -> Order | None:
        """A live recorded order by id."""
        return next((o for o in self.orders if o.order_id == order_id and not o.is_done), None)

    def propose(self, item: Signal | OrderGroup) -> list[OrderDecision]:
        """Record the proposal; one ``SKIP NO_PIPELINE`` decision per leg."""
        self.proposed.append(item)
        legs = item.legs if isinstance(item, OrderGroup) else [item]
        out = []
        for leg in legs:
            d = OrderDecision(self.ctx.next_id(), leg.signal_id, leg.strategy_id, leg.symbol,
                              leg.side, self.ctx.now, decision="SKIP", stage="fake",
                              reason_codes=["NO_PIPELINE"],
                              message="the testing kit's fake has no pipeline")
            out.append(d)
        return out

    def decline(self, signal: Signal, code: str, message: str = "",
                **details: Any) -> OrderDecision:
        """Record the strategy's own SKIP (kept in :attr:`declined`)."""
        d = OrderDecision(self.ctx.next_id(), signal.signal_id, signal.strategy_id,
                          signal.symbol, signal.side, self.ctx.now, decision="SKIP",
                          stage="strategy", reason_codes=[code], message=message or code,
                          details=dict(details))
        self.declined.append(d)
        return d

    # ExecutionSink
    def on_fill(self, fill: Fill, order: Order) -> None:
        """Record a fill; the owning executor hears it."""
        self.fills.append(fill)
        owner = self._owner.get(order.order_id)
        if owner is not None:
            owner.on_fill(fill)

    def on_order_update(self, order: Order) -> None:
        """The owning executor hears a status change."""
        owner = self._owner.get(order.order_id)
        if owner is not None:
            owner.on_order_update(order)


def make_context(*, exchange: str = "binance", symbols: list[str] | None = None,
                 capital: float = 1000.0, price: float | None = None,
                 bid: float | None = None, ask: float | None = None,
                 now: int = 1_741_257_000_000) -> RunContext:
    """A RunContext with real instrument metadata, a portfolio and :class:`FakeOrders` as its
    order port, execution sink and budgets.

    ``price``/``bid``/``ask`` seed ``ctx.market`` for every symbol.
    """
    from ..instruments import Instruments
    from ..portfolio import Portfolio

    syms = symbols or [SAMPLE_SYMBOL]
    ctx = RunContext(config=None)
    ctx.now = now
    ctx.instruments = Instruments.load(exchange, syms)
    ctx.portfolio = Portfolio(capital, ctx.instruments, ctx.market)
    ctx.orders = ctx.sink = ctx.budgets = FakeOrders(ctx, capital)
    ctx.run = RunInfo(strategies={})
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


def step_market(ctx: RunContext, ev: MarketEvent) -> None:
    """Update ``ctx.now`` and ``ctx.market[ev.symbol]`` for ``ev`` as the engine does before
    any component sees the event, so a test can hand events to components directly.

    Bars and trades set the last price and add it to ``prices`` (bars also set ``bar_ms`` and,
    when ``ctx.market.keep_bars``, add to ``bars``; trades add to ``trade_volume``); quotes set
    the best bid/offer (and add the mid to ``prices`` while no last price is known); book
    updates apply to the symbol's L2 book and set the best bid/offer from it; funding sets
    ``funding_rate``, ``last_funding_ts`` and ``mark``; mark prices set ``mark`` and ``index``.
    What the engine does besides (the venue, the portfolio's funding) is not done here.
    """
    from ..models import BookUpdate, Funding, MarkPrice, Quote, Trade

    ctx.now = ev.ts
    st = ctx.market[ev.symbol]
    if isinstance(ev, Bar):
        if not st.bar_ms:
            st.bar_ms = ev.interval_ms
        st.ts = ev.ts
        st.last = ev.close
        st.prices.append(ev.close)
        if ctx.market.keep_bars:
            st.bars.append((ev.high, ev.low, ev.volume))
    elif isinstance(ev, Trade):
        st.ts = ev.ts
        st.last = ev.price
        st.trade_volume += ev.size
        st.prices.append(ev.price)
    elif isinstance(ev, Quote):
        st.ts = ev.ts
        st.bid, st.ask, st.bid_size, st.ask_size = ev.bid, ev.ask, ev.bid_size, ev.ask_size
        if not st.last:
            st.prices.append((ev.bid + ev.ask) * 0.5)
    elif isinstance(ev, BookUpdate):
        if st.book is None:
            from ..book import OrderBook

            st.book = OrderBook(ev.symbol)
        book = st.book
        book.apply(ev)
        st.ts = ev.ts
        st.bid, st.ask, st.bid_size, st.ask_size = book.bid, book.ask, book.bid_size, book.ask_size
    elif isinstance(ev, Funding):
        st.funding_rate = ev.rate
        st.last_funding_ts = ev.ts
        if ev.mark_price:
            st.mark = ev.mark_price
    elif isinstance(ev, MarkPrice):
        st.mark = ev.mark
        st.index = ev.index
