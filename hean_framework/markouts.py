"""Markouts of maker fills, rebates, inventory and the PnL split of a run (report ``markouts``).

What a market maker looks at first: after each *maker* fill, where did the mid go?

* **Markout** at horizon ``h``: ``side × (mid(t+h) − fill price) / fill price × 1e4`` bps
  (``side`` = +1 buy, −1 sell): what the fill earned against the later mid -- the half-spread
  captured minus the adverse move.  **Mid move** (adverse selection): ``side × (mid(t+h) −
  mid(t)) / mid(t) × 1e4``; negative = the market moved against the fill.
* Horizons: 1 s, 10 s and 60 s on symbols with quotes or trades; 1 and 5 bars on bar-only
  symbols.  The mid is the best bid/ask midpoint (the last price without a quote), read as the
  market stood just before ``t + h`` (a clock timer: no work per market event; the engine's
  timer check already runs per event).  A horizon past the end of the data is not counted.
* **Fees and rebates** per maker fill at the venue's maker rate (negative = a rebate):
  ``maker_fees`` (quote currency) and ``maker_fee_bps`` of the maker notional.
* **Maker fill rate** per strategy: post-only orders that filled at least once / post-only
  orders that rested.
* **PnL split** per strategy and symbol, over every fill (maker and taker, linear contracts):
  ``spread_capture = Σ side × (mid at fill − price) × qty × contract size`` (the edge against
  the mid, negative for taker fills); ``inventory = gross − spread_capture``, where ``gross`` is
  the trading PnL of the fills marked at the last mid (what holding the inventory made or
  lost); ``fees`` (rebates negative); ``net = gross − fees`` (funding not included).
* **Inventory over time**: the strategy's position in the symbol (quantity and notional at the
  fill price) after each fill, at most :data:`MAX_POINTS` points evenly spaced over the fills
  (every ``k``-th fill, ``k`` doubling as the run grows) and the last fill's.

The engine builds one :class:`Markouts` per run and makes it an ``on_fill`` /
``on_order_update`` observer; the section appears once the run has a fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from .models import Fill, Order

if TYPE_CHECKING:
    from .context import RunContext

__all__ = ["BAR_HORIZONS", "MAX_POINTS", "TIME_HORIZONS_MS", "Markouts"]

#: time horizons (label, ms) on symbols with quotes or trades
TIME_HORIZONS_MS: tuple[tuple[str, int], ...] = (("1s", 1_000), ("10s", 10_000), ("60s", 60_000))
#: bar horizons (label, bars) on bar-only symbols
BAR_HORIZONS: tuple[tuple[str, int], ...] = (("1bar", 1), ("5bar", 5))
#: the most inventory points kept per strategy and symbol in the report
MAX_POINTS = 500


@dataclass(slots=True)
class _Book:
    """What is summed for one strategy and symbol."""

    maker_fills: int = 0
    taker_fills: int = 0
    maker_qty: float = 0.0
    maker_notional: float = 0.0
    maker_fees: float = 0.0
    fees: float = 0.0
    spread_capture: float = 0.0
    cash: float = 0.0  #: Σ −side × price × qty × contract size
    position: float = 0.0
    contract_size: float = 1.0
    markout: dict[str, float] = field(default_factory=dict)
    mid_move: dict[str, float] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)
    inventory: list[tuple[int, float, float]] = field(default_factory=list)
    #: the inventory keeps the point of every ``stride``-th fill (doubled when it overflows)
    stride: int = 1
    fills: int = 0
    last: tuple[int, float, float] = (0, 0.0, 0.0)


class Markouts:
    """The run's markout, rebate, inventory and PnL-split book (see the module docstring)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._books: dict[tuple[str, str], _Book] = {}
        self._posted: dict[str, int] = {}
        self._filled_orders: dict[str, set[int]] = {}
        self._pending = 0
        self._reported = False

    # ------------------------------------------------------------------ observer callbacks

    def on_order_update(self, order: Order) -> None:
        """Count post-only orders that came to rest (the fill rate's denominator)."""
        if order.status == "open" and order.post_only:
            self._posted[order.strategy_id] = self._posted.get(order.strategy_id, 0) + 1

    def on_fill(self, fill: Fill) -> None:
        """Book the fill; for a maker fill, schedule its markouts."""
        ctx = self.ctx
        if not self._reported:
            self._reported = True
            ctx.add_section("markouts", self.report)
        key = (fill.strategy_id, fill.symbol)
        b = self._books.get(key)
        if b is None:
            b = self._books[key] = _Book()
            b.contract_size = ctx.instruments.get(fill.symbol).contract_size
        st = ctx.market.get(fill.symbol)
        mid = _mid(st)
        sign = 1.0 if fill.side == "buy" else -1.0
        units = fill.qty * b.contract_size
        b.fees += fill.fee
        b.cash -= sign * fill.price * units
        b.position += sign * fill.qty
        if mid > 0.0:
            b.spread_capture += sign * (mid - fill.price) * units
        b.last = (fill.ts, b.position, b.position * b.contract_size * fill.price)
        b.fills += 1
        if b.fills % b.stride == 0:  # fills number stride, 2 stride, ...: evenly spaced
            b.inventory.append(b.last)
            if len(b.inventory) > 2 * MAX_POINTS:
                b.inventory = b.inventory[1::2]  # the multiples of 2 stride
                b.stride *= 2
        if not fill.is_maker:
            b.taker_fills += 1
            return
        b.maker_fills += 1
        b.maker_qty += fill.qty
        b.maker_notional += fill.price * units
        b.maker_fees += fill.fee
        self._filled_orders.setdefault(fill.strategy_id, set()).add(fill.order_id)
        if mid <= 0.0:
            return
        if st is not None and not st.has_quote and st.bar_ms and not st.trade_volume:
            horizons = [(label, n * st.bar_ms + 1) for label, n in BAR_HORIZONS]
        else:
            horizons = list(TIME_HORIZONS_MS)
        schedule = ctx.clock.schedule
        for label, ms in horizons:
            self._pending += 1
            schedule(fill.ts + ms, partial(self._mark, b, label, sign, fill.price, mid,
                                           fill.symbol))

    def _mark(self, b: _Book, label: str, sign: float, price: float, mid0: float,
              symbol: str, now: int) -> None:
        self._pending -= 1
        mid = _mid(self.ctx.market.get(symbol))
        if mid <= 0.0:
            return
        b.markout[label] = b.markout.get(label, 0.0) + sign * (mid - price) / price * 1e4
        b.mid_move[label] = b.mid_move.get(label, 0.0) + sign * (mid - mid0) / mid0 * 1e4
        b.counted[label] = b.counted.get(label, 0) + 1

    # ------------------------------------------------------------------ report

    def report(self) -> dict[str, Any]:
        """The ``markouts`` section: per strategy, its maker fill rate and per symbol the
        averages, fees and PnL split (see the module docstring)."""
        out: dict[str, Any] = {}
        for (sid, sym), b in sorted(self._books.items()):
            s = out.setdefault(sid, {"symbols": {}})
            last = _mid(self.ctx.market.get(sym))
            gross = b.cash + b.position * b.contract_size * last if last > 0.0 else b.cash
            avg = {k: round(v / b.counted[k], 4) for k, v in b.markout.items()}
            move = {k: round(v / b.counted[k], 4) for k, v in b.mid_move.items()}
            s["symbols"][sym] = {
                "maker_fills": b.maker_fills, "taker_fills": b.taker_fills,
                "maker_qty": round(b.maker_qty, 12),
                "maker_notional": round(b.maker_notional, 6),
                "maker_fees": round(b.maker_fees, 8),
                "maker_fee_bps": round(b.maker_fees / b.maker_notional * 1e4, 4)
                if b.maker_notional else 0.0,
                "markout_bps": avg, "mid_move_bps": move, "markouts_counted": dict(b.counted),
                "pnl": {"spread_capture": round(b.spread_capture, 8),
                        "inventory": round(gross - b.spread_capture, 8),
                        "fees": round(b.fees, 8), "gross": round(gross, 8),
                        "net": round(gross - b.fees, 8)},
                "final_position": round(b.position, 12),
                "inventory": _thin(b.inventory if b.inventory and b.inventory[-1] is b.last
                                   else [*b.inventory, b.last]),
            }
        for sid, s in out.items():
            posted = self._posted.get(sid, 0)
            filled = len(self._filled_orders.get(sid, ()))
            s["maker_orders_posted"] = posted
            s["maker_orders_filled"] = filled
            s["maker_fill_rate"] = round(filled / posted, 6) if posted else None
        return {"horizons": [h for h, _ in TIME_HORIZONS_MS + BAR_HORIZONS],
                "pending": self._pending, "strategies": out}


def _mid(st: Any) -> float:
    """Best bid/ask midpoint, else the last price, else 0."""
    if st is None:
        return 0.0
    if st.bid > 0.0 and st.ask > 0.0:
        return float((st.bid + st.ask) * 0.5)
    return float(st.last)


def _thin(points: list[tuple[int, float, float]]) -> list[list[float]]:
    """At most :data:`MAX_POINTS` points, evenly spaced, the last one kept."""
    if len(points) > MAX_POINTS:
        step = len(points) / MAX_POINTS
        points = [points[int(i * step)] for i in range(MAX_POINTS - 1)] + [points[-1]]
    return [[t, round(q, 12), round(n, 6)] for t, q, n in points]
