"""Fill quality: realized slippage vs the estimate, fed back into the cost model.

For every fill with an ``expected_price``::

    adverse_bps = (price - expected) / expected * 1e4     (buy)
                = (expected - price) / expected * 1e4     (sell)

(positive = worse than expected).  The last ``history`` values per (symbol, side) form the
"realized history" part of the cost engine's slippage blend (``0.7 * model + 0.3 *
history``, see :mod:`hean_framework.execution.costs`).

With ``raise_multiplier_when_costs_exceed`` the tracker also compares, over the last
``window`` fills that belong to a gated decision, the realized cost per fill (fee bps +
adverse slippage) with the estimate per fill (half of the decision's round-trip cost).  After
each full window where the realized mean exceeds the estimated mean the cost multiplier boost
rises by ``multiplier_step`` (capped at ``max_multiplier_boost``); after a window where it does
not, the boost falls back by one step (never below 0).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import Field

from ..components import ComponentConfig
from ..models import Fill

__all__ = ["FillQualityConfig", "FillQualityTracker"]


class FillQualityConfig(ComponentConfig):
    """Settings of the realized-slippage feedback (``fill_quality:`` in the trade gate)."""

    history: int = Field(100, ge=1, description="realized fills kept per symbol and side")
    raise_multiplier_when_costs_exceed: bool = Field(
        False, description="raise the cost multiplier while realized cost > estimate")
    window: int = Field(20, ge=1, description="fills per comparison window")
    multiplier_step: float = Field(0.5, gt=0, description="boost added per bad window")
    max_multiplier_boost: float = Field(2.0, ge=0, description="cap of the total boost")


class FillQualityTracker:
    """Per (symbol, side) realized slippage and the adaptive multiplier boost."""

    def __init__(self, config: FillQualityConfig | None = None) -> None:
        self.config = config or FillQualityConfig()
        self._hist: dict[tuple[str, str], deque[float]] = {}
        self._sums: dict[tuple[str, str], float] = {}
        #: signal_id -> estimated cost per fill in bps (set by the gate for CREATE decisions)
        self._estimates: dict[int, float] = {}
        self._win_real: list[float] = []
        self._win_est: list[float] = []
        self.boost = 0.0
        self.fills = 0
        self.raises = 0
        self.lowers = 0
        self._tot_real = 0.0
        self._tot_est = 0.0
        self._n_cmp = 0

    # ------------------------------------------------------------------ inputs

    def expect(self, signal_id: int, cost_per_fill_bps: float) -> None:
        """Remember the estimated cost per fill of a created decision (bounded memory)."""
        est = self._estimates
        est[signal_id] = cost_per_fill_bps
        if len(est) > 10_000:
            for k in list(est)[:5_000]:
                del est[k]

    def on_fill(self, fill: Fill, fee_rate_bps: float | None = None) -> float | None:
        """Record one fill; returns its adverse slippage in bps (None without an expectation)."""
        exp = fill.expected_price
        if not exp or exp <= 0.0:
            return None
        sgn = 1.0 if fill.side == "buy" else -1.0
        adverse = sgn * (fill.price - exp) / exp * 1e4
        key = (fill.symbol, fill.side)
        h = self._hist.get(key)
        if h is None:
            h = self._hist[key] = deque(maxlen=self.config.history)
            self._sums[key] = 0.0
        if len(h) == h.maxlen:
            self._sums[key] -= h[0]
        h.append(adverse)
        self._sums[key] += adverse
        self.fills += 1
        est = self._estimates.get(fill.signal_id)
        if est is not None:
            notional = abs(fill.qty * fill.price)
            fee_bps = fee_rate_bps if fee_rate_bps is not None else (
                fill.fee / notional * 1e4 if notional > 0.0 else 0.0)
            self._compare(fee_bps + adverse, est)
        return adverse

    def _compare(self, realized: float, estimated: float) -> None:
        cfg = self.config
        self._win_real.append(realized)
        self._win_est.append(estimated)
        self._tot_real += realized
        self._tot_est += estimated
        self._n_cmp += 1
        if len(self._win_real) < cfg.window:
            return
        r = sum(self._win_real) / len(self._win_real)
        e = sum(self._win_est) / len(self._win_est)
        self._win_real.clear()
        self._win_est.clear()
        if not cfg.raise_multiplier_when_costs_exceed:
            return
        if r > e:
            new = min(cfg.max_multiplier_boost, self.boost + cfg.multiplier_step)
            if new > self.boost:
                self.raises += 1
            self.boost = new
        elif self.boost > 0.0:
            self.boost = max(0.0, self.boost - cfg.multiplier_step)
            self.lowers += 1

    # ------------------------------------------------------------------ outputs

    def history(self, symbol: str, side: str) -> tuple[float, int]:
        """(mean adverse slippage bps per fill, number of fills) for the cost engine."""
        h = self._hist.get((symbol, side))
        if not h:
            return 0.0, 0
        return self._sums[(symbol, side)] / len(h), len(h)

    def stats(self) -> dict[str, Any]:
        """Realized slippage per symbol/side, the comparison and the boost."""
        per = {f"{s}:{side}": {"fills": len(h), "avg_adverse_bps": round(sum(h) / len(h), 4)}
               for (s, side), h in sorted(self._hist.items()) if h}
        n = self._n_cmp
        return {"fills": self.fills, "realized_slippage": per,
                "compared_fills": n,
                "avg_realized_cost_per_fill_bps": round(self._tot_real / n, 4) if n else None,
                "avg_estimated_cost_per_fill_bps": round(self._tot_est / n, 4) if n else None,
                "multiplier_boost": self.boost, "raises": self.raises, "lowers": self.lowers}
