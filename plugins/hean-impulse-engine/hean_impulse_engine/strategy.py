"""ImpulseEngine: momentum on short-horizon price impulses, through an ordered gate cascade.

The plugin's ``README.md`` states the rules, the parameters and how they differ from the
original HEAN ImpulseEngine.  In short, per symbol, on every tick (a closed bar or a public
trade, see ``tick_source``):

* bookkeeping (always): the price joins a ring of the last ``max(impulse_window, mtf_long) + 1``
  prices; the tick return joins the volatility buffer (``vol_buffer`` prices), whose RMS joins
  the volatility history (``vol_history`` values); ``|dp|`` joins the ATR window; the log return
  joins the short / long volatility windows -- all rolling sums, O(1) per tick;
* position management (own position only): the stop moves to the entry once the price reaches
  TP1; the time stop is the signal's ``max_hold_ms`` (one close request, by the kernel);
* a two-step candidate waiting for confirmation is emitted once the edge-confirmation desk
  confirms it;
* the gate cascade, in order, first failure stops and is counted under its reason code in
  :meth:`ImpulseEngine.stats` (``rejected``); a signal that passes every gate gets its size
  multiplier chain, its mode (standard / breakout, from the explicit ``is_breakout`` flag) and
  its exits.

Invariants: incremental state only (the per-tick work is O(1); the volatility percentile scans
the ``vol_history`` values once per would-be signal); no look-ahead (a tick is compared with the
ticks before it); deterministic (no clock, no randomness, no unordered iteration).
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from hean_framework import ComponentConfig, Strategy
from hean_framework.facts import REGIME
from hean_framework.models import Bar, ClosedTrade, OrderDecision, Signal, Trade
from hean_framework.risk.governor import RISK_STATE

from ._inputs import ANALYZERS
from ._windows import PriceRing, Rolling
from .facts import BRAIN, CONTEXT, ORACLE, OraclePrediction

__all__ = ["REASONS", "ImpulseEngine", "ImpulseEngineConfig"]

#: Regime families (a whitelist names families so that the Wyckoff labels of a regime analyzer
#: never fall silently outside a list written as IMPULSE / NORMAL).
FAMILIES: Final[dict[str, frozenset[str]]] = {
    "RANGE_LIKE": frozenset({"RANGE", "ACCUMULATION"}),
    "TREND": frozenset({"MARKUP", "MARKDOWN"}),
    "VOLATILE": frozenset({"IMPULSE", "DISTRIBUTION"}),
    "NEUTRAL": frozenset({"NORMAL"}),
}

#: Reason codes of the cascade, in the order the gates run (``stats()["rejected"]``).
REASONS: Final = (
    "ANOMALY_BLOCK",        # 0 a price spike blocks the symbol (price_anomaly analyzer)
    "RISK_ENVELOPE",        # 0 the risk governor stopped trading (HARD_STOP / KILLSWITCH)
    "POSITION_OPEN",        # 0 the strategy holds a position in the symbol: it manages it
    "PREDICTIVE_COOLDOWN",  # a confident oracle prediction inside the cooldown
    "SPREAD_ZONE",          # 1 spread / price above max_spread_bps
    "REGIME",               # 2 regime outside the allowed families
    "WARMUP",               # 3 fewer than impulse_window + 1 prices
    "COOLDOWN",             # 4 a signal on the symbol less than cooldown_s ago
    "NO_IMPULSE",           # 5 |R| at or below the threshold
    "SPREAD_FILTER",        # 6 spread / bid above max_spread_bps
    "NO_VOL_EXPANSION",     # 6 sigma_short / sigma_long below vol_expansion_ratio
    "OUTSIDE_HOURS",        # 6 UTC time outside allowed_hours
    "ORACLE_REVERSAL",      # 8 the oracle expects a reversal
    "ORACLE_CONTRA",        # 8 the oracle predicts a move against the side
    "OFI_PRESSURE",         # 9 order-flow aggression of the side below ofi_min_aggression
    "OFI_PREDICTION",       # 9 the OFI extrapolation points the other way
    "MAKER_EDGE",           # 10 IMPULSE regime: maker edge below maker_edge_threshold_bps
    "EDGE_TOO_LOW",         # 11 execution edge of the target below the regime threshold
    "MULTI_FACTOR",         # 12 multi-factor confirmation below its threshold
    "ENTRY_WORKING",        # an entry order of the strategy still works in the symbol
    "EDGE_CANDIDATE",       # 13 first step: stored as a candidate, nothing emitted yet
    "EDGE_PENDING",         # 13 a candidate is waiting for its confirmation
    "EDGE_EXPIRED",         # 13 a candidate timed out unconfirmed
    "EDGE_INVALIDATED",     # 13 a candidate moved too far against its side
    "CANDIDATE_DROPPED",    # 13 a confirmed candidate met an open position or a block
)

_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_RISK_STOP: Final = frozenset({"HARD_STOP", "KILLSWITCH"})
_DAY_MIN: Final = 1440
_MINUTE_MS: Final = 60_000
#: oracle gate and pre-positioning thresholds (fixed: no HEAN plugin publishes an oracle yet)
ORACLE_REVERSAL_PROB: Final = 0.85
ORACLE_CONTRA_CONFIDENCE: Final = 0.7
ORACLE_CONTRA_RETURN: Final = 0.0005
PREDICTIVE_CONFIDENCE: Final = 0.75
PREDICTIVE_MIN_RETURN: Final = 0.0003
PREDICTIVE_OFFSET_BPS: Final = 2.0
PREDICTIVE_SL, PREDICTIVE_TP, PREDICTIVE_TP1 = 0.003, 0.010, 0.005
PREDICTIVE_SIZE_MULTIPLIER: Final = 1.5
PREDICTIVE_MIN_EDGE_BPS: Final = 2.0
#: OFI three-step extrapolation (the OFI monitor's helper): f = 0.001 * ofi
OFI_PRED_CONFIDENCE: Final = 0.65
OFI_PRED_MIN_MOVE_BPS: Final = 3.0
#: the impulse threshold's clamp, in units of the base threshold b
THETA_MIN_B, THETA_MAX_B = 0.3, 1.5
#: urgency of standard (maker) and breakout (taker) entries, for the maker_chase executor
URGENCY_STANDARD, URGENCY_BREAKOUT = 0.3, 0.9


class ImpulseEngineConfig(ComponentConfig):
    """``strategies.impulse_engine``: keys, defaults and bounds (table in the README)."""

    tick_source: Literal["auto", "bars", "trades"] = Field(
        "auto", description="what a tick is: auto (per symbol, the first of bars or trades to "
                            "arrive), bars (closes) or trades (trade prices)")
    base_threshold: float = Field(
        0.005, ge=0.0001, le=0.05,
        description="base impulse threshold b (fraction); the threshold is "
                    "clamp(atr_mult x ATR%, 0.3 b, 1.5 b), b scaled by the win-rate multiplier")
    impulse_window: int = Field(
        10, ge=2, le=500, description="ticks the impulse return R = p / p[-window] - 1 spans")
    atr_window: int = Field(14, ge=2, le=500, description="ticks in the ATR (mean |dp|)")
    atr_mult: float = Field(1.5, ge=0.1, le=10.0,
                            description="threshold = atr_mult x ATR% before the clamp")
    vol_buffer: int = Field(
        50, ge=3, le=2000,
        description="prices whose tick returns give one RMS volatility value")
    vol_history: int = Field(10, ge=5, le=1000,
                             description="RMS volatility values kept for the spike percentile")
    max_spread_bps: float = Field(
        12.0, ge=0.1, le=500.0,
        description="no-trade zone and spread filter: spread above this (bps) rejects")
    allow_normal: bool = Field(True, description="trade in the NORMAL regime (smaller size)")
    normal_size_multiplier: float = Field(
        0.5, ge=0.0, le=1.0, description="size multiplier in the NORMAL regime (at most 1)")
    cooldown_s: float = Field(120.0, ge=0.0, le=86_400.0,
                              description="seconds after a signal before the next on the symbol")
    vol_short: int = Field(10, ge=2, le=500, description="log returns in sigma_short")
    vol_long: int = Field(49, ge=3, le=5000, description="log returns in sigma_long (at most)")
    vol_expansion_ratio: float = Field(
        1.03, ge=0.0, le=10.0,
        description="sigma_short / sigma_long needed (0: no volatility-expansion filter)")
    use_hours: bool = Field(True, description="apply the trading-hours filter")
    allowed_hours: list[str] = Field(
        default_factory=lambda: ["07:00-11:00", "12:00-16:00", "17:00-21:00"],
        description="UTC windows 'HH:MM-HH:MM' (inclusive) in which entries are allowed")
    ofi_min_aggression: float = Field(
        0.3, ge=0.0, le=1.0,
        description="least order-flow aggression in the side's favour (when OFI is known)")
    maker_edge_threshold_bps: float = Field(
        3.0, ge=0.0, le=100.0,
        description="IMPULSE regime: least maker edge (bps); also the standard entries' "
                    "min_maker_edge_bps")
    maker_price_offset_bps: float = Field(
        1.0, ge=0.0, le=100.0, description="maker price offset from the touch (bps)")
    edge_confirmation: bool = Field(
        True, description="two-step entries through the edge-confirmation desk (one step when "
                          "no desk is published)")
    max_volatility_spike: float = Field(
        0.02, ge=0.0, le=1.0,
        description="a spike: last RMS volatility above (1 + this) x the mean of the previous")
    breakout_pct: float = Field(
        95.0, ge=50.0, le=100.0,
        description="volatility percentile of a spike at or above which the signal is a "
                    "breakout (is_breakout)")
    breakout_multiplier: float = Field(2.0, ge=1.0, le=3.0,
                                       description="size multiplier of a breakout")
    mtf_short: int = Field(60, ge=2, le=100_000, description="ticks of the short MTF return")
    mtf_mid: int = Field(300, ge=3, le=100_000, description="ticks of the middle MTF return")
    mtf_long: int = Field(900, ge=4, le=100_000, description="ticks of the long MTF return")
    mtf_multiplier: float = Field(
        2.0, ge=1.0, le=3.0,
        description="size multiplier when the three MTF returns agree with the side")
    max_size_multiplier: float = Field(2.5, ge=0.1, le=2.5,
                                       description="cap of the size multiplier chain")
    win_rate_window: int = Field(20, ge=5, le=500,
                                 description="closed trades per symbol in the win rate")
    win_rate_min_trades: int = Field(5, ge=1, le=500,
                                     description="closed trades before the win rate counts")
    sl_pct: float = Field(0.003, ge=0.0005, le=0.1, description="standard stop (fraction)")
    tp_pct: float = Field(0.015, ge=0.001, le=0.5, description="standard target (fraction)")
    tp1_pct: float = Field(0.007, ge=0.0005, le=0.5,
                           description="standard break-even trigger (fraction)")
    breakout_sl_pct: float = Field(0.002, ge=0.0005, le=0.1,
                                   description="breakout stop (fraction)")
    breakout_tp_pct: float = Field(0.025, ge=0.001, le=0.5,
                                   description="breakout target (fraction)")
    breakout_tp1_pct: float = Field(0.012, ge=0.0005, le=0.5,
                                    description="breakout break-even trigger (fraction)")
    max_time_in_trade_s: float = Field(
        300.0, ge=0.0, le=604_800.0,
        description="time stop after the entry fill, seconds (0: none)")
    break_even: bool = Field(True, description="move the stop to the entry at TP1, once")
    predictive: bool = Field(
        True, description="pre-position on a confident oracle prediction (only when an oracle "
                          "publishes)")

    @field_validator("allowed_hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        for w in v:
            if not _HOURS.match(w):
                raise ValueError(f"allowed_hours entry {w!r} is not 'HH:MM-HH:MM'")
        return v

    @model_validator(mode="after")
    def _check(self) -> ImpulseEngineConfig:
        if self.vol_long <= self.vol_short:
            raise ValueError(f"vol_long ({self.vol_long}) must be greater than vol_short "
                             f"({self.vol_short})")
        if not self.mtf_short < self.mtf_mid < self.mtf_long:
            raise ValueError(f"mtf windows must increase: mtf_short ({self.mtf_short}) < "
                             f"mtf_mid ({self.mtf_mid}) < mtf_long ({self.mtf_long})")
        for mode, sl, tp, tp1 in (("standard", self.sl_pct, self.tp_pct, self.tp1_pct),
                                  ("breakout", self.breakout_sl_pct, self.breakout_tp_pct,
                                   self.breakout_tp1_pct)):
            if not tp1 <= tp:
                raise ValueError(f"{mode}: the break-even trigger ({tp1}) must not be beyond "
                                 f"the target ({tp})")
            if not sl < tp:
                raise ValueError(f"{mode}: the stop ({sl}) must be closer than the target "
                                 f"({tp})")
        if self.win_rate_min_trades > self.win_rate_window:
            raise ValueError(f"win_rate_min_trades ({self.win_rate_min_trades}) must not exceed "
                             f"win_rate_window ({self.win_rate_window})")
        return self


#: keys whose change rebuilds the per-symbol windows
_WINDOW_KEYS: Final = frozenset({"impulse_window", "atr_window", "vol_buffer", "vol_history",
                                 "vol_short", "vol_long", "mtf_short", "mtf_mid", "mtf_long",
                                 "win_rate_window"})


@dataclass(slots=True)
class _Plan:
    """What a qualified signal will be, before its prices are anchored to a tick."""

    side: str
    mode: str                      # standard | breakout | predictive
    is_breakout: bool
    size_multiplier: float
    confidence: float
    chain: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)


class _Sym:
    """What the strategy remembers about one symbol."""

    __slots__ = ("atr", "be_done", "be_stop", "candidate", "emitted", "kind", "last_signal",
                 "results", "rets", "ring", "sig_long", "sig_short", "vol_hist", "vol_hist_sum")

    def __init__(self, cfg: ImpulseEngineConfig) -> None:
        self.ring = PriceRing(max(cfg.impulse_window, cfg.mtf_long) + 1)
        self.rets = Rolling(cfg.vol_buffer - 1)        # tick returns of the volatility buffer
        self.vol_hist: deque[float] = deque(maxlen=cfg.vol_history)
        self.vol_hist_sum = 0.0
        self.atr = Rolling(cfg.atr_window)             # |dp|
        self.sig_short = Rolling(cfg.vol_short)        # log returns
        self.sig_long = Rolling(cfg.vol_long)
        self.results: deque[bool] = deque(maxlen=cfg.win_rate_window)
        self.last_signal = -(1 << 62)
        self.candidate: _Plan | None = None
        #: (signal, tp1 fraction) of the last entries emitted (signal_id set by the pipeline)
        self.emitted: deque[tuple[Signal, float]] = deque(maxlen=8)
        self.be_done = -1                              # signal_id whose stop was moved
        self.be_stop = 0                               # order id of the moved stop
        self.kind = ""                                 # tick kind locked by tick_source auto


class ImpulseEngine(Strategy):
    """Momentum on short-horizon impulses through an ordered gate cascade (module docstring)."""

    config: ImpulseEngineConfig

    # ------------------------------------------------------------------ lifecycle

    def on_start(self) -> None:
        self._syms: dict[str, _Sym] = {}
        self.rejected: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.trail: Counter[str] = Counter()
        self._constants()

    def _constants(self) -> None:
        cfg = self.config
        allowed = set(FAMILIES["VOLATILE"] | FAMILIES["TREND"])
        if cfg.allow_normal:
            allowed |= FAMILIES["NEUTRAL"]
        self._allowed = frozenset(allowed)
        self._windows = [(int(a[:2]) * 60 + int(a[3:5]), int(a[6:8]) * 60 + int(a[9:11]))
                         for a in cfg.allowed_hours]
        self._cooldown_ms = int(cfg.cooldown_s * 1000)
        self._hold_ms = int(cfg.max_time_in_trade_s * 1000) or None

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply known keys (:func:`hean_framework.params.apply_clamped`: unknown keys ignored,
        numbers clamped into their bounds, a refused combination changes nothing); window
        sizes rebuild the per-symbol windows."""
        accepted = super().on_params_updated(params)
        if accepted:
            self._constants()
            if _WINDOW_KEYS.intersection(accepted):
                self._syms.clear()
        return accepted

    # ------------------------------------------------------------------ market callbacks

    def on_bar(self, bar: Bar) -> Signal | None:
        if not self._is_tick(bar.symbol, "bars"):
            return None
        return self._tick(bar.symbol, bar.ts, bar.close)

    def on_trade(self, trade: Trade) -> Signal | None:
        if not self._is_tick(trade.symbol, "trades"):
            return None
        return self._tick(trade.symbol, trade.ts, trade.price)

    def _is_tick(self, symbol: str, kind: str) -> bool:
        src = self.config.tick_source
        if src == kind:
            return True
        if src != "auto":
            return False
        s = self._sym(symbol)
        if not s.kind:
            s.kind = kind
        return s.kind == kind

    def _sym(self, symbol: str) -> _Sym:
        s = self._syms.get(symbol)
        if s is None:
            s = self._syms[symbol] = _Sym(self.config)
        return s

    # ------------------------------------------------------------------ one tick

    def _tick(self, symbol: str, ts: int, price: float) -> Signal | None:
        if not price > 0.0 or not math.isfinite(price):
            return None
        s = self._sym(symbol)
        self._bookkeep(s, price)
        self.counts["ticks"] += 1
        pos = self.ctx.portfolio.position_qty(self.name, symbol)
        if pos != 0.0:
            self._manage(s, symbol, price, pos)
        if s.candidate is not None:
            out = self._resolve_candidate(s, symbol, ts, price, pos)
            if out is not None:
                return out
        return self._cascade(s, symbol, ts, price, pos)

    def _bookkeep(self, s: _Sym, price: float) -> None:
        ring = s.ring
        if ring.n:
            prev = ring.ago(0)
            s.rets.push(price / prev - 1.0)
            rms = s.rets.rms()
            hist = s.vol_hist
            if len(hist) == hist.maxlen:
                s.vol_hist_sum -= hist[0]
            hist.append(rms)
            s.vol_hist_sum += rms
            s.atr.push(abs(price - prev))
            lr = math.log(price / prev)
            s.sig_short.push(lr)
            s.sig_long.push(lr)
        ring.push(price)

    def _reject(self, code: str) -> None:
        self.rejected[code] += 1

    # ------------------------------------------------------------------ the cascade

    def _cascade(self, s: _Sym, symbol: str, ts: int, price: float,
                 pos: float) -> Signal | None:
        cfg = self.config
        facts = self.ctx.facts
        af = ANALYZERS
        # 0. base: anomaly block, risk envelope, own position
        if af is not None and ts < facts.get(af.ANOMALY_BLOCKED_UNTIL, symbol):
            self._reject("ANOMALY_BLOCK")
            return None
        if facts.get(RISK_STATE) in _RISK_STOP:
            self._reject("RISK_ENVELOPE")
            return None
        if pos != 0.0:
            self._reject("POSITION_OPEN")
            return None
        if cfg.predictive:
            o = facts.get(ORACLE, symbol)
            if (o.known and o.confidence >= PREDICTIVE_CONFIDENCE
                    and abs(o.predicted_return) >= PREDICTIVE_MIN_RETURN):
                return self._predictive(s, symbol, ts, price, o)
        st = self.ctx.market[symbol]
        bid, ask = st.bid, st.ask
        quoted = bid > 0.0 and ask >= bid
        # 1. no-trade spread zone
        if quoted and (ask - bid) / price * 1e4 > cfg.max_spread_bps:
            self._reject("SPREAD_ZONE")
            return None
        # 2. regime (families); no regime published: passes
        regime = facts.get(REGIME, symbol).upper()
        if regime and regime not in self._allowed:
            self._reject("REGIME")
            return None
        # 3. warm-up
        ring = s.ring
        if ring.n <= cfg.impulse_window:
            self._reject("WARMUP")
            return None
        # 4. cooldown
        if ts - s.last_signal < self._cooldown_ms:
            self._reject("COOLDOWN")
            return None
        # 5. impulse over the impulse window (not the volatility buffer)
        r = price / ring.ago(cfg.impulse_window) - 1.0
        w = self._win_rate_multiplier(s)
        b = cfg.base_threshold * w
        if s.atr.n < 2:
            theta = b
        else:
            theta = min(max(cfg.atr_mult * s.atr.mean() / price, THETA_MIN_B * b),
                        THETA_MAX_B * b)
        if abs(r) <= theta:
            self._reject("NO_IMPULSE")
            return None
        side = "buy" if r > 0.0 else "sell"
        self.counts["impulses"] += 1
        # 6. micro-filters: spread / bid, volatility expansion, trading hours
        if quoted and (ask - bid) / bid * 1e4 > cfg.max_spread_bps:
            self._reject("SPREAD_FILTER")
            return None
        sig_s, sig_l = s.sig_short.std(), s.sig_long.std()
        vol_ratio = sig_s / sig_l if sig_l > 0.0 else 0.0
        if cfg.vol_expansion_ratio > 0.0 and vol_ratio < cfg.vol_expansion_ratio:
            self._reject("NO_VOL_EXPANSION")
            return None
        if cfg.use_hours and not self._in_hours(ts):
            self._reject("OUTSIDE_HOURS")
            return None
        chain: dict[str, float] = {}
        # 7. brain conflict: a size penalty only
        brain = self._brain_penalty(symbol, side)
        # 8. oracle
        oracle = facts.get(ORACLE, symbol)
        if oracle.known:
            if oracle.should_exit and oracle.reversal_prob > ORACLE_REVERSAL_PROB:
                self._reject("ORACLE_REVERSAL")
                return None
            contra = (-oracle.predicted_return if side == "buy" else oracle.predicted_return)
            if oracle.confidence > ORACLE_CONTRA_CONFIDENCE and contra > ORACLE_CONTRA_RETURN:
                self._reject("ORACLE_CONTRA")
                return None
        # 9. order-flow imbalance, only when it is known (no book: skipped, not "no pressure")
        if af is not None and facts.get(af.OFI_SOURCE, symbol):
            ofi = facts.get(af.OFI, symbol)
            x = ofi if side == "buy" else -ofi
            if min(max(x, 0.0), 1.0) < cfg.ofi_min_aggression:
                self._reject("OFI_PRESSURE")
                return None
            conf = min(0.75, 0.8 * abs(ofi))
            move_bps = 2.0 * 0.001 * abs(ofi) * 1e4
            if conf > OFI_PRED_CONFIDENCE and x < 0.0 and move_bps > OFI_PRED_MIN_MOVE_BPS:
                self._reject("OFI_PREDICTION")
                return None
        # 10. maker edge, IMPULSE regime only
        if regime == "IMPULSE" and quoted:
            off = cfg.maker_price_offset_bps * 1e-4
            if side == "buy":
                edge = (price - bid * (1.0 - off)) / price
            else:
                edge = (ask * (1.0 + off) - price) / price
            if edge * 1e4 < cfg.maker_edge_threshold_bps:
                self._reject("MAKER_EDGE")
                return None
        # the mode comes from the explicit breakout flag, not from the size multiplier
        is_breakout, vol_pct, spike_mult = self._spike(s)
        mode = "breakout" if is_breakout else "standard"
        tp = cfg.breakout_tp_pct if is_breakout else cfg.tp_pct
        # 11. execution edge of the target
        if af is not None:
            est = facts.get(af.EXECUTION_EDGE, symbol)
            if not est.passes(tp * 1e4):
                self._reject("EDGE_TOO_LOW")
                return None
        # 12. multi-factor confirmation (momentum)
        confidence = 0.5
        if af is not None:
            c = facts.get(af.CONFIRMATION, symbol)
            if not c.confirmed(side, "momentum"):
                self._reject("MULTI_FACTOR")
                return None
            confidence = c.confidence(side, "momentum")
        # size multiplier chain
        mult = 1.0
        if regime == "NORMAL":
            mult *= chain.setdefault("normal", min(cfg.normal_size_multiplier, 1.0))
        if spike_mult != 1.0:
            mult *= chain.setdefault("volatility", spike_mult)
        mtf = self._mtf(s, price, side)
        if mtf != 1.0:
            mult *= chain.setdefault("mtf_cascade", mtf)
        ctxm = self._context_multiplier(symbol)
        if ctxm != 1.0:
            mult *= chain.setdefault("context", ctxm)
        if brain != 1.0:
            mult *= chain.setdefault("brain", brain)
        if af is not None:
            am = facts.get(af.ANOMALY_SIZE_MULTIPLIER, symbol)
            if am < 1.0:
                mult *= chain.setdefault("anomaly", am)
        if mult > cfg.max_size_multiplier:
            chain["cap"] = cfg.max_size_multiplier
            mult = cfg.max_size_multiplier
        plan = _Plan(side, mode, is_breakout, mult, confidence, chain, {
            "impulse_return": r, "threshold": theta, "win_rate_multiplier": w,
            "vol_ratio": vol_ratio, "vol_pct": vol_pct, "regime": regime})
        # an entry order of this strategy still working in the symbol: no second one
        if self._entry_working(symbol):
            self._reject("ENTRY_WORKING")
            return None
        # 13. edge confirmation (two-step entries)
        if cfg.edge_confirmation and af is not None:
            desk = facts.get(af.EDGE_CONFIRMATION)
            cand = s.candidate
            if cand is not None and cand.side != side:
                desk.cancel(self.name, symbol, cand.side)
                s.candidate = None
            answer = desk.propose(self.name, symbol, side)
            if answer == af.CANDIDATE:
                s.candidate = plan
                self._reject("EDGE_CANDIDATE")
                return None
            if answer != af.CONFIRMED:
                self._reject("EDGE_PENDING")
                return None
            if s.candidate is not None:  # our stored candidate, confirmed on this proposal
                self.counts["candidates_confirmed"] += 1
                s.candidate = None
                return self._emit(s, symbol, ts, price, plan)
        # no desk, or one that confirms at once (the neutral pass-through desk)
        self.counts["one_step"] += 1
        return self._emit(s, symbol, ts, price, plan)

    # ------------------------------------------------------------------ pieces of the cascade

    def _win_rate_multiplier(self, s: _Sym) -> float:
        res = s.results
        n = len(res)
        if n < self.config.win_rate_min_trades:
            return 1.0
        wr = sum(res) / n
        if wr > 0.60:
            return 0.7
        if wr > 0.55:
            return 0.85
        if wr < 0.40:
            return 1.3
        if wr < 0.45:
            return 1.15
        return 1.0

    def _in_hours(self, ts: int) -> bool:
        minute = (ts // _MINUTE_MS) % _DAY_MIN
        return any(a <= minute <= b if a <= b else (minute >= a or minute <= b)
                   for a, b in self._windows)

    def _spike(self, s: _Sym) -> tuple[bool, float, float]:
        """(is_breakout, percentile of the last RMS volatility, size multiplier)."""
        hist = s.vol_hist
        n = len(hist)
        if n < 5:
            return False, -1.0, 1.0
        last = hist[-1]
        prev_mean = (s.vol_hist_sum - last) / (n - 1)
        if prev_mean <= 0.0 or last / prev_mean <= 1.0 + self.config.max_volatility_spike:
            return False, -1.0, 1.0
        pct = 100.0 * sum(1 for v in hist if v <= last) / n
        mult = 1.0
        is_breakout = pct >= self.config.breakout_pct
        if is_breakout:
            mult *= self.config.breakout_multiplier
        if pct >= 75.0:
            mult *= max(0.3, 1.0 - 0.4 * (pct - 75.0) / 24.0)
        else:
            mult *= 0.8
        return is_breakout, pct, mult

    def _mtf(self, s: _Sym, price: float, side: str) -> float:
        cfg = self.config
        ring = s.ring
        if ring.n <= cfg.mtf_long:
            return 1.0
        rs = [price / ring.ago(k) - 1.0 for k in (cfg.mtf_short, cfg.mtf_mid, cfg.mtf_long)]
        if side == "buy" and all(x > 0.0 for x in rs):
            return cfg.mtf_multiplier
        if side == "sell" and all(x < 0.0 for x in rs):
            return cfg.mtf_multiplier
        return 1.0

    def _context_multiplier(self, symbol: str) -> float:
        c = self.ctx.facts.get(CONTEXT, symbol)
        if not c.known:
            return 1.0
        m = c.size_multiplier
        if c.consensus != "neutral" and c.should_reduce_size:
            m *= 0.5
        return m

    def _brain_penalty(self, symbol: str, side: str) -> float:
        facts = self.ctx.facts
        brain = facts.get(BRAIN, symbol)
        if brain.known:
            sentiment, conf = brain.sentiment, brain.confidence
        else:
            c = facts.get(CONTEXT, symbol)
            if not (c.known and c.brain_confidence > 0.3):
                return 1.0
            sentiment, conf = c.brain_sentiment, c.brain_confidence
        against = "bearish" if side == "buy" else "bullish"
        if sentiment != against:
            return 1.0
        if conf > 0.8:
            return 0.5
        if conf > 0.6:
            return 0.7
        return 0.85

    def _entry_working(self, symbol: str) -> bool:
        return any(o.strategy_id == self.name and not o.reduce_only
                   for o in self.ctx.orders.open_orders(symbol))

    def _predictive(self, s: _Sym, symbol: str, ts: int, price: float,
                    o: OraclePrediction) -> Signal | None:
        """A confident oracle prediction owns the tick: a resting limit entry, or a reason."""
        if ts - s.last_signal < self._cooldown_ms:
            self._reject("PREDICTIVE_COOLDOWN")
            return None
        if self._entry_working(symbol):
            self._reject("ENTRY_WORKING")
            return None
        side = "buy" if o.predicted_return > 0.0 else "sell"
        predicted = price * (1.0 + o.predicted_return)
        off = PREDICTIVE_OFFSET_BPS * 1e-4
        # a resting maker order: below the price for a buy, above it for a sell
        limit = (min(predicted * (1.0 - off), price) if side == "buy"
                 else max(predicted * (1.0 + off), price))
        plan = _Plan(side, "predictive", False, PREDICTIVE_SIZE_MULTIPLIER, o.confidence,
                     {"predictive": PREDICTIVE_SIZE_MULTIPLIER},
                     {"predicted_return": o.predicted_return, "oracle_confidence": o.confidence})
        self.counts["predictive"] += 1
        return self._emit(s, symbol, ts, limit, plan)

    # ------------------------------------------------------------------ candidates, emission

    def _resolve_candidate(self, s: _Sym, symbol: str, ts: int, price: float,
                           pos: float) -> Signal | None:
        af = ANALYZERS
        cand = s.candidate
        assert cand is not None
        if af is None:
            s.candidate = None
            return None
        desk = self.ctx.facts.get(af.EDGE_CONFIRMATION)
        state = desk.state(self.name, symbol, cand.side)
        if state == af.PENDING:
            return None
        s.candidate = None
        if state != af.CONFIRMED:
            self._reject("EDGE_INVALIDATED" if state == af.INVALIDATED else "EDGE_EXPIRED")
            return None
        if (pos != 0.0 or ts < self.ctx.facts.get(af.ANOMALY_BLOCKED_UNTIL, symbol)
                or self.ctx.facts.get(RISK_STATE) in _RISK_STOP
                or self._entry_working(symbol)):
            desk.cancel(self.name, symbol, cand.side)
            self._reject("CANDIDATE_DROPPED")
            return None
        if desk.propose(self.name, symbol, cand.side) != af.CONFIRMED:
            self._reject("EDGE_PENDING")
            return None
        self.counts["candidates_confirmed"] += 1
        return self._emit(s, symbol, ts, price, cand)

    def _emit(self, s: _Sym, symbol: str, ts: int, price: float, plan: _Plan) -> Signal:
        cfg = self.config
        if plan.mode == "breakout":
            sl, tp, tp1 = cfg.breakout_sl_pct, cfg.breakout_tp_pct, cfg.breakout_tp1_pct
        elif plan.mode == "predictive":
            sl, tp, tp1 = PREDICTIVE_SL, PREDICTIVE_TP, PREDICTIVE_TP1
        else:
            sl, tp, tp1 = cfg.sl_pct, cfg.tp_pct, cfg.tp1_pct
        sign = 1.0 if plan.side == "buy" else -1.0
        breakout = plan.mode == "breakout"
        predictive = plan.mode == "predictive"
        if breakout:
            min_edge = 0.0
        elif predictive:
            min_edge = PREDICTIVE_MIN_EDGE_BPS
        else:
            min_edge = cfg.maker_edge_threshold_bps
        sig = self.signal(
            symbol, plan.side, ts, price,
            stop_loss=price * (1.0 - sign * sl), take_profit=price * (1.0 + sign * tp),
            max_hold_ms=self._hold_ms, confidence=plan.confidence,
            urgency=URGENCY_BREAKOUT if breakout else URGENCY_STANDARD,
            order_type="limit" if predictive else "market",
            limit_price=price if predictive else None,
            prefer_maker=not breakout, min_maker_edge_bps=min_edge,
            edge_bps=plan.confidence * tp * 1e4, size_multiplier=plan.size_multiplier,
            tag=f"IMPULSE_{plan.mode.upper()}",
            metadata={**plan.meta, "mode": plan.mode, "is_breakout": plan.is_breakout,
                      "size_chain": dict(plan.chain), "tp1": price * (1.0 + sign * tp1)})
        s.last_signal = ts
        s.emitted.append((sig, tp1))
        self.counts["emitted"] += 1
        self.counts[f"emitted_{plan.mode}"] += 1
        return sig

    # ------------------------------------------------------------------ own positions

    def _manage(self, s: _Sym, symbol: str, price: float, pos: float) -> None:
        """Break-even: once the price reaches TP1, move the resting stop to the entry (once per
        position).  The time stop is the signal's ``max_hold_ms``: the kernel sends one
        reduce-only market exit when it expires."""
        if not self.config.break_even:
            return
        p = self.ctx.portfolio.position(self.name, symbol)
        if p.signal_id == s.be_done:
            return
        tp1 = next((f for sig, f in s.emitted if sig.signal_id == p.signal_id),
                   self.config.tp1_pct)
        entry = p.avg_price
        reached = (price >= entry * (1.0 + tp1)) if pos > 0.0 else (price <= entry * (1.0 - tp1))
        if not reached:
            return
        s.be_done = p.signal_id
        orders = self.ctx.orders
        stop = next((o for o in orders.open_orders(symbol)
                     if o.strategy_id == self.name and o.reduce_only
                     and o.order_type == "stop_market"), None)
        if stop is None:
            self.counts["break_even_no_stop"] += 1
            return
        moved = orders.amend(stop.order_id, price=entry)
        if moved is None:
            self.counts["break_even_failed"] += 1
            return
        s.be_stop = moved.order_id
        self.counts["break_even_moves"] += 1

    def on_position_closed(self, trade: ClosedTrade) -> None:
        """Learning (win/loss per symbol for the win-rate multiplier) and clean-up: a stop moved
        to break-even is a replacement order the kernel's exit plan does not know, so it is
        cancelled here once the position is flat."""
        s = self._sym(trade.symbol)
        s.results.append(trade.net_pnl > 0.0)
        self.counts["closed_trades_seen"] += 1
        if not s.be_stop or self.ctx.portfolio.position_qty(self.name, trade.symbol) != 0.0:
            return
        o = self.ctx.orders.get(s.be_stop)
        s.be_stop = 0
        if o is not None and not o.is_done and o.filled == 0.0:
            self.ctx.orders.cancel(o.order_id, "break_even_flat")
            self.counts["break_even_stops_cancelled"] += 1

    def on_decision(self, decision: OrderDecision) -> None:
        """The pipeline's answer to each emitted signal, counted by decision, stage and code."""
        codes = ",".join(decision.reason_codes) or "-"
        self.trail[f"{decision.decision} {decision.stage} {codes}"] += 1

    def stats(self) -> dict[str, Any]:
        """Counters for the report: ticks, impulses, emitted signals by mode, candidates,
        break-even moves, every rejection by reason code (``rejected``) and the pipeline's
        decisions of the emitted signals (``decision_trail``)."""
        if not hasattr(self, "counts"):
            return {}
        out: dict[str, Any] = dict(sorted(self.counts.items()))
        out["rejected"] = dict(sorted(self.rejected.items()))
        out["decision_trail"] = dict(sorted(self.trail.items()))
        return out
