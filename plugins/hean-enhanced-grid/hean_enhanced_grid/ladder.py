"""The grid's arithmetic: from a range and the account to a ladder of levels (pure functions).

:func:`plan_grid` decides whether a range qualifies and, when it does, where the levels are
and how large each one is:

* ``width = (high - low) / mid`` with ``mid = (high + low) / 2``; the range qualifies when
  ``min_range_pct <= width <= max_range_pct`` (else ``RANGE_TOO_NARROW`` / ``RANGE_TOO_WIDE``);
* centre ``c = mid``; spacing ``s = max(spacing_pct * c, (high - low) / (2 * levels_per_side))``;
* level ``k`` (``k = -n .. -1`` buy, ``1 .. n`` sell) rests at ``c + k * s``, rounded to the
  tick away from crossing (buy down, sell up); only the levels *inside* the range are placed,
  ``n_range = min(levels_per_side, floor((high - c) / s))`` per side (a level outside it could
  only fill on a bar that also breaks the range; ``NO_LEVEL_IN_RANGE`` when none fits);
* capital per side ``C = max_inventory_pct * budget / symbols``; every level has the same size
  ``q = C / n_range / u`` rounded down to the lot, ``u`` = the notional of one quantity unit
  at the centre (``c`` for a linear contract of size 1);
* the smallest level the run accepts is ``q_min`` = the exchange minimum (min quantity and min
  notional, :meth:`~hean_framework.instruments.Instrument.min_order_qty`) at the lowest level's
  price, raised to ``min_level_notional`` there; when ``q < q_min`` the grid keeps only the
  ``n_placed = min(n_range, floor(C / (q_min * u)))`` innermost levels per side, each of
  ``q_min``, and the outer ones are :class:`Skipped` (``BELOW_EXCHANGE_MINIMUM`` when the equal
  share is under the exchange's own minimum, ``BELOW_MIN_LEVEL_NOTIONAL`` when only under
  ``min_level_notional``), with the numbers; ``n_placed`` may be 0 (no grid);
* the grid lives between its stops, one spacing beyond the outermost *placed* level
  (``c -+ (n_placed + 1) * s``, the grid's stop loss); they lie inside the rebuild band
  ``[low - s, high + s]`` (equal to it when the levels span the whole range), so a close
  beyond a stop is the breakout: stop and rebuild together.

A filled level's take-profit rests one level toward the centre (:meth:`GridPlan.tp_price`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from hean_framework.instruments import Instrument

from .config import EnhancedGridConfig

#: why no grid was planned (the strategy's skip counters use the same names, lower-case)
RANGE_TOO_NARROW = "RANGE_TOO_NARROW"
RANGE_TOO_WIDE = "RANGE_TOO_WIDE"
NO_LEVEL_IN_RANGE = "NO_LEVEL_IN_RANGE"
NO_BUDGET = "NO_BUDGET"
#: why a level in the range was not placed
BELOW_EXCHANGE_MINIMUM = "BELOW_EXCHANGE_MINIMUM"
BELOW_MIN_LEVEL_NOTIONAL = "BELOW_MIN_LEVEL_NOTIONAL"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A level inside the range that is not placed, and the numbers behind it."""

    k: int  #: level index (negative: buy below the centre, positive: sell above)
    side: str  #: ``buy`` or ``sell``
    price: float  #: the level's price (on the tick grid)
    qty_wanted: float  #: the equal share ``C / n_range / u`` it would have had (units)
    notional_wanted: float  #: ``qty_wanted`` x price
    min_qty: float  #: the smallest accepted quantity at that price (exchange and run minimum)
    reason: str  #: ``BELOW_EXCHANGE_MINIMUM`` or ``BELOW_MIN_LEVEL_NOTIONAL``


