"""Fixed-size windows with O(1) updates: a price ring and rolling sums.

Invariants:

* :class:`PriceRing` keeps the last ``size`` prices; ``ago(k)`` is the price ``k`` ticks before
  the newest (``ago(0)`` the newest), for ``0 <= k < len(ring)``, in O(1);
* :class:`Rolling` keeps the last ``size`` values with their mean and sum of squared
  deviations, updated in O(1) per value by Welford's update and downdate (no running sum of
  squares, which cancels catastrophically when large values leave a window of small ones); the
  RMS is ``sqrt(mean^2 + variance)``; every ``RESUM_EVERY`` pushes both are recomputed exactly
  from the window, so floating-point error cannot pile up over a long run.
"""

from __future__ import annotations

import math

__all__ = ["RESUM_EVERY", "PriceRing", "Rolling"]

#: pushes between two exact recomputations of a rolling window's sums
RESUM_EVERY = 4096


class PriceRing:
    """The last ``size`` prices of a symbol."""

    __slots__ = ("_buf", "_head", "n", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._buf = [0.0] * size
        self._head = -1
        self.n = 0

    def push(self, price: float) -> None:
        """Append the newest price (the oldest drops out once full)."""
        self._head = (self._head + 1) % self.size
        self._buf[self._head] = price
        if self.n < self.size:
            self.n += 1

    def ago(self, k: int) -> float:
        """The price ``k`` ticks before the newest (``0 <= k < n``)."""
        return self._buf[(self._head - k) % self.size]

    def __len__(self) -> int:
        return self.n


class Rolling:
    """The last ``size`` values with their mean and sum of squared deviations."""

    __slots__ = ("_buf", "_head", "_m2", "_mean", "_pushes", "n", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._buf = [0.0] * size
        self._head = 0
        self._pushes = 0
        self.n = 0
        self._mean = 0.0
        self._m2 = 0.0

    def push(self, x: float) -> None:
        """Add ``x``; drop the oldest value once the window is full."""
        buf = self._buf
        if self.n == self.size:
            old = buf[self._head]
            # Welford downdate
            self.n -= 1
            if self.n:
                d = old - self._mean
                self._mean -= d / self.n
                self._m2 -= d * (old - self._mean)
            else:
                self._mean = self._m2 = 0.0
        buf[self._head] = x
        self._head = (self._head + 1) % self.size
        # Welford update
        self.n += 1
        d = x - self._mean
        self._mean += d / self.n
        self._m2 += d * (x - self._mean)
        self._pushes += 1
        if self._pushes % RESUM_EVERY == 0:
            vals = self.values()
            self._mean = math.fsum(vals) / self.n
            self._m2 = math.fsum((v - self._mean) ** 2 for v in vals)

    def values(self) -> list[float]:
        """The window, oldest first (O(size): for tests and occasional use)."""
        if self.n < self.size:
            return self._buf[:self.n]
        h = self._head
        return self._buf[h:] + self._buf[:h]

    def mean(self) -> float:
        """Mean of the window (0.0 when empty)."""
        return self._mean if self.n else 0.0

    def rms(self) -> float:
        """Root mean square of the window (0.0 when empty)."""
        if not self.n:
            return 0.0
        return math.sqrt(self._mean * self._mean + max(self._m2, 0.0) / self.n)

    def std(self) -> float:
        """Population standard deviation of the window (0.0 with fewer than 2 values)."""
        n = self.n
        if n < 2:
            return 0.0
        return math.sqrt(max(self._m2, 0.0) / n)
