"""Key levels: the round-number step relative to the price, and session highs and lows.

Invariants:

* ``round_interval(x)`` is of the form ``m x 10^k`` with ``m`` in {1, 2, 2.5, 5}, is ``>= x``,
  and the next smaller number of that form is ``< x`` (it is the *smallest* such step) -- for
  any positive ``x`` from 1e-8 to 1e8 (hypothesis), and exactly 200 at 60,000, 0.5 at 150 and
  0.0002 at 0.1 for a 0.2 % minimum spacing;
* ``round_levels_between(lo, hi, step)`` lists exactly the multiples of ``step`` inside
  ``[lo, hi]``, ascending, without float dust (``0.3``, not ``0.30000000000000004``);
* ``Sessions`` on the real BTC 5m candles keeps, for every *completed* 4 h UTC session, its high
  and its low (computed here independently from the candles; with ``merge_pct`` 0 only an
  exactly equal price is merged, and the real data has such repeats), never a level of the
  session being formed; it drops a level within ``merge_pct`` of a kept one and keeps the
  newest ``keep`` levels.
"""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal

import pytest
from hean_liquidity_sweep import Sessions, round_interval, round_levels_between
from hypothesis import given
from hypothesis import strategies as st

from hean_framework.testing import sample_bars

MANT = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))


def form(step: float) -> tuple[Decimal, int]:
    """(mantissa, exponent) of a round step; fails when it is not of the form."""
    d = Decimal(repr(step))
    for k in range(-12, 12):
        m = d / (Decimal(10) ** k)
        if m in MANT:
            return m, k
    raise AssertionError(f"{step} is not m x 10^k with m in 1, 2, 2.5, 5")


@pytest.mark.parametrize(("price", "step"), [
    (60_000.0, 200.0), (150.0, 0.5), (0.1, 0.0002), (50_000.0, 100.0), (50_001.0, 200.0),
    (2_000.0, 5.0), (2.2, 0.005), (90_000.0, 200.0), (125_000.0, 250.0),
])
def test_known_steps_at_two_per_mille(price: float, step: float) -> None:
    assert round_interval(0.002 * price) == step


@given(st.floats(min_value=1e-8, max_value=1e8, allow_nan=False, allow_infinity=False))
def test_round_interval_is_the_smallest_round_step(x: float) -> None:
    step = round_interval(x)
    m, k = form(step)
    assert step >= x * (1 - 1e-9)
    seq = [mm * Decimal(10) ** kk for kk in (k - 1, k) for mm in MANT]
    smaller = max(s for s in seq if s < m * Decimal(10) ** k)
    assert float(smaller) < x * (1 + 1e-9)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_round_interval_refuses_non_positive(bad: float) -> None:
    with pytest.raises(ValueError):
        round_interval(bad)


@given(st.floats(min_value=1e-4, max_value=1e6), st.floats(min_value=0.0, max_value=0.05),
       st.sampled_from([0.0005, 0.002, 0.01]))
def test_levels_between_are_exactly_the_multiples(lo: float, width: float, pct: float) -> None:
    hi = lo * (1 + width)
    step = round_interval(pct * lo)
    got = round_levels_between(lo, hi, step)
    assert got == sorted(got)
    assert all(lo <= x <= hi for x in got)
    for x in got:
        assert abs(x / step - round(x / step)) < 1e-6
    want = math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1
    assert abs(len(got) - max(want, 0)) <= 1  # an end exactly on a multiple may round out
    assert round_levels_between(hi, lo, step) == [] or lo == hi


def test_levels_carry_no_float_dust() -> None:
    assert round_levels_between(0.29, 0.31, 0.05) == [0.3]
    assert round_levels_between(0.0999, 0.1005, 0.0002) == [0.1, 0.1002, 0.1004]
    assert round_levels_between(59_900.0, 60_450.0, 200.0) == [60_000.0, 60_200.0, 60_400.0]


def test_sessions_on_real_candles_are_completed_4h_highs_and_lows() -> None:
    bars = list(sample_bars(3000))
    length = 4 * 3_600_000
    ses = Sessions(length, keep=10_000, merge_pct=0.0)
    by_session: dict[int, list[float]] = defaultdict(lambda: [-math.inf, math.inf])
    for b in bars:
        open_ts = b.ts - b.interval_ms
        ses.update(open_ts, b.high, b.low)
        hl = by_session[open_ts // length]
        hl[0] = max(hl[0], b.high)
        hl[1] = min(hl[1], b.low)
    done = sorted(by_session)[:-1]  # the last session is still being formed
    want: list[tuple[float, str]] = []
    for s in done:
        for level in ((by_session[s][0], "session_high"), (by_session[s][1], "session_low")):
            if all(level[0] != kept for kept, _ in want):  # merge_pct 0: equal prices merge
                want.append(level)
    assert list(ses.levels) == want
    assert ses.merged == 2 * len(done) - len(want) > 0
    assert ses.sessions_closed == len(done) > 50
    forming_high, forming_low = by_session[max(by_session)]
    assert ses.high == forming_high and ses.low == forming_low


def test_sessions_merge_close_levels_and_keep_the_newest() -> None:
    ses = Sessions(1000, keep=3, merge_pct=0.0005)
    for i, (h, lo) in enumerate([(100.0, 90.0), (100.04, 95.0), (101.0, 90.04), (102.0, 89.0)]):
        ses.update(i * 1000, h, lo)
        ses.update(i * 1000 + 500, h, lo)
    ses.update(10_000, 1.0, 1.0)  # closes the fourth session
    # 100.04 and 90.04 are within 0.05 % of kept levels: merged; keep=3 drops the oldest
    assert ses.merged == 2
    assert list(ses.levels) == [(101.0, "session_high"), (102.0, "session_high"),
                                (89.0, "session_low")]
    assert ses.between(95.0, 101.5) == [(101.0, "session_high")]
