"""The aggregation of scored items into one sentiment reading per asset (the original HEAN
SentimentAggregator's formula, with its defaults).

Per source (``news``, ``twitter``, ``reddit``, ... and ``market`` for the market proxy), the
items inside the source's lookback are summarised by :class:`SourceWindow`:

* source score ``s = sum(score_i * conf_i) / sum(conf_i)`` (the confidence-weighted mean; a
  source whose confidences sum to 0 is absent), ``n`` its items.

Over the sources present (at least one item and a positive weight), with weights ``w``:

* ``S = sum(w * s) / sum(w)`` (weights normalised over the sources present);
* ``agree`` = the mean over those sources of 1 when ``s * S > 0`` (same sign), else 0.5 when
  ``|s| < 0.1`` and ``|S| < 0.1`` (both near zero), else 0;
* ``confidence = 0.4 agree + 0.2 min(1, items / 100) + 0.3 min(1, |S| / 0.8)
  + 0.1 min(1, n_sources / 3)`` (``items`` summed over the sources present);
* action: ``HOLD`` when ``confidence < 0.5``; ``BUY`` when ``S > 0.5`` and
  ``confidence > 0.7``; ``SELL`` when ``S < -0.5`` and ``confidence > 0.7``; else ``HOLD``.

The numbers 100, 0.8, 3, 0.5, 0.7 are :class:`Thresholds` (the source's config can change
them).  Everything here is pure and allocation-light; :class:`SourceWindow` keeps rolling sums,
so adding an item and evicting old ones cost O(1) amortised.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from .facts import BUY, HOLD, SELL

#: |score| below which a source and S count as "both near zero" in the agreement
NEAR_ZERO = 0.1


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The constants of the confidence formula and of the action rule."""

    volume_full: float = 100.0  #: items at which the volume term is full
    strength_full: float = 0.8  #: |S| at which the strength term is full
    full_sources: int = 3  #: sources at which the breadth term is full
    hold_confidence: float = 0.5  #: below this confidence the action is HOLD
    action_confidence: float = 0.7  #: confidence above which BUY/SELL are possible
    action_score: float = 0.5  #: |S| above which BUY/SELL are possible


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """One source's contribution: its score, items and weight."""

    name: str
    score: float
    items: int
    weight: float


@dataclass(frozen=True, slots=True)
class Aggregate:
    """The aggregation of the sources present (all zeros and ``HOLD`` when none is)."""

    score: float = 0.0
    confidence: float = 0.0
    action: str = HOLD
    agreement: float = 0.0
    items: int = 0
    n_sources: int = 0
    sources: tuple[tuple[str, float, int], ...] = ()


def agreement_of(s: float, total: float) -> float:
    """1 when the source score has the sign of S, 0.5 when both are near zero, else 0."""
    if s * total > 0.0:
        return 1.0
    if abs(s) < NEAR_ZERO and abs(total) < NEAR_ZERO:
        return 0.5
    return 0.0


def action_of(score: float, confidence: float, th: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """``BUY``, ``SELL`` or ``HOLD`` from S and its confidence."""
    if confidence < th.hold_confidence:
        return HOLD
    if score > th.action_score and confidence > th.action_confidence:
        return BUY
    if score < -th.action_score and confidence > th.action_confidence:
        return SELL
    return HOLD


def aggregate(summaries: Iterable[SourceSummary],
              th: Thresholds = DEFAULT_THRESHOLDS) -> Aggregate:
    """S, its confidence and the action from the sources' summaries (see the module doc)."""
    present = [s for s in summaries if s.items > 0 and s.weight > 0.0]
    if not present:
        return Aggregate()
    present.sort(key=lambda s: s.name)
    wsum = sum(s.weight for s in present)
    total = sum(s.weight * s.score for s in present) / wsum
    agree = sum(agreement_of(s.score, total) for s in present) / len(present)
    items = sum(s.items for s in present)
    n = len(present)
    confidence = (0.4 * agree
                  + 0.2 * min(1.0, items / th.volume_full)
                  + 0.3 * min(1.0, abs(total) / th.strength_full)
                  + 0.1 * min(1.0, n / th.full_sources))
    return Aggregate(total, confidence, action_of(total, confidence, th), agree, items, n,
                     tuple((s.name, s.score, s.items) for s in present))


class SourceWindow:
    """The items of one source of one asset inside the source's lookback, as rolling sums.

    ``add(ts, score, conf)`` appends an item (items arrive in time order); ``evict(now)``
    drops the items with ``ts <= now - lookback_ms``.  ``score`` is the confidence-weighted
    mean of what is left.
    """

    __slots__ = ("items", "lookback_ms", "newest", "sum_c", "sum_sc")

    def __init__(self, lookback_ms: int) -> None:
        self.lookback_ms = lookback_ms
        self.items: deque[tuple[int, float, float]] = deque()
        self.sum_sc = 0.0
        self.sum_c = 0.0
        self.newest = 0  #: timestamp of the newest item ever added (0: none)

    def add(self, ts: int, score: float, conf: float) -> None:
        """Take an item (``ts`` not before the previous item's)."""
        self.items.append((ts, score, conf))
        self.sum_sc += score * conf
        self.sum_c += conf
        if ts > self.newest:
            self.newest = ts

    def evict(self, now: int) -> None:
        """Drop the items that left the lookback at ``now``."""
        items = self.items
        cutoff = now - self.lookback_ms
        while items and items[0][0] <= cutoff:
            _, s, c = items.popleft()
            self.sum_sc -= s * c
            self.sum_c -= c
        if not items:  # no drift left behind by the subtractions
            self.sum_sc = self.sum_c = 0.0

    def __len__(self) -> int:
        return len(self.items)

    @property
    def score(self) -> float:
        """Confidence-weighted mean score of the items in the window (0 when none)."""
        return self.sum_sc / self.sum_c if self.sum_c > 0.0 else 0.0

    def summary(self, name: str, weight: float) -> SourceSummary:
        """This window as a :class:`SourceSummary` (no item when the confidences sum to 0)."""
        n = len(self.items) if self.sum_c > 1e-12 else 0
        return SourceSummary(name, self.score, n, weight)
