"""LiquiditySweep: fade a stop run through a key level once the price is back on its side.

Per symbol, on every *tick*: a closed candle, or (on trades) a ``trade_tick_ms`` bucket of
trades with its high, low, last price and summed size -- each trade alone with
``trade_tick_ms: 0``.  ``tick_source: auto`` takes, per symbol, the first of bars or trades and
ignores the other kind from then on.

Levels (module :mod:`.levels`):

* **round numbers**: multiples of the smallest ``{1, 2, 2.5, 5} x 10^k`` step that is at least
  ``round_min_pct`` of the current price: the nearest multiple and ``round_levels_each_side``
  multiples on each side of it;
* **session levels**: the high and the low of each completed UTC session of
  ``session_minutes``, the newest ``session_levels_keep`` kept, a new one dropped when it is
  within ``session_merge_pct`` of a kept one;
* only levels within ``level_band_pct`` of the current price count.

A **sweep** of level ``L``, with ``p`` the current tick's close and ``pen = sweep_pct``, by one
of the last ``lookback_ticks`` ticks ``i`` (the current one included):

* *up-sweep* (sell): the close before tick ``i`` was below ``L``, tick ``i`` reached
  ``L x (1 + pen)`` (its high) and ``p < L``;
* *down-sweep* (buy): the close before ``i`` was above ``L``, tick ``i`` reached
  ``L x (1 - pen)`` (its low) and ``p > L``.

"Below", "above" and "reached" allow for float rounding (1e-9 relative): a close exactly at the
level is on neither side, at any price scale.

**One sweep per tick**: the swept level nearest to ``p`` (then session levels before round
ones, then the lower price), and for it the most recent sweeping tick; other levels swept on the
same tick are counted (``extra_levels_swept``) and dropped.  The sweep then meets, in this
order, each check below; the first that fails is counted under its name in :meth:`stats` and no
signal is produced.  A refused sweep is not consumed: a later tick may still trade it.

``already_traded``  its sweeping tick is not newer than the one of the last signal (a stop run
                    is traded once);
``in_position``     the strategy holds the symbol;
``cooldown``        less than ``cooldown_s`` since the symbol's last signal;
``daily_cap``       ``max_signals_per_day`` signals already this UTC day (whole strategy);
``no_volume``       no real volume: the mean volume of the ``volume_window`` ticks before the
                    window is 0 (e.g. candles without volume) -- nothing is assumed instead;
``volume_low``      the sweeping tick's volume is below ``volume_spike`` x that mean;
``regime_blocked``  the symbol's ``REGIME`` fact is published and not in ``regime_families``;
``anomaly_blocked`` the price-anomaly analyzer blocks the symbol now (when installed);
``ofi_against``     ``ofi_confirm`` on, the book imbalance is known and not beyond ``ofi_min``
                    in the trade's direction (unknown: the check is skipped);
``bad_prices``      the stop or target would not be a positive price.

The signal: entry at ``p``; stop ``stop_beyond_pct`` beyond the swept level (above it for a
sell); target ``max(tp_pct x p, min_reward_risk x risk)`` from the entry; time stop
``max_hold_s``; ``size_multiplier = min(2, 1 + max(0, (spike - volume_spike) / 2))`` times the
anomaly analyzer's size multiplier; ``edge_bps = confidence x`` target distance in bps; maker
entry when ``prefer_maker``.

State per symbol is a few ring buffers of ``lookback_ticks + 1`` values and a rolling volume sum:
O(1) per tick (at most ``2 x round_levels_each_side + 1 + session_levels_keep`` levels x
``lookback_ticks`` comparisons, and none on the ticks whose window cannot hold a sweep).
"""

from __future__ import annotations

import importlib
import math
from collections import deque
from itertools import islice
from typing import Any, Literal

from pydantic import Field, field_validator

from hean_framework import ComponentConfig, Strategy
from hean_framework.facts import REGIME
from hean_framework.models import Bar, Signal, Trade

