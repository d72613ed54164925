"""The sentiment facts: what the sentiment source publishes and the sentiment strategy reads.

One key, :data:`SENTIMENT`, per symbol: a :class:`SentimentReading` (frozen) with the
aggregated score of the symbol's asset, its confidence, the action the aggregation recommends
and when its newest input was known.  Rules:

* the neutral default :data:`NEUTRAL_SENTIMENT` (``known`` False, score 0, confidence 0,
  action ``HOLD``) is what a reader sees while nobody publishes -- no source installed, no
  item for the asset yet, or the asset's newest input older than the source's staleness limit
  (then the source publishes a neutral reading with ``reason="stale"``);
* ``ts`` is the time of the newest input the reading contains (a scored item's timestamp, or
  the market proxy's computation time), never later than the clock at which it was published:
  a reading never contains information from the future;
* the reading of an asset is published under every symbol of that asset the source listens
  to (``BTC`` -> ``BTC/USDT:USDT``); :func:`asset_of` is the mapping.

Importing this module declares the key (a pure registration of name, type and default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hean_framework.facts import FactKey, declare

__all__ = ["ACTIONS", "BUY", "HOLD", "NEUTRAL_SENTIMENT", "SELL", "SENTIMENT",
           "SentimentReading", "asset_of"]

OWNER = "sentiment:sentiment_source"

#: the aggregation's recommendation
BUY: Final = "BUY"
SELL: Final = "SELL"
HOLD: Final = "HOLD"
ACTIONS: Final = (BUY, SELL, HOLD)


@dataclass(frozen=True, slots=True)
class SentimentReading:
    """The aggregated sentiment of one asset at one time (see the plugin's README).

    ``sources`` holds ``(source, score, items)`` of every source that contributed, by name.
    """

    known: bool = False  #: False: neutral (nobody publishes, no items, or stale)
    asset: str = ""  #: the asset (``BTC``)
    score: float = 0.0  #: aggregated score S, -1..1 (positive: bullish)
    confidence: float = 0.0  #: confidence of S, 0..1
    action: str = HOLD  #: ``BUY``, ``SELL`` or ``HOLD``
    ts: int = 0  #: time of the newest input in the reading, ms (0: none)
    updated_ts: int = 0  #: when the reading was computed, ms
    items: int = 0  #: scored items inside the sources' lookbacks
    n_sources: int = 0  #: sources with at least one item in their lookback
    agreement: float = 0.0  #: mean agreement of the sources with the sign of S, 0..1
    sources: tuple[tuple[str, float, int], ...] = ()  #: ``(source, score, items)``
    reason: str = ""  #: why a reading is neutral: ``stale``, ``no_items`` ('' when known)

    def age_ms(self, now: int) -> int:
        """How old the newest input is at ``now`` (a large number when there is none)."""
        return now - self.ts if self.ts > 0 else 1 << 62


NEUTRAL_SENTIMENT: Final = SentimentReading()

SENTIMENT: FactKey[SentimentReading] = declare(
    "sentiment", SentimentReading, owner=OWNER, default=NEUTRAL_SENTIMENT,
    doc="SentimentReading of a symbol's asset: aggregated score S (-1..1), confidence, action "
        "BUY/SELL/HOLD, time of the newest input; neutral (known=False) when nobody publishes "
        "or the inputs are stale")


def asset_of(symbol: str, base: str = "") -> str:
    """The asset of a symbol: the instrument's base currency when known, else the part before
    ``/`` of a unified symbol, else the symbol without a trailing ``USDT`` (``BTCUSDT`` ->
    ``BTC``); upper case."""
    if base:
        return base.upper()
    if "/" in symbol:
        return symbol.split("/", 1)[0].upper()
    s = symbol.upper()
    return s[:-4] if s.endswith("USDT") and len(s) > 4 else s
