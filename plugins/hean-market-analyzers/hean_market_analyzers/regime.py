"""Regime detector: a Wyckoff-style market regime per symbol, published as the kernel's
``REGIME`` / ``REGIME_CONFIDENCE`` facts.

Per symbol, on every tick (see :mod:`._ticks`), with ``r`` the log returns of consecutive tick
prices:

* over the last ``window`` returns: ``m`` = mean, ``vol`` = population standard deviation;
  ``abs_ret`` = |last return|;
* ``persistence`` = share of the last ``short_window`` returns whose sign is the sign of ``m``
  (0.5 with fewer than 3 returns or ``m == 0``);
* ``vol_change`` = mean tick volume of the last ``short_window`` ticks / mean volume of the
  earlier ticks of the ``window`` (1.0 with fewer than 2 x ``short_window`` ticks or no earlier
  volume);
* ``accel`` = |mean of the last ``short_window`` returns - mean of the ``short_window`` before|
  (0 with fewer than 2 x ``short_window`` returns);
* adaptive thresholds from the symbol's own *previous* observations (the last ``history``):
  ``vol_low`` = P25(vol), ``vol_high`` = P75(vol) (fallbacks below 10 observations),
  ``imp`` = P95(abs_ret) (fallback below 20).

The first rule that holds names the tick's candidate regime (``k`` = the exit multiplier of
the regime being tested when it is the current regime, else 1): IMPULSE, MARKUP, MARKDOWN,
DISTRIBUTION, ACCUMULATION, RANGE, else NORMAL -- formulas in the README.  A candidate that
differs from the current regime must be seen ``confirm_ticks`` ticks in a row to become
current.  Until ``min_returns`` returns are known the regime is NORMAL (or nothing is
published, ``warmup_normal: false``).

Invariants:

* all state is per symbol: two symbols never share a window, a threshold history or a regime
  (the original kept one regime for all symbols);
* O(1) work per tick for the window statistics (rolling sums of a ring buffer), O(log H) plus
  one memmove of at most H pointers for the threshold history (a sorted window);
* the features equal a from-scratch computation over the same window (tested), and the same
  ticks give the same regimes (no clock, no randomness).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from hean_framework import ComponentConfig
from hean_framework.facts import REGIME, REGIME_CONFIDENCE

from ._ticks import TickAnalyzer, TickGate, TickSource
from ._windows import MultiSum, SortedWindow

__all__ = ["RegimeDetector", "RegimeDetectorConfig", "RegimeFeatures"]

REGIMES = ("IMPULSE", "MARKUP", "MARKDOWN", "DISTRIBUTION", "ACCUMULATION", "RANGE", "NORMAL")


class RegimeDetectorConfig(ComponentConfig):
    """``analyzers.regime_detector``."""

    tick_source: TickSource = Field(
        "auto", description="what a tick is: auto (first of bars/trades per symbol), bars, "
                            "trades or quotes (mid price)")
    window: int = Field(50, ge=10, le=2000, description="returns in the main window (W)")
    short_window: int = Field(10, ge=3, le=500,
                              description="returns in the short window (w); 2w <= W")
    confirm_ticks: int = Field(5, ge=1, le=200,
                               description="ticks in a row a new regime needs to become current")
    history: int = Field(1000, ge=50, le=100_000,
                         description="observations kept for the adaptive thresholds (H)")
    min_returns: int = Field(20, ge=5, le=2000,
                             description="returns needed before classifying (<= window)")
    vol_low_pct: float = Field(25.0, ge=1.0, le=49.0,
                               description="percentile of vol that is 'low volatility'")
    vol_high_pct: float = Field(75.0, ge=51.0, le=99.0,
                                description="percentile of vol that is 'high volatility'")
    impulse_pct: float = Field(95.0, ge=50.0, le=99.9,
                               description="percentile of |return| that is an impulse")
    vol_low_fallback: float = Field(0.0008, ge=0.0, le=0.1,
                                    description="vol_low while fewer than 10 observations")
    vol_high_fallback: float = Field(0.003, ge=0.0, le=0.1,
                                     description="vol_high while fewer than 10 observations")
    impulse_fallback: float = Field(0.008, ge=0.0, le=0.5,
                                    description="impulse |return| while fewer than 20 "
                                                "observations")
    accel_floor: float = Field(0.0008, ge=0.0, le=0.1,
                               description="minimum acceleration threshold (log-return units)")
    accel_vol_mult: float = Field(2.0, ge=0.0, le=20.0,
                                  description="acceleration threshold in units of vol_low")
    trend_mult: float = Field(0.4, ge=0.0, le=10.0,
                              description="|mean return| threshold of MARKUP/MARKDOWN in units "
                                          "of vol_low")
    persistence_min: float = Field(0.65, ge=0.5, le=1.0,
                                   description="share of same-sign short returns of a trend")
    vol_change_up: float = Field(1.2, ge=1.0, le=10.0,
                                 description="volume change of ACCUMULATION (at least)")
    vol_change_down: float = Field(0.8, ge=0.0, le=1.0,
                                   description="volume change of RANGE (at most)")
    exit_impulse: float = Field(0.65, ge=0.1, le=1.0,
                                description="threshold multiplier while IMPULSE is current")
    exit_markup: float = Field(0.60, ge=0.1, le=1.0,
                               description="threshold multiplier while MARKUP is current")
    exit_markdown: float = Field(0.60, ge=0.1, le=1.0,
                                 description="threshold multiplier while MARKDOWN is current")
    exit_distribution: float = Field(0.70, ge=0.1, le=1.0,
                                     description="threshold multiplier while DISTRIBUTION is "
                                                 "current")
    exit_accumulation: float = Field(0.70, ge=0.1, le=1.0,
                                     description="threshold multiplier while ACCUMULATION is "
                                                 "current")
    exit_range: float = Field(0.80, ge=0.1, le=1.0,
                              description="threshold multiplier while RANGE is current")
    warmup_normal: bool = Field(True, description="publish NORMAL (confidence 0.3) while "
                                                  "warming up; false: publish nothing")

    @model_validator(mode="after")
    def _check(self) -> RegimeDetectorConfig:
        if 2 * self.short_window > self.window:
            raise ValueError(f"2 x short_window ({self.short_window}) must be <= window "
                             f"({self.window})")
        if self.min_returns > self.window:
            raise ValueError(f"min_returns ({self.min_returns}) must be <= window "
                             f"({self.window})")
        return self


@dataclass(frozen=True, slots=True)
class RegimeFeatures:
    """The features and thresholds of a symbol's last classified tick (for inspection)."""

    mean: float
    vol: float
    abs_ret: float
    persistence: float
    vol_change: float
    accel: float
    vol_low: float
    vol_high: float
    imp: float
    label: str  #: the tick's classification (the current regime may still differ)
    label_confidence: float