@dataclass(frozen=True, slots=True)
class GridPlan:
    """One grid: range, centre, spacing, levels and their size (see the module docstring)."""

    symbol: str
    low: float
    high: float
    centre: float
    spacing: float  #: distance between levels, price units
    n_range: int  #: levels per side inside the range
    n_placed: int  #: levels per side placed (capital-aware; <= n_range)
    qty: float  #: size of every placed level, instrument units (on the lot grid)
    capital: float  #: ``C``, notional of one side's levels together, quote currency
    min_qty: float  #: ``q_min`` (see the module docstring)
    tick: float
    skipped: tuple[Skipped, ...] = field(default=())

    @property
    def width_pct(self) -> float:
        """``(high - low) / mid``."""
        return (self.high - self.low) / self.centre

    @property
    def spacing_pct(self) -> float:
        """The spacing as a fraction of the centre."""
        return self.spacing / self.centre

    @property
    def band_low(self) -> float:
        """The lower edge of the range band ``low - spacing`` (the grid is rebuilt below it)."""
        return self.low - self.spacing

    @property
    def band_high(self) -> float:
        """The upper edge of the range band ``high + spacing``."""
        return self.high + self.spacing

    @property
    def levels(self) -> tuple[int, ...]:
        """Indices of the placed levels, lowest price first."""
        n = self.n_placed
        return tuple(range(-n, 0)) + tuple(range(1, n + 1))

    def raw_price(self, k: int) -> float:
        """``c + k * s`` before tick rounding."""
        return self.centre + k * self.spacing

    def entry_price(self, k: int) -> float:
        """Level ``k``'s resting entry: a buy below the centre, a sell above (on the tick)."""
        return _round(self.raw_price(k), self.tick, "buy" if k < 0 else "sell")

    def tp_price(self, k: int) -> float:
        """Where level ``k``'s position is taken: one level toward the centre (the centre
        itself for ``k = +-1``), on the tick, rounded away from crossing for the closing side."""
        inward = k + 1 if k < 0 else k - 1
        return _round(self.raw_price(inward), self.tick, "sell" if k < 0 else "buy")

    @property
    def stop_low(self) -> float:
        """One spacing below the lowest placed level (the grid's stop loss).  The placed levels
        lie inside the range, so this is at or above ``band_low``: a close below it is the
        breakout (stop and rebuild at once)."""
        return self.raw_price(-self.n_placed - 1)

    @property
    def stop_high(self) -> float:
        """One spacing above the highest placed level, at or below ``band_high``."""
        return self.raw_price(self.n_placed + 1)


def _round(price: float, tick: float, side: str) -> float:
    """``price`` on the tick grid, down for a buy, up for a sell (float noise snapped)."""
    n = price / tick
    return on_tick(math.floor(n + 1e-9) if side == "buy" else math.ceil(n - 1e-9), tick)


def on_tick(steps: int, tick: float) -> float:
    """``steps`` ticks as the float a price of the exchange is (``93860.9``, not
    ``93860.90000000001``): the product taken in decimal."""
    return float(Decimal(steps) * Decimal(repr(tick)))


def _ceil_lot(inst: Instrument, qty: float) -> float:
    """``qty`` rounded *up* to the lot grid."""
    lot = inst.lot_size
    return inst.round_qty(math.ceil(qty / lot - 1e-9) * lot) if lot > 0 else qty


def plan_grid(symbol: str, high: float, low: float, cfg: EnhancedGridConfig,
              inst: Instrument, budget: float, n_symbols: int = 1) -> GridPlan | str:
    """The grid for the range ``[low, high]``, or the reason code why there is none
    (``RANGE_TOO_NARROW``, ``RANGE_TOO_WIDE``, ``NO_LEVEL_IN_RANGE``, ``NO_BUDGET``).

    A plan with ``n_placed == 0`` is returned when the range qualifies but no level reaches
    the minimum size: its ``skipped`` says why, level by level.
    """
    if not (high > 0.0 and low > 0.0 and high >= low):
        return RANGE_TOO_NARROW
    mid = (high + low) * 0.5
    width = (high - low) / mid
    if width < cfg.min_range_pct:
        return RANGE_TOO_NARROW
    if width > cfg.max_range_pct:
        return RANGE_TOO_WIDE
    n_want = cfg.levels_per_side
    spacing = max(cfg.spacing_pct * mid, (high - low) / (2 * n_want))
    n_range = min(n_want, math.floor((high - mid) / spacing + 1e-9))
    if n_range < 1:
        return NO_LEVEL_IN_RANGE
    capital = cfg.max_inventory_pct * budget / max(n_symbols, 1)
    if not capital > 0.0:
        return NO_BUDGET
    tick = inst.tick_size
    unit = inst.notional(1.0, mid)  # value of one quantity unit at the centre
    qty_want = capital / n_range / unit
    qty = inst.round_qty(qty_want)
    low_price = _round(mid - n_range * spacing, tick, "buy")
    exch_min = inst.min_order_qty(low_price)
    q_min = max(exch_min, _ceil_lot(inst, cfg.min_level_notional
                                           / inst.notional(1.0, low_price)))
    if qty + 1e-12 >= q_min:
        return GridPlan(symbol, low, high, mid, spacing, n_range, n_range, qty, capital,
                        q_min, tick)
    n_placed = min(n_range, math.floor(capital / (q_min * unit) + 1e-9))
    skipped = []
    for k in [*range(-n_range, -n_placed), *range(n_placed + 1, n_range + 1)]:
        side = "buy" if k < 0 else "sell"
        price = _round(mid + k * spacing, tick, side)
        ex = inst.min_order_qty(price)
        below_exchange = inst.round_qty(qty_want) + 1e-12 < ex
        skipped.append(Skipped(k, side, price, qty_want, inst.notional(qty_want, price),
                               ex if below_exchange else q_min,
                               BELOW_EXCHANGE_MINIMUM if below_exchange
                               else BELOW_MIN_LEVEL_NOTIONAL))
    return GridPlan(symbol, low, high, mid, spacing, n_range, n_placed, q_min, capital, q_min,
                    tick, tuple(skipped))
