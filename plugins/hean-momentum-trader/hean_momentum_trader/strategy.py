"""MomentumTrader: trend following with a fast z-score and slow-trend agreement.

The plugin's ``README.md`` documents the rules, the defaults and how they differ from the
original HEAN MomentumTrader.  Per symbol, on every price update (bar close or trade):

* ``fast`` window of log returns (default 20 prices -> 19 returns), ``slow`` window of prices
  (default 60);
* ``z = sum(fast returns) / (sigma_fast * sqrt(n))`` -- the fast move in units of its own noise;
* buy when ``z > z_entry`` and the slow trend ``p_last / p_first(slow) - 1 > 0``; sell when
  ``z < -z_entry`` and the slow trend is negative (the original required the *mean* tick
  return to exceed 1.5 standard deviations, which practically never happens);
* ATR estimate ``max(sigma_fast * p * sqrt(20), atr_floor_pct * p)``; stop ``sl_atr * ATR``,
  target ``tp_atr * ATR`` (R:R 2 by default; the original's 2/3 ATR gave 1.5, below the
  risk layer's minimum of 2);
* the regime is read **per symbol** from the fact ``REGIME`` (``ctx.facts``) when a regime
  analyzer is installed, and checked against regime *families* (:data:`FAMILIES`); without one
  the check passes (the original kept one regime for all symbols: the last one reported);
* cooldown per symbol and a cap of signals per symbol per rolling 24 h;
* ``confidence = 0.3 + 0.6 * s`` and ``urgency = min(1, 0.4 + 0.3 * s)`` with
  ``s = min(|z| / z_entry, 3) / 3``; ``edge_bps`` = target distance in bps x confidence;
* maker preferred, taker when ``urgency >= 0.7`` (i.e. ``|z| >= 3 * z_entry``).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import Any

from pydantic import Field, model_validator

from hean_framework import ComponentConfig, Strategy
from hean_framework.facts import REGIME
from hean_framework.models import Bar, Signal, Trade

#: Regime families: whitelists name families, so the Wyckoff labels of a regime analyzer
#: (ACCUMULATION, MARKUP, ...) do not silently fall outside a list of RANGE/NORMAL/IMPULSE.
FAMILIES: dict[str, set[str]] = {
    "RANGE_LIKE": {"RANGE", "ACCUMULATION"},
    "TREND": {"MARKUP", "MARKDOWN"},
    "VOLATILE": {"IMPULSE", "DISTRIBUTION"},
    "NEUTRAL": {"NORMAL"},
}
DAY_MS = 86_400_000


class MomentumTraderConfig(ComponentConfig):
    """``strategies.momentum_trader``: keys and defaults (table in the plugin's README.md)."""

    fast: int = Field(20, ge=3, le=500, description="prices in the fast window")
    slow: int = Field(60, ge=4, le=5000, description="prices in the slow window")
    z_entry: float = Field(2.0, gt=0, le=10, description="|z| needed to enter")
    cooldown_s: float = Field(120.0, ge=0, description="seconds between signals per symbol")
    max_signals_per_day: int = Field(8, ge=1, description="per symbol, rolling 24 h")
    sl_atr: float = Field(1.5, gt=0, le=20, description="stop distance in ATRs")
    tp_atr: float = Field(3.0, gt=0, le=50, description="target distance in ATRs")
    atr_floor_pct: float = Field(0.005, ge=0, le=0.1, description="ATR floor as a price "
                                 "fraction")
    regime_families: list[str] = Field(
        default_factory=lambda: ["NEUTRAL", "TREND", "VOLATILE"],
        description="regime families in which the strategy may trade")
    max_hold_s: float | None = Field(None, gt=0, description="time stop in seconds")

    @model_validator(mode="after")
    def _check(self) -> MomentumTraderConfig:
        if self.slow <= self.fast:
            raise ValueError(f"slow ({self.slow}) must be greater than fast ({self.fast})")
        bad = [f for f in self.regime_families if f not in FAMILIES]
        if bad:
            raise ValueError(f"unknown regime families {bad}; allowed: {sorted(FAMILIES)}")
        return self


class _SymbolBook:
    __slots__ = ("last_signal", "prices", "recent")

    def __init__(self, slow: int) -> None:
        self.prices: deque[float] = deque(maxlen=slow)
        self.last_signal = -(1 << 62)
        self.recent: deque[int] = deque()


class MomentumTrader(Strategy):
    """Trend following: fast z-score with slow-trend agreement (rules in the module docstring)."""

    config: MomentumTraderConfig

    def on_start(self) -> None:
        self._books: dict[str, _SymbolBook] = {}
        self._allowed = set().union(*(FAMILIES[f] for f in self.config.regime_families))
        self.counts = {"evaluations": 0, "regime_blocked": 0, "cooldown": 0, "daily_cap": 0,
                       "levels_out_of_range": 0}

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        accepted = super().on_params_updated(params)
        if accepted:
            self.on_start()
        return accepted

    def on_bar(self, bar: Bar) -> Signal | None:
        return self._on_price(bar.symbol, bar.ts, bar.close)

    def on_trade(self, trade: Trade) -> Signal | None:
        return self._on_price(trade.symbol, trade.ts, trade.price)

    def _on_price(self, symbol: str, ts: int, price: float) -> Signal | None:
        cfg = self.config
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = _SymbolBook(cfg.slow)
        prices = book.prices
        prices.append(price)
        if len(prices) < cfg.slow:
            return None
        self.counts["evaluations"] += 1
        fast = list(prices)[-cfg.fast:]
        rets = [math.log(b / a) for a, b in itertools.pairwise(fast)]
        n = len(rets)
        mean = sum(rets) / n
        sigma = math.sqrt(sum((r - mean) ** 2 for r in rets) / n)
        if sigma <= 0.0:
            return None
        z = sum(rets) / (sigma * math.sqrt(n))
        slow_trend = price / prices[0] - 1.0
        if z > cfg.z_entry and slow_trend > 0:
            side = "buy"
        elif z < -cfg.z_entry and slow_trend < 0:
            side = "sell"
        else:
            return None
        regime = self.ctx.facts.get(REGIME, symbol)
        if regime and regime.upper() not in self._allowed:
            self.counts["regime_blocked"] += 1
            return None
        if ts - book.last_signal < cfg.cooldown_s * 1000:
            self.counts["cooldown"] += 1
            return None
        recent = book.recent
        while recent and recent[0] <= ts - DAY_MS:
            recent.popleft()
        if len(recent) >= cfg.max_signals_per_day:
            self.counts["daily_cap"] += 1
            return None
        book.last_signal = ts
        recent.append(ts)
        atr = max(sigma * price * math.sqrt(20), cfg.atr_floor_pct * price)
        sgn = 1.0 if side == "buy" else -1.0
        stop = price - sgn * cfg.sl_atr * atr
        target = price + sgn * cfg.tp_atr * atr
        if stop <= 0.0 or target <= 0.0:  # an ATR this wide puts a level below zero
            self.counts["levels_out_of_range"] += 1
            return None
        strength = min(abs(z) / cfg.z_entry, 3.0) / 3.0
        confidence = 0.3 + 0.6 * strength
        urgency = min(1.0, 0.4 + 0.3 * strength)
        edge_bps = cfg.tp_atr * atr / price * 1e4 * confidence
        return self.signal(
            symbol, side, ts, price, stop_loss=stop, take_profit=target,
            confidence=confidence, urgency=urgency, prefer_maker=urgency < 0.7,
            edge_bps=edge_bps,
            max_hold_ms=int(cfg.max_hold_s * 1000) if cfg.max_hold_s else None,
            tag="momentum", metadata={"z": round(z, 4), "slow_trend": round(slow_trend, 6),
                                      "atr": atr, "regime": regime})

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "counts", {}))
