"""The slice plan of one TWAP parent: how many slices, of what quantity, sent when.

Both parts are pure functions of their inputs, so a schedule can be recomputed (and tested)
outside a run.

**Quantities** (:func:`slice_quantities`): the parent's quantity ``Q`` is cut into ``n``
slices of ``q = floor_lot(Q / n)``; the last slice takes the rounding remainder ``Q - (n - 1)
q``.  No slice may be below the exchange minimum ``m`` (the instrument's
``min_order_qty(price)``: the larger of the minimum quantity and the minimum notional at the
price, on the lot grid): when ``Q / n < m`` the count is reduced to ``n' = floor(Q / m)``
(at least 1) -- the slices are *merged* -- and the merge is returned as a record
(:class:`Merge`).  Every slice then holds at least ``m``: the first ``n' - 1`` hold
``floor_lot(Q / n') >= m`` (``m`` is on the grid) and the last ``Q - (n' - 1) q >= Q / n'``.

**Times** (:func:`slice_offsets`): slice 0 is sent at once (offset 0); each following slice
waits ``duration / n x (1 + u)`` after the previous one, ``u`` uniform in ``[-jitter,
+jitter]`` (+-20 % by default), at least ``min_interval_ms``.  ``u`` comes from a generator
seeded with the run's seed and the parent's decision id (:func:`parent_rng`): the same seed
and parent give the same schedule in every run and process, another seed another one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

__all__ = ["Merge", "parent_rng", "slice_offsets", "slice_quantities"]

#: quantities this close to a lot multiple count as on it (float noise)
_SNAP = 1e-9


@dataclass(frozen=True, slots=True)
class Merge:
    """Slices merged because ``Q / planned`` was below the exchange minimum."""

    planned: int  #: slices configured
    slices: int  #: slices after the merge
    total_qty: float  #: the parent's quantity
    min_qty: float  #: the exchange minimum per order at the planning price
    price: float  #: the planning price

    def as_dict(self) -> dict[str, Any]:
        """For the journal and the report."""
        return {"planned": self.planned, "slices": self.slices, "total_qty": self.total_qty,
                "min_qty": self.min_qty, "price": self.price,
                "reason": "slice_below_exchange_minimum"}


def _floor_lot(qty: float, lot: float) -> float:
    if lot <= 0.0:
        return qty
    steps = int(qty / lot + _SNAP)
    return round(steps * lot, 12)


def slice_quantities(total: float, n: int, min_qty: float, lot: float,
                     price: float = 0.0) -> tuple[list[float], Merge | None]:
    """Cut ``total`` into at most ``n`` slices on the ``lot`` grid, none below ``min_qty``
    (module docstring); returns the quantities and the merge record (None: no merge).

    >>> slice_quantities(0.05, 10, 0.001, 0.001)[0][:3]
    [0.005, 0.005, 0.005]
    >>> q, m = slice_quantities(0.005, 10, 0.002, 0.001)
    >>> q, m.slices
    ([0.002, 0.003], 2)
    """
    if total <= 0.0:
        return [], None
    n = max(1, int(n))
    merge: Merge | None = None
    if min_qty > 0.0 and total / n < min_qty * (1.0 - _SNAP):
        k = max(1, int(total / min_qty + _SNAP))
        merge = Merge(n, k, total, min_qty, price)
        n = k
    q = _floor_lot(total / n, lot)
    if n == 1 or q <= 0.0:
        return [total], merge
    last = round(total - q * (n - 1), 12)
    return [q] * (n - 1) + [last], merge


def parent_rng(seed: int, parent_id: int) -> random.Random:
    """The jitter generator of one parent: a function of the run seed and the parent's
    decision id only (string seeding is stable across processes and ``PYTHONHASHSEED``)."""
    return random.Random(f"hean-twap:{int(seed)}:{int(parent_id)}")


def slice_offsets(n: int, duration_ms: int, jitter: float, min_interval_ms: int,
                  rng: random.Random) -> list[int]:
    """Send times of ``n`` slices, ms after the parent's start (module docstring)."""
    if n <= 0:
        return []
    base = duration_ms / n
    out = [0]
    t = 0.0
    for _ in range(n - 1):
        u = rng.uniform(-jitter, jitter) if jitter > 0.0 else 0.0
        t += max(float(min_interval_ms), base * (1.0 + u))
        out.append(round(t))
    return out
