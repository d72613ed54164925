"""The ports: the typed interfaces a component is handed through its run context.

Components never see the engine.  ``ctx`` (:class:`~hean_framework.context.RunContext`)
carries one object per port, each satisfying a Protocol below:

==================  =======================  ===============================================
attribute           Protocol                 for
==================  =======================  ===============================================
``ctx.orders``      :class:`OrderPort`       executors: submit / cancel / amend orders, open
                                             orders, order groups; anyone: ``propose`` a
                                             signal or group to the pipeline (from a timer)
``ctx.budgets``     :class:`BudgetPort`      sizers: capital a strategy may risk from
``ctx.clock``       :class:`ClockPort`       now, timers (``schedule``, ``cancel``)
``ctx.run``         :class:`RunPort`         run id, mode, paths, the strategies of the run,
                                             the validated plugin-owned YAML sections
``ctx.sink``        :class:`ExecutionSink`   venues: report fills and order status changes
``ctx.facts``       :class:`~hean_framework.facts.Facts`  typed shared facts
``ctx.market``      :class:`~hean_framework.market.MarketState`  per-symbol market state
``ctx.instruments`` :class:`~hean_framework.instruments.Instruments`  exchange rules
``ctx.portfolio``   :class:`~hean_framework.portfolio.Portfolio`  positions, PnL (read it)
==================  =======================  ===============================================

The engine implements them for a run; the testing kit's fake
(:func:`hean_framework.testing.make_context`) implements the same Protocols, and one contract
suite (:class:`hean_framework.testing.ports.PortContract`) runs against both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pydantic import BaseModel

    from .components import Executor
    from .config import RunSetup
    from .groups import OrderGroup
    from .models import Fill, Order, OrderDecision, Signal


@runtime_checkable
class OrderPort(Protocol):
    """Orders of the run (``ctx.orders``)."""

    def submit(self, signal: Signal, decision: OrderDecision, qty: float, *,
               order_type: str = "market", price: float | None = None,
               post_only: bool = False, reduce_only: bool | None = None,
               executor: Executor | None = None, tag: str = "",
               parent_id: int = 0) -> Order:
        """Create an order for an accepted ``decision`` and send it to the venue.

        :param qty: instrument units (already rounded by the pipeline for its own orders).
        :param order_type: ``market``, ``limit``, ``stop_market``.
        :param price: limit/trigger price; rounded to the tick size (away from crossing).
        :param reduce_only: default: the signal's ``reduce_only``.
        :param executor: the executor that owns the order and hears its fills and updates.
        :param tag: default: the signal's ``tag``.
        :returns: the order as the venue left it (``open``, ``filled``, ``rejected`` ...).
        """
        ...

    def cancel(self, order_id: int, reason: str = "") -> Order | None:
        """Cancel an order; the order, or None when it is unknown or already done."""
        ...

    def amend(self, order_id: int, *, qty: float | None = None,
              price: float | None = None) -> Order | None:
        """Change the quantity and/or price of a resting order.

        Returns the live order after the change (the same order when the venue amends in
        place, a replacement with ``parent_id`` = the old id when it cancels and replaces), or
        None when the order is unknown, done, or ``qty`` is not above what already filled.
        """
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that can still fill (of ``symbol``, or all)."""
        ...

    def get(self, order_id: int) -> Order | None:
        """A live order by id (None once it is done)."""
        ...

    def propose(self, item: Signal | OrderGroup) -> list[OrderDecision]:
        """Send a signal or an order group through the decision pipeline now.

        For signals born outside a market callback (a timer); what a market callback
        returns is proposed by the engine.  Returns the decisions (one per leg).
        """
        ...

    def decline(self, signal: Signal, code: str, message: str = "",
                **details: Any) -> OrderDecision:
        """Record the strategy's own ``SKIP`` of ``signal`` (stage ``strategy``) without
        sending it: a trade it considered and refused (a grid level under the exchange
        minimum, an edge below its cost), so ``hean why`` answers for it too.  ``code`` is
        an UPPER_SNAKE reason code; ``details`` are JSON-ready numbers/strings."""
        ...


@runtime_checkable
class BudgetPort(Protocol):
    """Capital per strategy (``ctx.budgets``)."""

    def budget(self, strategy_id: str) -> float:
        """Capital the sizers may risk from for ``strategy_id`` (quote currency, >= 0)."""
        ...


@runtime_checkable
class ClockPort(Protocol):
    """Time and timers (``ctx.clock``)."""

    @property
    def now(self) -> int:
        """Current time, ms since the epoch (the data's clock in a backtest)."""
        ...

    def schedule(self, ts: int, callback: Callable[[int], None]) -> int:
        """Call ``callback(ts)`` once the clock reaches ``ts``; returns a handle."""
        ...

    def cancel(self, handle: int) -> bool:
        """Cancel a scheduled callback; False when it already fired or is unknown."""
        ...


@runtime_checkable
class ExecutionSink(Protocol):
    """Where a venue reports executions (``ctx.sink``).  Called synchronously."""

    def on_fill(self, fill: Fill, order: Order) -> None:
        """One execution of ``order`` (``order.filled``/``avg_price`` already updated)."""
        ...

    def on_order_update(self, order: Order) -> None:
        """``order`` changed status: open (resting), cancelled, rejected, filled."""
        ...


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    """What the run knows of one strategy instance (from its YAML section)."""

    name: str
    plugin: str
    symbols: tuple[str, ...]
    weight: float = 1.0
    executor: str | None = None
    min_rr: float | None = None
    #: the strategy class's declared :attr:`~hean_framework.components.Strategy.style`
    style: str = "directional"


@runtime_checkable
class RunPort(Protocol):
    """The run itself (``ctx.run``)."""

    run_id: str
    mode: str
    config_path: str
    base_dir: str
    strategies: Mapping[str, StrategyInfo]

    def resolve(self, path: str) -> Path:
        """Where a relative path of the run config points (config directory first)."""
        ...

    def section(self, name: str) -> BaseModel | None:
        """The validated model of a plugin-owned top-level YAML section (``risk``, ...), or
        None when the section's owner is not installed."""
        ...


@dataclass(slots=True)
class RunInfo:
    """The :class:`RunPort` of a run (built by the engine; the testing kit builds its own)."""

    run_id: str = "run"
    mode: str = "backtest"
    config_path: str = ""
    base_dir: str = ""
    strategies: Mapping[str, StrategyInfo] = field(default_factory=dict)
    sections: Mapping[str, Any] = field(default_factory=dict)
    #: the validated configuration of the run (None in a bare test context)
    setup: RunSetup | None = None
    #: ``update_params(strategy_id, params, source) -> accepted keys``: hands new parameters
    #: to a running strategy (its ``on_params_updated``) and fires ``hean_params_updated``;
    #: set by the engine once the strategies are built (None in a bare test context)
    update_params: Callable[[str, dict[str, Any], str], list[str]] | None = None

    def resolve(self, path: str) -> Path:
        """Where a relative path of the run config points (config directory first)."""
        from .config import resolve_path

        return resolve_path(path, self.base_dir or None)

    def section(self, name: str) -> Any:
        """The validated model of a plugin-owned top-level section, or None."""
        return self.sections.get(name)
