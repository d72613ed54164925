"""The phase rule: a Schmitt trigger on (T̂, Ŝ), its confidence, and the WATER refinement.

Regions on the plane of the normalised temperature T̂ and entropy Ŝ (both in [0, 1]):

* ICE: ``T̂ < t_ice`` and ``Ŝ < s_ice``;
* VAPOR: ``T̂ > t_vapor`` and ``Ŝ > s_vapor``;
* WATER: everywhere else.

:func:`next_phase` is a real Schmitt trigger: the first classification uses the plain
boundaries; from then on *leaving* the current phase needs the boundary crossed by ``margin``,
and so does *entering* another phase (ICE is entered at ``T̂ < t_ice - margin and Ŝ < s_ice -
margin`` and left at ``T̂ >= t_ice + margin or Ŝ >= s_ice + margin``; VAPOR alike).  Each
boundary therefore has a dead band of ``2 x margin`` around it, and a value that wiggles by
less than ``margin`` around a boundary never changes the phase once it is classified (property
tested).  The original's "hysteresis" (every threshold x 0.9 whenever a previous phase exists)
was a shift, not a band.

:func:`water_side` refines WATER into WATER_BULL / WATER_BEAR from the Kalman momentum, with its
own band: BULL is entered above ``+enter`` and kept while above ``+exit`` (``exit < enter``),
BEAR mirrored.

:func:`confidence` is the distance from the nearest boundary of the phase's region divided by
half the region's width along that axis, clamped to [0, 1]: ICE uses ``t_ice / 2`` and
``s_ice / 2``, VAPOR ``(1 - t_vapor) / 2`` and ``(1 - s_vapor) / 2``, WATER half the band
between the ICE and VAPOR boundaries.  It is 0 on a boundary (and inside the dead band on the
far side) and 1 from half-way into the region on.
"""

from __future__ import annotations

from dataclasses import dataclass

from .facts import ICE, VAPOR, WATER

__all__ = ["PhaseBounds", "confidence", "next_phase", "water_side"]


@dataclass(frozen=True, slots=True)
class PhaseBounds:
    """The four boundaries and the hysteresis margin (validated by the analyzer's config)."""

    t_ice: float = 0.35
    s_ice: float = 0.55
    t_vapor: float = 0.85
    s_vapor: float = 0.80
    margin: float = 0.05


def next_phase(t: float, s: float, current: str, b: PhaseBounds) -> str:
    """ICE, WATER or VAPOR for (T̂ = ``t``, Ŝ = ``s``) given the ``current`` base phase
    (``""`` before the first classification)."""
    m = b.margin
    if current == WATER:
        if t < b.t_ice - m and s < b.s_ice - m:
            return ICE
        if t > b.t_vapor + m and s > b.s_vapor + m:
            return VAPOR
        return WATER
    if current == ICE:
        if t < b.t_ice + m and s < b.s_ice + m:
            return ICE
        return VAPOR if t > b.t_vapor + m and s > b.s_vapor + m else WATER
    if current == VAPOR:
        if t > b.t_vapor - m and s > b.s_vapor - m:
            return VAPOR
        return ICE if t < b.t_ice - m and s < b.s_ice - m else WATER
    if t < b.t_ice and s < b.s_ice:
        return ICE
    if t > b.t_vapor and s > b.s_vapor:
        return VAPOR
    return WATER


def water_side(momentum: float, current: int, enter: float, exit_: float) -> int:
    """+1 (BULL), -1 (BEAR) or 0 for a WATER tick: enter beyond ``±enter``, stay while beyond
    ``±exit_`` (``0 <= exit_ <= enter``)."""
    if current > 0 and momentum > exit_:
        return 1
    if current < 0 and momentum < -exit_:
        return -1
    if momentum > enter:
        return 1
    if momentum < -enter:
        return -1
    return 0


def confidence(base: str, t: float, s: float, b: PhaseBounds) -> float:
    """Confidence of the base phase ``base`` (ICE, WATER or VAPOR) at (T̂, Ŝ), 0..1."""
    if base == ICE:
        d = min((b.t_ice - t) / (0.5 * b.t_ice), (b.s_ice - s) / (0.5 * b.s_ice))
    elif base == VAPOR:
        d = min((t - b.t_vapor) / (0.5 * (1.0 - b.t_vapor)),
                (s - b.s_vapor) / (0.5 * (1.0 - b.s_vapor)))
    else:
        ht = 0.5 * (b.t_vapor - b.t_ice)
        hs = 0.5 * (b.s_vapor - b.s_ice)
        out_of_ice = max((t - b.t_ice) / ht, (s - b.s_ice) / hs)
        out_of_vapor = max((b.t_vapor - t) / ht, (b.s_vapor - s) / hs)
        d = min(out_of_ice, out_of_vapor)
    return 0.0 if d < 0.0 else 1.0 if d > 1.0 else d
