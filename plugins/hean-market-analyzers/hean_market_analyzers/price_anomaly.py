"""Price-anomaly detector: flags abnormal price updates per symbol and blocks trading after a
spike, published as ``ANOMALY``, ``ANOMALY_SCORE``, ``ANOMALY_BLOCKED_UNTIL`` and
``ANOMALY_SIZE_MULTIPLIER``.

Per symbol, on every tick, with ``d = p / p_prev - 1`` (the change since the previous tick):

* ``|d| >= spike_pct``: **SPIKE** (**FLASH_CRASH** when ``d <= -crash_pct``); trading in the
  symbol is blocked for ``block_s`` seconds and the anomaly count grows by one;
* else ``|d| >= gap_pct``: **GAP**, the count grows by one, no block;
* else, with at least ``z_min_history`` earlier changes, ``z = |d - mean| / std`` of the last
  ``z_window`` earlier changes ``>= z_threshold``: **STAT_GAP** (a warning; not counted);
* else more than ``stale_s`` seconds since the previous tick (for candles: more than
  ``max(stale_s, stale_bars x interval)``): **STALE** (a warning);
* else ``''``.

``ANOMALY_SCORE`` is ``z`` (0 until enough history).  The size multiplier is 1 with no counted
anomaly, 0.75 from 1, 0.5 from 3, 0.25 from 5, and 0 while blocked
(:func:`size_multiplier`).  The count is reset when a round trip in the symbol closes with a
positive net PnL (``reset_on_win``) and, with ``count_window_s > 0``, counts only anomalies of
that many recent seconds.

Invariants:

* one detector per run sees each tick once (the original ran a shared detector inside every
  strategy, so all strategies but the first saw a zero change);
* per-symbol state; mean and std of the changes are rolling sums over a ring buffer (O(1) per
  tick) and equal a from-scratch computation over the previous ``z_window`` changes (tested);
* the block is a timestamp, so a reader at any later time gets the right answer from
  :func:`is_blocked` / :func:`size_multiplier` without waiting for the next tick.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from pydantic import Field, model_validator

from hean_framework import ComponentConfig
from hean_framework.facts import Facts
from hean_framework.models import ClosedTrade

from ._ticks import TickAnalyzer, TickGate, TickSource
from ._windows import MultiSum
from .facts import ANOMALY, ANOMALY_BLOCKED_UNTIL, ANOMALY_SCORE, ANOMALY_SIZE_MULTIPLIER

__all__ = ["PriceAnomalyConfig", "PriceAnomalyDetector", "is_blocked", "multiplier_of_count",
           "size_multiplier"]


class PriceAnomalyConfig(ComponentConfig):
    """``analyzers.price_anomaly``."""

    tick_source: TickSource = Field(
        "auto", description="what a tick is: auto (first of bars/trades per symbol), bars, "
                            "trades or quotes (mid price)")
    spike_pct: float = Field(0.05, ge=0.001, le=0.5,
                             description="|change| that is a spike (blocks trading)")
    crash_pct: float = Field(0.10, ge=0.001, le=0.9,
                             description="fall that makes a spike a flash crash")
    gap_pct: float = Field(0.02, ge=0.0005, le=0.5, description="|change| that is a gap")
    z_threshold: float = Field(4.0, ge=1.0, le=50.0,
                               description="|z| of a change that is a statistical gap")
    z_window: int = Field(100, ge=5, le=100_000, description="earlier changes in the z window")
    z_min_history: int = Field(20, ge=2, le=100_000,
                               description="earlier changes needed before z is computed")
    stale_s: float = Field(60.0, ge=0.1, le=86_400.0,
                           description="seconds without a tick that make the next one stale")
    stale_bars: float = Field(2.0, ge=1.0, le=1000.0,
                              description="candles: intervals without a bar that make the next "
                                          "one stale")
    block_s: float = Field(300.0, ge=0.0, le=86_400.0,
                           description="seconds a spike blocks trading")
    count_window_s: float = Field(0.0, ge=0.0, le=30 * 86_400.0,
                                  description="seconds an anomaly counts (0: until a winning "
                                              "trade resets the count)")
    reset_on_win: bool = Field(True, description="a winning round trip in the symbol resets its "
                                                 "anomaly count")

    @model_validator(mode="after")
    def _check(self) -> PriceAnomalyConfig:
        if not self.gap_pct <= self.spike_pct <= self.crash_pct:
            raise ValueError(f"need gap_pct <= spike_pct <= crash_pct, got {self.gap_pct}, "
                             f"{self.spike_pct}, {self.crash_pct}")
        if self.z_min_history > self.z_window:
            raise ValueError(f"z_min_history ({self.z_min_history}) must be <= z_window "
                             f"({self.z_window})")
        return self


def multiplier_of_count(count: int) -> float:
    """1, 0.75 (>= 1 anomaly), 0.5 (>= 3), 0.25 (>= 5)."""
    if count >= 5:
        return 0.25
    if count >= 3:
        return 0.5
    if count >= 1:
        return 0.75
    return 1.0


def is_blocked(facts: Facts, symbol: str, now: int) -> bool:
    """Whether a spike blocks trading ``symbol`` at ``now`` (False without the detector)."""
    return now < facts.get(ANOMALY_BLOCKED_UNTIL, symbol)


def size_multiplier(facts: Facts, symbol: str, now: int) -> float:
    """The effective anomaly size multiplier at ``now``: 0 while blocked, else the count's."""
    if now < facts.get(ANOMALY_BLOCKED_UNTIL, symbol):
        return 0.0
    return facts.get(ANOMALY_SIZE_MULTIPLIER, symbol)


