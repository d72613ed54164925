"""Base classes of every component kind.

Components are plain objects.  The engine builds each one once per run as
``cls(config, ctx, name=instance_name)`` and then calls its methods directly on the hot path
(pluggy is used only to *find* the classes).  Override only the callbacks you need: the engine
checks which ones a class overrides and never calls the others.

Kinds and their hot-path method:

=============  =============================================  ==================================
kind           method                                         returns
=============  =============================================  ==================================
strategy       ``on_bar``/``on_trade``/``on_quote``/...       Signal, list of Signals or None
analyzer       ``on_bar``/``on_trade``/``on_quote``/...       None (publishes ``ctx.facts``)
filter         ``check(signal, decision)``                    Verdict (skip/block) or None
sizer          ``size(signal, decision)``                     Verdict or None; sets decision.qty
gate           ``vote(signal, decision)``                     Verdict or None (every gate votes)
executor       ``execute(signal, decision)``                  Verdict or None; places orders
optimizer      ``optimize(problem)``                          OptimizationResult
feed           ``events()`` / ``blocks()``                    market events / column blocks
venue          ``submit``/``cancel``/``on_market``            (see :class:`Venue`)
=============  =============================================  ==================================
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from .groups import OrderGroup
from .models import (
    BLOCK,
    SKIP,
    Bar,
    BookUpdate,
    ClosedTrade,
    Fill,
    Funding,
    MarketEvent,
    MarkPrice,
    Order,
    OrderDecision,
    Quote,
    Signal,
    Trade,
    opposite,
)
from .styles import StrategyStyle

if TYPE_CHECKING:
    from .blocks import BarBlock, TradeBlock
    from .context import RunContext
    from .groups import GroupState

SignalOut = Signal | OrderGroup | Sequence[Signal | OrderGroup] | None


class ComponentConfig(BaseModel):
    """Base of every component's config model: unknown keys and non-finite numbers
    (``.nan``, ``.inf``) are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=True,
                              allow_inf_nan=False)


class EmptyConfig(ComponentConfig):
    """Config of a component that takes no settings."""


@dataclass(slots=True)
class Verdict:
    """A stage's "no": SKIP (transient: limits, cooldowns, data) or BLOCK (policy).

    ``details`` carries the numbers behind the verdict (e.g. the exchange minimum and the risk
    the minimum would take) and ends up on the decision record.
    """

    decision: str
    code: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def skip(code: str, message: str = "", **details: Any) -> Verdict:
    """A transient "not now" verdict (limits, cooldowns, stale data)."""
    return Verdict(SKIP, code, message, details)


def block(code: str, message: str = "", **details: Any) -> Verdict:
    """A policy "no" verdict (risk, edge vs cost, validation)."""
    return Verdict(BLOCK, code, message, details)


class Component:
    """Common base: holds the validated config, the run context and the instance name."""

    kind: ClassVar[str] = ""
    #: The pydantic model of this component's YAML section (also given to ``register``).
    config_model: ClassVar[type[ComponentConfig]] = EmptyConfig

    def __init__(self, config: Any, ctx: RunContext, name: str = "") -> None:
        self.config = config
        self.ctx = ctx
        self.name = name or type(self).__name__

    def on_start(self) -> None:
        """Called once before the first event."""

    def on_stop(self) -> None:
        """Called once after the last event (positions may still be open)."""

    def stats(self) -> dict[str, Any]:
        """Counters for the report (override to expose your own)."""
        return {}


class Observer:
    """Optional callbacks the engine calls on filters, sizers, gates, executors and analyzers
    that override them (never on the per-market-event path):

    * ``on_fill(fill)`` -- any fill of the run;
    * ``on_order_update(order)`` -- any order status change;
    * ``on_position_closed(trade)`` -- any round trip closed;
    * ``on_decision(decision)`` -- every pipeline decision;
    * ``on_equity(ts, equity)`` -- at every equity sample (each fill and each
      ``report.equity_interval_ms``);
    * ``on_error(ts, source, kind, message)`` -- a component raised (``kind="handler"``,
      ``source`` = its name, also journaled as a dead letter) or the venue rejected an order
      (``kind="order_rejected"``, ``source`` = the symbol, ``message`` = the order's
      ``"code: message"`` reason).  Not called for an error raised inside ``on_error``.

    Strategies receive their own fills/orders/closes through the Strategy callbacks instead.
    """

    OBSERVER_METHODS = ("on_fill", "on_order_update", "on_position_closed", "on_decision",
                        "on_equity", "on_error")


