"""The run context handed to every component: clock, market, instruments, portfolio, venue."""

from __future__ import annotations

import heapq
import itertools
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .market import MarketState

if TYPE_CHECKING:
    from .components import Venue
    from .instruments import Instruments
    from .journal import Journal
    from .portfolio import Portfolio


class SharedState:
    """Analyzer outputs, per symbol: ``ctx.state.get(symbol, "regime")``."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}

    def set(self, symbol: str, key: str, value: Any) -> None:
        """Publish ``value`` under ``key`` for ``symbol`` (``"*"`` for market-wide values)."""
        self._data.setdefault(symbol, {})[key] = value

    def get(self, symbol: str, key: str, default: Any = None) -> Any:
        """Read a published value, or ``default`` when no analyzer provides it."""
        d = self._data.get(symbol)
        return default if d is None else d.get(key, default)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A shallow copy of everything published."""
        return {k: dict(v) for k, v in self._data.items()}


class RunContext:
    """Everything a component may read or use during a run.

    Attributes are set by the engine before ``on_start``:

    * ``now`` -- current time in ms (the data's clock in a backtest);
    * ``market`` -- :class:`~hean_framework.market.MarketState`;
    * ``instruments`` -- exchange metadata (tick/lot size, minimums, fees);
    * ``portfolio`` -- positions, PnL, equity (read-only for components);
    * ``venue`` -- where executors send orders;
    * ``state`` -- analyzer outputs; ``rng`` -- the run's seeded random generator;
    * ``journal`` -- the run journal (may be None when journaling is off).
    """

    __slots__ = ("_ids", "_timer_seq", "_timers", "config", "engine", "instruments", "journal",
                 "log", "market", "next_id", "now", "portfolio", "rng", "sections", "state",
                 "venue")

    def __init__(self, config: Any, seed: int = 0) -> None:
        self.config = config
        self.now = 0
        self.market = MarketState()
        self.state = SharedState()
        self.rng = random.Random(seed)
        self.log = logging.getLogger("hean")
        self.instruments: Instruments = None  # type: ignore[assignment]
        self.portfolio: Portfolio = None  # type: ignore[assignment]
        self.venue: Venue = None  # type: ignore[assignment]
        self.journal: Journal | None = None
        self.engine: Any = None
        self._ids = itertools.count(1)
        #: ``next_id()``: a run-unique increasing integer (order ids, fill ids, ...)
        self.next_id: Callable[[], int] = self._ids.__next__
        self._timers: list[tuple[int, int, Callable[[int], None]]] = []
        self._timer_seq = itertools.count()
        #: name -> callable returning a JSON-ready block added to report.json (allocation, ...)
        self.sections: dict[str, Callable[[], Any]] = {}

    def add_section(self, name: str, fn: Callable[[], Any]) -> None:
        """Add a block to the run's report (``report.json[name] = fn()`` at the end)."""
        self.sections[name] = fn

    def schedule(self, ts: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(now)`` once the clock reaches ``ts`` (before the event at ``ts``)."""
        heapq.heappush(self._timers, (ts, next(self._timer_seq), callback))

    @property
    def next_timer_ts(self) -> int | None:
        """When the earliest scheduled callback is due, if any."""
        return self._timers[0][0] if self._timers else None

    def run_timers(self, now: int) -> None:
        """Fire every callback due at or before ``now`` (the engine calls this)."""
        timers = self._timers
        while timers and timers[0][0] <= now:
            ts, _, cb = heapq.heappop(timers)
            self.now = max(self.now, ts)
            cb(ts)
