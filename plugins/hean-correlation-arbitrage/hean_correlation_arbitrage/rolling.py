"""Rolling OLS of two log-price series and the correlation of their returns, O(1) per sample.

:class:`RollingPair` keeps the last ``window`` samples ``(x, y)`` (``x = ln P_secondary``,
``y = ln P_primary``) and the last ``window`` return pairs, with running sums
``Σx, Σy, Σx², Σy², Σxy`` (and the same for the returns).  Adding a sample adds it to the sums
and subtracts the sample that leaves the window: constant work per sample.  Values are stored
relative to the first sample seen (``x − x₀``, ``y − y₀``), which keeps the sums small (log
prices of ~11 would otherwise lose digits to cancellation), and every ``window`` samples the
sums are recomputed from the stored window (amortised O(1)), so rounding cannot drift over a
year of samples.

Over the window (n samples), with ``Sxx = Σ(x − x̄)²`` etc.:

* ``beta = Sxy / Sxx``, ``alpha = ȳ − beta·x̄`` (in the original log units);
* residual standard deviation ``sqrt((Syy − beta·Sxy) / n)`` -- the population standard
  deviation of ``y − alpha − beta·x`` over the window;
* ``corr`` = Pearson correlation of the window's return pairs.
"""

from __future__ import annotations

import math
from collections import deque


class _Sums:
    """Running sums of a window of (a, b) pairs."""

    __slots__ = ("a", "aa", "ab", "b", "bb", "items")

    def __init__(self, window: int) -> None:
        self.items: deque[tuple[float, float]] = deque(maxlen=window)
        self.a = self.b = self.aa = self.bb = self.ab = 0.0

    def add(self, a: float, b: float) -> bool:
        """Add a pair (dropping the oldest when full); True when the window is full."""
        items = self.items
        if len(items) == items.maxlen:
            oa, ob = items[0]
            self.a -= oa
            self.b -= ob
            self.aa -= oa * oa
            self.bb -= ob * ob
            self.ab -= oa * ob
        items.append((a, b))
        self.a += a
        self.b += b
        self.aa += a * a
        self.bb += b * b
        self.ab += a * b
        return len(items) == items.maxlen

    def refresh(self) -> None:
        """Recompute the sums from the stored window."""
        self.a = sum(p[0] for p in self.items)
        self.b = sum(p[1] for p in self.items)
        self.aa = sum(p[0] * p[0] for p in self.items)
        self.bb = sum(p[1] * p[1] for p in self.items)
        self.ab = sum(p[0] * p[1] for p in self.items)

    def centred(self) -> tuple[int, float, float, float, float, float]:
        """``(n, mean_a, mean_b, Saa, Sbb, Sab)`` with the S sums centred on the means."""
        n = len(self.items)
        ma, mb = self.a / n, self.b / n
        return (n, ma, mb, max(self.aa - n * ma * ma, 0.0), max(self.bb - n * mb * mb, 0.0),
                self.ab - n * ma * mb)


class RollingPair:
    """Rolling hedge ratio, residual spread and return correlation (module docstring)."""

    __slots__ = ("_added", "_levels", "_rets", "prev", "window", "x0", "y0")

    def __init__(self, window: int) -> None:
        self.window = window
        self._levels = _Sums(window)
        self._rets = _Sums(window)
        self.x0 = self.y0 = math.nan
        self.prev: tuple[float, float] | None = None
        self._added = 0

    @property
    def ready(self) -> bool:
        """A full window of levels and of returns."""
        return len(self._rets.items) == self.window

    def __len__(self) -> int:
        return len(self._levels.items)

    def add(self, x: float, y: float) -> None:
        """Add one common-clock sample of the two log prices."""
        if self.prev is None:
            self.x0, self.y0 = x, y
        else:
            self._rets.add(x - self.prev[0], y - self.prev[1])
        self._levels.add(x - self.x0, y - self.y0)
        self.prev = (x, y)
        self._added += 1
        if self._added % self.window == 0:
            self._levels.refresh()
            self._rets.refresh()

    def fit(self) -> tuple[float, float, float] | None:
        """``(beta, alpha, residual_std)`` of ``y = alpha + beta·x`` over the window (None
        when the secondary did not move at all)."""
        n, mx, my, sxx, syy, sxy = self._levels.centred()
        if n < 3 or sxx <= 0.0:
            return None
        beta = sxy / sxx
        alpha = (my + self.y0) - beta * (mx + self.x0)
        var = max(syy - beta * sxy, 0.0) / n
        return beta, alpha, math.sqrt(var)

    def corr(self) -> float:
        """Pearson correlation of the window's returns (0 when either is flat)."""
        if len(self._rets.items) < 3:
            return 0.0
        _, _, _, saa, sbb, sab = self._rets.centred()
        if saa <= 0.0 or sbb <= 0.0:
            return 0.0
        return max(-1.0, min(1.0, sab / math.sqrt(saa * sbb)))