from .levels import ROUND, SESSION_HIGH, SESSION_LOW, Sessions, round_interval, round_levels_between

#: Regime families: a whitelist names families, so the Wyckoff labels of a regime analyzer
#: (ACCUMULATION, MARKUP, ...) never fall silently outside a list written as NORMAL/IMPULSE.
FAMILIES: dict[str, frozenset[str]] = {
    "RANGE_LIKE": frozenset({"RANGE", "ACCUMULATION"}),
    "TREND": frozenset({"MARKUP", "MARKDOWN"}),
    "VOLATILE": frozenset({"IMPULSE", "DISTRIBUTION"}),
    "NEUTRAL": frozenset({"NORMAL"}),
}
DAY_MS = 86_400_000
#: exact re-sum of the rolling volume sum every this many ticks (no drift from float rounding)
RESUM_EVERY = 4096
#: relative tolerance of "below / above / reached a level": a price within 1e-9 of a level is
#: at the level (so a close exactly on a round number is on no side, at any price scale)
_UP_EPS = 1.0 + 1e-9
_DOWN_EPS = 1.0 - 1e-9
#: order of level kinds when two swept levels are equally near the price
_KIND_ORDER = {SESSION_HIGH: 0, SESSION_LOW: 0, ROUND: 1}

#: keys whose change restarts the per-symbol windows (see ``on_params_updated``)
SHAPE_KEYS = ("lookback_ticks", "volume_window", "session_minutes", "session_levels_keep",
              "session_merge_pct", "use_session_levels", "tick_source", "trade_tick_ms")
#: reasons a sweep produced no signal, in the order they are checked
SKIP_REASONS = ("already_traded", "in_position", "cooldown", "daily_cap", "no_volume",
                "volume_low", "regime_blocked", "anomaly_blocked", "ofi_against", "bad_prices")


