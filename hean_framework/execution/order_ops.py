"""Cancels and amends of the simulated venue: in place, with their own latency.

Owned by :class:`~hean_framework.execution.sim_venue.SimulatedVenue` (one per venue):

* **Cancel latency** (``cancel_latency_ms``): a cancel or an amend of a *resting* order reaches
  the matching engine that many ms after it was sent; until then the order rests -- and can
  fill -- at its old price and size (:meth:`OrderOps.in_flight` says whether one is on its
  way).  An order still in flight itself is cancelled or amended at once.
* **Amend in place** (``amend: true``): a live limit order's price and/or total quantity
  change, the order keeps its id.  A lower quantity at the same price keeps the order's place
  in the queue; a new price or a higher quantity puts it at the back of its level
  (:meth:`~hean_framework.execution.matching.Matcher.queue_at`), and a new price counts as a new
  arrival for bar fills.  An amend to a price that would cross the touch cancels the order
  (``post_only_would_cross`` for a post-only order, else ``amend_would_cross``), as a modify of
  a post-only order is refused by exchanges.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import RunContext
    from ..models import Order
    from .matching import Matcher

__all__ = ["OrderOps"]


class OrderOps:
    """The venue's cancels and amends (see the module docstring)."""

    def __init__(self, ctx: RunContext, matcher: Matcher, orders: dict[int, Order],
                 finish: Callable[[Order, str, str], None], latency_ms: int) -> None:
        self.ctx = ctx
        self.latency_ms = latency_ms
        self._matcher = matcher
        self._orders = orders
        self._finish = finish
        self._seq = itertools.count()
        #: in flight: heap of (arrival_ts, seq, order id, qty, price, cancel reason or None)
        self.heap: list[tuple[int, int, int, float | None, float | None, str | None]] = []

    def cancel(self, order: Order, reason: str) -> None:
        """Cancel ``order`` now, or when the cancel arrives (resting orders, with latency)."""
        if self.latency_ms and order.status != "new":
            self._defer(order.order_id, None, None, reason)
        else:
            self._finish(order, "cancelled", reason)

    def amend(self, order: Order, qty: float | None, price: float | None) -> None:
        """Amend ``order`` now, or when the amend arrives (resting orders, with latency)."""
        if self.latency_ms and order.status != "new":
            self._defer(order.order_id, qty, price, None)
        else:
            self._apply(order, qty, price)

    def in_flight(self, order_id: int) -> bool:
        """Whether a cancel or an amend of the order has not arrived yet."""
        return any(op[2] == order_id for op in self.heap)

    def release(self, now: int) -> None:
        """Apply the cancels and amends whose latency elapsed."""
        heap = self.heap
        while heap and heap[0][0] <= now:
            _, _, oid, qty, price, reason = heapq.heappop(heap)
            order = self._orders.get(oid)
            if order is None or order.is_done:
                continue
            if reason is not None:
                self._finish(order, "cancelled", reason)
            else:
                self._apply(order, qty, price)

    def _defer(self, order_id: int, qty: float | None, price: float | None,
               reason: str | None) -> None:
        heapq.heappush(self.heap, (self.ctx.now + self.latency_ms, next(self._seq), order_id,
                                   qty, price, reason))

    def _apply(self, order: Order, qty: float | None, price: float | None) -> None:
        requeue = False
        if qty is not None and qty > order.filled:
            requeue = qty > order.qty
            order.qty = qty
        if price is not None and price != order.price:
            if order.status != "new":
                touch = self._touch(order)
                buy = order.side == "buy"
                if touch > 0.0 and (price >= touch if buy else price <= touch):
                    why = "post_only_would_cross" if order.post_only else "amend_would_cross"
                    self._finish(order, "cancelled", f"{why}: amended {order.side} at "
                                 f"{price:g} would cross {touch:g}")
                    return
            order.price = order.expected_price = price
            order.arrival_ts = self.ctx.now
            requeue = True
        if requeue and order.status != "new":
            self._matcher.queue_at(order, self.ctx.market.get(order.symbol))

    def _touch(self, order: Order) -> float:
        """The opposite best price now: the market state's (best bid/offer rows and L2
        updates set it in time order; a recorded L2 book lags the BBO stream), else the
        book's; 0 when unknown."""
        st = self.ctx.market.get(order.symbol)
        if st is None:
            return 0.0
        buy = order.side == "buy"
        touch = st.ask if buy else st.bid
        if touch > 0.0:
            return float(touch)
        book = st.book
        return float(book.ask if buy else book.bid) if book is not None else 0.0
