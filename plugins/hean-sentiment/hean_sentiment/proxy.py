"""The market proxy: a sentiment-like score of a symbol computed from its own market data.

Opt-in (``market_proxy: true`` on the sentiment source).  Three components, each -1..1, each
present only when its data is there:

* **funding**: ``z`` of the latest funding rate against the previous ``funding_window``
  settlements (mean and population standard deviation; at least 5 earlier settlements and a
  non-zero deviation), ``clamp(z / funding_z_scale, -1, 1)``; positive funding (longs pay)
  reads as a bullish crowd, negated with ``funding_contrarian``;
* **order flow**: the ``OFI`` fact of hean-market-analyzers' ``ofi_monitor`` (-1..1) when that
  plugin is installed and its ``OFI_SOURCE`` says the value is known; otherwise absent (never
  read as "no pressure");
* **momentum**: ``clamp(ln(close / close momentum_bars bars ago) / momentum_scale, -1, 1)``
  from the symbol's bar closes (candle data only).

The proxy score is the mean of the components present (none present: no proxy).  Updates are
O(1): a ring of closes and rolling sums of the funding window.
"""

from __future__ import annotations

import math
from collections import deque

#: earlier settlements the funding z-score needs
MIN_FUNDING_HISTORY = 5


def clamp1(x: float) -> float:
    """``x`` clamped to -1..1."""
    return -1.0 if x < -1.0 else (1.0 if x > 1.0 else x)


class MarketProxy:
    """Funding z-score and momentum state of one symbol (the OFI is read at query time)."""

    __slots__ = ("closes", "contrarian", "funding", "funding_z", "mom_scale", "sum_f",
                 "sum_f2", "z_scale")

    def __init__(self, momentum_bars: int, momentum_scale: float, funding_window: int,
                 funding_z_scale: float, funding_contrarian: bool) -> None:
        self.closes: deque[float] = deque(maxlen=momentum_bars + 1)
        self.mom_scale = momentum_scale
        self.funding: deque[float] = deque(maxlen=funding_window)
        self.sum_f = 0.0
        self.sum_f2 = 0.0
        self.z_scale = funding_z_scale
        self.contrarian = funding_contrarian
        #: z-score of the latest settlement (None until there is enough history)
        self.funding_z: float | None = None

    def on_close(self, close: float) -> None:
        """A bar closed at ``close``."""
        if close > 0.0:
            self.closes.append(close)

    def on_funding(self, rate: float) -> None:
        """A funding settlement: its z-score against the earlier ones, then it joins them."""
        f = self.funding
        n = len(f)
        if n >= MIN_FUNDING_HISTORY:
            mean = self.sum_f / n
            var = max(0.0, self.sum_f2 / n - mean * mean)
            sd = math.sqrt(var)
            self.funding_z = (rate - mean) / sd if sd > 1e-12 else None
        if n == f.maxlen:
            old = f[0]
            self.sum_f -= old
            self.sum_f2 -= old * old
        f.append(rate)
        self.sum_f += rate
        self.sum_f2 += rate * rate

    def momentum(self) -> float | None:
        """The momentum component, or None before ``momentum_bars`` bars."""
        c = self.closes
        if len(c) < (c.maxlen or 0):
            return None
        return clamp1(math.log(c[-1] / c[0]) / self.mom_scale)

    def funding_component(self) -> float | None:
        """The funding component, or None without enough history."""
        z = self.funding_z
        if z is None:
            return None
        v = clamp1(z / self.z_scale)
        return -v if self.contrarian else v

    def score(self, ofi: float | None) -> tuple[float, int] | None:
        """``(proxy score, components present)``, or None when no component is."""
        total = 0.0
        n = 0
        for part in (self.funding_component(), ofi, self.momentum()):
            if part is not None:
                total += clamp1(part)
                n += 1
        return (total / n, n) if n else None
