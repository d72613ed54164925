"""CorrelationArbitrage: a pairs trade on the residual of a rolling OLS of two log prices.

The original's defects fixed (the README's "Differences from the original"); the README has the
parameter table.  The instance trades exactly two symbols, ``symbols: [primary, secondary]``
(e.g. BTC, ETH).

* **Common clock.**  A sample is taken only when *both* symbols have a bar closing at the
  same timestamp (bar close times aligned); a bar whose partner never comes (a gap in one
  file) is dropped.  The original paired returns of whichever ticks arrived, at unrelated
  moments.
* **Hedge ratio and z.**  Over the last ``window`` samples, a rolling OLS
  ``ln P_primary = alpha + beta·ln P_secondary`` (:class:`~hean_correlation_arbitrage.rolling.
  RollingPair`, O(1) per sample); the spread of a new sample is its residual
  ``s = ln P_primary − beta·ln P_secondary − alpha`` and ``z = s / σ_residual``, both from the
  window *before* the sample (the sample then joins the window).  ``corr`` is the correlation
  of the two symbols' returns over the same window.
* **Entry** (flat, no group in flight): ``|z| > z_entry``, ``|z| <= z_stop``, ``corr >
  min_corr`` -- the pair is *normally correlated* and temporarily dislocated (the original
  entered at correlation *below* 0.5, the reversed logic) --, ``beta > 0``, the cooldown
  passed, and the expected reversion ``(|z| − z_exit)·σ·1e4`` bps of the primary's notional
  at least ``min_edge_cost_ratio`` × the round-trip cost of both legs (primary's + beta ×
  secondary's, the kernel's cost engine).  ``z > 0`` (primary rich): sell primary, buy
  secondary; ``z < 0``: the reverse.
* **Both legs as one group**, notional-balanced by beta: primary ``N / P_primary``,
  secondary ``beta·N / P_secondary`` with ``N = notional_pct × budget``; an all-or-none
  :class:`~hean_framework.groups.OrderGroup` whose leg policy unwinds a leg that filled alone
  after ``leg_timeout_ms``.  No per-leg stop or target (``style = "carry"``).
* **Exit, both legs together** (one exit group naming the entry group): ``z·side < z_exit``
  with ``side`` = the sign of z at entry -- reverted into the band, or overshot beyond it
  (``CONVERGED``); ``z·side > z_stop`` (``Z_STOP``); held ``max_hold_s`` (``MAX_HOLD``).
  The trade is over when both positions are flat (read from the portfolio), so a group the
  leg policy unwound frees the strategy too (the original's "active pair" flag was never
  cleared: one pair trade per process).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from hean_framework import ComponentConfig, Strategy
from hean_framework.errors import HeanError
from hean_framework.execution.costs import CostConfig, CostEngine
from hean_framework.groups import LegPolicy, OrderGroup
from hean_framework.models import Bar, OrderDecision, Signal
from hean_framework.params import apply_clamped

from .rolling import RollingPair

TAG = "PAIR_ENTRY"


class CorrelationArbitrageConfig(ComponentConfig):
    """``strategies.correlation_arb``: keys and defaults (table in the plugin's README)."""

    window: int = Field(120, ge=20, le=20_000, description="common-clock samples in the "
                        "rolling OLS, the residual's σ and the return correlation")
    z_entry: float = Field(2.0, gt=0.0, le=10.0, description="|z| above which a pair trade "
                           "opens")
    z_exit: float = Field(0.5, ge=0.0, le=5.0, description="the trade closes once z is back "
                          "inside ±z_exit (or beyond it on the other side)")
    z_stop: float = Field(4.0, gt=0.0, le=20.0, description="the trade closes when |z| "
                          "grows past this on the entry side")
    min_corr: float = Field(0.5, ge=-1.0, le=1.0, description="least correlation of the "
                            "returns over the window to enter (normally correlated pair)")
    max_hold_s: int = Field(14_400, ge=60, le=30 * 86_400, description="time stop of a pair "
                            "trade, seconds")
    cooldown_s: int = Field(1_800, ge=0, le=7 * 86_400, description="seconds after an entry "
                            "before the next one")
    notional_pct: float = Field(0.5, gt=0.0, le=3.0, description="primary leg's notional as "
                                "a share of the strategy's budget")
    min_edge_cost_ratio: float = Field(1.0, ge=0.0, le=20.0, description="expected reversion "
                                       "must be >= this x the round trip of both legs (0: off)")
    maker: bool = Field(False, description="cost at maker fees and ask for maker entries")
    leg_timeout_ms: int = Field(5_000, gt=0, le=600_000, description="a leg filled alone "
                                "after this long is unwound (exits: completed)")

    @model_validator(mode="after")
    def _check(self) -> CorrelationArbitrageConfig:
        if not self.z_exit < self.z_entry < self.z_stop:
            raise ValueError(f"need z_exit < z_entry < z_stop, got {self.z_exit}, "
                             f"{self.z_entry}, {self.z_stop}")
        return self


@dataclass(slots=True)
class Sample:
    """One common-clock evaluation (kept in ``CorrelationArbitrage.samples`` when asked)."""

    ts: int
    z: float
    beta: float
    corr: float
    sigma: float


@dataclass(slots=True)
class _Trade:
    side: float  #: +1: short primary / long secondary (z was > 0); -1: the reverse
    ts: int
    group: OrderGroup
    z: float
    beta: float
    exiting: int = 0  #: when the exit was sent (0: not yet)


class CorrelationArbitrage(Strategy):
    """Pairs trade on a rolling-OLS residual (rules in the module docstring)."""

    style = "carry"
    config: CorrelationArbitrageConfig
    #: keep every sample's (ts, z, beta, corr, sigma) in :attr:`samples` (tests, research)
    record_samples = False

    def on_start(self) -> None:
        if len(self.symbols) != 2 or self.symbols[0] == self.symbols[1]:
            raise HeanError(
                f"strategies.{self.name}.symbols must name two different symbols "
                f"[primary, secondary], got {self.symbols}",
                "e.g. symbols: [BTC/USDT, ETH/USDT]")
        self.primary, self.secondary = self.symbols
        self._pair = RollingPair(self.config.window)
        self._pending: dict[str, tuple[int, float]] = {}
        self._trade: _Trade | None = None
        self._last_entry = -(1 << 62)
        self._costs = CostEngine(CostConfig(include_funding=False))
        self.samples: list[Sample] = []
        self.counts: dict[str, int] = {
            "bars": 0, "samples": 0, "unpaired_bars": 0, "warming_up": 0, "dislocations": 0,
            "low_correlation": 0, "beyond_stop": 0, "beta_not_positive": 0, "cooldown": 0,
            "edge_below_cost": 0, "entries": 0, "exits_converged": 0, "exits_z_stop": 0,
            "exits_max_hold": 0, "entry_refused": 0}

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply the known keys, numbers clamped into their declared bounds; a new ``window``
        restarts the rolling fit (the open trade, if any, is kept)."""
        before = self.config.window
        accepted = apply_clamped(self, params)
        if accepted and self.config.window != before:
            self._pair = RollingPair(self.config.window)
        return accepted

    # ------------------------------------------------------------------ common clock

    def on_bar(self, bar: Bar) -> OrderGroup | list[Signal] | None:
        self.counts["bars"] += 1
        sym = bar.symbol
        other = self.secondary if sym == self.primary else self.primary
        mate = self._pending.get(other)
        if mate is not None and mate[0] == bar.ts:
            del self._pending[other]
            pa, pb = (bar.close, mate[1]) if sym == self.primary else (mate[1], bar.close)
            return self.sample(bar.ts, pa, pb)
        old = self._pending.get(sym)
        if old is not None:
            self.counts["unpaired_bars"] += 1
        if mate is not None and mate[0] < bar.ts:  # the partner's bar for its time never came
            del self._pending[other]
            self.counts["unpaired_bars"] += 1
        self._pending[sym] = (bar.ts, bar.close)
        return None

    def sample(self, ts: int, pa: float, pb: float) -> OrderGroup | list[Signal] | None:
        """One common-clock sample: decide on the window before it, then add it."""
        self.counts["samples"] += 1
        y, x = math.log(pa), math.log(pb)
        pair = self._pair
        out = None
        if pair.ready:
            fit = pair.fit()
            if fit is not None and fit[2] > 0.0:
                beta, alpha, sigma = fit
                z = (y - alpha - beta * x) / sigma
                corr = pair.corr()
                if self.record_samples:
                    self.samples.append(Sample(ts, z, beta, corr, sigma))
                out = self._decide(ts, pa, pb, z, beta, corr, sigma)
        else:
            self.counts["warming_up"] += 1
        pair.add(x, y)
        return out

    # ------------------------------------------------------------------ rules

    def in_trade(self) -> bool:
        """A pair trade is open or being entered; cleared once both legs are flat."""
        t = self._trade
        if t is None:
            return False
        pf = self.ctx.portfolio
        flat = pf.position_qty(self.name, self.primary) == 0.0 and \
            pf.position_qty(self.name, self.secondary) == 0.0
        if flat and self.ctx.now - t.ts > self.config.leg_timeout_ms:
            self._trade = None
            return False
        return True

    def _decide(self, ts: int, pa: float, pb: float, z: float, beta: float, corr: float,
                sigma: float) -> OrderGroup | list[Signal] | None:
        cfg = self.config
        if self.in_trade():
            t = self._trade
            assert t is not None
            if t.exiting and ts - t.exiting <= cfg.leg_timeout_ms:
                return None  # the exit is on its way
            zs = z * t.side
            if zs < cfg.z_exit:
                return self._exit(ts, "CONVERGED", z)
            if zs > cfg.z_stop:
                return self._exit(ts, "Z_STOP", z)
            if ts - t.ts >= cfg.max_hold_s * 1000:
                return self._exit(ts, "MAX_HOLD", z)
            return None
        if abs(z) <= cfg.z_entry:
            return None
        self.counts["dislocations"] += 1
        if abs(z) > cfg.z_stop:
            self.counts["beyond_stop"] += 1
            return None
        if corr <= cfg.min_corr:
            self.counts["low_correlation"] += 1
            return None
        if beta <= 0.0:
            self.counts["beta_not_positive"] += 1
            return None
        if ts - self._last_entry < cfg.cooldown_s * 1000:
            self.counts["cooldown"] += 1
            return None
        notional = self.ctx.budgets.budget(self.name) * cfg.notional_pct
        qa, qb = notional / pa, beta * notional / pb
        side = 1.0 if z > 0.0 else -1.0
        sa, sb = ("sell", "buy") if side > 0 else ("buy", "sell")
        edge = (abs(z) - cfg.z_exit) * sigma * 1e4
        cost = self._cost(self.primary, sa, qa, ts) + beta * self._cost(self.secondary, sb, qb,
                                                                         ts)
        if cfg.min_edge_cost_ratio > 0.0 and edge < cfg.min_edge_cost_ratio * cost:
            self.counts["edge_below_cost"] += 1
            return None
        meta = {"z": round(z, 6), "beta": round(beta, 8), "corr": round(corr, 6),
                "sigma": round(sigma, 10), "expected_reversion_bps": round(edge, 4),
                "round_trip_cost_bps": round(cost, 4)}
        conf = min(1.0, max(0.0, corr))
        legs = [self.signal(self.primary, sa, ts, pa, size=qa, edge_bps=edge, confidence=conf,
                            prefer_maker=cfg.maker, tag=TAG, metadata=meta),
                self.signal(self.secondary, sb, ts, pb, size=qb, edge_bps=edge,
                            confidence=conf, prefer_maker=cfg.maker, tag=TAG, metadata=meta)]
        group = OrderGroup(legs, policy=LegPolicy("unwind", cfg.leg_timeout_ms))
        self._trade = _Trade(side, ts, group, z, beta)
        self._last_entry = ts
        self.counts["entries"] += 1
        return group

    def on_decision(self, decision: OrderDecision) -> None:
        t = self._trade
        if t is not None and not decision.created and decision.stage != "exit" and \
                decision.details.get("group_id") == t.group.group_id:
            self._trade = None  # the entry group was refused: nothing is open
            self.counts["entry_refused"] += 1

    def _exit(self, ts: int, reason: str, z: float) -> OrderGroup | None:
        t = self._trade
        assert t is not None
        t.exiting = ts
        self.counts["exits_" + reason.lower()] += 1
        # the kernel's exit group: both legs as one decision, closing the entry group
        group = OrderGroup.exit(self.name, [self.primary, self.secondary], self.ctx.portfolio,
                                closes=t.group.group_id, reason=reason, ts=ts,
                                policy=LegPolicy("hedge", self.config.leg_timeout_ms))
        for leg in group.legs:
            leg.metadata = {"z": round(z, 6), "entry_z": round(t.z, 6)}
        return group if group.legs else None

    def _cost(self, symbol: str, side: str, qty: float, now: int) -> float:
        inst = self.ctx.instruments.find(symbol)
        return self._costs.estimate(symbol=symbol, side=side, maker=self.config.maker,
                                    st=self.ctx.market[symbol], inst=inst, qty=qty, now=now,
                                    hold_ms=0).total_bps

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(getattr(self, "counts", {}))
        if out:
            out["waiting_bars"] = len(self._pending)  # bars whose partner has not come yet
        return out