class MarketListener(Component):
    """Components that see market events: strategies and analyzers."""

    #: Symbols this instance listens to; filled from the YAML ``symbols`` list.
    symbols: list[str]

    def __init__(self, config: Any, ctx: RunContext, name: str = "",
                 symbols: Sequence[str] = ()) -> None:
        super().__init__(config, ctx, name)
        self.symbols = list(symbols)

    def on_bar(self, bar: Bar) -> SignalOut:
        """A candle closed."""
        return None

    def on_trade(self, trade: Trade) -> SignalOut:
        """A public trade printed."""
        return None

    def on_quote(self, quote: Quote) -> SignalOut:
        """The best bid/offer changed."""
        return None

    def on_book(self, update: BookUpdate) -> SignalOut:
        """An L2 update was applied (``ctx.market[symbol].book`` is already updated)."""
        return None

    def on_funding(self, funding: Funding) -> SignalOut:
        """A funding settlement happened."""
        return None

    def on_mark(self, mark: MarkPrice) -> SignalOut:
        """Mark/index price changed."""
        return None


class Strategy(MarketListener):
    """A signal source.  Every ``on_*`` callback may return a Signal, a list or None."""

    kind = "strategy"
    #: what kind of trading this is: ``directional``, ``quoting`` or ``carry``; decides which
    #: generic risk rules do not apply (the table in :mod:`hean_framework.styles`)
    style: ClassVar[StrategyStyle] = "directional"

    def signal(self, symbol: str, side: str, ts: int, price: float, **kw: Any) -> Signal:
        """Build a :class:`Signal` owned by this strategy instance."""
        return Signal(self.name, symbol, side, ts, price, **kw)

    def on_bars(self, block: BarBlock, start: int, stop: int) -> tuple[int, SignalOut] | None:
        """Optional batch form of :meth:`on_bar` (the engine's fast path, see
        :mod:`hean_framework.blocks`).

        Process rows ``start .. stop - 1`` of ``block`` in order, exactly as ``on_bar`` would
        one bar at a time, and return ``(i, out)`` at the *first* row ``i`` whose output is not
        None (the engine handles it, then calls again from ``i + 1``), or None when no row
        produced a signal.  Read the bar from the columns (``block.close[i]``, ``block.ts[i]``):
        while this runs, ``ctx.now`` and ``ctx.market[symbol]`` still describe the row before
        ``start``.  Never read a row after ``i``: that is look-ahead.  Only strategies that
        override this method get the fast path; the default replays :meth:`on_bar`.
        """
        for i in range(start, stop):
            out = self.on_bar(block.bar(i))
            if out is not None:
                return i, out
        return None

    def on_trades(self, block: TradeBlock, start: int, stop: int
                  ) -> tuple[int, SignalOut] | None:
        """Optional batch form of :meth:`on_trade`; same contract as :meth:`on_bars`."""
        for i in range(start, stop):
            out = self.on_trade(block.trade(i))
            if out is not None:
                return i, out
        return None

    def on_fill(self, fill: Fill) -> SignalOut:
        """One of this strategy's orders filled (fully or partly)."""
        return None

    def on_order_update(self, order: Order) -> SignalOut:
        """One of this strategy's orders changed status (cancelled, rejected, ...)."""
        return None

    def on_decision(self, decision: OrderDecision) -> None:
        """The pipeline decided on one of this strategy's signals."""

    def on_position_closed(self, trade: ClosedTrade) -> SignalOut:
        """A round trip of this strategy closed."""
        return None

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply new parameters (e.g. from the optimizer); return the keys accepted.

        The default is :func:`hean_framework.params.apply_clamped`: unknown keys ignored,
        numbers clamped into the config model's declared bounds, the merged config validated
        as a whole (refused: nothing changes, no key accepted).  Override it to react to the
        change (resize windows, ...), calling ``apply_clamped`` first.
        """
        from .params import apply_clamped

        return apply_clamped(self, params)


class Analyzer(MarketListener):
    """Turns market data into shared facts (``ctx.facts``) before strategies run."""

    kind = "analyzer"


class Filter(Component):
    """Looks at a signal before sizing; may modify it or reject it."""

    kind = "filter"

    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Return None to pass, or a :func:`skip`/:func:`block` verdict."""
        return None


