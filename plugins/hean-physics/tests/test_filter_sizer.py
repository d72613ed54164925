"""The physics filter and the physics sizer on given physics states, and the contract suites.

Invariants checked:

* the kernel's contract suites (``FilterContract``, ``SizerContract``) pass for both
  components, with the neutral default (no analyzer) and with a published state;
* no physics for the symbol (or a state older than ``max_age_ms``) -> the filter passes and the
  sizer multiplies by 1 (an absent input never blocks or resizes);
* each filter rule rejects with its own reason code, the first failing rule decides, every
  failing rule is listed in ``details["physics_reasons"]``; a phase conflict blocks only when
  ``strict``, otherwise halves the signal's confidence and is flagged;
* the sizer's formula ``phase x ssd x (1.3 - 0.6 T̂) x (1.2 - 0.5 Ŝ)`` (sell mirrored), clamped
  to [0.25, 2.0] (or the configured clamps); silent mode -> BLOCK ``PHYSICS_BLOCK``;
* the config models refuse out-of-range values and inconsistent boundaries, and
  ``on_params_updated`` clamps values into the declared ranges.
"""

from __future__ import annotations

from typing import Any

import pytest
from hean_physics import PHYSICS, PhysicsConfig, PhysicsState
from hean_physics.filter import PhysicsFilterConfig
from hean_physics.sizer import PhysicsSizerConfig
from pydantic import ValidationError

from hean_framework.components import Verdict
from hean_framework.models import BLOCK, OrderDecision, Signal
from hean_framework.testing import (
    FilterContract,
    SizerContract,
    build_component,
    isolated_plugins,
    make_context,
)

SYM = "BTC/USDT:USDT"
P = 80_000.0


def state(**kw: Any) -> PhysicsState:
    base = dict(known=True, ts=1, ticks=500, phase="WATER", phase_confidence=0.8,
                temperature=0.5, entropy=0.5, ssd_mode="normal", wyckoff_regime="")
    base.update(kw)
    return PhysicsState(**base)  # type: ignore[arg-type]


def build(kind: str, config: dict[str, Any] | None = None, ph: PhysicsState | None = None
          ) -> Any:
    ctx = make_context(symbols=[SYM], price=P, bid=P - 0.1, ask=P + 0.1)
    ctx.now = 1
    if ph is not None:
        ctx.facts.set(PHYSICS, ph, SYM)
    return build_component(isolated_plugins("hean_physics.plugin"), kind, "physics", ctx,
                           config or {})


def signal(side: str = "buy") -> Signal:
    stop = P * 0.99 if side == "buy" else P * 1.01
    return Signal("s", SYM, side, 1, P, stop_loss=stop, confidence=0.6)


def decision(sig: Signal, qty: float = 0.01) -> OrderDecision:
    return OrderDecision(1, 1, sig.strategy_id, SYM, sig.side, 1, price=P, qty_raw=qty,
                         risk_allowed=8.0)


# ------------------------------------------------------------------------ contracts


class TestFilterContract(FilterContract):
    plugin_name = "physics"
    plugin_module = "hean_physics.plugin"


class TestSizerContract(SizerContract):
    plugin_name = "physics"
    plugin_module = "hean_physics.plugin"


class TestSizerContractWithState(SizerContract):
    """The same suite with a published state (the contract's own context, plus a fact)."""

    plugin_name = "physics"
    plugin_module = "hean_physics.plugin"
    config = {"max_multiplier": 1.5}

    def ctx(self, quote: bool = True) -> Any:
        ctx = super().ctx(quote)
        ctx.facts.set(PHYSICS, state(temperature=0.9, entropy=0.2), self.symbol)
        return ctx


class TestFilterContractWithState(FilterContract):
    plugin_name = "physics"
    plugin_module = "hean_physics.plugin"

    def ctx(self, quote: bool = True) -> Any:
        ctx = super().ctx(quote)
        ctx.facts.set(PHYSICS, state(temperature=0.95), self.symbol)
        return ctx


# ------------------------------------------------------------------------ filter


