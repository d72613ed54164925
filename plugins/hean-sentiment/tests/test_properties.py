"""Property tests (hypothesis, from the plugin's ``[test]`` extra; skipped without it).

Invariant: :class:`~hean_sentiment.aggregate.SourceWindow`'s rolling sums equal a direct
recomputation over the items still inside the lookback, for any sequence of adds and evictions.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed "
                                 "(pip install 'hean-sentiment[test]')")
st = hypothesis.strategies


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.lists(st.tuples(st.integers(0, 5_000), st.floats(-1, 1), st.floats(0, 1),
                                     st.booleans()), max_size=60),
                  st.integers(100, 3_000))
def test_rolling_sums_equal_a_direct_recomputation(
        window_check: Callable[[list[tuple[int, float, float, bool]], int], None],
        steps: list[tuple[int, float, float, bool]], lookback: int) -> None:
    window_check(steps, lookback)
