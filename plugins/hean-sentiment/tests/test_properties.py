"""Property tests (hypothesis, from the plugin's ``[test]`` extra; skipped without it).

Invariant: :class:`~hean_sentiment.aggregate.SourceWindow`'s rolling sums equal a direct
recomputation over the items still inside the lookback, for any sequence of adds and evictions.
"""

from __future__ import annotations

import math

import pytest
from hean_sentiment.aggregate import SourceWindow

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed "
                                 "(pip install 'hean-sentiment[test]')")
st = hypothesis.strategies


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.lists(st.tuples(st.integers(0, 5_000), st.floats(-1, 1), st.floats(0, 1),
                                     st.booleans()), max_size=60),
                  st.integers(100, 3_000))
def test_rolling_sums_equal_a_direct_recomputation(
        steps: list[tuple[int, float, float, bool]], lookback: int) -> None:
    w = SourceWindow(lookback)
    kept: list[tuple[int, float, float]] = []
    now = 0
    for dt, s, c, evict in steps:
        now += dt
        if evict:
            w.evict(now)
            kept = [k for k in kept if k[0] > now - lookback]
        else:
            w.add(now, s, c)
            kept.append((now, s, c))
        assert len(w) == len(kept)
        assert math.isclose(w.sum_sc, sum(k[1] * k[2] for k in kept), abs_tol=1e-9)
        assert math.isclose(w.sum_c, sum(k[2] for k in kept), abs_tol=1e-9)
