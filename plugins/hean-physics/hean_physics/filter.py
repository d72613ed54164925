"""``filters.physics``: the physics signal filter, a synchronous stage of the decision pipeline
(the fixed form of the original's physics filter; README, "What was wrong in the original").

For an entry signal on a symbol whose :data:`~hean_physics.facts.PHYSICS` state is ``known``
(and not older than ``max_age_ms`` when that is set), the rules, all checked:

=============================  ================================================================
reason code                    when
=============================  ================================================================
PHYSICS_LOW_PHASE_CONFIDENCE   ``phase_confidence < min_phase_confidence``
PHYSICS_EXTREME_CHAOS          ``T̂ > chaos_temperature`` and ``Ŝ > chaos_entropy``
PHYSICS_PHASE_CONFLICT         a buy in a DISTRIBUTION / MARKDOWN ``wyckoff_regime``, a sell in
                               ACCUMULATION / MARKUP -- BLOCK when ``strict``; otherwise the
                               signal's ``confidence`` is halved and the code is recorded as a
                               flag, not a rejection
PHYSICS_EXTREME_TEMPERATURE    ``T̂ > max_temperature``
PHYSICS_EXTREME_ENTROPY        ``Ŝ > max_entropy``
=============================  ================================================================

Any rejection is a BLOCK whose code is the first failing rule in the order above; the decision's
``details["physics_reasons"]`` lists every failing rule, ``details["physics"]`` the numbers
(phase, confidence, T̂, Ŝ, wyckoff_regime, ssd_mode) and ``details["physics_flags"]`` the
non-strict conflict.  A passing signal gets the same numbers in ``signal.metadata`` as
``physics_phase``, ``physics_phase_confidence``, ``physics_temperature``, ``physics_entropy``,
``physics_wyckoff_regime``.

No physics for the symbol (no analyzer, warming up, too old) -> the signal passes unchanged
(``details["physics"] = "absent"``).  Reads T̂ / Ŝ in [0, 1] and the Wyckoff regime published in
the same state, where the original filter read raw values and ice/water labels and so would
have blocked nearly everything; it is a pipeline stage, so its verdict stops the signal (the
original ran beside the risk layer and could not stop one).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hean_framework import ComponentConfig, Filter, Verdict, block
from hean_framework.models import OrderDecision, Signal

from ._params import apply_params
from .facts import PHYSICS

__all__ = ["PhysicsFilter", "PhysicsFilterConfig"]

#: Wyckoff regimes a buy (sell) conflicts with
CONFLICT = {"buy": frozenset({"DISTRIBUTION", "MARKDOWN"}),
            "sell": frozenset({"ACCUMULATION", "MARKUP"})}


class PhysicsFilterConfig(ComponentConfig):
    """``filters.physics``."""

    strict: bool = Field(True, description="a phase conflict blocks (true) or halves the "
                                           "signal's confidence (false)")
    min_phase_confidence: float = Field(0.5, ge=0.0, le=1.0, description="block below this "
                                                                       "phase confidence")
    chaos_temperature: float = Field(0.75, ge=0.0, le=1.0, description="extreme chaos: T̂ "
                                                                      "above this and ...")
    chaos_entropy: float = Field(0.75, ge=0.0, le=1.0, description="... Ŝ above this")
    max_temperature: float = Field(0.85, ge=0.0, le=1.0, description="block above this T̂")
    max_entropy: float = Field(0.90, ge=0.0, le=1.0, description="block above this Ŝ")
    max_age_ms: int = Field(0, ge=0, le=86_400_000, description="a state older than this is "
                                                              "treated as absent (0: any age)")


class PhysicsFilter(Filter):
    """Blocks entries in hostile physics; every rejection carries a reason code."""

    config: PhysicsFilterConfig

    def on_start(self) -> None:
        self.counts: dict[str, int] = {"checked": 0, "absent": 0, "passed": 0,
                                       "blocked": 0, "conflict_flagged": 0}
        self.reasons: dict[str, int] = {}

    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        cfg = self.config
        counts = self.counts
        counts["checked"] += 1
        ph = self.ctx.facts.get(PHYSICS, signal.symbol)
        if not ph.known or (cfg.max_age_ms and self.ctx.now - ph.ts > cfg.max_age_ms):
            counts["absent"] += 1
            decision.details["physics"] = "absent"
            return None
        t, s = ph.temperature, ph.entropy
        regime = ph.wyckoff_regime.upper()
        reasons: list[str] = []
        if ph.phase_confidence < cfg.min_phase_confidence:
            reasons.append("PHYSICS_LOW_PHASE_CONFIDENCE")
        if t > cfg.chaos_temperature and s > cfg.chaos_entropy:
            reasons.append("PHYSICS_EXTREME_CHAOS")
        conflict = regime in CONFLICT.get(signal.side, ())
        if conflict and cfg.strict:
            reasons.append("PHYSICS_PHASE_CONFLICT")
        if t > cfg.max_temperature:
            reasons.append("PHYSICS_EXTREME_TEMPERATURE")
        if s > cfg.max_entropy:
            reasons.append("PHYSICS_EXTREME_ENTROPY")
        numbers = {"phase": ph.phase, "phase_confidence": round(ph.phase_confidence, 6),
                   "temperature": round(t, 6), "entropy": round(s, 6),
                   "wyckoff_regime": ph.wyckoff_regime, "ssd_mode": ph.ssd_mode}
        details = decision.details
        details["physics"] = numbers
        if reasons:
            counts["blocked"] += 1
            for code in reasons:
                self.reasons[code] = self.reasons.get(code, 0) + 1
            details["physics_reasons"] = reasons
            return block(reasons[0], _message(reasons[0], ph.phase, t, s, ph.phase_confidence,
                                              regime, signal.side, cfg),
                         physics_reasons=reasons)
        if conflict:  # non-strict: keep the signal, with half the confidence
            counts["conflict_flagged"] += 1
            details["physics_flags"] = ["PHYSICS_PHASE_CONFLICT"]
            signal.confidence *= 0.5
        counts["passed"] += 1
        md = signal.metadata
        md["physics_phase"] = ph.phase
        md["physics_phase_confidence"] = ph.phase_confidence
        md["physics_temperature"] = t
        md["physics_entropy"] = s
        md["physics_wyckoff_regime"] = ph.wyckoff_regime
        return None

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply new thresholds, each clamped to its declared range; returns the keys
        accepted."""
        self.config, accepted = apply_params(self.config, params)
        return accepted

    def stats(self) -> dict[str, Any]:
        return {**getattr(self, "counts", {}),
                "physics_block_reasons": dict(getattr(self, "reasons", {}))}


def _message(code: str, phase: str, t: float, s: float, conf: float, regime: str, side: str,
             cfg: PhysicsFilterConfig) -> str:
    if code == "PHYSICS_LOW_PHASE_CONFIDENCE":
        return (f"phase {phase} confidence {conf:.2f} < min_phase_confidence "
                f"{cfg.min_phase_confidence:g}")
    if code == "PHYSICS_EXTREME_CHAOS":
        return (f"T̂ {t:.2f} > {cfg.chaos_temperature:g} and Ŝ {s:.2f} > "
                f"{cfg.chaos_entropy:g}")
    if code == "PHYSICS_PHASE_CONFLICT":
        return f"a {side} in {regime} (strict; strict: false halves the confidence instead)"
    if code == "PHYSICS_EXTREME_TEMPERATURE":
        return f"T̂ {t:.2f} > max_temperature {cfg.max_temperature:g}"
    return f"Ŝ {s:.2f} > max_entropy {cfg.max_entropy:g}"