def test_filter_passes_without_physics_and_with_a_stale_state() -> None:
    f = build("filter")
    sig = signal()
    d = decision(sig)
    assert f.check(sig, d) is None and d.details["physics"] == "absent"
    f = build("filter", {"max_age_ms": 1000}, state(ts=1, temperature=0.99))
    f.ctx.now = 5000
    assert f.check(sig, decision(sig)) is None
    f.ctx.now = 900
    assert f.check(sig, decision(sig)) is not None


@pytest.mark.parametrize(("ph", "codes"), [
    (state(phase_confidence=0.3), ["PHYSICS_LOW_PHASE_CONFIDENCE"]),
    (state(temperature=0.8, entropy=0.8), ["PHYSICS_EXTREME_CHAOS"]),
    (state(wyckoff_regime="MARKDOWN"), ["PHYSICS_PHASE_CONFLICT"]),
    (state(wyckoff_regime="DISTRIBUTION"), ["PHYSICS_PHASE_CONFLICT"]),
    (state(temperature=0.9, entropy=0.3), ["PHYSICS_EXTREME_TEMPERATURE"]),
    (state(entropy=0.95), ["PHYSICS_EXTREME_ENTROPY"]),
    (state(phase_confidence=0.1, temperature=0.9, entropy=0.95, wyckoff_regime="markdown"),
     ["PHYSICS_LOW_PHASE_CONFIDENCE", "PHYSICS_EXTREME_CHAOS", "PHYSICS_PHASE_CONFLICT",
      "PHYSICS_EXTREME_TEMPERATURE", "PHYSICS_EXTREME_ENTROPY"]),
])
def test_filter_rules_and_reason_codes(ph: PhysicsState, codes: list[str]) -> None:
    f = build("filter", None, ph)
    sig = signal("buy")
    d = decision(sig)
    v = f.check(sig, d)
    assert isinstance(v, Verdict) and v.decision == BLOCK
    assert v.code == codes[0]
    assert v.details["physics_reasons"] == codes == d.details["physics_reasons"]
    assert d.details["physics"]["temperature"] == pytest.approx(ph.temperature)
    assert f.stats()["physics_block_reasons"] == dict.fromkeys(codes, 1)


def test_filter_passing_signal_gets_metadata_and_sell_conflicts_mirror() -> None:
    f = build("filter", None, state(wyckoff_regime="MARKDOWN"))
    sig = signal("sell")  # a sell in MARKDOWN is no conflict
    assert f.check(sig, decision(sig)) is None
    assert sig.metadata["physics_phase"] == "WATER"
    assert sig.metadata["physics_wyckoff_regime"] == "MARKDOWN"
    f = build("filter", None, state(wyckoff_regime="MARKUP"))
    assert f.check(sig, decision(sig)).code == "PHYSICS_PHASE_CONFLICT"


def test_non_strict_conflict_halves_confidence_instead_of_blocking() -> None:
    f = build("filter", {"strict": False}, state(wyckoff_regime="ACCUMULATION"))
    sig = signal("sell")
    d = decision(sig)
    assert f.check(sig, d) is None
    assert sig.confidence == pytest.approx(0.3)
    assert d.details["physics_flags"] == ["PHYSICS_PHASE_CONFLICT"]
    # the other rules still block in non-strict mode
    f = build("filter", {"strict": False}, state(wyckoff_regime="ACCUMULATION",
                                                 temperature=0.9, entropy=0.2))
    sig = signal("sell")
    assert f.check(sig, decision(sig)).code == "PHYSICS_EXTREME_TEMPERATURE"
    assert sig.confidence == 0.6


# ------------------------------------------------------------------------ sizer


