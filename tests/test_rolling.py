"""The kernel's rolling sorted window (:mod:`hean_framework.rolling`) against a from-scratch
recomputation over real BTC 5m closes (ties included: closes repeat)."""

from __future__ import annotations

import statistics
from collections import deque

from hean_framework.rolling import SortedWindow, percentile_sorted
from hean_framework.testing import sample_bars


def test_window_equals_a_recomputation_on_real_closes() -> None:
    w = SortedWindow(50)
    ref: deque[float] = deque(maxlen=50)
    for i, bar in enumerate(sample_bars(3000)):
        w.push(bar.close)
        ref.append(bar.close)
        if i % 97 == 0 or i < 60:
            srt = sorted(ref)
            assert w.sorted == srt and w.values() == list(ref) and len(w) == len(ref)
            assert w.median() == statistics.median(srt)
            below, equal = sum(v < bar.close for v in srt), srt.count(bar.close)
            assert w.midrank(bar.close) == (below + equal / 2) / len(srt)
            assert w.rank_pct(bar.close) == 100.0 * (below + equal) / len(srt)
            assert w.percentile(50) == percentile_sorted(srt, 50) == statistics.median(srt)