class _Sym:
    __slots__ = ("blocked_until", "changes", "count", "events", "kind", "last", "last_ts",
                 "mult", "n_kinds")

    def __init__(self, window: int) -> None:
        self.last = 0.0
        self.last_ts = 0
        self.changes = MultiSum((window,), squares=True)
        self.count = 0
        self.events: deque[int] = deque()  # times of counted anomalies (count_window_s)
        self.blocked_until = 0
        self.kind = ""
        self.mult = 1.0
        self.n_kinds: dict[str, int] = {}


class PriceAnomalyDetector(TickAnalyzer):
    """Spikes, flash crashes, gaps, statistical gaps and stale prices per symbol."""

    config: PriceAnomalyConfig

    def on_start(self) -> None:
        self._gate = TickGate(self.config.tick_source)
        self._syms: dict[str, _Sym] = {}

    def tick(self, symbol: str, ts: int, price: float, volume: float,
             interval_ms: int) -> None:
        self.update(symbol, ts, price, interval_ms)

    def on_position_closed(self, trade: ClosedTrade) -> None:
        """A winning round trip resets the symbol's anomaly count (``reset_on_win``)."""
        if not self.config.reset_on_win or not trade.net_pnl > 0.0:
            return
        s = self._syms.get(trade.symbol)
        if s is not None and s.count:
            s.count = 0
            s.events.clear()
            self._set_mult(trade.symbol, s)

    def update(self, symbol: str, ts: int, price: float, interval_ms: int = 0) -> None:
        """One tick of ``symbol``: classify the change since the previous tick, publish."""
        if not price > 0.0:
            return
        cfg = self.config
        s = self._syms.get(symbol)
        if s is None:
            s = self._syms[symbol] = _Sym(cfg.z_window)
        prev, prev_ts = s.last, s.last_ts
        s.last, s.last_ts = price, ts
        if prev <= 0.0:
            return
        d = price / prev - 1.0
        ch = s.changes
        z = 0.0
        if ch.n >= cfg.z_min_history:
            n = ch.count(0)
            m = ch.sums[0] / n
            var = ch.sqs[0] / n - m * m
            sd = math.sqrt(var) if var > 0.0 else 0.0
            if sd > 1e-15:
                z = abs(d - m) / sd
        ch.push(d)
        ad = abs(d)
        counted = False
        if ad >= cfg.spike_pct:
            kind = "FLASH_CRASH" if d <= -cfg.crash_pct else "SPIKE"
            s.blocked_until = max(s.blocked_until, ts + int(cfg.block_s * 1000))
            self.ctx.facts.set(ANOMALY_BLOCKED_UNTIL, s.blocked_until, symbol)
            counted = True
        elif ad >= cfg.gap_pct:
            kind = "GAP"
            counted = True
        elif z >= cfg.z_threshold:
            kind = "STAT_GAP"
        else:
            limit = cfg.stale_s * 1000.0
            if interval_ms:
                limit = max(limit, cfg.stale_bars * interval_ms)
            kind = "STALE" if ts - prev_ts > limit else ""
        if kind:
            s.n_kinds[kind] = s.n_kinds.get(kind, 0) + 1
        window_ms = cfg.count_window_s * 1000.0
        if counted:
            s.count += 1
            if window_ms:
                s.events.append(ts)
        if window_ms:
            ev = s.events
            while ev and ev[0] <= ts - window_ms:
                ev.popleft()
            s.count = len(ev)
        facts = self.ctx.facts
        if kind != s.kind:
            s.kind = kind
            facts.set(ANOMALY, kind, symbol)
        facts.set(ANOMALY_SCORE, z, symbol)
        self._set_mult(symbol, s)

    def _set_mult(self, symbol: str, s: _Sym) -> None:
        mult = multiplier_of_count(s.count)
        if mult != s.mult:
            s.mult = mult
            self.ctx.facts.set(ANOMALY_SIZE_MULTIPLIER, mult, symbol)

    def count(self, symbol: str) -> int:
        """The symbol's counted anomalies."""
        s = self._syms.get(symbol)
        return s.count if s is not None else 0

    def stats(self) -> dict[str, Any]:
        syms = getattr(self, "_syms", {})
        return {"anomalies": {k: dict(sorted(s.n_kinds.items())) for k, s in syms.items()
                              if s.n_kinds}}