class _State:
    """One symbol's windows, threshold histories and regime."""

    __slots__ = ("abs_hist", "abs_ret", "accel", "cand", "cand_n", "changes", "conf", "imp",
                 "label", "label_conf", "last", "mean", "neg", "persistence", "pos", "regime",
                 "rets", "since", "ticks", "vol", "vol_change", "vol_high", "vol_hist",
                 "vol_low", "vols")

    def __init__(self, cfg: RegimeDetectorConfig) -> None:
        w, big = cfg.short_window, cfg.window
        self.last = 0.0
        #: returns: windows (W, w, 2w), sums of squares for vol
        self.rets = MultiSum((big, w, 2 * w), squares=True)
        #: tick volumes: windows (W, w)
        self.vols = MultiSum((big, w), nonneg=True)
        self.pos = 0  # positive returns among the last w
        self.neg = 0
        self.vol_hist = SortedWindow(cfg.history)
        self.abs_hist = SortedWindow(cfg.history)
        self.regime = ""
        self.conf = 0.0
        self.cand = ""
        self.cand_n = 0
        self.label = ""  # the last tick's classification
        self.label_conf = 0.0
        self.since = 0  # ticks since the current regime began
        self.ticks = 0
        self.changes = 0
        self.mean = self.vol = self.abs_ret = self.persistence = self.accel = 0.0
        self.vol_change = 1.0
        self.vol_low = self.vol_high = self.imp = 0.0


def _ratio(a: float, b: float) -> float:
    """a / b, +inf when b <= 0 < a, 0 when both are <= 0."""
    if b > 0.0:
        return a / b
    return math.inf if a > 0.0 else 0.0


