"""``sizers.physics``: the physics size multiplier (one sizer replacing the original's two; see
the README, "What was wrong in the original").

One formula on the normalised inputs of the symbol's :data:`~hean_physics.facts.PHYSICS`
state::

    m = phase_factor(side, wyckoff_regime) × ssd_factor × (1.3 − 0.6·T̂) × (1.2 − 0.5·Ŝ)
    m = clamp(m, min_multiplier, max_multiplier)          # [0.25, 2.0] by default

* ``phase_factor`` for a buy: ACCUMULATION 1.5, MARKUP 1.3, DISTRIBUTION 0.6, MARKDOWN 0.4;
  a sell mirrored (DISTRIBUTION 1.5, MARKDOWN 1.3, ACCUMULATION 0.6, MARKUP 0.4); any other
  regime (NORMAL, RANGE, IMPULSE) and no regime: ``neutral_phase_factor`` (1.0; the original
  used 0.8 for "unknown");
* ``ssd_factor``: normal 1.0, laplace ``laplace_factor`` (1.5); **silent → BLOCK
  ``PHYSICS_BLOCK``** (the symbol's entropy is rising too fast to trade);
* the temperature and entropy terms favour cool, ordered markets (T̂ = 0, Ŝ = 0: 1.3 × 1.2;
  T̂ = 1, Ŝ = 1: 0.7 × 0.7).

It multiplies ``decision.qty_raw`` and ``decision.risk_allowed`` as set by the sizers before it
(list it after the base sizer, ``fixed_risk`` or ``risk``); the kernel then rounds to the lot
and refuses a size below the exchange minimum.  No physics for the symbol (no analyzer, warming
up, older than ``max_age_ms``) -> multiplier 1.0.  ``details["physics_size"]`` records every
factor and the result.  This replaces the original's two sizers (one wired on raw values, one
never wired) with one.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from hean_framework import ComponentConfig, Sizer, Verdict, block
from hean_framework.models import OrderDecision, Signal

from ._params import apply_params
from .facts import PHYSICS

__all__ = ["PHASE_FACTORS", "PhysicsSizer", "PhysicsSizerConfig", "physics_multiplier"]

#: Wyckoff regime -> factor for a buy; a sell reads the mirrored regime
PHASE_FACTORS = {"ACCUMULATION": 1.5, "MARKUP": 1.3, "DISTRIBUTION": 0.6, "MARKDOWN": 0.4}
_MIRROR = {"ACCUMULATION": "DISTRIBUTION", "DISTRIBUTION": "ACCUMULATION",
           "MARKUP": "MARKDOWN", "MARKDOWN": "MARKUP"}


class PhysicsSizerConfig(ComponentConfig):
    """``sizers.physics``."""

    min_multiplier: float = Field(0.25, ge=0.0, le=1.0, description="lower clamp of the "
                                                                  "multiplier")
    max_multiplier: float = Field(2.0, ge=0.25, le=2.0, description="upper clamp of the "
                                                                  "multiplier (1.0: never "
                                                                  "up-size)")
    neutral_phase_factor: float = Field(1.0, ge=0.1, le=2.0, description="phase factor of a "
                                                                       "regime outside the "
                                                                       "table, or none")
    laplace_factor: float = Field(1.5, ge=0.5, le=2.0, description="SSD factor in laplace "
                                                                 "mode")
    max_age_ms: int = Field(0, ge=0, le=86_400_000, description="a state older than this is "
                                                              "treated as absent (0: any age)")

    @model_validator(mode="after")
    def _check(self) -> PhysicsSizerConfig:
        if self.min_multiplier > self.max_multiplier:
            raise ValueError(f"min_multiplier ({self.min_multiplier}) is above "
                             f"max_multiplier ({self.max_multiplier})")
        return self


def physics_multiplier(side: str, regime: str, mode: str, t: float, s: float,
                       cfg: PhysicsSizerConfig) -> tuple[float, dict[str, float]]:
    """``(clamped multiplier, factors)`` for a non-silent mode."""
    reg = regime.upper()
    if side == "sell":
        reg = _MIRROR.get(reg, reg)
    phase_f = PHASE_FACTORS.get(reg, cfg.neutral_phase_factor)
    ssd_f = cfg.laplace_factor if mode == "laplace" else 1.0
    temp_f = 1.3 - 0.6 * t
    ent_f = 1.2 - 0.5 * s
    raw = phase_f * ssd_f * temp_f * ent_f
    m = min(max(raw, cfg.min_multiplier), cfg.max_multiplier)
    return m, {"phase": phase_f, "ssd": ssd_f, "temperature": temp_f, "entropy": ent_f,
               "raw": raw, "multiplier": m}


class PhysicsSizer(Sizer):
    """Scales the size by the physics multiplier; blocks in SSD silent mode."""

    config: PhysicsSizerConfig

    def on_start(self) -> None:
        self.counts: dict[str, int] = {"sized": 0, "absent": 0, "silent_blocked": 0,
                                       "clamped": 0}

    def size(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        cfg = self.config
        ph = self.ctx.facts.get(PHYSICS, signal.symbol)
        if not ph.known or (cfg.max_age_ms and self.ctx.now - ph.ts > cfg.max_age_ms):
            self.counts["absent"] += 1
            decision.details["physics_size"] = {"multiplier": 1.0, "physics": "absent"}
            return None
        if ph.ssd_mode == "silent":
            self.counts["silent_blocked"] += 1
            return block("PHYSICS_BLOCK", f"SSD mode silent on {signal.symbol} (smoothed "
                         f"entropy flow {ph.entropy_flow_smooth:.4f} per tick): no new risk",
                         physics_size={"ssd_mode": "silent", "multiplier": 0.0,
                                       "entropy_flow_smooth": ph.entropy_flow_smooth})
        m, factors = physics_multiplier(signal.side, ph.wyckoff_regime, ph.ssd_mode,
                                        ph.temperature, ph.entropy, cfg)
        if m != factors["raw"]:
            self.counts["clamped"] += 1
        decision.qty_raw *= m
        decision.risk_allowed *= m
        decision.details["physics_size"] = factors
        self.counts["sized"] += 1
        return None

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply new settings, each clamped to its declared range; returns the keys
        accepted."""
        self.config, accepted = apply_params(self.config, params)
        return accepted

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "counts", {}))
