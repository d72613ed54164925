"""The port contract: what every implementation of the ports promises a component.

Subclass :class:`PortContract` and implement :meth:`PortContract.context` (a run context whose
market has a price for ``SYMBOL``) and :meth:`PortContract.advance`.  The kernel runs it
against the engine and against the testing kit's fake (``tests/test_port_contract.py``), so
the fake a plugin author tests with behaves like the engine it will run in.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from ..components import Executor
from ..groups import OrderGroup
from ..models import Fill, Order, OrderDecision, Signal
from ..ports import BudgetPort, ClockPort, ExecutionSink, OrderPort, RunPort


class _Recorder(Executor):
    """An executor that records what it hears."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(None, ctx, name="recorder")
        self.fills: list[Fill] = []
        self.updates: list[tuple[int, str]] = []

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)

    def on_order_update(self, order: Order) -> None:
        self.updates.append((order.order_id, order.status))


class PortContract:
    """One test per promise of ``ctx.orders``, ``ctx.budgets``, ``ctx.clock``, ``ctx.run``,
    ``ctx.sink``."""

    SYMBOL: ClassVar[str] = "BTC/USDT:USDT"
    STRATEGY: ClassVar[str] = "s"

    def context(self) -> Any:
        """A run context with a price for :attr:`SYMBOL` (override)."""
        raise NotImplementedError

    def advance(self, ctx: Any, ts: int) -> None:
        """Move the context's clock to ``ts``, firing due timers (override)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers

    def _signal(self, ctx: Any, side: str = "buy", **kw: Any) -> Signal:
        return Signal(self.STRATEGY, self.SYMBOL, side, ctx.now,
                      ctx.market[self.SYMBOL].price, **kw)

    def _decision(self, ctx: Any, sig: Signal) -> OrderDecision:
        return OrderDecision(ctx.next_id(), sig.signal_id, sig.strategy_id, sig.symbol,
                             sig.side, ctx.now, price=sig.entry_price)

    def _qty(self, ctx: Any) -> float:
        inst = ctx.instruments.get(self.SYMBOL)
        return inst.round_qty(inst.min_order_qty(ctx.market[self.SYMBOL].price) * 2)

    def _resting(self, ctx: Any) -> Order:
        sig = self._signal(ctx, order_type="limit")
        px = ctx.market[self.SYMBOL].price * 0.8
        return ctx.orders.submit(sig, self._decision(ctx, sig), self._qty(ctx),
                                 order_type="limit", price=px + 0.0001)

    # ------------------------------------------------------------------ the contract

    def test_ports_satisfy_their_protocols(self) -> None:
        ctx = self.context()
        assert isinstance(ctx.orders, OrderPort)
        assert isinstance(ctx.budgets, BudgetPort)
        assert isinstance(ctx.clock, ClockPort)
        assert isinstance(ctx.run, RunPort)
        assert isinstance(ctx.sink, ExecutionSink)
        assert not hasattr(ctx, "engine"), "components must not reach the engine"

    def test_submit_takes_the_signal_defaults(self) -> None:
        ctx = self.context()
        sig = self._signal(ctx, reduce_only=False, tag="MY_TAG")
        o = ctx.orders.submit(sig, self._decision(ctx, sig), self._qty(ctx))
        assert o.order_id > 0 and o.strategy_id == self.STRATEGY and o.symbol == self.SYMBOL
        assert (o.side, o.qty, o.order_type) == ("buy", self._qty(ctx), "market")
        assert o.tag == "MY_TAG" and o.reduce_only is False
        exit_sig = self._signal(ctx, "sell", reduce_only=True)
        o2 = ctx.orders.submit(exit_sig, self._decision(ctx, exit_sig), o.filled or o.qty)
        assert o2.reduce_only is True and o2.order_id > o.order_id

    def test_a_resting_order_is_on_the_tick_grid_listed_and_gettable(self) -> None:
        ctx = self.context()
        o = self._resting(ctx)
        inst = ctx.instruments.get(self.SYMBOL)
        assert o.status == "open" and o.price is not None
        assert math.isclose(o.price / inst.tick_size, round(o.price / inst.tick_size),
                            abs_tol=1e-6)
        assert o.order_id in [x.order_id for x in ctx.orders.open_orders(self.SYMBOL)]
        assert ctx.orders.open_orders("NOPE/USDT:USDT") == []
        assert ctx.orders.get(o.order_id) is o

    def test_cancel(self) -> None:
        ctx = self.context()
        o = self._resting(ctx)
        done = ctx.orders.cancel(o.order_id, "test")
        assert done is not None and done.status == "cancelled"
        assert ctx.orders.get(o.order_id) is None
        assert o.order_id not in [x.order_id for x in ctx.orders.open_orders()]
        assert ctx.orders.cancel(o.order_id) is None
        assert ctx.orders.cancel(10**12) is None

    def test_amend(self) -> None:
        ctx = self.context()
        sig = self._signal(ctx, order_type="limit")
        rec = _Recorder(ctx)
        o = ctx.orders.submit(sig, self._decision(ctx, sig), self._qty(ctx), order_type="limit",
                              price=ctx.market[self.SYMBOL].price * 0.8, executor=rec)
        want = o.qty * 2
        new = ctx.orders.amend(o.order_id, qty=want)
        assert new is not None and new.qty == want and not new.is_done
        assert ctx.orders.get(new.order_id) is new
        # the amended order still belongs to its executor: a fill of it reaches the owner
        ctx.orders.cancel(new.order_id)
        assert rec.updates and rec.updates[-1] == (new.order_id, "cancelled")
        assert ctx.orders.amend(10**12, qty=1.0) is None
        assert ctx.orders.amend(new.order_id, qty=0.0) is None

    def test_owner_executor_hears_its_fills(self) -> None:
        ctx = self.context()
        rec = _Recorder(ctx)
        sig = self._signal(ctx)
        o = ctx.orders.submit(sig, self._decision(ctx, sig), self._qty(ctx), executor=rec)
        assert o.status == "filled"
        assert [f.order_id for f in rec.fills] == [o.order_id]

    def test_propose_answers_one_decision_per_leg(self) -> None:
        ctx = self.context()
        one = ctx.orders.propose(self._signal(ctx, size=self._qty(ctx)))
        assert len(one) == 1 and isinstance(one[0], OrderDecision)
        legs = [self._signal(ctx, size=self._qty(ctx)), self._signal(ctx, "sell",
                                                                     size=self._qty(ctx))]
        two = ctx.orders.propose(OrderGroup(legs))
        assert [d.side for d in two] == ["buy", "sell"]
        assert all(d.strategy_id == self.STRATEGY for d in two)

    def test_decline_records_the_strategys_own_skip(self) -> None:
        ctx = self.context()
        sig = self._signal(ctx, size=self._qty(ctx))
        d = ctx.orders.decline(sig, "LEVEL_BELOW_MINIMUM", "level too small", notional=4.2)
        assert isinstance(d, OrderDecision)
        assert (d.decision, d.reason_codes, d.stage) == ("SKIP", ["LEVEL_BELOW_MINIMUM"],
                                                         "strategy")
        assert d.details["notional"] == 4.2 and d.strategy_id == self.STRATEGY
        assert ctx.orders.open_orders() == []

    def test_budget_is_finite_and_not_negative(self) -> None:
        b = self.context().budgets.budget(self.STRATEGY)
        assert math.isfinite(b) and b >= 0.0

    def test_clock_timers_fire_in_order_and_cancel(self) -> None:
        ctx = self.context()
        t0 = ctx.now
        fired: list[int] = []
        ctx.clock.schedule(t0 + 2_000, fired.append)
        ctx.clock.schedule(t0 + 1_000, fired.append)
        gone = ctx.clock.schedule(t0 + 1_500, fired.append)
        assert ctx.clock.cancel(gone)
        self.advance(ctx, t0 + 5_000)
        assert fired == [t0 + 1_000, t0 + 2_000]
        assert ctx.clock.now == t0 + 5_000

    def test_run_port(self) -> None:
        run = self.context().run
        assert isinstance(run.run_id, str) and run.mode in ("backtest", "paper", "live")
        assert run.section("surely_not_a_section") is None