def _clamp01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


class RegimeDetector(TickAnalyzer):
    """Per-symbol Wyckoff regime from tick returns, volume and adaptive thresholds."""

    config: RegimeDetectorConfig

    def on_start(self) -> None:
        cfg = self.config
        self._gate = TickGate(cfg.tick_source)
        self._states: dict[str, _State] = {}
        self._exit = {"IMPULSE": cfg.exit_impulse, "MARKUP": cfg.exit_markup,
                      "MARKDOWN": cfg.exit_markdown, "DISTRIBUTION": cfg.exit_distribution,
                      "ACCUMULATION": cfg.exit_accumulation, "RANGE": cfg.exit_range}

    # ------------------------------------------------------------------ market callbacks

    def tick(self, symbol: str, ts: int, price: float, volume: float,
             interval_ms: int) -> None:
        self.update(symbol, price, volume)

    # ------------------------------------------------------------------ the tick

    def update(self, symbol: str, price: float, volume: float) -> None:
        """One tick of ``symbol``: update the windows, classify, publish."""
        if not price > 0.0:
            return
        cfg = self.config
        st = self._states.get(symbol)
        if st is None:
            st = self._states[symbol] = _State(cfg)
        st.ticks += 1
        st.vols.push(volume if volume > 0.0 else 0.0)
        prev = st.last
        st.last = price
        if prev <= 0.0:
            self._warmup(symbol, st)
            return
        r = math.log(price / prev)
        rets = st.rets
        w = cfg.short_window
        old = rets.leaving(w)
        if old is not None:
            if old > 0.0:
                st.pos -= 1
            elif old < 0.0:
                st.neg -= 1
        if r > 0.0:
            st.pos += 1
        elif r < 0.0:
            st.neg += 1
        rets.push(r)
        n = rets.n
        if n < cfg.min_returns:
            self._warmup(symbol, st)
            return
        # -------- features over the windows
        nw = min(n, cfg.window)
        m = rets.sums[0] / nw
        var = rets.sqs[0] / nw - m * m
        vol = math.sqrt(var) if var > 0.0 else 0.0
        abs_ret = abs(r)
        ns = min(n, w)
        if ns < 3 or m == 0.0:
            persistence = 0.5
        else:
            persistence = (st.pos if m > 0.0 else st.neg) / ns
        vols = st.vols
        nv = min(vols.n, cfg.window)
        vol_change = 1.0
        if nv >= 2 * w and vols.nonzero[0] > vols.nonzero[1]:  # some earlier volume
            earlier = (vols.sums[0] - vols.sums[1]) / (nv - w)
            if earlier > 0.0:
                vol_change = (vols.sums[1] / w) / earlier
        accel = 0.0
        if n >= 2 * w:
            accel = abs(rets.sums[1] / w - (rets.sums[2] - rets.sums[1]) / w)
        # -------- thresholds from the previous observations, then remember this one
        vh, ah = st.vol_hist, st.abs_hist
        if len(vh) >= 10:
            vol_low = vh.percentile(cfg.vol_low_pct)
            vol_high = vh.percentile(cfg.vol_high_pct)
        else:
            vol_low, vol_high = cfg.vol_low_fallback, cfg.vol_high_fallback
        imp = ah.percentile(cfg.impulse_pct) if len(ah) >= 20 else cfg.impulse_fallback
        vh.push(vol)
        ah.push(abs_ret)
        st.mean, st.vol, st.abs_ret, st.persistence = m, vol, abs_ret, persistence
        st.vol_change, st.accel = vol_change, accel
        st.vol_low, st.vol_high, st.imp = vol_low, vol_high, imp
        label, conf = self._classify(st)
        self._transition(symbol, st, label, conf)

    def _classify(self, st: _State) -> tuple[str, float]:
        """The first regime whose rule holds, with its confidence (0..1)."""
        cfg = self.config
        cur = st.regime
        ex = self._exit
        m, vol, vol_low, vol_high = st.mean, st.vol, st.vol_low, st.vol_high
        # 1. IMPULSE
        k = ex["IMPULSE"] if cur == "IMPULSE" else 1.0
        accel_thr = max(cfg.accel_vol_mult * vol_low, cfg.accel_floor)
        if st.accel > accel_thr * k or st.abs_ret > st.imp * k:
            return "IMPULSE", _clamp01(max(_ratio(st.accel, accel_thr),
                                           _ratio(st.abs_ret, st.imp)) - 1.0)
        # 2./3. MARKUP / MARKDOWN
        if st.persistence >= cfg.persistence_min:
            if m > 0.0:
                k = ex["MARKUP"] if cur == "MARKUP" else 1.0
                thr = cfg.trend_mult * vol_low * k
                if m > thr and vol >= vol_low * k:
                    return "MARKUP", _clamp01(_ratio(m, thr) - 1.0)
            elif m < 0.0:
                k = ex["MARKDOWN"] if cur == "MARKDOWN" else 1.0
                thr = cfg.trend_mult * vol_low * k
                if -m > thr and vol >= vol_low * k:
                    return "MARKDOWN", _clamp01(_ratio(-m, thr) - 1.0)
        # 4. DISTRIBUTION
        k = ex["DISTRIBUTION"] if cur == "DISTRIBUTION" else 1.0
        if vol > vol_high * k and st.persistence < cfg.persistence_min:
            return "DISTRIBUTION", _clamp01(_ratio(vol, vol_high) - 1.0)
        # 5. ACCUMULATION
        vc = st.vol_change
        low_ratio = _ratio(vol, vol_low)
        k = ex["ACCUMULATION"] if cur == "ACCUMULATION" else 1.0
        if vol < vol_low * k and vc >= cfg.vol_change_up:
            return "ACCUMULATION", _clamp01(0.5 * (1.0 - low_ratio)
                                            + 0.5 * (vc / cfg.vol_change_up - 1.0))
        # 6. RANGE
        k = ex["RANGE"] if cur == "RANGE" else 1.0
        if vol < vol_low * k and vc <= cfg.vol_change_down:
            down = vc / cfg.vol_change_down if cfg.vol_change_down > 0.0 else 1.0
            return "RANGE", _clamp01(0.6 * (1.0 - low_ratio) + 0.4 * (1.0 - down))
        return "NORMAL", 0.3

    def _transition(self, symbol: str, st: _State, label: str, conf: float) -> None:
        """Apply the confirmation rule and publish the current regime."""
        st.label, st.label_conf = label, conf
        if not st.regime:  # first classification: no regime to hold on to
            st.regime, st.conf, st.since = label, conf, 0
            st.cand, st.cand_n = "", 0
        elif label == st.regime:
            st.conf = conf
            st.cand, st.cand_n = "", 0
        else:
            if label == st.cand:
                st.cand_n += 1
            else:
                st.cand, st.cand_n = label, 1
            if st.cand_n >= self.config.confirm_ticks:
                st.regime, st.conf, st.since = label, conf, 0
                st.cand, st.cand_n = "", 0
                st.changes += 1
        st.since += 1
        facts = self.ctx.facts
        facts.set(REGIME, st.regime, symbol)
        facts.set(REGIME_CONFIDENCE, st.conf, symbol)

    def _warmup(self, symbol: str, st: _State) -> None:
        if self.config.warmup_normal:
            facts = self.ctx.facts
            facts.set(REGIME, "NORMAL", symbol)
            facts.set(REGIME_CONFIDENCE, 0.3, symbol)

    # ------------------------------------------------------------------ reading

    def regime(self, symbol: str) -> str:
        """The current regime of ``symbol`` ('' before its first classification)."""
        st = self._states.get(symbol)
        return st.regime if st is not None else ""

    def features(self, symbol: str) -> RegimeFeatures | None:
        """Features and thresholds of ``symbol``'s last classified tick (None before one)."""
        st = self._states.get(symbol)
        if st is None or not st.regime:
            return None
        return RegimeFeatures(st.mean, st.vol, st.abs_ret, st.persistence, st.vol_change,
                              st.accel, st.vol_low, st.vol_high, st.imp,
                              st.label, st.label_conf)

    def stats(self) -> dict[str, Any]:
        states = getattr(self, "_states", {})
        return {"regime_ticks": {s: st.ticks for s, st in states.items()},
                "regime_changes": {s: st.changes for s, st in states.items()},
                "regime_current": {s: st.regime for s, st in states.items()}}
