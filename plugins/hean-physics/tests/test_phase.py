"""The phase rule on its own: the Schmitt trigger, the WATER refinement and the confidence.

Invariants checked:

* (property) a value that wiggles by less than the margin around any of the four boundaries
  never changes the phase once it is classified -- whichever phase the trigger starts in among
  the two the boundary separates, and for a freshly classified trigger;
* the band is real: crossing a boundary by more than the margin does change the phase, and the
  original's "x 0.9 whenever a previous phase exists" rule would flip on the same wiggle;
* WATER_BULL / WATER_BEAR have their own band (enter at ±enter, keep while beyond ±exit);
* confidence is 0 on a boundary, 1 half-way into a region, and the documented values between.
"""

from __future__ import annotations

import pytest
from hean_physics.facts import ICE, VAPOR, WATER
from hean_physics.phase import PhaseBounds, confidence, next_phase, water_side
from hypothesis import given, settings
from hypothesis import strategies as st

B = PhaseBounds()  # 0.35 / 0.55 / 0.85 / 0.80, margin 0.05

#: (axis, boundary, the fixed other coordinate, phase below, phase above)
BOUNDARIES = [
    ("t", B.t_ice, 0.30, ICE, WATER),      # T̂ crosses t_ice with Ŝ well inside ICE
    ("s", B.s_ice, 0.10, ICE, WATER),      # Ŝ crosses s_ice with T̂ well inside ICE
    ("t", B.t_vapor, 0.95, WATER, VAPOR),  # T̂ crosses t_vapor with Ŝ well inside VAPOR
    ("s", B.s_vapor, 0.97, WATER, VAPOR),  # Ŝ crosses s_vapor with T̂ well inside VAPOR
]


def point(axis: str, x: float, other: float) -> tuple[float, float]:
    return (x, other) if axis == "t" else (other, x)


@settings(max_examples=300, deadline=None)
@given(which=st.integers(0, 3),
       amplitude=st.floats(0.0, 0.0499),
       offsets=st.lists(st.floats(-1.0, 1.0), min_size=2, max_size=200),
       centre=st.floats(-1.0, 1.0),
       start=st.sampled_from(["fresh", "below", "above"]))
def test_no_flip_on_a_wiggle_smaller_than_the_margin(which: int, amplitude: float,
                                                     offsets: list[float], centre: float,
                                                     start: str) -> None:
    axis, b, other, below, above = BOUNDARIES[which]
    # the wiggle: values within [c - a/2, c + a/2], a < margin, around a point c that is
    # within half the amplitude of the boundary (so the wiggle straddles or touches it)
    c = b + centre * amplitude / 2
    xs = [c + o * amplitude / 2 for o in offsets]
    phase = {"fresh": "", "below": below, "above": above}[start]
    phase = next_phase(*point(axis, xs[0], other), phase, B)
    first = phase
    for x in xs[1:]:
        phase = next_phase(*point(axis, x, other), phase, B)
        assert phase == first, f"flipped {first} -> {phase} at {x} (boundary {b})"


@pytest.mark.parametrize("which", range(4))
def test_crossing_by_more_than_the_margin_flips(which: int) -> None:
    axis, b, other, below, above = BOUNDARIES[which]
    m = B.margin
    phase = next_phase(*point(axis, b - 0.01, other), "", B)
    assert phase == below
    assert next_phase(*point(axis, b + m - 0.001, other), phase, B) == below  # in the band
    phase = next_phase(*point(axis, b + m + 0.001, other), phase, B)
    assert phase == above
    assert next_phase(*point(axis, b - m + 0.001, other), phase, B) == above
    assert next_phase(*point(axis, b - m - 0.001, other), phase, B) == below


def test_the_originals_scaled_thresholds_flip_on_the_same_wiggle() -> None:
    """The original multiplied the thresholds by 0.9 whenever a previous phase existed: a
    T̂ wiggling around 0.9 x t_ice (0.315) flips between ICE and WATER on every tick."""
    def original(t: float, s: float, prev: str) -> str:
        k = 0.9 if prev else 1.0
        if t < B.t_ice * k and s < B.s_ice * k:
            return ICE
        return WATER

    xs = [0.31, 0.32] * 10
    ph, flips_orig = "", 0
    for x in xs:
        new = original(x, 0.2, ph)
        flips_orig += bool(ph) and new != ph
        ph = new
    ph, flips = "", 0
    for x in xs:
        new = next_phase(x, 0.2, ph, B)
        flips += bool(ph) and new != ph
        ph = new
    assert flips_orig == 19 and flips == 0


def test_water_side_band() -> None:
    enter, exit_ = 1.0, 0.5
    assert water_side(0.9, 0, enter, exit_) == 0
    assert water_side(1.1, 0, enter, exit_) == 1
    assert water_side(0.6, 1, enter, exit_) == 1  # kept while above exit
    assert water_side(0.4, 1, enter, exit_) == 0
    assert water_side(-1.1, 1, enter, exit_) == -1  # straight to BEAR
    assert water_side(-0.6, -1, enter, exit_) == -1
    assert water_side(-0.4, -1, enter, exit_) == 0


@pytest.mark.parametrize(("base", "t", "s", "expected"), [
    (ICE, 0.35, 0.10, 0.0),             # on the T̂ boundary
    (ICE, 0.175, 0.10, 1.0),            # half-way into ICE along T̂ (0.35 / 2)
    (ICE, 0.2625, 0.10, 0.5),           # (0.35 - 0.2625) / 0.175
    (ICE, 0.10, 0.4125, 0.5),           # Ŝ nearer: (0.55 - 0.4125) / 0.275
    (ICE, 0.37, 0.10, 0.0),             # in the dead band after the boundary: clamped
    (VAPOR, 0.925, 0.95, 1.0),          # (0.925 - 0.85) / 0.075
    (VAPOR, 0.8875, 0.95, 0.5),
    (VAPOR, 0.95, 0.85, 0.5),           # Ŝ nearer: (0.85 - 0.80) / 0.10
    (WATER, 0.60, 0.675, 1.0),          # the middle of both bands
    (WATER, 0.475, 0.60, 0.5),          # out of ICE by max(0.5, 0.4); out of VAPOR by 1.6
    (WATER, 0.90, 0.70, 0.8),           # T̂ above VAPOR's boundary but Ŝ keeps it WATER
])
def test_confidence_values(base: str, t: float, s: float, expected: float) -> None:
    assert confidence(base, t, s, B) == pytest.approx(expected, abs=1e-12)