@pytest.mark.parametrize(("side", "regime", "mode", "t", "s", "expected"), [
    ("buy", "", "normal", 0.5, 0.5, 1.0 * 1.0 * 1.0 * 0.95),
    ("buy", "ACCUMULATION", "normal", 0.0, 0.0, 1.5 * 1.3 * 1.2),      # 2.34 -> clamp 2.0
    ("buy", "MARKDOWN", "normal", 1.0, 1.0, 0.4 * 0.7 * 0.7),          # 0.196 -> 0.25
    ("sell", "MARKDOWN", "normal", 0.5, 0.5, 1.3 * 1.0 * 0.95),        # mirrored: 1.235
    ("sell", "ACCUMULATION", "normal", 0.5, 0.5, 0.6 * 1.0 * 0.95),
    ("buy", "MARKUP", "laplace", 0.5, 0.2, 1.3 * 1.5 * 1.0 * 1.1),     # 2.145 -> 2.0
    ("buy", "NORMAL", "normal", 0.2, 0.8, 1.0 * 1.18 * 0.8),
])
def test_sizer_formula_and_clamp(side: str, regime: str, mode: str, t: float, s: float,
                                 expected: float) -> None:
    z = build("sizer", None, state(wyckoff_regime=regime, ssd_mode=mode, temperature=t,
                                   entropy=s))
    sig = signal(side)
    d = decision(sig, qty=0.01)
    assert z.size(sig, d) is None
    m = min(max(expected, 0.25), 2.0)
    assert d.qty_raw == pytest.approx(0.01 * m)
    assert d.risk_allowed == pytest.approx(8.0 * m)
    assert d.details["physics_size"]["raw"] == pytest.approx(expected)
    assert d.details["physics_size"]["multiplier"] == pytest.approx(m)


def test_sizer_configured_clamps_and_no_physics() -> None:
    z = build("sizer", {"max_multiplier": 1.0, "min_multiplier": 0.5},
              state(wyckoff_regime="ACCUMULATION", temperature=0.0, entropy=0.0))
    sig = signal()
    d = decision(sig)
    z.size(sig, d)
    assert d.qty_raw == pytest.approx(0.01)  # never up-sized
    z = build("sizer")
    d = decision(sig)
    assert z.size(sig, d) is None and d.qty_raw == 0.01
    assert d.details["physics_size"] == {"multiplier": 1.0, "physics": "absent"}


def test_sizer_blocks_in_silent_mode() -> None:
    z = build("sizer", None, state(ssd_mode="silent", entropy_flow_smooth=0.05))
    sig = signal()
    d = decision(sig)
    v = z.size(sig, d)
    assert v is not None and v.decision == BLOCK and v.code == "PHYSICS_BLOCK"
    assert v.details["physics_size"]["ssd_mode"] == "silent"
    assert d.qty_raw == 0.01  # untouched: the signal stops here
    assert z.stats()["silent_blocked"] == 1


# ------------------------------------------------------------------------ configs


def test_config_bounds_and_consistency() -> None:
    with pytest.raises(ValidationError):
        PhysicsConfig(window=5)
    with pytest.raises(ValidationError, match="t_ice"):
        PhysicsConfig(t_ice=0.6, t_vapor=0.65)
    with pytest.raises(ValidationError, match="momentum_exit_sigma"):
        PhysicsConfig(momentum_sigma=0.2, momentum_exit_sigma=0.3)
    with pytest.raises(ValidationError):
        PhysicsSizerConfig(max_multiplier=3.0)
    with pytest.raises(ValidationError, match="min_multiplier"):
        PhysicsSizerConfig(min_multiplier=0.9, max_multiplier=0.5)
    with pytest.raises(ValidationError):
        PhysicsFilterConfig(min_phase_confidence=1.5)
    with pytest.raises(ValidationError):
        PhysicsFilterConfig(surely_not=1)


def test_on_params_updated_clamps() -> None:
    f = build("filter")
    assert f.on_params_updated({"min_phase_confidence": 7.0, "nope": 1}) == [
        "min_phase_confidence"]
    assert f.config.min_phase_confidence == 1.0
    z = build("sizer")
    assert z.on_params_updated({"max_multiplier": 9.0}) == ["max_multiplier"]
    assert z.config.max_multiplier == 2.0
    # an inconsistent result is refused as a whole
    assert z.on_params_updated({"min_multiplier": 1.0, "max_multiplier": 0.5}) == []
    assert z.config.max_multiplier == 2.0
    a = build("analyzer")
    assert a.on_params_updated({"margin": -1.0, "window": 10_000}) == ["margin", "window"]
    assert a.config.margin == 0.0 and a.config.window == 2000
    assert a.on_params_updated({"t_ice": 0.6, "t_vapor": 0.4}) == []
