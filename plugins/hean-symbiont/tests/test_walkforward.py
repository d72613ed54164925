"""Walk-forward windows: fold edges, event slicing, the price span.

Invariants:

* the span [first, last] is cut into folds + in_sample_segments equal segments; fold f is
  scored on segment in_sample_segments + f; its in-sample window ends where that segment
  starts and begins at the first segment (anchored) or in_sample_segments segments earlier
  (rolling); out-of-sample windows are adjacent and the last one ends after ``last``;
* a window keeps the events with start <= ts < end; a column block is cut at the same
  timestamps as a view on the same columns (no copy), whole blocks pass unchanged;
* funding settlements and mark prices do not stretch the span.
"""

from __future__ import annotations

from array import array

import pytest
from hean_symbiont import Fold, make_folds, price_span, slice_events

from hean_framework.blocks import BarBlock
from hean_framework.errors import HeanError
from hean_framework.models import Bar, Funding

SYM = "BTC/USDT:USDT"


def test_anchored_and_rolling_folds_by_hand() -> None:
    # [0, 99] in 5 segments of 20: edges 0 20 40 60 80 100
    assert make_folds(0, 99, 3, 2, "anchored") == [
        Fold(0, 0, 40, 40, 60), Fold(1, 0, 60, 60, 80), Fold(2, 0, 80, 80, 100)]
    assert make_folds(0, 99, 3, 2, "rolling") == [
        Fold(0, 0, 40, 40, 60), Fold(1, 20, 60, 60, 80), Fold(2, 40, 80, 80, 100)]
    assert make_folds(10, 19, 1, 1, "anchored") == [Fold(0, 10, 15, 15, 20)]
    with pytest.raises(ValueError):
        make_folds(0, 99, 3, 2, "off")


def _bar(ts: int) -> Bar:
    return Bar(ts, SYM, 1.0, 1.0, 1.0, 1.0, 1.0, 300_000)


def test_slice_events_and_blocks() -> None:
    ts = array("q", [10, 20, 30, 40, 50])
    col = array("d", [1.0, 2.0, 3.0, 4.0, 5.0])
    block = BarBlock(SYM, 300_000, ts, col, col, col, col, col, 0, 5)
    fund = Funding(35, SYM, 0.0001)
    events = [block, fund, _bar(60), _bar(70)]
    cut = slice_events(events, 20, 50)
    assert [type(e).__name__ for e in cut] == ["BarBlock", "Funding"]
    part = cut[0]
    assert (part.start, part.stop) == (1, 4) and part.ts is ts     # a view: rows 20, 30, 40
    assert [b.ts for b in part.events()] == [20, 30, 40]
    assert [type(e).__name__ for e in slice_events(events, 50, 61)] == ["BarBlock", "Bar"]
    assert slice_events(events, 0, 1000)[0] is block               # whole block unchanged
    assert slice_events(events, 51, 59) == []
    assert slice_events(events, 60, 70) == [events[2]]             # end is exclusive


def test_price_span_ignores_funding() -> None:
    events = [Funding(1, SYM, 0.0), _bar(100), _bar(200), Funding(10_000, SYM, 0.0)]
    assert price_span(events) == (100, 200)
    with pytest.raises(HeanError, match="no price event"):
        price_span([Funding(1, SYM, 0.0)])
