"""Execution edge estimator: what an entry on a symbol can expect to keep after the spread,
a missed fill and volatility, published as ``EXECUTION_EDGE`` (an :class:`EdgeEstimate`).

Per symbol, refreshed on every tick (price) and on every best bid/offer change:

* ``spread_bps = (ask - bid) / price * 1e4`` (``price`` = the last tick price, else the mid);
* ``fill_prob = fill_base * (1 - c * min(spread_bps / spread_ref_bps, spread_cap))`` clamped to
  ``[fill_min, fill_max]``; ``c`` = ``c_range`` in a range regime, ``c_impulse`` in an impulse
  regime, ``c_other`` otherwise;
* ``vol_penalty = min(vol_pen_scale * mean|dp/p|, vol_pen_cap)`` over the last ``vol_window``
  prices (``vol_pen_default`` with fewer than 5 prices);
* ``regime_mult`` = ``mult_impulse`` / ``mult_range`` / 1;
* ``threshold_bps = edge_threshold_scale * min_edge_bps_<regime>``.

A strategy then asks ``est.edge_bps(move_bps)`` = ``(move_bps * fill_prob - spread_bps) *
(1 - vol_penalty) * regime_mult`` for its target distance, or ``est.passes(move_bps)``.  Without
a bid/ask the edge is -1000 bps (never passes).  The regime is the ``REGIME`` fact of the symbol
(list the regime detector before this analyzer); with ``regime_mapping: family`` the Wyckoff
labels count by family (ACCUMULATION as a range, DISTRIBUTION as an impulse).

Invariants:

* per-symbol state; the mean absolute change is a rolling sum over a ring buffer (O(1) per
  tick) and equals a from-scratch mean over the same prices (tested);
* the published estimate is immutable; a new one is published only when an input changed;
* nobody publishing gives :data:`~hean_market_analyzers.facts.NEUTRAL_EDGE` (no discount, no
  threshold).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from hean_framework import ComponentConfig
from hean_framework.facts import REGIME
from hean_framework.models import BookUpdate

from ._ticks import TickAnalyzer, TickGate, TickSource
from ._windows import MultiSum
from .facts import EXECUTION_EDGE, EdgeEstimate, family_of

__all__ = ["ExecutionEdgeConfig", "ExecutionEdgeEstimator"]


class ExecutionEdgeConfig(ComponentConfig):
    """``analyzers.execution_edge``."""

    tick_source: TickSource = Field(
        "auto", description="what a tick is: auto (first of bars/trades per symbol), bars, "
                            "trades or quotes (mid price)")
    regime_mapping: Literal["family", "label"] = Field(
        "family", description="family: RANGE_LIKE regimes use the range values and VOLATILE "
                              "ones the impulse values; label: only RANGE and IMPULSE do")
    vol_window: int = Field(20, ge=5, le=1000, description="prices in the volatility window")
    vol_pen_scale: float = Field(50.0, ge=0.0, le=1000.0,
                                 description="volatility penalty per unit of mean |dp/p|")
    vol_pen_cap: float = Field(0.5, ge=0.0, le=1.0, description="largest volatility penalty")
    vol_pen_default: float = Field(0.1, ge=0.0, le=1.0,
                                   description="volatility penalty with fewer than 5 prices")
    fill_base: float = Field(0.75, ge=0.0, le=1.0, description="fill probability at zero "
                                                                "spread")
    spread_ref_bps: float = Field(16.0, gt=0.0, le=1000.0,
                                  description="spread (bps) that costs c x 100 % of fill "
                                              "probability")
    spread_cap: float = Field(0.6, ge=0.0, le=1.0,
                              description="cap of spread_bps / spread_ref_bps")
    c_range: float = Field(0.4, ge=0.0, le=5.0, description="spread sensitivity in a range")
    c_impulse: float = Field(1.2, ge=0.0, le=5.0, description="spread sensitivity in an "
                                                               "impulse")
    c_other: float = Field(0.8, ge=0.0, le=5.0, description="spread sensitivity otherwise")
    fill_min: float = Field(0.3, ge=0.0, le=1.0, description="lowest fill probability")
    fill_max: float = Field(0.95, ge=0.0, le=1.0, description="highest fill probability")
    mult_impulse: float = Field(1.05, ge=0.1, le=3.0, description="edge multiplier in an "
                                                                   "impulse")
    mult_range: float = Field(0.95, ge=0.1, le=3.0, description="edge multiplier in a range")
    min_edge_bps_impulse: float = Field(8.0, ge=0.0, le=1000.0,
                                        description="required edge (bps) in an impulse")
    min_edge_bps_range: float = Field(3.0, ge=0.0, le=1000.0,
                                      description="required edge (bps) in a range")
    min_edge_bps_other: float = Field(5.0, ge=0.0, le=1000.0,
                                      description="required edge (bps) otherwise")
    edge_threshold_scale: float = Field(1.0, ge=0.0, le=5.0,
                                        description="multiplier of every required edge (the "
                                                    "original ran at 0.5)")

    @model_validator(mode="after")
    def _check(self) -> ExecutionEdgeConfig:
        if self.fill_min > self.fill_max:
            raise ValueError(f"fill_min ({self.fill_min}) must be <= fill_max "
                             f"({self.fill_max})")
        return self


class _Sym:
    __slots__ = ("ask", "bid", "changes", "last", "prices", "published", "regime")

    def __init__(self, window: int) -> None:
        self.last = 0.0
        self.prices = 0
        #: |dp/p| of consecutive prices: one window of window - 1 changes
        self.changes = MultiSum((window - 1,), nonneg=True)
        self.bid = self.ask = 0.0
        self.regime = ""
        self.published = 0


class ExecutionEdgeEstimator(TickAnalyzer):
    """Per-symbol fill probability, spread, volatility penalty and edge threshold."""

    config: ExecutionEdgeConfig

    def on_start(self) -> None:
        self._gate = TickGate(self.config.tick_source)
        self._syms: dict[str, _Sym] = {}

    def _sym(self, symbol: str) -> _Sym:
        s = self._syms.get(symbol)
        if s is None:
            s = self._syms[symbol] = _Sym(self.config.vol_window)
        return s

    # ------------------------------------------------------------------ callbacks

    def tick(self, symbol: str, ts: int, price: float, volume: float,
             interval_ms: int) -> None:
        self._tick(symbol, price)

    def on_other_quote(self, symbol: str) -> None:
        self._maybe_refresh(symbol)

    def on_book(self, update: BookUpdate) -> None:
        self._maybe_refresh(update.symbol)

    def _tick(self, symbol: str, price: float) -> None:
        if not price > 0.0:
            return
        s = self._sym(symbol)
        if s.last > 0.0:
            s.changes.push(abs(price - s.last) / s.last)
        s.last = price
        s.prices += 1
        self._publish(symbol, s)

    def _maybe_refresh(self, symbol: str) -> None:
        """A quote or book change: republish only when the best bid/ask or regime moved."""
        s = self._sym(symbol)
        st = self.ctx.market[symbol]
        if st.bid != s.bid or st.ask != s.ask or \
                self.ctx.facts.get(REGIME, symbol) != s.regime:
            self._publish(symbol, s)

    # ------------------------------------------------------------------ the estimate

    def _publish(self, symbol: str, s: _Sym) -> None:
        cfg = self.config
        st = self.ctx.market[symbol]
        bid, ask = st.bid, st.ask
        regime = self.ctx.facts.get(REGIME, symbol)
        s.bid, s.ask, s.regime = bid, ask, regime
        s.published += 1
        kind = regime.upper()
        if cfg.regime_mapping == "family":
            fam = family_of(kind)
            if fam == "VOLATILE":
                kind = "IMPULSE"
            elif fam == "RANGE_LIKE":
                kind = "RANGE"
        if kind == "IMPULSE":
            c, mult, need = cfg.c_impulse, cfg.mult_impulse, cfg.min_edge_bps_impulse
        elif kind == "RANGE":
            c, mult, need = cfg.c_range, cfg.mult_range, cfg.min_edge_bps_range
        else:
            c, mult, need = cfg.c_other, 1.0, cfg.min_edge_bps_other
        if s.prices < 5:
            pen = cfg.vol_pen_default
        else:
            ch = s.changes
            pen = min(cfg.vol_pen_scale * ch.sums[0] / ch.count(0), cfg.vol_pen_cap)
        has_quote = bid > 0.0 and ask > 0.0 and ask >= bid
        if has_quote:
            price = s.last if s.last > 0.0 else (bid + ask) * 0.5
            spread = (ask - bid) / price * 1e4
            fill = cfg.fill_base * (1.0 - c * min(spread / cfg.spread_ref_bps, cfg.spread_cap))
            fill = min(max(fill, cfg.fill_min), cfg.fill_max)
        else:
            spread, fill = 0.0, 0.0
        self.ctx.facts.set(EXECUTION_EDGE, EdgeEstimate(
            True, has_quote, spread, fill, pen, mult, need * cfg.edge_threshold_scale, regime),
            symbol)

    def stats(self) -> dict[str, Any]:
        syms = getattr(self, "_syms", {})
        return {"edge_estimates": {k: s.published for k, s in syms.items()}}
