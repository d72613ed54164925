"""Multi-factor confirmation: six factor scores per symbol, published on every tick as
``CONFIRMATION`` (a :class:`~hean_market_analyzers.facts.Confirmation`).

Factors (each 0..1; "aligned" = pointing the way of the side asked about):

* **momentum** -- ``s`` = mean of the last ``momentum_short`` prices, ``l`` = mean of the last
  ``momentum_long`` (fewer at the start), ``d = |s - l| / l``; the side ``s - l`` points to
  scores ``min(1, 0.6 + 4 d)``, the other ``max(0.2, 0.5 - 2 d)``; 0.5 for both with fewer than
  ``momentum_short`` prices or ``s == l``;
* **volume** -- ``r`` = this tick's volume / mean of the previous ``volume_window`` volumes
  (``r = 1`` for a zero volume); ``min(1, 0.5 + 0.3 (r - 1))`` when ``r >= 1``, else
  ``max(0.2, 0.5 - 0.4 (1 - r))``; 0.5 with fewer than 5 previous volumes or a zero mean;
* **ofi** -- from the ``OFI`` fact: aligned ``min(1, 0.6 + 0.4 |ofi|)``, against
  ``max(0.2, 0.5 - 0.3 |ofi|)``; 0.5 when ``OFI_SOURCE`` is unknown or ``ofi == 0``;
* **regime** -- from the ``REGIME`` fact, a table per signal type (momentum, mean_reversion,
  breakout, default; README), 0.7 for an unknown regime;
* **volatility** -- the percentile of the short volatility (population std of the last
  ``vol_short`` log returns) among the symbol's last ``vol_history`` short volatilities,
  itself included: 30..70 -> 0.9, 20..30 or 70..80 -> 0.7, else 0.5; 0.5 with fewer than
  ``vol_min_history`` values (the original always passed percentile 50);
* **time** -- ``score_in_hours`` when the tick's UTC hour is in one of ``active_hours``
  (inclusive ``[first, last]`` pairs), else ``score_out_hours``.

The total is the weighted mean; a side is confirmed when the total reaches ``threshold`` and
every factor in ``required_factors`` reaches ``required_min``.  The published object carries
the factor scores, the weights and the thresholds, so a strategy asks
``conf.confirmed(side, signal_type)`` for its own side and type.  List the OFI monitor and the
regime detector before this analyzer so that it reads their facts of the same tick.

Invariants:

* per-symbol state; means and standard deviations are rolling sums (O(1) per tick), the
  percentile a sorted window (O(log H) plus one memmove); every factor equals a from-scratch
  computation over the same window (tested);
* every factor is in ``[0.2, 1]`` (time: the two configured scores), the total in ``[0, 1]``;
* nobody publishing gives the neutral confirmation (score 0.5, confirmed, confidence 0.5).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from hean_framework import ComponentConfig
from hean_framework.facts import REGIME

from ._ticks import TickAnalyzer, TickGate, TickSource
from ._windows import MultiSum, SortedWindow
from .facts import CONFIRMATION, OFI, OFI_SOURCE, Confirmation

__all__ = ["MultiFactorConfig", "MultiFactorConfirmation", "momentum_scores", "ofi_scores",
           "volatility_score", "volume_score"]

HOUR_MS = 3_600_000
Factor = Literal["momentum", "volume", "ofi", "regime", "volatility", "time"]


class MultiFactorConfig(ComponentConfig):
    """``analyzers.multi_factor``."""

    tick_source: TickSource = Field(
        "auto", description="what a tick is: auto (first of bars/trades per symbol), bars, "
                            "trades or quotes (mid price)")
    momentum_short: int = Field(10, ge=2, le=500, description="prices in the short mean")
    momentum_long: int = Field(50, ge=3, le=5000, description="prices in the long mean")
    volume_window: int = Field(20, ge=5, le=1000, description="previous volumes averaged")
    vol_short: int = Field(10, ge=2, le=500,
                           description="log returns in the short volatility")
    vol_history: int = Field(1000, ge=20, le=100_000,
                             description="short volatilities kept for the percentile")
    vol_min_history: int = Field(20, ge=2, le=100_000,
                                 description="short volatilities needed for a percentile")
    w_momentum: float = Field(1.0, ge=0.0, le=5.0, description="weight of momentum")
    w_volume: float = Field(0.8, ge=0.0, le=5.0, description="weight of volume")
    w_ofi: float = Field(1.2, ge=0.0, le=5.0, description="weight of order-flow imbalance")
    w_regime: float = Field(0.9, ge=0.0, le=5.0, description="weight of the regime")
    w_volatility: float = Field(0.7, ge=0.0, le=5.0, description="weight of volatility")
    w_time: float = Field(0.5, ge=0.0, le=5.0, description="weight of the time of day")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="total needed to confirm")
    required_factors: list[Factor] = Field(
        default_factory=list, description="factors that must each reach required_min")
    required_min: float = Field(0.5, ge=0.0, le=1.0,
                                description="minimum score of a required factor")
    active_hours: list[tuple[int, int]] = Field(
        default_factory=lambda: [(8, 12), (13, 17), (20, 23)],
        description="UTC hour ranges [first, last] (inclusive) of the favourable session")
    score_in_hours: float = Field(0.9, ge=0.0, le=1.0,
                                  description="time score inside active_hours")
    score_out_hours: float = Field(0.6, ge=0.0, le=1.0,
                                   description="time score outside active_hours")

    @model_validator(mode="after")
    def _check(self) -> MultiFactorConfig:
        if self.momentum_long < self.momentum_short:
            raise ValueError(f"momentum_long ({self.momentum_long}) must be >= momentum_short "
                             f"({self.momentum_short})")
        if self.vol_min_history > self.vol_history:
            raise ValueError(f"vol_min_history ({self.vol_min_history}) must be <= "
                             f"vol_history ({self.vol_history})")
        for a, b in self.active_hours:
            if not (0 <= a <= b <= 23):
                raise ValueError(f"active_hours: [{a}, {b}] is not a range of UTC hours "
                                 "0 <= first <= last <= 23")
        return self


# ---------------------------------------------------------------------- factor formulas


def momentum_scores(short_mean: float, long_mean: float) -> tuple[float, float]:
    """(buy, sell) momentum scores from the short and long price means."""
    if long_mean <= 0.0 or short_mean == long_mean:
        return 0.5, 0.5
    d = abs(short_mean - long_mean) / long_mean
    up, down = min(1.0, 0.6 + 4.0 * d), max(0.2, 0.5 - 2.0 * d)
    return (up, down) if short_mean > long_mean else (down, up)


def volume_score(current: float, prev_mean: float) -> float:
    """Volume score of a tick volume against the mean of the previous volumes."""
    if prev_mean <= 0.0:
        return 0.5
    r = current / prev_mean if current > 0.0 else 1.0
    if r >= 1.0:
        return min(1.0, 0.5 + 0.3 * (r - 1.0))
    return max(0.2, 0.5 - 0.4 * (1.0 - r))


def ofi_scores(ofi: float) -> tuple[float, float]:
    """(buy, sell) OFI scores of a known imbalance."""
    a = abs(ofi)
    up, down = min(1.0, 0.6 + 0.4 * a), max(0.2, 0.5 - 0.3 * a)
    if ofi > 0.0:
        return up, down
    if ofi < 0.0:
        return down, up
    return 0.5, 0.5


def volatility_score(pct: float) -> float:
    """Score of a volatility percentile (0..100): mid-range volatility is best."""
    if 30.0 <= pct <= 70.0:
        return 0.9
    if 20.0 <= pct <= 80.0:
        return 0.7
    return 0.5


class _Sym:
    __slots__ = ("last", "prices", "rets", "vhist", "volumes")

    def __init__(self, cfg: MultiFactorConfig) -> None:
        self.last = 0.0
        self.prices = MultiSum((cfg.momentum_short, cfg.momentum_long))
        self.volumes = MultiSum((cfg.volume_window,), nonneg=True)
        self.rets = MultiSum((cfg.vol_short,), squares=True)
        self.vhist = SortedWindow(cfg.vol_history)


class MultiFactorConfirmation(TickAnalyzer):
    """Per-symbol factor scores of a buy and a sell, for any signal type."""

    config: MultiFactorConfig

    def on_start(self) -> None:
        cfg = self.config
        self._gate = TickGate(cfg.tick_source)
        self._syms: dict[str, _Sym] = {}
        self._weights = (cfg.w_momentum, cfg.w_volume, cfg.w_ofi, cfg.w_regime,
                         cfg.w_volatility, cfg.w_time)
        self._required = tuple(dict.fromkeys(cfg.required_factors))
        hours = [False] * 24
        for a, b in cfg.active_hours:
            for h in range(a, b + 1):
                hours[h] = True
        self._hours = hours
        self.published = 0

    def tick(self, symbol: str, ts: int, price: float, volume: float,
             interval_ms: int) -> None:
        self.update(symbol, ts, price, volume)

    def update(self, symbol: str, ts: int, price: float, volume: float) -> None:
        """One tick of ``symbol``: update the windows and publish the factor scores."""
        if not price > 0.0:
            return
        cfg = self.config
        s = self._syms.get(symbol)
        if s is None:
            s = self._syms[symbol] = _Sym(cfg)
        # momentum
        p = s.prices
        p.push(price)
        if p.n >= cfg.momentum_short:
            mom_buy, mom_sell = momentum_scores(p.sums[0] / cfg.momentum_short,
                                                p.sums[1] / p.count(1))
        else:
            mom_buy = mom_sell = 0.5
        # volume: against the previous volumes, then remember this one
        v = s.volumes
        vol_score = volume_score(volume, v.sums[0] / v.count(0)) if v.n >= 5 else 0.5
        v.push(volume if volume > 0.0 else 0.0)
        # volatility percentile
        vol_f, pct = 0.5, -1.0
        if s.last > 0.0:
            r = s.rets
            r.push(math.log(price / s.last))
            if r.n >= cfg.vol_short:
                k = cfg.vol_short
                m = r.sums[0] / k
                var = r.sqs[0] / k - m * m
                sv = math.sqrt(var) if var > 0.0 else 0.0
                h = s.vhist
                h.push(sv)
                if len(h) >= cfg.vol_min_history:
                    pct = h.rank_pct(sv)
                    vol_f = volatility_score(pct)
        s.last = price
        # facts of the other analyzers
        facts = self.ctx.facts
        if facts.get(OFI_SOURCE, symbol):
            ofi_buy, ofi_sell = ofi_scores(facts.get(OFI, symbol))
        else:
            ofi_buy = ofi_sell = 0.5
        regime = facts.get(REGIME, symbol)
        t = cfg.score_in_hours if self._hours[(ts // HOUR_MS) % 24] else cfg.score_out_hours
        self.published += 1
        facts.set(CONFIRMATION, Confirmation(
            True, mom_buy, mom_sell, vol_score, ofi_buy, ofi_sell, regime, vol_f, pct, t,
            self._weights, cfg.threshold, self._required, cfg.required_min), symbol)

    def stats(self) -> dict[str, Any]:
        return {"confirmations_published": getattr(self, "published", 0)}