class LiquiditySweepConfig(ComponentConfig):
    """``strategies.liquidity_sweep`` (the table in the plugin's README.md)."""

    # ---------------------------------------------------------------- levels
    use_round_levels: bool = Field(True, description="trade sweeps of round-number levels")
    round_min_pct: float = Field(
        0.002, ge=0.0005, le=0.02,
        description="round levels are multiples of the smallest {1, 2, 2.5, 5} x 10^k step "
                    "that is at least this fraction of the price")
    round_levels_each_side: int = Field(
        2, ge=1, le=10, description="round levels considered on each side of the price")
    use_session_levels: bool = Field(
        True, description="trade sweeps of completed sessions' highs and lows")
    session_minutes: int = Field(
        240, ge=15, le=1440,
        description="length of a UTC session whose high and low become levels (240: 4 h "
                    "candles, 1440: daily)")
    session_levels_keep: int = Field(
        24, ge=2, le=200, description="session levels kept per symbol (newest)")
    session_merge_pct: float = Field(
        0.0005, ge=0.0, le=0.005,
        description="a session level within this fraction of a kept level is not added")
    level_band_pct: float = Field(
        0.02, ge=0.002, le=0.1,
        description="only levels within this fraction of the current price are considered")
    # ---------------------------------------------------------------- the sweep
    sweep_pct: float = Field(
        0.002, ge=0.001, le=0.005,
        description="penetration beyond the level that makes a sweep (fraction of the level)")
    lookback_ticks: int = Field(
        5, ge=1, le=50, description="ticks (the current one included) searched for the sweep")
    volume_window: int = Field(
        20, ge=5, le=1000,
        description="ticks before the sweep window whose mean volume is the baseline")
    volume_spike: float = Field(
        1.5, ge=1.2, le=3.0,
        description="the sweeping tick's volume must be at least this x the baseline")
    # ---------------------------------------------------------------- limits
    cooldown_s: float = Field(600.0, ge=60.0, le=3600.0,
                              description="seconds between two signals of a symbol")
    max_signals_per_day: int = Field(100, ge=1, le=1000,
                                     description="signals of the strategy per UTC day")
    regime_families: list[str] = Field(
        default_factory=lambda: ["NEUTRAL", "TREND", "VOLATILE"],
        description="regime families (fact REGIME) in which the strategy trades: RANGE_LIKE, "
                    "TREND, VOLATILE, NEUTRAL; without a regime analyzer every tick passes")
    ofi_confirm: bool = Field(
        False, description="require the book imbalance (fact OFI of hean-market-analyzers) "
                           "beyond ofi_min in the trade's direction when it is known")
    ofi_min: float = Field(0.2, ge=0.0, le=1.0, description="|OFI| needed with ofi_confirm")
    respect_anomaly_block: bool = Field(
        True, description="skip a symbol the price-anomaly analyzer blocks and scale the size "
                          "by its multiplier (when hean-market-analyzers publishes them)")
    # ---------------------------------------------------------------- exits and execution
    stop_beyond_pct: float = Field(
        0.005, ge=0.001, le=0.03,
        description="stop distance beyond the swept level (fraction of the level)")
    tp_pct: float = Field(0.01, ge=0.002, le=0.05,
                          description="least target distance from the entry (fraction)")
    min_reward_risk: float = Field(
        2.0, ge=0.0, le=5.0,
        description="the target is at least this x the stop distance (0: tp_pct alone)")
    max_hold_s: float = Field(900.0, ge=0.0, le=604_800.0,
                              description="time stop in seconds after the entry fill (0: none)")
    confidence: float = Field(
        0.5, ge=0.05, le=1.0,
        description="assumed chance of reaching the target; edge_bps = confidence x the "
                    "target distance")
    prefer_maker: bool = Field(
        True, description="ask for a maker (post-only) entry; the small-capital trade gate "
                          "refuses taker entries by default")
    # ---------------------------------------------------------------- ticks
    tick_source: Literal["auto", "bars", "trades"] = Field(
        "auto", description="what a tick is: auto (per symbol the first of bars or trades), "
                            "bars or trades")
    trade_tick_ms: int = Field(
        1000, ge=0, le=3_600_000,
        description="on trades: one tick per bucket of this many ms (high, low, last price, "
                    "summed size); 0: every trade is a tick")

    @field_validator("regime_families")
    @classmethod
    def _families(cls, value: list[str]) -> list[str]:
        out = [f.upper() for f in value]
        bad = [f for f in out if f not in FAMILIES]
        if bad:
            raise ValueError(f"unknown regime families {bad}; allowed: {sorted(FAMILIES)}")
        return out


class _Symbol:
    """The ticks one symbol needs: the last ``lookback + 1`` ticks and the volume baseline."""

    __slots__ = ("agg_bucket", "agg_close", "agg_high", "agg_low", "agg_ts", "agg_vol",
                 "base", "base_sum", "closes", "consumed", "highs", "last_signal", "lows",
                 "sessions", "since_resum", "source", "tick_ts", "ticks", "vols")

    def __init__(self, cfg: LiquiditySweepConfig) -> None:
        n = cfg.lookback_ticks + 1
        self.closes: deque[float] = deque(maxlen=n)
        self.highs: deque[float] = deque(maxlen=n)
        self.lows: deque[float] = deque(maxlen=n)
        self.vols: deque[float] = deque(maxlen=n)
        self.tick_ts: deque[int] = deque(maxlen=n)
        self.base: deque[float] = deque(maxlen=cfg.volume_window)
        self.base_sum = 0.0
        self.since_resum = 0
        self.ticks = 0
        self.consumed = -1
        self.last_signal: int | None = None
        self.sessions = Sessions(cfg.session_minutes * 60_000, cfg.session_levels_keep,
                                 cfg.session_merge_pct)
        self.source = ""
        self.agg_bucket: int | None = None
        self.agg_high = self.agg_low = self.agg_close = self.agg_vol = 0.0
        self.agg_ts = 0

    def push(self, ts: int, high: float, low: float, close: float, volume: float) -> None:
        """Add one tick; the tick that leaves the sweep window joins the volume baseline."""
        self.closes.append(close)
        self.highs.append(high)
        self.lows.append(low)
        self.vols.append(volume)
        self.tick_ts.append(ts)
        self.ticks += 1
        if len(self.vols) == self.vols.maxlen:
            self._to_baseline(self.vols[0])

    def _to_baseline(self, volume: float) -> None:
        base = self.base
        if len(base) == base.maxlen:
            self.base_sum -= base[0]
        base.append(volume)
        self.base_sum += volume
        self.since_resum += 1
        if self.since_resum >= RESUM_EVERY:
            self.base_sum = math.fsum(base)
            self.since_resum = 0

    def baseline(self) -> float:
        """Mean volume of the baseline ticks (0.0 while it is not full)."""
        base = self.base
        if len(base) < (base.maxlen or 0):
            return 0.0
        return max(self.base_sum, 0.0) / len(base)


