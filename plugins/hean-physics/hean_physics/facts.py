"""The typed fact the physics analyzer publishes: one :class:`PhysicsState` per symbol.

A filter, sizer, gate or strategy reads it through ``ctx.facts``::

    from hean_physics.facts import PHYSICS

    ph = self.ctx.facts.get(PHYSICS, symbol)
    if ph.known and ph.phase == VAPOR:
        ...

Invariants:

* :data:`PHYSICS` is declared once, here, owner ``physics:analyzer``; its default
  :data:`NEUTRAL_PHYSICS` (``known`` False) is what a reader gets when the analyzer is not
  installed, has not seen the symbol or is still warming up.  The neutral value never blocks or
  resizes anything: ``should_trade`` True, ``size_multiplier`` 1.0, ``ssd_mode`` ``normal``,
  ``phase`` ``""`` (the physics filter and sizer pass a signal whose state is not ``known``).
* Besides :data:`PHYSICS` the analyzer publishes the kernel's
  :data:`hean_framework.facts.PHASE` (the phase in lower case: ``ice``, ``water``,
  ``water_bull``, ``water_bear``, ``vapor``) and
  :data:`~hean_framework.facts.PHASE_CONFIDENCE`, which the capital allocator's phase affinity
  reads; nothing here redeclares them.
* A :class:`PhysicsState` is immutable (a typed ``NamedTuple``): a reader may keep it; the
  analyzer publishes a new one.  It is a ``NamedTuple`` rather than a frozen dataclass because
  it is built at every publication (every candle on 1-minute bars): 32 fields cost 0.7 us as a
  ``NamedTuple`` and 3.4 us as a frozen slotted dataclass (measured, Python 3.11).
* ``temperature`` and ``entropy`` are the *normalised* values in [0, 1] (scale-free, see
  :mod:`hean_physics.core`);
  the raw values are ``temperature_raw`` and ``entropy_raw``.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from hean_framework.facts import FactKey, declare

__all__ = [
    "ICE",
    "NEUTRAL_PHYSICS",
    "PHASES",
    "PHYSICS",
    "VAPOR",
    "WATER",
    "WATER_BEAR",
    "WATER_BULL",
    "PhysicsState",
]

ICE: Final = "ICE"
WATER: Final = "WATER"
WATER_BULL: Final = "WATER_BULL"
WATER_BEAR: Final = "WATER_BEAR"
VAPOR: Final = "VAPOR"
#: every phase, coldest first
PHASES: Final = (ICE, WATER, WATER_BULL, WATER_BEAR, VAPOR)


class PhysicsState(NamedTuple):
    """The physics of one symbol at its last publication (the original's published fields with
    scale-free definitions).  Field meanings and formulas: the plugin's README, "The fact"."""

    known: bool = False  #: False: neutral default (no analyzer, unseen symbol, warming up)
    ts: int = 0  #: the tick's timestamp, ms
    ticks: int = 0  #: ticks of the symbol seen so far
    phase: str = ""  #: ICE, WATER, WATER_BULL, WATER_BEAR or VAPOR ('' when not known)
    phase_confidence: float = 0.0  #: distance from the nearest boundary / its width, 0..1
    phase_changed: bool = False  #: the phase changed on this tick
    previous_phase: str = ""  #: the phase before the last change ('' before any change)
    temperature: float = 0.5  #: T̂, percentile of ``temperature_raw`` in the symbol's history
    temperature_raw: float = 0.0  #: mean((r·u)²)·1e8 over the window (u: relative volume)
    temp_short: float = 0.0  #: the same over the last 20 ticks
    temp_long: float = 0.0  #: EMA of ``temperature_raw`` (alpha 2/501)
    temperature_regime: str = ""  #: HOT (T̂ >= 0.9), WARM (>= 0.6) or COLD
    temp_is_spike: bool = False  #: ``temperature_raw`` > 3 x its EMA (alpha 0.1)
    entropy: float = 0.5  #: Ŝ in [0, 1] (percentile or S / ln N, ``entropy_norm``)
    entropy_raw: float = 0.0  #: S in nats (volume distribution, or the |r| histogram)
    entropy_ln: float = 0.0  #: S / ln N (volume) or S / ln 10 (histogram)
    entropy_source: str = ""  #: ``volume`` or ``returns`` (the histogram fallback)
    entropy_state: str = ""  #: COMPRESSED (Ŝ < 0.43), EQUILIBRIUM (>= 0.76) or NORMAL
    entropy_flow: float = 0.0  #: dŜ per tick
    entropy_flow_smooth: float = 0.0  #: EMA of the flow (alpha 0.15)
    momentum: float = 0.0  #: Kalman-filtered mean of the last 5 log returns
    momentum_threshold: float = 0.0  #: the BULL/BEAR threshold, momentum_sigma x sigma_r
    ssd_mode: str = "normal"  #: silent, laplace or normal
    resonance: float = 0.0  #: SSD resonance strength, 0..1
    is_resonant: bool = False  #: resonance >= 0.75
    causal_weight: float = 1.0  #: 1.0 normal, 0.05 laplace, 0.0 silent
    szilard_profit: float = 0.0  #: T̂ x log2(1/p) (information bits times temperature)
    edge_bps: float = 0.0  #: physics edge estimate, bps (at the phase confidence)
    should_trade: bool = True  #: the physics trade flag
    trade_reason: str = ""  #: why ``should_trade`` is what it is
    size_multiplier: float = 1.0  #: the physics size multiplier, 0..2
    wyckoff_regime: str = ""  #: the symbol's REGIME fact (regime detector) when published


NEUTRAL_PHYSICS: Final = PhysicsState()

PHYSICS: FactKey[PhysicsState] = declare(
    "physics", PhysicsState, owner="physics:analyzer", default=NEUTRAL_PHYSICS,
    doc="PhysicsState of a symbol: phase (ICE/WATER/WATER_BULL/WATER_BEAR/VAPOR), "
        "temperature T̂ and entropy Ŝ in [0,1] with their raw values, SSD mode and resonance, "
        "should_trade, size_multiplier, wyckoff_regime; NEUTRAL_PHYSICS (known=False) when "
        "no physics analyzer publishes one")
