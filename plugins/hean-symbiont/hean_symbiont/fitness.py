"""The composite fitness of one backtest, computed from its ``RunResult``.

Per-period returns: the run's equity curve (anchored at the run's start with the initial
capital and at its end with the final equity, as :mod:`hean_framework.metrics` does) resampled
every ``period_minutes`` (last value carried forward), simple returns between grid points.

``fitness = w_wfa * WFA + w_calmar * n(Calmar) + w_omega * n(Omega) + w_sortino * n(Sortino)``

* ``WFA`` -- walk-forward efficiency of the run's own returns
  (:func:`hean_symbiont.stats.wfa_efficiency`, first ``wfa_min_periods`` periods in-sample,
  out-of-sample windows of ``wfa_oos_periods``), in [0, 1.5];
* ``n(Calmar) = min(Calmar / 3, 1)`` with Calmar = annualised return / max drawdown from
  :func:`hean_framework.metrics.compute_metrics` (a run without drawdown and a positive return
  gets 1);
* ``n(Omega) = min((Omega - 1) / 4, 1)`` (gains without any losing period: 1);
* ``n(Sortino) = min(Sortino / 3, 1)``, Sortino annualised on the period grid (365-day year)
  with :func:`hean_framework.metrics.sortino_ratio` (no negative period and a positive mean: 1);
* every normalised term below 0 counts 0;
* the fitness is **0** when the run closed fewer than ``min_trades_per_week`` x (days of the
  run) / 7 trades or its max drawdown exceeds ``max_drawdown`` (``gate`` says which).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hean_framework.metrics import (
    YEAR_MS,
    compute_metrics,
    finite,
    resample,
    simple_returns,
    sortino_ratio,
)
from hean_framework.run import RunResult

from .config import SymbiontConfig
from .stats import omega, sharpe, wfa_efficiency

MINUTE_MS = 60_000


def period_returns(result: RunResult, step_ms: int) -> list[float]:
    """Simple returns of the run's equity on a grid of ``step_ms`` from the run's start."""
    pts = sorted(((int(p[0]), float(p[1])) for p in result.equity_curve
                  if finite(p[1]) is not None), key=lambda p: p[0])
    start, end = int(result.start_ts), int(result.end_ts)
    if start <= 0 and pts:
        start = pts[0][0]
    if end <= 0 and pts:
        end = pts[-1][0]
    end = max(start, end)
    init, final = finite(result.initial_capital), finite(result.final_equity)
    if init is not None and (not pts or pts[0][0] > start):
        pts.insert(0, (start, init))
    if final is not None and (not pts or pts[-1][0] < end):
        pts.append((end, final))
    return simple_returns(resample(pts, step_ms))


def _norm(x: float | None, shift: float, scale: float) -> float:
    if x is None:
        return 0.0
    return min(max((x - shift) / scale, 0.0), 1.0)


@dataclass(slots=True)
class Scorecard:
    """The composite fitness of one run and the numbers behind it."""

    fitness: float
    composite: float
    gate: str
    trades: int
    net_pnl: float | None
    max_drawdown: float | None
    calmar: float | None
    sortino: float | None
    omega: float | None
    wfa: float
    wfa_windows: int
    wfa_positive: int
    sharpe: float | None
    returns: list[float] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        """The numbers without the return series (for history and reports)."""
        return {"fitness": self.fitness, "composite": self.composite, "gate": self.gate,
                "trades": self.trades, "net_pnl": self.net_pnl,
                "max_drawdown": self.max_drawdown, "calmar": self.calmar,
                "sortino": self.sortino, "omega": self.omega, "wfa": self.wfa,
                "wfa_windows": self.wfa_windows, "wfa_positive": self.wfa_positive,
                "sharpe_per_period": self.sharpe, "periods": len(self.returns)}


def scorecard(result: RunResult, cfg: SymbiontConfig) -> Scorecard:
    """The composite fitness of ``result`` (module docstring)."""
    m = compute_metrics(result)
    step = cfg.period_minutes * MINUTE_MS
    rets = period_returns(result, step)
    ppy = YEAR_MS / step
    mdd = finite(m["max_drawdown"])
    total = finite(m["total_return"]) or 0.0
    calmar = finite(m["calmar"])
    n_calmar = 1.0 if calmar is None and mdd == 0.0 and total > 0.0 else _norm(calmar, 0.0,
                                                                                3.0)
    om = omega(rets)
    positive = any(r > 0.0 for r in rets)
    n_omega = 1.0 if om is None and positive else _norm(om, 1.0, 4.0)
    sortino = sortino_ratio(rets, ppy)
    n_sortino = 1.0 if sortino is None and positive and sum(rets) > 0.0 else _norm(sortino,
                                                                                   0.0, 3.0)
    wfa, windows, pos = wfa_efficiency(rets, cfg.wfa_min_periods, cfg.wfa_oos_periods)
    composite = (cfg.w_wfa * wfa + cfg.w_calmar * n_calmar + cfg.w_omega * n_omega
                 + cfg.w_sortino * n_sortino)
    trades = int(m["trades"] or 0)
    days = float(m["duration_days"] or 0.0)
    need = cfg.min_trades_per_week * days / 7.0
    gate = ""
    if trades < need:
        gate = f"TOO_FEW_TRADES ({trades} < {need:.1f} in {days:.1f} days)"
    elif mdd is not None and mdd > cfg.max_drawdown:
        gate = f"DRAWDOWN_TOO_DEEP ({mdd:.3f} > {cfg.max_drawdown:g})"
    fitness = 0.0 if gate else composite
    if not math.isfinite(fitness):
        fitness = 0.0
    return Scorecard(fitness, composite, gate, trades, finite(m["net_pnl"]), mdd, calmar,
                     sortino, om, wfa, windows, pos, sharpe(rets), rets)