def _analyzer_facts() -> Any:
    """``hean_market_analyzers.facts`` when that plugin is installed, else None (its facts
    are then unknown and every check that reads them passes)."""
    try:
        return importlib.import_module("hean_market_analyzers.facts")
    except ImportError:
        return None


class LiquiditySweep(Strategy):
    """Fades stop runs through round-number and session levels (rules in the module doc)."""

    config: LiquiditySweepConfig

    def on_start(self) -> None:
        self._symbols: dict[str, _Symbol] = {}
        self._apply_config()
        self._ma = _analyzer_facts()
        self._day = -1
        self._day_count = 0
        self.counts: dict[str, int] = {
            "ticks": 0, "warmup": 0, "no_sweep": 0, "sweeps": 0,
            **dict.fromkeys(SKIP_REASONS, 0),
            "entries": 0, "extra_levels_swept": 0, "other_source_ignored": 0,
        }

    def _apply_config(self) -> None:
        cfg = self.config
        self._allowed = frozenset().union(*(FAMILIES[f] for f in cfg.regime_families))
        self._pen_up = 1.0 + cfg.sweep_pct
        self._pen_down = 1.0 - cfg.sweep_pct
        self._cooldown_ms = cfg.cooldown_s * 1000.0
        self._hold_ms = int(cfg.max_hold_s * 1000) or None

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply known keys, numbers clamped (the kernel's rule); a new window length, session
        or tick definition starts every symbol's ticks over (levels, cooldowns included)."""
        before = self.config
        accepted = super().on_params_updated(params)
        if accepted:
            self._apply_config()
            if any(getattr(before, k) != getattr(self.config, k) for k in SHAPE_KEYS):
                self._symbols.clear()
        return accepted

    # ------------------------------------------------------------------ market callbacks

    def _state(self, symbol: str, source: str) -> _Symbol | None:
        state = self._symbols.get(symbol)
        if state is None:
            state = self._symbols[symbol] = _Symbol(self.config)
        if not state.source:
            wanted = self.config.tick_source
            if wanted != "auto" and wanted != source:
                self.counts["other_source_ignored"] += 1
                return None
            state.source = source
        elif state.source != source:
            self.counts["other_source_ignored"] += 1
            return None
        return state

    def on_bar(self, bar: Bar) -> Signal | None:
        state = self._state(bar.symbol, "bars")
        if state is None:
            return None
        start = bar.ts - bar.interval_ms if bar.interval_ms > 0 else bar.ts - 1
        return self._tick(state, bar.symbol, bar.ts, start, bar.high, bar.low, bar.close,
                          bar.volume)

    def on_trade(self, trade: Trade) -> Signal | None:
        state = self._state(trade.symbol, "trades")
        if state is None:
            return None
        step = self.config.trade_tick_ms
        if step <= 0:
            return self._tick(state, trade.symbol, trade.ts, trade.ts, trade.price,
                              trade.price, trade.price, trade.size)
        bucket = trade.ts // step
        out = None
        if state.agg_bucket is not None and bucket != state.agg_bucket:
            # the previous bucket is complete: it is the tick, decided at this trade's time
            out = self._tick(state, trade.symbol, trade.ts, state.agg_bucket * step,
                             state.agg_high, state.agg_low, state.agg_close, state.agg_vol,
                             state.agg_ts)
            state.agg_bucket = None
        if state.agg_bucket is None:
            state.agg_bucket = bucket
            state.agg_high = state.agg_low = trade.price
            state.agg_vol = 0.0
        elif trade.price > state.agg_high:
            state.agg_high = trade.price
        elif trade.price < state.agg_low:
            state.agg_low = trade.price
        state.agg_close = trade.price
        state.agg_vol += trade.size
        state.agg_ts = trade.ts
        return out

    # ------------------------------------------------------------------ the rule

    def _tick(self, state: _Symbol, symbol: str, ts: int, start: int, high: float,
              low: float, close: float, volume: float, tick_ts: int = 0) -> Signal | None:
        """One tick (``start``: when it began, ``tick_ts``: its last price's time, default
        ``ts``), decided at ``ts``."""
        cfg = self.config
        counts = self.counts
        counts["ticks"] += 1
        if cfg.use_session_levels:
            state.sessions.update(start, high, low)
        state.push(tick_ts or ts, high, low, close, volume)
        if state.ticks < cfg.lookback_ticks + cfg.volume_window:
            counts["warmup"] += 1
            return None
        sweep = self._find_sweep(state, close)
        if sweep is None:
            counts["no_sweep"] += 1
            return None
        counts["sweeps"] += 1
        return self._decide(state, symbol, ts, close, *sweep)

    def _find_sweep(self, state: _Symbol, p: float
                    ) -> tuple[float, str, int, str] | None:
        """(level, kind, window index of the sweeping tick, side) of this tick's sweep."""
        cfg = self.config
        highs, lows, closes = state.highs, state.lows, state.closes
        n = len(closes)
        hmax = max(islice(highs, 1, None))
        lmin = min(islice(lows, 1, None))
        up_hi = hmax / self._pen_up      # an up-swept level is at most this high
        down_lo = lmin / self._pen_down  # a down-swept level is at least this low
        if up_hi <= p and down_lo >= p:
            return None
        band = cfg.level_band_pct
        up_hi = min(up_hi, p * (1.0 + band))
        down_lo = max(down_lo, p * (1.0 - band))
        # levels that can have been swept: above p up to up_hi, below p down to down_lo
        ranges = [(lo, hi) for lo, hi in ((down_lo, p), (p, up_hi)) if lo < hi]
        candidates: list[tuple[float, str]] = []
        if cfg.use_round_levels:
            step = round_interval(cfg.round_min_pct * p)
            k = cfg.round_levels_each_side
            centre = round(p / step)
            lo_n, hi_n = (centre - k) * step, (centre + k) * step
            for lo, hi in ranges:
                candidates += [(x, ROUND) for x in round_levels_between(
                    max(lo, lo_n), min(hi, hi_n), step)]
        if cfg.use_session_levels and state.sessions.levels:
            for lo, hi in ranges:
                candidates += state.sessions.between(lo, hi)
        if not candidates:
            return None
        # nearest first (relative distance, rounded so that float dust cannot break a tie),
        # then session levels before round ones, then the lower price
        candidates.sort(key=lambda c: (round(abs(c[0] / p - 1.0), 12), _KIND_ORDER[c[1]], c[0]))
        found: tuple[float, str, int, str] | None = None
        for level, kind in candidates:
            hit = -1
            above, below = level * _UP_EPS, level * _DOWN_EPS  # "on a side": beyond float dust
            if p < below:        # up-sweep: from below, through level x (1 + pen), back below
                reach = level * self._pen_up * _DOWN_EPS
                for j in range(n - 1, 0, -1):
                    if highs[j] >= reach and closes[j - 1] < below:
                        hit = j
                        break
                side = "sell"
            elif p > above:      # down-sweep: from above, through level x (1 - pen), back above
                reach = level * self._pen_down * _UP_EPS
                for j in range(n - 1, 0, -1):
                    if lows[j] <= reach and closes[j - 1] > above:
                        hit = j
                        break
                side = "buy"
            else:
                continue         # the close is at the level: not back on either side
            if hit < 0:
                continue
            if found is None:
                found = (level, kind, hit, side)
            else:
                self.counts["extra_levels_swept"] += 1
        return found

    def _decide(self, state: _Symbol, symbol: str, ts: int, p: float, level: float,
                kind: str, j: int, side: str) -> Signal | None:
        cfg = self.config
        counts = self.counts
        sweep_tick = state.ticks - len(state.closes) + j   # absolute index of the sweeping tick
        if sweep_tick <= state.consumed:
            counts["already_traded"] += 1
            return None
        if self.ctx.portfolio.position_qty(self.name, symbol) != 0.0:
            counts["in_position"] += 1
            return None
        if state.last_signal is not None and ts - state.last_signal < self._cooldown_ms:
            counts["cooldown"] += 1
            return None
        day = ts // DAY_MS
        if day != self._day:
            self._day, self._day_count = day, 0
        if self._day_count >= cfg.max_signals_per_day:
            counts["daily_cap"] += 1
            return None
        baseline = state.baseline()
        if not baseline > 0.0:
            counts["no_volume"] += 1
            return None
        spike = state.vols[j] / baseline
        if spike < cfg.volume_spike:
            counts["volume_low"] += 1
            return None
        facts = self.ctx.facts
        regime = facts.get(REGIME, symbol)
        if regime and regime.upper() not in self._allowed:
            counts["regime_blocked"] += 1
            return None
        size_mult = min(2.0, 1.0 + max(0.0, (spike - cfg.volume_spike) / 2.0))
        ofi: float | None = None
        ma = self._ma
        if ma is not None:
            if cfg.respect_anomaly_block:
                if self.ctx.now < facts.get(ma.ANOMALY_BLOCKED_UNTIL, symbol):
                    counts["anomaly_blocked"] += 1
                    return None
                size_mult *= facts.get(ma.ANOMALY_SIZE_MULTIPLIER, symbol)
            if cfg.ofi_confirm and facts.get(ma.OFI_SOURCE, symbol):
                ofi = facts.get(ma.OFI, symbol)
                if (ofi if side == "buy" else -ofi) <= cfg.ofi_min:
                    counts["ofi_against"] += 1
                    return None
        sign = 1.0 if side == "buy" else -1.0
        stop = level * (1.0 - sign * cfg.stop_beyond_pct)
        risk = sign * (p - stop)
        reward = max(cfg.tp_pct * p, cfg.min_reward_risk * risk)
        target = p + sign * reward
        if not (risk > 0.0 and stop > 0.0 and target > 0.0):
            counts["bad_prices"] += 1
            return None
        state.consumed = sweep_tick
        state.last_signal = ts
        self._day_count += 1
        counts["entries"] += 1
        swept = state.highs[j] if side == "sell" else state.lows[j]
        return self.signal(
            symbol, side, ts, p, stop_loss=stop, take_profit=target,
            max_hold_ms=self._hold_ms, confidence=cfg.confidence,
            edge_bps=cfg.confidence * reward / p * 1e4, prefer_maker=cfg.prefer_maker,
            size_multiplier=size_mult,
            tag="SWEEP_HIGH" if side == "sell" else "SWEEP_LOW",
            metadata={"level": level, "level_kind": kind, "sweep_ts": state.tick_ts[j],
                      "swept_to": swept, "penetration": abs(swept / level - 1.0),
                      "volume_spike": spike, "reward_risk": reward / risk,
                      "regime": regime, "ofi": ofi})

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(getattr(self, "counts", {}))
        symbols = getattr(self, "_symbols", {})
        out["session_levels"] = sum(len(s.sessions.levels) for s in symbols.values())
        out["session_levels_merged"] = sum(s.sessions.merged for s in symbols.values())
        return out
