"""Donchian-channel breakout, written the plain way (one ``on_bar``, a deque per symbol).

Rules, per symbol, on every closed bar:

* **channel**: the highest high and the lowest low of the ``lookback`` bars *before* this one
  (a bar is never part of its own channel);
* **ATR**: the mean true range of the last ``atr_period`` bars, this one included; true range
  = ``max(high - low, |high - previous close|, |low - previous close|)`` (``high - low`` for
  the first bar);
* no decision until both windows are full (``max(lookback + 1, atr_period)`` bars);
* **long** when the close is above the channel high, **short** when it is below the channel
  low; ``sides`` may allow only one of the two;
* no entry while the strategy already holds a position in the symbol (``ctx.portfolio``): one
  position at a time, no pyramiding;
* no entry while the symbol's regime (the shared fact ``REGIME``, published by a regime
  analyzer) is one of ``skip_regimes``; without an analyzer the regime is ``""`` and never
  matches;
* the stop is ``risk = max(stop_atr * ATR, stop_pct * close)`` from the close, the target
  ``reward_risk * risk`` on the other side, the time stop ``max_hold_bars`` bars after the entry
  fill (``0``: none).  An entry whose stop or target would not be a positive price is skipped;
* the expected edge handed to the gates is ``confidence * reward_risk * risk / close`` (in bps):
  an assumption set in the config, not a measured win rate.

The signal carries no size: the sizer sizes it from the stop distance and the strategy's
budget.  The strategy sends no exits itself: the engine places the stop and the target as
reduce-only orders after the entry fills and closes the position at the time stop.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

from pydantic import Field

from hean_framework import ComponentConfig, Strategy
from hean_framework.facts import REGIME
from hean_framework.models import Bar, Signal


class BreakoutConfig(ComponentConfig):
    """``strategies.breakout``."""

    lookback: int = Field(20, ge=5, le=200,
                          description="bars in the Donchian channel (the bars before the "
                                      "current one)")
    atr_period: int = Field(14, ge=2, le=200, description="bars in the average true range")
    stop_atr: float = Field(2.0, ge=0.1, le=10.0,
                            description="stop distance in ATRs from the entry close")
    stop_pct: float = Field(0.0, ge=0.0, le=0.05,
                            description="minimum stop distance as a fraction of the entry "
                                        "close (0: the ATR stop alone)")
    reward_risk: float = Field(2.0, ge=0.5, le=10.0,
                               description="target distance / stop distance")
    max_hold_bars: int = Field(48, ge=0, le=10_000,
                               description="time stop in bars after the entry fill (0: none)")
    sides: Literal["both", "long", "short"] = Field(
        "both", description="which breakouts to trade: both, long (up) only, short (down) only")
    confidence: float = Field(
        0.5, ge=0.05, le=1.0,
        description="assumed chance that a breakout reaches its target; the signal's expected "
                    "edge is confidence x the target distance (the trade gate compares it "
                    "with the cost)")
    prefer_maker: bool = Field(
        True, description="ask for a maker (post-only) entry; the small-capital trade gate "
                          "refuses taker entries by default")
    skip_regimes: list[str] = Field(
        default_factory=list,
        description="regimes (fact REGIME, e.g. RANGE) in which no entry is made; needs a "
                    "regime analyzer, without one nothing is skipped")


class _Window:
    """What the strategy remembers about one symbol: the channel's bars and the true ranges."""

    __slots__ = ("highs", "lows", "prev_close", "ranges")

    def __init__(self, lookback: int, atr_period: int) -> None:
        self.highs: deque[float] = deque(maxlen=lookback)
        self.lows: deque[float] = deque(maxlen=lookback)
        self.ranges: deque[float] = deque(maxlen=atr_period)
        self.prev_close: float | None = None

    def resize(self, lookback: int, atr_period: int) -> None:
        """New window lengths, keeping the newest values."""
        self.highs = deque(self.highs, maxlen=lookback)
        self.lows = deque(self.lows, maxlen=lookback)
        self.ranges = deque(self.ranges, maxlen=atr_period)


def true_range(bar: Bar, prev_close: float | None) -> float:
    """The bar's true range (``high - low`` when there is no previous close)."""
    if prev_close is None:
        return bar.high - bar.low
    return max(bar.high - bar.low, abs(bar.high - prev_close), abs(bar.low - prev_close))


class Breakout(Strategy):
    """Donchian-channel breakout with an ATR stop, a reward:risk target and a time stop."""

    config: BreakoutConfig

    def on_start(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._skip = {r.upper() for r in self.config.skip_regimes}
        self.counts = {"breakouts": 0, "in_position": 0, "regime_skipped": 0, "entries": 0}

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        accepted = super().on_params_updated(params)
        if accepted:
            cfg = self.config
            self._skip = {r.upper() for r in cfg.skip_regimes}
            for window in self._windows.values():
                window.resize(cfg.lookback, cfg.atr_period)
        return accepted

    def on_bar(self, bar: Bar) -> Signal | None:
        cfg = self.config
        window = self._windows.get(bar.symbol)
        if window is None:
            window = self._windows[bar.symbol] = _Window(cfg.lookback, cfg.atr_period)
        window.ranges.append(true_range(bar, window.prev_close))
        window.prev_close = bar.close
        signal = None
        if len(window.highs) == cfg.lookback and len(window.ranges) == cfg.atr_period:
            atr = sum(window.ranges) / len(window.ranges)
            signal = self._entry(bar, max(window.highs), min(window.lows), atr)
        # the current bar joins the channel only after it was compared with it
        window.highs.append(bar.high)
        window.lows.append(bar.low)
        return signal

    def _entry(self, bar: Bar, high: float, low: float, atr: float) -> Signal | None:
        """The entry signal of ``bar`` against the channel ``low..high``, or None."""
        cfg = self.config
        if bar.close > high and cfg.sides != "short":
            side, sign = "buy", 1.0
        elif bar.close < low and cfg.sides != "long":
            side, sign = "sell", -1.0
        else:
            return None
        self.counts["breakouts"] += 1
        if self.ctx.portfolio.position_qty(self.name, bar.symbol) != 0.0:
            self.counts["in_position"] += 1
            return None
        regime = self.ctx.facts.get(REGIME, bar.symbol)    # "" when no analyzer publishes it
        if regime and regime.upper() in self._skip:
            self.counts["regime_skipped"] += 1
            return None
        risk = max(cfg.stop_atr * atr, cfg.stop_pct * bar.close)
        stop = bar.close - sign * risk
        target = bar.close + sign * cfg.reward_risk * risk
        if risk <= 0.0 or stop <= 0.0 or target <= 0.0:
            return None
        self.counts["entries"] += 1
        hold_ms = cfg.max_hold_bars * bar.interval_ms
        edge_bps = cfg.confidence * cfg.reward_risk * risk / bar.close * 1e4
        return self.signal(
            bar.symbol, side, bar.ts, bar.close,
            stop_loss=stop, take_profit=target, max_hold_ms=hold_ms or None,
            confidence=cfg.confidence, edge_bps=edge_bps, prefer_maker=cfg.prefer_maker,
            tag="BREAKOUT_UP" if side == "buy" else "BREAKOUT_DOWN",
            metadata={"channel_high": high, "channel_low": low, "atr": atr,
                      "regime": regime})

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "counts", {}))
