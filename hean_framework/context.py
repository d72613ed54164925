"""The run context handed to every component: the ports of :mod:`hean_framework.ports`.

``ctx.now`` is the current time in ms (also ``ctx.clock.now``); ``ctx.market``,
``ctx.instruments`` and ``ctx.portfolio`` are the run's state; ``ctx.orders``, ``ctx.budgets``,
``ctx.clock``, ``ctx.run``, ``ctx.sink`` and ``ctx.facts`` are the typed ports.  The engine
(or the testing kit) fills them before ``on_start``; a component never reaches the engine.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .facts import Facts
from .market import MarketState
from .ports import RunInfo

if TYPE_CHECKING:
    from .instruments import Instruments
    from .journal import Journal
    from .portfolio import Portfolio
    from .ports import BudgetPort, ExecutionSink, OrderPort


class Clock:
    """``ctx.clock``: the run's time and timers (the :class:`~hean_framework.ports.ClockPort`).

    Timers fire in time order (ties in scheduling order) when the engine advances the clock:
    before the market event at or after their time in a backtest, on wall-clock ticks too in a
    pushed (live) run.  ``heap`` is public for the engine's loop (one read per event).
    """

    __slots__ = ("_cancelled", "_ctx", "_seq", "heap")

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self.heap: list[tuple[int, int, Callable[[int], None]]] = []
        self._seq = itertools.count(1)
        self._cancelled: set[int] = set()

    @property
    def now(self) -> int:
        """Current time, ms since the epoch."""
        return self._ctx.now

    def schedule(self, ts: int, callback: Callable[[int], None]) -> int:
        """Call ``callback(ts)`` once the clock reaches ``ts``; returns a handle."""
        handle = next(self._seq)
        heapq.heappush(self.heap, (int(ts), handle, callback))
        return handle

    def cancel(self, handle: int) -> bool:
        """Cancel a scheduled callback; False when it already fired or is unknown."""
        if handle in self._cancelled or not any(h == handle for _, h, _ in self.heap):
            return False
        self._cancelled.add(handle)
        return True

    def run_due(self, now: int) -> None:
        """Fire every timer due at or before ``now`` (the engine calls this)."""
        heap = self.heap
        ctx = self._ctx
        while heap and heap[0][0] <= now:
            ts, handle, cb = heapq.heappop(heap)
            if handle in self._cancelled:
                self._cancelled.discard(handle)
                continue
            if ts > ctx.now:
                ctx.now = ts
            cb(ts)


class RunContext:
    """Everything a component may read or use during a run (see the module docstring).

    Also: ``config`` (the validated kernel config), ``rng`` (the run's seeded generator),
    ``log``, ``journal`` (None when journaling is off), ``next_id()`` (run-unique increasing
    integers) and ``add_section(name, fn)`` for report blocks.
    """

    __slots__ = ("budgets", "clock", "config", "facts", "instruments", "journal", "log",
                 "market", "next_id", "now", "orders", "portfolio", "rng", "run", "sections",
                 "sink")

    def __init__(self, config: Any, seed: int = 0) -> None:
        self.config = config
        self.now = 0
        self.market = MarketState()
        self.facts = Facts()
        self.rng = random.Random(seed)
        self.log = logging.getLogger("hean")
        self.clock = Clock(self)
        self.run = RunInfo()
        self.instruments: Instruments = None  # type: ignore[assignment]
        self.portfolio: Portfolio = None  # type: ignore[assignment]
        self.orders: OrderPort = None  # type: ignore[assignment]
        self.budgets: BudgetPort = None  # type: ignore[assignment]
        self.sink: ExecutionSink = None  # type: ignore[assignment]
        self.journal: Journal | None = None
        #: ``next_id()``: a run-unique increasing integer (order ids, fill ids, ...)
        self.next_id: Callable[[], int] = itertools.count(1).__next__
        #: name -> callable returning a JSON-ready block added to report.json (allocation, ...)
        self.sections: dict[str, Callable[[], Any]] = {}

    def add_section(self, name: str, fn: Callable[[], Any]) -> None:
        """Add a block to the run's report (``report.json[name] = fn()`` at the end)."""
        self.sections[name] = fn
