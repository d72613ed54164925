"""Which market events count as a "tick" (one price update of a symbol) for an analyzer.

The original system's windows are tick-count windows.  Here a tick is a closed bar (its
close and volume), a public trade (its price and size) or, when asked for, a best bid/offer
change (its mid, volume 0).

``tick_source`` of an analyzer's config:

* ``auto`` (default): per symbol, the first bar or trade that arrives decides; from then on only
  that kind is a tick for that symbol (so a data set with both candles and trades of one
  symbol never mixes the two in one window).  Quotes are never ticks in ``auto``.
* ``bars`` / ``trades`` / ``quotes``: only that kind.

Invariant: for one symbol, every tick an analyzer counts is of a single kind.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["TickGate", "TickSource"]

TickSource = Literal["auto", "bars", "trades", "quotes"]


class TickGate:
    """Per-symbol choice of the event kind that makes a tick."""

    __slots__ = ("_locked", "source")

    def __init__(self, source: TickSource) -> None:
        self.source = source
        self._locked: dict[str, str] = {}

    def accept(self, symbol: str, kind: str) -> bool:
        """Whether an event of ``kind`` (``bars``, ``trades`` or ``quotes``) is a tick."""
        src = self.source
        if src == kind:
            return True
        if src != "auto" or kind == "quotes":
            return False
        locked = self._locked.get(symbol)
        if locked is None:
            self._locked[symbol] = kind
            return True
        return locked == kind
