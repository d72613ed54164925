"""The rolling windows under the strategy (property tests with hypothesis).

Invariants: for any sequence of finite values and any window size, :class:`Rolling` keeps the
last ``size`` values (oldest first) and its mean, RMS and population standard deviation equal
a from-scratch computation over them, within the rounding an O(1) update allows (about
sqrt(machine epsilon) x the largest magnitude pushed, checked as 1e-6 x it) and exactly after
the periodic re-sum;
:class:`PriceRing.ago(k)` is the value ``k`` pushes before the newest.
"""

from __future__ import annotations

import math
import statistics

from hean_impulse_engine._windows import RESUM_EVERY, PriceRing, Rolling
from hypothesis import given, settings
from hypothesis import strategies as st

#: finite values whose squares do not underflow (prices and returns are never near 1e-154)
values = st.lists(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
                  .filter(lambda x: x == 0.0 or abs(x) > 1e-100), min_size=1, max_size=300)


@given(values, st.integers(min_value=1, max_value=60))
@settings(max_examples=200, deadline=None)
def test_rolling_equals_recomputation(xs: list[float], size: int) -> None:
    r = Rolling(size)
    scale = 0.0
    for k, x in enumerate(xs):
        r.push(x)
        scale = max(scale, abs(x))
        tol = 1e-6 * scale
        window = xs[max(0, k + 1 - size):k + 1]
        assert r.values() == window
        assert math.isclose(r.mean(), statistics.fmean(window), rel_tol=1e-9, abs_tol=tol)
        rms = math.sqrt(math.fsum(v * v for v in window) / len(window))
        assert math.isclose(r.rms(), rms, rel_tol=1e-9, abs_tol=tol)
        if len(window) >= 2:
            assert math.isclose(r.std(), statistics.pstdev(window), rel_tol=1e-9, abs_tol=tol)


def test_rolling_resums_exactly() -> None:
    r = Rolling(7)
    xs = [1e-4 * ((k * 7919) % 13 - 6) for k in range(3 * RESUM_EVERY + 5)]
    for x in xs:
        r.push(x)
    window = xs[-7:]
    assert math.isclose(r.mean(), statistics.fmean(window), rel_tol=1e-12, abs_tol=1e-18)
    assert math.isclose(r.std(), statistics.pstdev(window), rel_tol=1e-9)
    # a huge value that left the window long ago: after the re-sum no trace of it remains
    r = Rolling(4)
    for x in [1e6, *([1e-4, 2e-4, 3e-4, 4e-4] * (RESUM_EVERY // 4))]:
        r.push(x)
    assert math.isclose(r.std(), statistics.pstdev([1e-4, 2e-4, 3e-4, 4e-4]), rel_tol=1e-12)


@given(st.lists(st.floats(min_value=1, max_value=1e5), min_size=1, max_size=200),
       st.integers(min_value=1, max_value=50))
@settings(max_examples=200, deadline=None)
def test_price_ring_ago(xs: list[float], size: int) -> None:
    ring = PriceRing(size)
    for k, x in enumerate(xs):
        ring.push(x)
        assert len(ring) == min(k + 1, size)
        for j in range(len(ring)):
            assert ring.ago(j) == xs[k - j]
