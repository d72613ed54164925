"""``analyzers.allocator``: strategy capital allocation (documented in ``docs/risk.md``,
"Allocator").

* ``deployable = equity × (1 − cash_reserve_rate)``; budgets = deployable × weights, published
  as the fact :data:`~hean_framework.facts.BUDGETS` (read by ``ctx.budgets``) from
  ``on_start`` on and refreshed at every equity sample.
* Prior weights from ``weights`` (YAML), else the strategies' ``weight`` keys, else equal.
* Target (hybrid): ``0.7 × performance + 0.3 × phase``.  Performance: max(0, Sortino of the
  last 30 trade returns) normalised, shrunk toward the prior with ``w = (n·w_perf +
  10·w_prior)/(n + 10)``.  Phase: prior × affinity factor (PHASE_AFFINITY; 2·confidence when a
  published phase/regime of the strategy's symbols is in its list, else 0.5); without any
  published phase the phase part equals the prior.
* Bounds: [min_weight, max_weight] (relaxed to 1/N when infeasible) and absolute floors /
  ceilings in USDT, applied by :func:`project_capped_simplex` (iterative water-filling).
  Absolute ceilings are hard: capital they refuse stays unallocated (cash).
* Rebalance on position close, at most once per ``cooldown_s`` (3 600 s) and only when some
  target weight differs from the current one by more than ``drift_threshold`` (5 pp); one step
  moves at most ``max_step`` (10 %) of deployable capital.
* Every allocation change is journaled (``allocation`` events) and listed in the report
  section ``allocation``.

Differences from the original HEAN allocator, on purpose: it allocated 100 % of equity (no cash
reserve), clamped each weight and then renormalised (which can break the 5 %/40 % bounds again),
and gave strategies with fewer than 5 closed trades no budget at all.  Here the reserve is kept,
the projection keeps the bounds, and a strategy without history starts at its prior weight.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from pydantic import Field, model_validator

from ..components import Analyzer, ComponentConfig
from ..facts import BUDGETS, PHASE, PHASE_CONFIDENCE, REGIME, REGIME_CONFIDENCE
from ..models import ClosedTrade
from ._common import journal_event, plugin_names, strategy_ids

#: Phases (physics or Wyckoff, lowercase) in which each original strategy is favoured.
PHASE_AFFINITY: dict[str, tuple[str, ...]] = {
    "impulse_engine": ("markup", "markdown", "water"),
    "funding_harvester": ("ice", "accumulation"),
    "basis_arbitrage": ("ice", "accumulation"),
    "momentum_trader": ("markup", "water"),
    "hf_scalping": ("ice", "water"),
    "enhanced_grid": ("ice", "accumulation"),
    "liquidity_sweep": ("markup", "markdown", "distribution"),
    "sentiment_strategy": ("accumulation", "distribution"),
}
#: Cap of a Sortino ratio when a strategy has no losing trade in the window.
SORTINO_CAP = 10.0
_EPS = 1e-12


class AllocatorConfig(ComponentConfig):
    """``analyzers.allocator``: weights, bounds and rebalancing of strategy budgets."""

    cash_reserve_rate: float = Field(0.20, ge=0, lt=1, description="share of equity never "
                                     "allocated")
    weights: dict[str, float] = Field(default_factory=dict, description="prior weight per "
                                      "strategy instance (normalised; default equal)")
    min_weight: float = Field(0.05, ge=0, le=1, description="per-strategy minimum share")
    max_weight: float = Field(0.40, gt=0, le=1, description="per-strategy maximum share")
    min_budget: float = Field(0.0, ge=0, description="absolute floor per strategy (USDT)")
    max_budget: float | None = Field(None, gt=0, description="absolute ceiling per strategy "
                                     "(USDT); capital above it stays unallocated")
    floors: dict[str, float] = Field(default_factory=dict, description="absolute floor per "
                                     "strategy (USDT), overrides min_budget")
    ceilings: dict[str, float] = Field(default_factory=dict, description="absolute ceiling "
                                       "per strategy (USDT), overrides max_budget")
    mode: str = Field("hybrid", pattern="^(hybrid|static)$", description="hybrid: "
                      "performance + phase rebalancing; static: prior weights only")
    performance_share: float = Field(0.7, ge=0, le=1, description="hybrid: weight of the "
                                     "performance part (the rest is phase-matched)")
    sortino_window: int = Field(30, ge=2, description="trade returns in the Sortino window")
    prior_trades: int = Field(10, ge=0, description="shrinkage strength toward the prior")
    cooldown_s: float = Field(3600.0, ge=0, description="minimum seconds between rebalances")
    drift_threshold: float = Field(0.05, ge=0, le=1, description="rebalance only when a "
                                   "target weight differs by more than this (absolute)")
    max_step: float = Field(0.10, gt=0, le=1, description="capital moved per rebalance, as "
                            "a share of deployable")
    history: int = Field(200, ge=1, description="allocation changes kept for the report")

    @model_validator(mode="after")
    def _check(self) -> AllocatorConfig:
        if self.min_weight > self.max_weight:
            raise ValueError(f"min_weight ({self.min_weight}) is above max_weight "
                             f"({self.max_weight})")
        bad = {k: v for k, v in self.weights.items() if not v >= 0}
        if bad:
            raise ValueError(f"weights must be >= 0 (got {bad})")
        return self


# ------------------------------------------------------------------------------ maths


def project_capped_simplex(target: list[float], lo: list[float],
                           hi: list[float]) -> list[float]:
    """Weights ``w`` with ``lo ≤ w ≤ hi`` summing to 1, proportional to ``target`` where free.

    Water-filling: ``w_i(λ) = clip(λ·t_i, lo_i, hi_i)`` is non-decreasing in the "water level"
    λ; bisection finds the λ with ``Σ w = 1``; the float residual is then spread over the
    weights strictly inside their bounds, so the bounds hold exactly.  When ``Σ hi < 1`` every
    weight sits at its ceiling (the rest is unallocated); when ``Σ lo > 1`` the floors are
    scaled down to sum to 1.
    """
    n = len(target)
    if n == 0:
        return []
    lo = [max(0.0, x) for x in lo]
    hi = [max(a, b) for a, b in zip(lo, hi)]
    s_lo, s_hi = sum(lo), sum(hi)
    if s_hi <= 1.0 + _EPS:
        return list(hi)
    if s_lo >= 1.0 - _EPS:
        return [x / s_lo for x in lo]
    t = [x if x > 0.0 and math.isfinite(x) else 0.0 for x in target]
    if sum(t) <= 0.0:
        t = [1.0] * n
    # strictly positive so that a high enough level reaches every ceiling
    floor_t = 1e-9 * max(t)
    t = [max(x, floor_t) for x in t]

    def total(lam: float) -> float:
        return sum(min(max(lam * ti, a), b) for ti, a, b in zip(t, lo, hi))

    lo_l, hi_l = 0.0, 1.0
    while total(hi_l) < 1.0:
        hi_l *= 2.0
        if hi_l > 1e30:
            break
    for _ in range(200):
        mid = 0.5 * (lo_l + hi_l)
        if total(mid) < 1.0:
            lo_l = mid
        else:
            hi_l = mid
        if hi_l - lo_l <= 1e-15 * hi_l:
            break
    w = [min(max(hi_l * ti, a), b) for ti, a, b in zip(t, lo, hi)]
    resid = 1.0 - sum(w)
    for _ in range(3):
        if abs(resid) <= 1e-15:
            break
        free = [i for i in range(n) if (lo[i] < w[i] if resid < 0 else w[i] < hi[i])]
        if not free:
            break
        for i in free:
            room = (hi[i] - w[i]) if resid > 0 else (w[i] - lo[i])
            share = min(abs(resid) / len(free), room)
            w[i] += share if resid > 0 else -share
        resid = 1.0 - sum(w)
    return w


def sortino(returns: list[float]) -> float:
    """Mean return over downside deviation (``SORTINO_CAP`` when there is no loss)."""
    if not returns:
        return 0.0
    mean = sum(returns) / len(returns)
    down = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    if down <= 0.0:
        return SORTINO_CAP if mean > 0.0 else 0.0
    return min(mean / down, SORTINO_CAP)


def normalise(weights: dict[str, float], ids: list[str]) -> dict[str, float]:
    """Weights for ``ids`` summing to 1 (equal when all are zero or missing)."""
    raw = [max(0.0, float(weights.get(s, 0.0))) for s in ids]
    tot = sum(raw)
    if tot <= 0.0:
        return {s: 1.0 / len(ids) for s in ids} if ids else {}
    return {s: r / tot for s, r in zip(ids, raw)}


def weight_bounds(cfg: AllocatorConfig, ids: list[str],
                  deployable: float) -> tuple[list[float], list[float]]:
    """Per-strategy (lo, hi) weight bounds from the relative and absolute (USDT) limits.

    The relative bounds are relaxed to 1/N when they cannot sum to 1 (e.g. one strategy with
    a 40 % ceiling); absolute ceilings are not relaxed.
    """
    n = len(ids)
    if n == 0:
        return [], []
    lo_rel = min(cfg.min_weight, 1.0 / n)
    hi_rel = max(cfg.max_weight, 1.0 / n)
    lo: list[float] = []
    hi: list[float] = []
    for s in ids:
        floor = cfg.floors.get(s, cfg.min_budget)
        ceil = cfg.ceilings.get(s, cfg.max_budget)
        a = lo_rel
        b = hi_rel
        if deployable > 0.0:
            if floor:
                a = max(a, floor / deployable)
            if ceil is not None:
                b = min(b, ceil / deployable)
        a = min(a, b)
        lo.append(a)
        hi.append(b)
    return lo, hi


def initial_weights(cfg: AllocatorConfig, ids: list[str], deployable: float,
                    fallback: dict[str, float] | None = None) -> dict[str, float]:
    """The prior weights projected onto the bounds (what the allocator starts with)."""
    prior = normalise(cfg.weights if cfg.weights else (fallback or {}), ids)
    lo, hi = weight_bounds(cfg, ids, deployable)
    w = project_capped_simplex([prior[s] for s in ids], lo, hi)
    return dict(zip(ids, w))


# ------------------------------------------------------------------------------ component


class CapitalAllocator(Analyzer):
    """Publishes per-strategy budgets and rebalances them by performance and phase."""

    config: AllocatorConfig

    def on_start(self) -> None:
        cfg = self.config
        ctx = self.ctx
        ids = strategy_ids(ctx, list(cfg.weights))
        self.ids = ids
        self._plugins = plugin_names(ctx)
        infos = ctx.run.strategies
        fallback = {s: infos[s].weight if s in infos else 1.0 for s in ids}
        self.prior = normalise(cfg.weights if cfg.weights else fallback, ids)
        self._returns: dict[str, deque[float]] = {
            s: deque(maxlen=cfg.sortino_window) for s in ids}
        self._trades: dict[str, int] = dict.fromkeys(ids, 0)
        self.changes: list[dict[str, Any]] = []
        self.rebalances = 0
        self._last_rebalance: int | None = None
        self._symbols = self._strategy_symbols()
        self.weights = initial_weights(cfg, ids, self.deployable(), self.prior)
        self._publish()
        self._record("start", {})
        ctx.add_section("allocation", self.report)

    # ------------------------------------------------------------------ numbers

    def deployable(self) -> float:
        """Equity minus the cash reserve (0 when equity is not positive)."""
        eq = self.ctx.portfolio.equity() if self.ctx.portfolio is not None else 0.0
        return max(0.0, eq) * (1.0 - self.config.cash_reserve_rate)

    def budgets(self) -> dict[str, float]:
        """Current budgets in USDT (deployable × weight)."""
        dep = self.deployable()
        return {s: dep * self.weights.get(s, 0.0) for s in self.ids}

    def _publish(self) -> None:
        self.ctx.facts.set(BUDGETS, self.budgets())

    def _strategy_symbols(self) -> dict[str, list[str]]:
        strategies = self.ctx.run.strategies
        return {s: list(strategies[s].symbols) if s in strategies else [] for s in self.ids}

    # ------------------------------------------------------------------ targets

    def performance_weights(self) -> dict[str, float]:
        """Sortino-weighted shares shrunk toward the prior by the number of trades."""
        cfg = self.config
        scores = {s: max(0.0, sortino(list(self._returns[s]))) for s in self.ids}
        tot = sum(scores.values())
        perf = {s: scores[s] / tot for s in self.ids} if tot > 0.0 else dict(self.prior)
        k = cfg.prior_trades
        shrunk = {}
        for s in self.ids:
            n = self._trades[s]
            shrunk[s] = (n * perf[s] + k * self.prior[s]) / (n + k) if n + k > 0 else perf[s]
        return normalise(shrunk, self.ids)

    def phase_weights(self) -> dict[str, float]:
        """Prior × phase-affinity factor (the prior itself when no phase is published)."""
        facts = self.ctx.facts
        factors: dict[str, float] = {}
        seen_phase = False
        for s in self.ids:
            phases: list[tuple[str, float]] = []
            for sym in [*self._symbols.get(s, []), "*"]:
                for key, conf_key in ((PHASE, PHASE_CONFIDENCE), (REGIME, REGIME_CONFIDENCE)):
                    v = facts.get(key, sym)
                    if v:
                        phases.append((v.lower(), float(facts.get(conf_key, sym))))
            if not phases:
                factors[s] = 1.0
                continue
            seen_phase = True
            plugin = self._plugins.get(s, s)
            aff = PHASE_AFFINITY.get(s) or PHASE_AFFINITY.get(plugin)
            if not aff:
                factors[s] = 0.5
                continue
            best = max((c for p, c in phases if any(p.startswith(a) for a in aff)),
                       default=None)
            factors[s] = 2.0 * best if best is not None else 0.5
        if not seen_phase:
            return dict(self.prior)
        return normalise({s: self.prior[s] * factors[s] for s in self.ids}, self.ids)

    def target_weights(self) -> dict[str, float]:
        """Hybrid target projected onto the bounds."""
        cfg = self.config
        if cfg.mode == "static":
            return initial_weights(cfg, self.ids, self.deployable(), self.prior)
        perf = self.performance_weights()
        phase = self.phase_weights()
        a = cfg.performance_share
        mix = {s: a * perf[s] + (1.0 - a) * phase[s] for s in self.ids}
        lo, hi = weight_bounds(cfg, self.ids, self.deployable())
        w = project_capped_simplex([mix[s] for s in self.ids], lo, hi)
        return dict(zip(self.ids, w))

    # ------------------------------------------------------------------ observers

    def on_position_closed(self, trade: ClosedTrade) -> None:
        """Record the trade's return on its budget; maybe rebalance."""
        s = trade.strategy_id
        if s not in self._returns:
            return
        budget = self.deployable() * self.weights.get(s, 0.0)
        ret = trade.net_pnl / budget if budget > 0.0 else 0.0
        self._returns[s].append(ret)
        self._trades[s] += 1
        self.maybe_rebalance(trade.closed_ts)
        self._publish()

    def on_equity(self, ts: int, equity: float) -> None:
        """Budgets follow equity (weights unchanged)."""
        self._publish()

    def maybe_rebalance(self, ts: int) -> bool:
        """Move toward the target when the cooldown passed and the drift is large enough."""
        cfg = self.config
        if cfg.mode == "static" or not self.ids:
            return False
        if self._last_rebalance is not None and \
                ts - self._last_rebalance < cfg.cooldown_s * 1000:
            return False
        target = self.target_weights()
        drift = max(abs(target[s] - self.weights[s]) for s in self.ids)
        if drift <= cfg.drift_threshold:
            return False
        delta = {s: target[s] - self.weights[s] for s in self.ids}
        moved = sum(abs(v) for v in delta.values()) / 2.0
        scale = min(1.0, cfg.max_step / moved) if moved > 0.0 else 1.0
        before = dict(self.weights)
        self.weights = {s: self.weights[s] + scale * delta[s] for s in self.ids}
        self._last_rebalance = ts
        self.rebalances += 1
        self._publish()
        self._record("rebalance", {"target": _r(target), "drift": round(drift, 6),
                                   "step_scale": round(scale, 6), "before": _r(before)}, ts)
        return True

    # ------------------------------------------------------------------ reporting

    def _record(self, why: str, extra: dict[str, Any], ts: int | None = None) -> None:
        ts = self.ctx.now if ts is None else ts
        budgets = self.budgets()
        payload = {"reason": why, "deployable": round(self.deployable(), 8),
                   "cash_reserve_rate": self.config.cash_reserve_rate,
                   "weights": _r(self.weights), "budgets": _r(budgets),
                   "unallocated": round(self.deployable() - sum(budgets.values()), 8), **extra}
        self.changes.append({"ts": ts, **payload})
        if len(self.changes) > self.config.history:
            del self.changes[0]
        journal_event(self.ctx, "allocation", payload, ts)

    def report(self) -> dict[str, Any]:
        """The ``allocation`` block of report.json."""
        budgets = self.budgets()
        return {"mode": self.config.mode, "deployable": round(self.deployable(), 8),
                "cash_reserve_rate": self.config.cash_reserve_rate,
                "weights": _r(self.weights), "budgets": _r(budgets),
                "rebalances": self.rebalances,
                "trades": dict(self._trades), "changes": list(self.changes)}

    def stats(self) -> dict[str, Any]:
        return {"rebalances": getattr(self, "rebalances", 0)}


def _r(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 8) for k, v in d.items()}
