"""Rolling order statistics for analyzers: a bounded window kept sorted.

:class:`SortedWindow` keeps the last ``size`` values both in arrival order and sorted.
``push`` is one binary search to find the oldest value and one to insert the new one, plus the
list's C ``memmove`` of at most ``size`` pointers (about 8 kB for 1,000 values: a few hundred
ns); when the new value belongs in the slot the oldest one leaves it replaces it in place (no
memmove).  Percentiles (linear interpolation between closest ranks, as ``numpy.percentile``'s
default), ranks, the mid-rank and the median are O(1) / O(log size).  Values must be finite
(no NaN).  Used by the market analyzers (regime, confirmation) and the physics analyzer.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque

__all__ = ["SortedWindow", "percentile_sorted"]


def percentile_sorted(srt: list[float], p: float) -> float:
    """Percentile ``p`` (0..100) of an ascending list, linear between closest ranks."""
    n = len(srt)
    if n == 0:
        raise ValueError("percentile of an empty window")
    pos = p / 100.0 * (n - 1)
    lo = int(pos)
    if lo >= n - 1:
        return srt[-1]
    frac = pos - lo
    return srt[lo] + (srt[lo + 1] - srt[lo]) * frac


class SortedWindow:
    """The last ``size`` values, in arrival order and sorted."""

    __slots__ = ("_order", "size", "sorted")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size
        self._order: deque[float] = deque()
        self.sorted: list[float] = []  #: the kept values, ascending

    def __len__(self) -> int:
        return len(self._order)

    def push(self, x: float) -> None:
        """Append ``x``, dropping the oldest value once ``size`` values are kept."""
        order = self._order
        srt = self.sorted
        if len(order) == self.size:
            old = order.popleft()
            i = bisect_left(srt, old)
            # in place when x keeps the order there (no memmove), else delete + insert
            if (i == 0 or srt[i - 1] <= x) and (i == len(srt) - 1 or x <= srt[i + 1]):
                srt[i] = x
            else:
                del srt[i]
                insort(srt, x)
        else:
            insort(srt, x)
        order.append(x)

    def midrank(self, x: float) -> float:
        """Share of kept values below ``x`` plus half the share equal to it, in [0, 1]
        (0.5 when empty): the percentile rank with ties split evenly."""
        srt = self.sorted
        n = len(srt)
        if not n:
            return 0.5
        lo = bisect_left(srt, x)
        if lo < n and srt[lo] == x:  # ties: the second search only when there are some
            return (lo + bisect_right(srt, x, lo)) / (2.0 * n)
        return lo / n

    def median(self) -> float:
        """The median of the kept values (mean of the two middle ones for an even count;
        0.0 when empty)."""
        srt = self.sorted
        n = len(srt)
        if not n:
            return 0.0
        h = n >> 1
        return srt[h] if n & 1 else 0.5 * (srt[h - 1] + srt[h])

    def values(self) -> list[float]:
        """The kept values in arrival order (a copy)."""
        return list(self._order)

    def percentile(self, p: float) -> float:
        """Percentile ``p`` (0..100) of the kept values (linear interpolation)."""
        return percentile_sorted(self.sorted, p)

    def rank_pct(self, x: float) -> float:
        """Share of kept values ``<= x``, in percent (0 when empty)."""
        n = len(self.sorted)
        return 100.0 * bisect_right(self.sorted, x) / n if n else 0.0
