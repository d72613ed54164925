"""``analyzers.physics``: the scale-free physics of every symbol, published as typed facts.

Per symbol, on every tick (a closed bar's close and volume, a trade's price and size, or, with
``tick_source: quotes``, the mid of a best bid/offer change with no volume), the
:class:`~hean_physics.core.SymbolPhysics` of that symbol is updated (formulas in
:mod:`hean_physics.core` and the README).  Then, once the symbol is classified:

* the fact :data:`~hean_physics.facts.PHYSICS` (a :class:`~hean_physics.facts.PhysicsState`)
  and the kernel's ``PHASE`` (lower case) / ``PHASE_CONFIDENCE`` are published when the phase
  changed on this tick or at least ``publish_min_interval_ms`` (data clock) passed since the
  symbol's last publication -- between publications readers see the last published state;
* ``wyckoff_regime`` in the state is the symbol's kernel ``REGIME`` fact at that moment (the
  regime detector of hean-market-analyzers; list it before ``physics`` in the YAML so it is of
  the same event), ``""`` without one.

``tick_source: auto`` (default): per symbol, the first bar or trade decides which kind is a
tick from then on (a data set with both never mixes them in one window); quotes are ticks only
with ``tick_source: quotes``.

Invariants: all state is per symbol; the same ticks give the same facts (no wall clock, no
randomness); a non-positive or non-finite price is ignored (counted in ``stats()``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from hean_framework import Analyzer, ComponentConfig
from hean_framework.facts import PHASE, PHASE_CONFIDENCE, REGIME
from hean_framework.models import Bar, Quote, Trade

from ._params import apply_params
from .core import Params, SymbolPhysics
from .facts import PHASES, PHYSICS
from .phase import PhaseBounds, confidence

__all__ = ["PhysicsAnalyzer", "PhysicsConfig"]

TickSource = Literal["auto", "bars", "trades", "quotes"]
_LOWER = {ph: ph.lower() for ph in PHASES}


class PhysicsConfig(ComponentConfig):
    """``analyzers.physics``."""

    tick_source: TickSource = Field(
        "auto", description="what a tick is: auto (first of bars/trades per symbol), bars, "
                            "trades or quotes (mid price, no volume)")
    window: int = Field(100, ge=20, le=2000, description="ticks in the temperature / entropy "
                                                       "window (N)")
    history: int = Field(1000, ge=50, le=100_000, description="ticks in the volume median and "
                                                            "the T / S percentile histories (H)")
    history_stride: int = Field(1, ge=1, le=50, description="keep every k-th tick in the "
                                                           "histories (H/k values spanning H "
                                                           "ticks): 1 = exact ranks and "
                                                           "median; more = faster, sampled")
    min_ticks: int = Field(10, ge=2, le=2000, description="returns needed before the first "
                                                        "classification (<= window)")
    entropy_source: Literal["auto", "volume", "returns"] = Field(
        "auto", description="volume: entropy of the volume distribution (auto falls back to "
                            "the |r| histogram when the window has no volume); returns: "
                            "always the |r| histogram")
    entropy_norm: Literal["percentile", "ln_n"] = Field(
        "percentile", description="Ŝ = percentile of S / ln N in the symbol's history "
                                  "(percentile) or S / ln N itself (ln_n)")
    t_ice: float = Field(0.35, ge=0.05, le=0.6, description="ICE needs T̂ below this")
    s_ice: float = Field(0.55, ge=0.05, le=0.8, description="ICE needs Ŝ below this")
    t_vapor: float = Field(0.85, ge=0.4, le=0.99, description="VAPOR needs T̂ above this")
    s_vapor: float = Field(0.80, ge=0.2, le=0.99, description="VAPOR needs Ŝ above this")
    margin: float = Field(0.05, ge=0.0, le=0.2, description="Schmitt-trigger margin: a "
                                                          "boundary must be crossed by this "
                                                          "to change the phase")
    momentum_sigma: float = Field(0.5, ge=0.0, le=5.0, description="WATER_BULL/BEAR when the "
                                                                 "Kalman momentum passes "
                                                                 "±this x sigma_r")
    momentum_exit_sigma: float = Field(0.25, ge=0.0, le=5.0, description="BULL/BEAR is kept "
                                                                       "while beyond ±this x "
                                                                       "sigma_r (<= "
                                                                       "momentum_sigma)")
    silent_flow: float = Field(0.02, gt=0.0, le=1.0, description="SSD silent mode when the "
                                                               "smoothed entropy flow exceeds "
                                                               "this (Ŝ per tick)")
    flow_scale: float = Field(10.0, ge=0.0, le=1000.0, description="weight of the entropy "
                                                                  "flow in the SSD vector")
    min_edge_bps: float = Field(5.0, ge=0.0, le=100.0, description="physics edge should_trade "
                                                                  "needs in WATER")
    publish_min_interval_ms: int = Field(100, ge=0, le=3_600_000, description="publish a "
                                                                            "symbol at most "
                                                                            "this often "
                                                                            "unless its phase "
                                                                            "changed")
    publish_phase: bool = Field(True, description="also publish the kernel's PHASE / "
                                                  "PHASE_CONFIDENCE facts (read by the "
                                                  "capital allocator)")

    @model_validator(mode="after")
    def _check(self) -> PhysicsConfig:
        problems = []
        if self.min_ticks > self.window:
            problems.append(f"min_ticks ({self.min_ticks}) must be <= window ({self.window})")
        if self.t_ice + self.margin >= self.t_vapor - self.margin:
            problems.append(f"t_ice + margin ({self.t_ice + self.margin:g}) must be below "
                            f"t_vapor - margin ({self.t_vapor - self.margin:g})")
        if self.s_ice + self.margin >= self.s_vapor - self.margin:
            problems.append(f"s_ice + margin ({self.s_ice + self.margin:g}) must be below "
                            f"s_vapor - margin ({self.s_vapor - self.margin:g})")
        if self.momentum_exit_sigma > self.momentum_sigma:
            problems.append(f"momentum_exit_sigma ({self.momentum_exit_sigma}) must be <= "
                            f"momentum_sigma ({self.momentum_sigma})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def params(self) -> Params:
        """The per-tick settings."""
        return Params(self.window, self.history, self.history_stride, self.min_ticks,
                      self.entropy_source, self.entropy_norm,
                      PhaseBounds(self.t_ice, self.s_ice, self.t_vapor, self.s_vapor,
                                  self.margin),
                      self.momentum_sigma, self.momentum_exit_sigma, self.silent_flow,
                      self.flow_scale, self.min_edge_bps)


class PhysicsAnalyzer(Analyzer):
    """Temperature, entropy, phase and SSD per symbol, published as ``PHYSICS``, ``PHASE`` and
    ``PHASE_CONFIDENCE`` facts."""

    config: PhysicsConfig

    def on_start(self) -> None:
        cfg = self.config
        self._params = cfg.params()
        self._states: dict[str, SymbolPhysics] = {}
        self._kind: dict[str, str] = {}
        self._interval = cfg.publish_min_interval_ms
        self._phase_fact = cfg.publish_phase
        self.publishes: dict[str, int] = {}
        self.rejected = 0

    # ------------------------------------------------------------------ market callbacks

    def on_bar(self, bar: Bar) -> None:
        if self._accept(bar.symbol, "bars"):
            self.update(bar.symbol, bar.ts, bar.close, bar.volume)

    def on_trade(self, trade: Trade) -> None:
        if self._accept(trade.symbol, "trades"):
            self.update(trade.symbol, trade.ts, trade.price, trade.size)

    def on_quote(self, quote: Quote) -> None:
        if self.config.tick_source == "quotes":
            self.update(quote.symbol, quote.ts, (quote.bid + quote.ask) * 0.5, 0.0)

    def _accept(self, symbol: str, kind: str) -> bool:
        src = self.config.tick_source
        if src == kind:
            return True
        if src != "auto":
            return False
        locked = self._kind.get(symbol)
        if locked is None:
            self._kind[symbol] = kind
            return True
        return locked == kind

    # ------------------------------------------------------------------ the tick

    def update(self, symbol: str, ts: int, price: float, volume: float) -> None:
        """One tick of ``symbol``: update its physics; publish when due."""
        if not 0.0 < price < math.inf:
            self.rejected += 1
            return
        st = self._states.get(symbol)
        if st is None:
            st = self._states[symbol] = SymbolPhysics(self._params)
        changed = st.step(price, volume if volume == volume else 0.0)
        if st.phase and (changed or ts - st.pub_ts >= self._interval):
            self.publish(symbol, st, ts, changed)

    def publish(self, symbol: str, st: SymbolPhysics, ts: int, changed: bool) -> None:
        """Publish the symbol's state now."""
        st.pub_ts = ts
        facts = self.ctx.facts
        state = st.snapshot(ts, facts.get(REGIME, symbol), changed)
        facts.set(PHYSICS, state, symbol)
        if self._phase_fact:
            facts.set(PHASE, _LOWER[state.phase], symbol)
            facts.set(PHASE_CONFIDENCE, state.phase_confidence, symbol)
        self.publishes[symbol] = self.publishes.get(symbol, 0) + 1

    # ------------------------------------------------------------------ reading

    def state(self, symbol: str) -> SymbolPhysics | None:
        """The live per-symbol state (None before the symbol's first tick)."""
        return self._states.get(symbol)

    def phase_shares(self) -> dict[str, dict[str, float]]:
        """Per symbol: the share of classified ticks spent in each phase."""
        out = {}
        for sym, st in self._states.items():
            tot = sum(st.counts.values())
            out[sym] = {ph: (c / tot if tot else 0.0) for ph, c in st.counts.items()}
        return out

    def current_confidence(self, symbol: str) -> float:
        """Confidence of the symbol's current base phase at its latest tick (0 before one)."""
        st = self._states.get(symbol)
        if st is None or not st.base:
            return 0.0
        return confidence(st.base, st.t_hat, st.s_hat, self._params.bounds)

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply new settings, each clamped to its declared range; a change of a window
        length restarts the symbols' windows.  Returns the keys accepted."""
        old = self.config
        new, accepted = apply_params(old, params)
        if not accepted:
            return []
        self.config = new
        self._params = new.params()
        self._interval = new.publish_min_interval_ms
        self._phase_fact = new.publish_phase
        if (new.window, new.history, new.history_stride, new.entropy_norm) != (
                old.window, old.history, old.history_stride, old.entropy_norm):
            self._states.clear()
        else:
            for st in self._states.values():
                st.p = self._params
        return accepted

    def stats(self) -> dict[str, Any]:
        states = getattr(self, "_states", {})
        return {"physics_ticks": {s: st.ticks for s, st in states.items()},
                "physics_phase_changes": {s: st.changes for s, st in states.items()},
                "physics_phase": {s: st.phase for s, st in states.items()},
                "physics_phase_ticks": {s: dict(st.counts) for s, st in states.items()},
                "physics_publishes": dict(getattr(self, "publishes", {})),
                "physics_rejected_ticks": getattr(self, "rejected", 0)}
