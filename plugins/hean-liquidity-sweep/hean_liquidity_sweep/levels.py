"""Key price levels: round numbers relative to the price, and session highs and lows.

Round numbers
    :func:`round_interval` is the smallest step of the form ``{1, 2, 2.5, 5} x 10^k`` that is
    at least ``min_step``; the strategy asks for ``min_step = round_min_pct x price``, so the
    round levels of a symbol are always at least that fraction of its price apart whatever the
    price is (200 at 60,000, 0.5 at 150, 0.0002 at 0.1 with the default 0.2 %).  The levels are
    the multiples of that step; :func:`round_levels_between` lists the ones in a price range.

Session levels
    :class:`Sessions` cuts the ticks of one symbol into fixed UTC sessions (``length_ms``, e.g.
    4 h) and, when a session is over (the first tick of a later session arrives), keeps its
    high and its low as levels.  A new level closer than ``merge_pct`` (relative) to a level
    already kept is not added again; at most ``keep`` levels are kept, oldest dropped first.
    The session being formed never contributes a level: a sweep is measured against levels
    that existed before it.

Everything here is O(1) per tick except closing a session (O(keep), once per session).
"""

from __future__ import annotations

import math
from collections import deque

#: mantissas of the round steps, in increasing order (10 closes the decade)
MANTISSAS: tuple[float, ...] = (1.0, 2.0, 2.5, 5.0, 10.0)

#: relative tolerance when comparing a candidate step with ``min_step`` (float noise only)
_TOL = 1e-9

SESSION_HIGH = "session_high"
SESSION_LOW = "session_low"
ROUND = "round"


def _decimals(step: float) -> int:
    """Decimal places that represent every multiple of ``step`` exactly enough to print."""
    k = math.floor(math.log10(step) + 1e-12)
    return max(0, 1 - k)


def round_interval(min_step: float) -> float:
    """The smallest ``m x 10^k`` (``m`` in 1, 2, 2.5, 5) that is ``>= min_step``.

    >>> round_interval(120.0), round_interval(0.3), round_interval(0.0002)
    (200.0, 0.5, 0.0002)
    """
    if not (min_step > 0.0 and math.isfinite(min_step)):
        raise ValueError(f"min_step must be a positive finite number, got {min_step!r}")
    k = math.floor(math.log10(min_step))
    while True:
        scale = 10.0 ** k
        for m in MANTISSAS:
            step = m * scale
            if step >= min_step * (1.0 - _TOL):
                return round(step, _decimals(step))
        k += 1  # log10 rounded down across a power of ten: try the next decade


def level_at(n: int, step: float) -> float:
    """The ``n``-th multiple of ``step``, rounded to the step's decimals (no float dust)."""
    return round(n * step, _decimals(step))


def round_levels_between(lo: float, hi: float, step: float) -> list[float]:
    """Multiples of ``step`` in ``[lo, hi]`` (ascending); empty when ``lo > hi``."""
    if lo > hi:
        return []
    first = math.ceil(lo / step - _TOL)
    last = math.floor(hi / step + _TOL)
    out = []
    for n in range(first, last + 1):
        level = level_at(n, step)
        if lo <= level <= hi:
            out.append(level)
    return out


class Sessions:
    """Session highs and lows of one symbol (see the module docstring)."""

    __slots__ = ("current", "high", "keep", "length_ms", "levels", "low", "merge_pct",
                 "merged", "sessions_closed")

    def __init__(self, length_ms: int, keep: int, merge_pct: float) -> None:
        self.length_ms = length_ms
        self.keep = keep
        self.merge_pct = merge_pct
        #: (price, kind) of the kept levels, oldest first
        self.levels: deque[tuple[float, str]] = deque(maxlen=keep)
        self.current: int | None = None
        self.high = -math.inf
        self.low = math.inf
        #: session levels not added because a kept level was within ``merge_pct``
        self.merged = 0
        self.sessions_closed = 0

    def update(self, start_ts: int, high: float, low: float) -> None:
        """Add a tick that began at ``start_ts`` (ms) with this high and low."""
        session = start_ts // self.length_ms
        if self.current is None:
            self.current = session
        elif session != self.current:
            self._close()
            self.current = session
            self.high, self.low = high, low
            return
        if high > self.high:
            self.high = high
        if low < self.low:
            self.low = low

    def _close(self) -> None:
        self.sessions_closed += 1
        self._add(self.high, SESSION_HIGH)
        self._add(self.low, SESSION_LOW)

    def _add(self, price: float, kind: str) -> None:
        if not (price > 0.0 and math.isfinite(price)):
            return
        tol = self.merge_pct
        for level, _ in self.levels:
            if abs(price / level - 1.0) <= tol:
                self.merged += 1
                return
        self.levels.append((price, kind))

    def between(self, lo: float, hi: float) -> list[tuple[float, str]]:
        """Kept levels with ``lo <= price <= hi``."""
        return [(p, k) for p, k in self.levels if lo <= p <= hi]

    def resize(self, length_ms: int, keep: int, merge_pct: float) -> None:
        """New settings: a new session length starts over, a new ``keep`` keeps the newest."""
        if length_ms != self.length_ms:
            self.__init__(length_ms, keep, merge_pct)  # type: ignore[misc]
            return
        self.keep = keep
        self.merge_pct = merge_pct
        self.levels = deque(self.levels, maxlen=keep)