class Sizer(Component):
    """Sets or scales ``decision.qty_raw`` (units of the instrument).

    Sizers run in YAML order; the first normally computes a base size from risk, later ones
    multiply it.  The kernel rounds to the exchange's lot size after the last sizer.
    """

    kind = "sizer"

    def size(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Adjust ``decision.qty_raw``; return a verdict to stop the signal."""
        return None


class Gate(Component):
    """Votes on a sized order; every gate votes and any BLOCK blocks.

    An exception raised here counts as BLOCK (gates fail closed).
    """

    kind = "gate"

    def vote(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Return None to allow, or a verdict."""
        return None


class Executor(Component):
    """Turns an accepted decision into venue orders (plain, maker chase, TWAP, ...)."""

    kind = "executor"

    def execute(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Place orders through ``self.ctx.orders.submit(..., executor=self)``; return a
        verdict to decline (before placing anything)."""
        raise NotImplementedError

    def on_group_deadline(self, state: GroupState) -> None:
        """An order group this executor placed is not complete when its policy says to act
        (or a leg could not be placed).  The default cancels the open legs, then applies
        ``state.group.policy.action``: ``unwind`` closes what filled with reduce-only market
        orders (tag ``GROUP_UNWIND``), ``hedge`` completes the missing quantity of each leg
        with market orders (tag ``GROUP_HEDGE``), ``none`` leaves the legs as they are.
        Override to own that decision (e.g. re-quote the missing leg)."""
        orders = self.ctx.orders
        action = state.group.policy.action
        if action == "none":
            return
        for ids in state.order_ids:
            for oid in ids:
                o = orders.get(oid)
                if o is not None and not o.is_done:
                    orders.cancel(oid, "group_deadline")
        for i, leg in enumerate(state.group.legs):
            d = state.decisions[i]
            if action == "unwind":
                qty, side, reduce, tag = state.filled[i], opposite(leg.side), True, "GROUP_UNWIND"
            else:
                qty, side, reduce, tag = (state.target(i) - state.filled[i], leg.side, False,
                                          "GROUP_HEDGE")
            if qty <= 1e-12:
                continue
            sig = Signal(leg.strategy_id, leg.symbol, side, self.ctx.now, d.price,
                         reduce_only=reduce, tag=tag, signal_id=leg.signal_id)
            orders.submit(sig, d, qty, reduce_only=reduce, executor=self, tag=tag)

    def on_order_update(self, order: Order) -> None:
        """An order this executor placed changed status."""

    def on_fill(self, fill: Fill) -> None:
        """An order this executor placed filled (fully or partly)."""


class Feed(Component):
    """A source of market events in timestamp order."""

    kind = "feed"
    #: True for feeds that deliver live exchange data (paper/live runs need one)
    live: bool = False

    def events(self) -> Iterator[MarketEvent]:
        """Yield events in non-decreasing ``ts`` order."""
        raise NotImplementedError

    def blocks(self) -> Iterator[MarketEvent | BarBlock | TradeBlock]:
        """The same events, where possible grouped into columnar runs
        (:class:`~hean_framework.blocks.BarBlock`, :class:`~hean_framework.blocks.TradeBlock`)
        for the engine's batch fast path.  The default yields :meth:`events` unchanged."""
        return self.events()

    def rejections(self) -> dict[str, int]:
        """Rows rejected so far, counted per reason."""
        return {}


class Venue(Component):
    """Where orders go: the simulated matching engine or an exchange."""

    kind = "venue"
    #: A venue may set this True while it has nothing resting or in flight; the engine then
    #: skips ``on_market`` for that event (one attribute read instead of a call).
    idle: bool = False
    #: True when :meth:`amend` changes orders in place (else the kernel cancels and replaces)
    can_amend: bool = False
    #: True for venues that trade on a live exchange (paper/live runs need one)
    live: bool = False

    def submit(self, order: Order) -> Order:
        """Accept an order (status ``new``/``open``) or reject it (status ``rejected``)."""
        raise NotImplementedError

    def cancel(self, order_id: int, reason: str = "") -> Order | None:
        """Cancel a resting order; return it, or None when unknown/already done."""
        raise NotImplementedError

    def amend(self, order_id: int, *, qty: float | None = None,
              price: float | None = None) -> Order | None:
        """Change a resting order in place (only called when :attr:`can_amend`)."""
        raise NotImplementedError

    def on_market(self, event: MarketEvent) -> None:
        """Let the venue see market data (the simulator matches resting orders here)."""

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that can still fill."""
        return []


@dataclass(frozen=True, slots=True)
class Param:
    """One searchable parameter: ``int``/``float`` in ``[low, high]``, or one of ``choices``."""

    name: str
    kind: Literal["int", "float", "choice"]
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()

    def sample(self, rng: random.Random) -> Any:
        """A uniform draw from the parameter's range."""
        if self.kind == "choice":
            return self.choices[rng.randrange(len(self.choices))]
        if self.kind == "int":
            return rng.randint(int(self.low), int(self.high))
        return rng.uniform(self.low, self.high)

    def clip(self, value: Any) -> Any:
        """``value`` brought into the range (ints rounded); a choice must be one already."""
        if self.kind == "choice":
            return value if value in self.choices else self.choices[0]
        v = min(max(float(value), self.low), self.high)
        return round(v) if self.kind == "int" else v

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a legal value of the parameter."""
        if self.kind == "choice":
            return value in self.choices
        if self.kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            return False
        return self.low <= float(value) <= self.high


@dataclass(slots=True)
class OptimizationProblem:
    """What an optimizer is asked: maximise ``evaluate(params)`` over ``space``.

    ``space`` maps parameter names to :class:`Param`; ``incumbent`` holds the configured
    values; ``seed`` seeds every random choice of the search (same seed, same result).
    :func:`hean_framework.optimize.make_problem` builds one for a strategy of a run.
    """

    strategy: str
    space: dict[str, Param]
    evaluate: Callable[[dict[str, Any]], float]
    incumbent: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


@dataclass(slots=True)
class OptimizationResult:
    """The best parameters found and how they scored (``fitness == evaluate(params)``).

    ``history`` lists the evaluations; ``extra`` holds what a particular optimizer adds
    (JSON-ready: per-fold reports, overfitting measures, a promotion verdict, ...).
    """

    params: dict[str, Any]
    fitness: float
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Optimizer(Component):
    """Searches strategy parameters (e.g. a genetic algorithm)."""

    kind = "optimizer"

    def optimize(self, problem: OptimizationProblem) -> OptimizationResult:
        """Run the search; must be deterministic for a given ``problem.seed``."""
        raise NotImplementedError


def as_signals(out: SignalOut) -> Iterable[Signal | OrderGroup]:
    """Normalise a callback's return value to an iterable of signals and order groups."""
    if out is None:
        return ()
    if isinstance(out, (Signal, OrderGroup)):
        return (out,)
    return out


def signals_of(out: SignalOut) -> list[Signal]:
    """Every signal of a callback's return value, the legs of order groups included."""
    sigs: list[Signal] = []
    for x in as_signals(out):
        if isinstance(x, OrderGroup):
            sigs.extend(x.legs)
        else:
            sigs.append(x)
    return sigs
