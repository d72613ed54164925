"""Incremental window statistics shared by the analyzers (no window is ever re-scanned per event).

Invariants:

* :class:`MultiSum` keeps one ring buffer of the last ``max(lengths)`` values and, for every
  length ``k`` it was built with, the sum (and optionally the sum of squares) of the last
  ``min(n, k)`` values.  ``push`` costs one add and one subtract per length -- O(1) for a fixed
  set of lengths.  Every :data:`RESYNC` pushes the sums are recomputed exactly from the ring
  (:func:`math.fsum`), so float rounding cannot pile up over a long run: the amortised cost
  stays O(1) and the sums never drift more than a few ulps of ``RESYNC`` additions away from a
  from-scratch recomputation.
* It also counts the non-zero values of each window: a window without one has sums of
  exactly 0 (a rolling sum could otherwise leave a rounding residue such as 1e-21 where the
  true sum is 0 -- e.g. a run of trades at one price, whose returns are all 0, would get a
  tiny spurious volatility).  Sums of squares are never negative, and with ``nonneg`` (values
  known to be >= 0: volumes, absolute changes) neither are the sums.
* :class:`SortedWindow` (percentiles and ranks over a bounded window) is the kernel's
  :class:`hean_framework.rolling.SortedWindow`, re-exported here.
* No method accepts NaN: callers only push finite values.
"""

from __future__ import annotations

import math

from hean_framework.rolling import SortedWindow, percentile_sorted

__all__ = ["RESYNC", "MultiSum", "SortedWindow", "percentile_sorted"]

#: pushes between two exact recomputations of a :class:`MultiSum`'s sums
RESYNC = 4096


class MultiSum:
    """Rolling sums (and sums of squares) of the last ``k`` values for several ``k`` at once.

    ``lengths`` are the window lengths; the ring holds ``max(lengths)`` values.
    """

    __slots__ = ("_buf", "_cap", "_lens", "_pos", "_since", "n", "nonneg", "nonzero", "sqs",
                 "squares", "sums")

    def __init__(self, lengths: tuple[int, ...], squares: bool = False,
                 nonneg: bool = False) -> None:
        if not lengths or min(lengths) < 1:
            raise ValueError(f"window lengths must be >= 1, got {lengths}")
        self._lens = tuple(lengths)
        self._cap = max(lengths)
        self._buf = [0.0] * self._cap
        self._pos = 0
        self._since = 0
        self.n = 0  #: values pushed so far
        self.squares = squares
        self.sums = [0.0] * len(lengths)  #: sum of the last min(n, k) values, per length
        self.sqs = [0.0] * len(lengths)  #: the same for the squares (when ``squares``)
        self.nonneg = nonneg
        #: non-zero values in each window
        self.nonzero = [0] * len(lengths)

    def push(self, x: float) -> None:
        """Append ``x``; every window drops its oldest value once it is full."""
        buf = self._buf
        pos = self._pos
        n = self.n
        sums = self.sums
        cnt = self.nonzero
        nz = x != 0.0
        if self.squares:
            sqs = self.sqs
            x2 = x * x
            for j, k in enumerate(self._lens):
                if n >= k:
                    old = buf[pos - k]  # negative index: (pos - k) mod cap
                    s = sums[j] + (x - old)
                    q = sqs[j] + (x2 - old * old)
                    c = cnt[j] + nz - (old != 0.0)
                else:
                    s = sums[j] + x
                    q = sqs[j] + x2
                    c = cnt[j] + nz
                if c == 0:
                    s = q = 0.0
                elif q < 0.0:
                    q = 0.0
                sums[j] = s
                sqs[j] = q
                cnt[j] = c
        else:
            nonneg = self.nonneg
            for j, k in enumerate(self._lens):
                if n >= k:
                    old = buf[pos - k]
                    s = sums[j] + (x - old)
                    c = cnt[j] + nz - (old != 0.0)
                else:
                    s = sums[j] + x
                    c = cnt[j] + nz
                if c == 0 or (nonneg and s < 0.0):
                    s = 0.0
                sums[j] = s
                cnt[j] = c
        buf[pos] = x
        pos += 1
        self._pos = 0 if pos == self._cap else pos
        self.n = n + 1
        self._since += 1
        if self._since >= RESYNC:
            self.resync()

    def leaving(self, k: int) -> float | None:
        """The value the ``k``-window drops at the next push (None while it is not full)."""
        if self.n < k:
            return None
        return self._buf[self._pos - k]

    def ago(self, i: int) -> float:
        """The value pushed ``i`` pushes before the latest one (``ago(0)`` is the latest)."""
        if i >= min(self.n, self._cap):
            raise IndexError(f"only {min(self.n, self._cap)} values are kept")
        return self._buf[self._pos - 1 - i]

    def last(self, k: int) -> list[float]:
        """The last ``min(n, k)`` values, oldest first (O(k): for checks and resyncs only)."""
        m = min(self.n, k, self._cap)
        return [self._buf[self._pos - m + i] for i in range(m)]

    def count(self, j: int) -> int:
        """How many values the ``j``-th window holds."""
        return min(self.n, self._lens[j])

    def resync(self) -> None:
        """Recompute every sum exactly from the ring."""
        self._since = 0
        for j, k in enumerate(self._lens):
            vals = self.last(k)
            self.sums[j] = math.fsum(vals)
            if self.squares:
                self.sqs[j] = math.fsum(v * v for v in vals)

