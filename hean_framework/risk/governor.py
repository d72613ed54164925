"""``gates.governor``: the risk governor and drawdown killswitch (documented in ``docs/risk.md``,
"Governor").

Drawdown ``dd`` = ``(peak − E)/peak`` when equity ``E`` ≥ initial, else ``max(dd_peak,
dd_init)``.  States escalate monotonically::

    NORMAL --dd ≥ 10 %--> SOFT_BRAKE --dd ≥ 15 %--> QUARANTINE --dd ≥ 20 %--> HARD_STOP

and de-escalate only by rule, never on a bounce:

* dd < ``recover_pct`` (5 %) continuously for ``recover_minutes`` (30 min), and 30 min after
  the last escalation → NORMAL;
* one step down when dd stayed below the *lower* state's entry threshold minus
  ``step_down_margin_pct`` (2 pp) for 30 min (HARD_STOP → QUARANTINE needs dd < 13 %,
  QUARANTINE → SOFT_BRAKE dd < 8 %; SOFT_BRAKE → NORMAL only by the 5 % rule).

(The original governor only refused a transition to the *same* state, so a drawdown falling
from 22 % to 17 % moved HARD_STOP → QUARANTINE at once; here a bounce changes nothing.)

Killswitch: equity ≤ initial × (1 − 30 %) → HARD_STOP and trading stopped until
:meth:`RiskGovernor.reset` or the next UTC day (the governor state then still follows the
rules above).

Error rate: more than ``error_limit`` (10) errors within ``error_window_minutes`` (5 min) of data
time -- components that raised (dead letters) and orders the venue rejected, except the reject
codes in ``error_ignore_codes`` (a post-only order that would cross is an outcome, not an error)
-- move NORMAL to SOFT_BRAKE (``trigger_type`` ``ERROR_RATE``); recovery to NORMAL also waits
until the rate is back within the limit.

Published facts: :data:`RISK_STATE`, :data:`RISK_SIZE_MULTIPLIER` and :data:`DRAWDOWN`.
The size multiplier is the state's base (``base_multipliers``: NORMAL 1, SOFT_BRAKE 0.5,
QUARANTINE 0.75, HARD_STOP 0) × the first matching drawdown factor (``drawdown_factors``:
dd > 15 % → 0.3, > 10 % → 0.5, > 5 % → 0.7, else 1), clamped to [0, 1.5]; 0 while the
killswitch is on.

Votes: killswitch / HARD_STOP → SKIP ``TRADING_DISABLED``; a quarantined symbol → SKIP
``SYMBOL_BLOCKED`` (symbols are quarantined explicitly with :meth:`quarantine` or for
``symbol_quarantine_hours`` (6 h) when a symbol lost more than ``symbol_loss_pct`` (3 %) of
equity within 24 h).

The error-rate trigger and the per-symbol loss quarantine are additions to the original HEAN
governor, whose documentation promised them but whose code did not have them.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from pydantic import Field, model_validator

from ..components import ComponentConfig, Gate, Verdict, skip
from ..facts import declare
from ..models import ClosedTrade, OrderDecision, Signal
from ._common import DAY_MS, HOUR_MS, MINUTE_MS, clamp, journal_event, pct

RISK_STATE = declare("risk_state", str, owner="builtin.risk:governor", default="",
                     doc="governor state: NORMAL, SOFT_BRAKE, QUARANTINE, HARD_STOP, "
                         "KILLSWITCH ('' without a governor)")
RISK_SIZE_MULTIPLIER = declare("risk_size_multiplier", (float, int),
                               owner="builtin.risk:governor", default=1.0,
                               doc="size multiplier the governor allows, 0..1.5")
DRAWDOWN = declare("drawdown", (float, int), owner="builtin.risk:governor", default=0.0,
                   doc="drawdown from the equity peak, fraction")

STATES = ("NORMAL", "SOFT_BRAKE", "QUARANTINE", "HARD_STOP")
NORMAL, SOFT_BRAKE, QUARANTINE, HARD_STOP = range(4)


class GovernorConfig(ComponentConfig):
    """``gates.governor``: the drawdown ladder, one parameter per rung (fractions)."""

    soft_brake_pct: float = Field(0.10, gt=0, lt=1, description="dd entering SOFT_BRAKE")
    quarantine_pct: float = Field(0.15, gt=0, lt=1, description="dd entering QUARANTINE")
    hard_stop_pct: float = Field(0.20, gt=0, lt=1, description="dd entering HARD_STOP")
    recover_pct: float = Field(0.05, ge=0, lt=1, description="dd below which the state "
                               "returns to NORMAL after recover_minutes")
    recover_minutes: float = Field(30.0, ge=0, description="minutes a recovery condition "
                                   "must hold (and since the last escalation)")
    step_down_margin_pct: float = Field(0.02, ge=0, lt=1, description="one step down needs "
                                        "dd below the lower state's threshold minus this")
    killswitch_pct: float = Field(0.30, gt=0, lt=1, description="loss from initial capital "
                                  "that stops trading until reset or the next UTC day")
    base_multipliers: dict[str, float] = Field(
        default_factory=lambda: {"NORMAL": 1.0, "SOFT_BRAKE": 0.5, "QUARANTINE": 0.75,
                                 "HARD_STOP": 0.0},
        description="base size multiplier per state (times the drawdown factor)")
    drawdown_factors: list[tuple[float, float]] = Field(
        default_factory=lambda: [(0.15, 0.3), (0.10, 0.5), (0.05, 0.7)],
        description="(dd above, factor) pairs, first match wins")
    symbol_loss_pct: float = Field(0.03, gt=0, lt=1, description="a symbol's net loss within "
                                   "24 h, as a share of equity, that quarantines it")
    symbol_quarantine_hours: float = Field(6.0, ge=0, description="quarantine duration")
    error_limit: int = Field(10, ge=0, description="errors tolerated within "
                             "error_window_minutes; one more moves NORMAL to SOFT_BRAKE")
    error_window_minutes: float = Field(5.0, gt=0, description="window of the error rate "
                                        "(data time)")
    error_ignore_codes: list[str] = Field(
        default_factory=lambda: ["post_only_would_cross"],
        description="order reject codes that are outcomes, not errors (not counted)")
    history: int = Field(200, ge=1, description="state changes kept for the report")

    @model_validator(mode="after")
    def _check(self) -> GovernorConfig:
        if not (self.soft_brake_pct < self.quarantine_pct < self.hard_stop_pct):
            raise ValueError("thresholds must increase: soft_brake_pct < quarantine_pct < "
                             "hard_stop_pct")
        if self.recover_pct >= self.soft_brake_pct:
            raise ValueError("recover_pct must be below soft_brake_pct")
        missing = [s for s in STATES if s not in self.base_multipliers]
        if missing:
            raise ValueError(f"base_multipliers lacks {missing}")
        return self


class RiskGovernor(Gate):
    """Drawdown state machine, killswitch and symbol quarantine."""

    config: GovernorConfig

    def on_start(self) -> None:
        cfg = self.config
        pf = self.ctx.portfolio
        self.initial = float(pf.initial_cash) if pf is not None else 0.0
        #: drawdown reference below the peak (the initial capital until a manual reset)
        self.base = self.initial
        self.peak = self.initial
        self.equity = self.initial
        self.drawdown = 0.0
        self.max_drawdown = 0.0
        self.level = NORMAL
        self.last_escalation: int | None = None
        self._recover_since: int | None = None
        self._step_since: int | None = None
        self.killswitch = False
        self.killswitch_day: int | None = None
        self.killswitch_count = 0
        self.quarantined: dict[str, int] = {}  # symbol -> until ts
        self._symbol_losses: dict[str, deque[tuple[int, float]]] = {}
        self._errors: deque[int] = deque()  # data times of the errors inside the window
        self.errors_seen = 0
        self.error_triggers = 0
        self.transitions: list[dict[str, Any]] = []
        self.votes = {"TRADING_DISABLED": 0, "SYMBOL_BLOCKED": 0}
        self._thresholds = (0.0, cfg.soft_brake_pct, cfg.quarantine_pct, cfg.hard_stop_pct)
        self._publish()
        self.ctx.add_section("risk", self.report)

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> str:
        """The current state name."""
        return STATES[self.level]

    def multiplier(self) -> float:
        """Base multiplier of the state × drawdown factor, clamped to [0, 1.5]."""
        cfg = self.config
        if self.killswitch:
            return 0.0
        m = float(cfg.base_multipliers[self.state])
        for above, factor in cfg.drawdown_factors:
            if self.drawdown > above:
                m *= factor
                break
        return clamp(m, 0.0, 1.5)

    def _publish(self) -> None:
        facts = self.ctx.facts
        facts.set(RISK_STATE, "KILLSWITCH" if self.killswitch else self.state)
        facts.set(RISK_SIZE_MULTIPLIER, self.multiplier())
        facts.set(DRAWDOWN, self.drawdown)

    def update(self, ts: int, equity: float) -> None:
        """Feed one equity observation (data time): drawdown, escalation, recovery."""
        cfg = self.config
        self.equity = equity
        if equity > self.peak:
            self.peak = equity
        dd_peak = (self.peak - equity) / self.peak if self.peak > 0.0 else 0.0
        if equity >= self.base or self.base <= 0.0:
            dd = dd_peak
        else:
            dd = max(dd_peak, (self.base - equity) / self.base)
        self.drawdown = max(0.0, dd)
        self.max_drawdown = max(self.max_drawdown, self.drawdown)
        day = ts // DAY_MS
        if self.killswitch and self.killswitch_day is not None and day > self.killswitch_day:
            self.killswitch = False
            self._change(self.level, ts, "killswitch reset: new UTC day", reset_type="new_day")
        if not self.killswitch and self.initial > 0.0 and \
                equity <= self.initial * (1.0 - cfg.killswitch_pct):
            self.killswitch = True
            self.killswitch_day = day
            self.killswitch_count += 1
            self._change(HARD_STOP, ts, f"killswitch: equity {equity:.2f} <= "
                         f"{self.initial * (1.0 - cfg.killswitch_pct):.2f} "
                         f"({pct(cfg.killswitch_pct)} below initial)",
                         threshold=cfg.killswitch_pct, trigger_type="KILLSWITCH")
        # escalation (monotonic, may jump several levels)
        target = NORMAL
        for lvl in (HARD_STOP, QUARANTINE, SOFT_BRAKE):
            if self.drawdown >= self._thresholds[lvl]:
                target = lvl
                break
        if target > self.level:
            self._change(target, ts, f"drawdown {self.drawdown:.2%} >= "
                         f"{pct(self._thresholds[target])}", threshold=self._thresholds[target])
        elif self.level > NORMAL:
            self._deescalate(ts)
        self._publish()

    def _deescalate(self, ts: int) -> None:
        cfg = self.config
        hold = cfg.recover_minutes * MINUTE_MS
        since_esc_ok = self.last_escalation is None or ts - self.last_escalation >= hold
        if self.drawdown < cfg.recover_pct and self._error_count(ts) <= cfg.error_limit:
            if self._recover_since is None:
                self._recover_since = ts
            if ts - self._recover_since >= hold and since_esc_ok:
                self._change(NORMAL, ts, f"drawdown {self.drawdown:.2%} < "
                             f"{pct(cfg.recover_pct)} for {cfg.recover_minutes:g} min",
                             threshold=cfg.recover_pct)
                return
        else:
            self._recover_since = None
        lower = self.level - 1
        if lower <= NORMAL:
            self._step_since = None
            return
        limit = self._thresholds[lower] - cfg.step_down_margin_pct
        if self.drawdown < limit:
            if self._step_since is None:
                self._step_since = ts
            if ts - self._step_since >= hold and since_esc_ok:
                self._change(lower, ts, f"drawdown {self.drawdown:.2%} < {pct(limit)} for "
                             f"{cfg.recover_minutes:g} min", threshold=limit)
        else:
            self._step_since = None

    def _change(self, level: int, ts: int, reason: str, **extra: Any) -> None:
        prev = self.level
        if level > prev:
            self.last_escalation = ts
        self.level = level
        self._recover_since = None
        self._step_since = None
        rec = {"state": STATES[level], "previous_state": STATES[prev], "reason": reason,
               "drawdown": round(self.drawdown, 6), "equity": round(self.equity, 8),
               "peak": round(self.peak, 8), "killswitch": self.killswitch,
               "size_multiplier": round(self.multiplier(), 6), **extra}
        self.transitions.append({"ts": ts, **rec})
        if len(self.transitions) > self.config.history:
            del self.transitions[0]
        journal_event(self.ctx, "risk_state", rec, ts)
        self.ctx.log.info("risk state %s -> %s: %s", STATES[prev], STATES[level], reason)
        self._publish()

    def reset(self, ts: int | None = None, reset_peak: bool = True) -> None:
        """Manual reset: clear the killswitch, return to NORMAL and, with ``reset_peak``,
        measure drawdown from the current equity (peak and reference).  The killswitch keeps
        measuring from the initial capital."""
        ts = self.ctx.now if ts is None else ts
        self.killswitch = False
        if reset_peak:
            self.peak = self.base = self.equity
            self.drawdown = 0.0
        self._change(NORMAL, ts, "manual reset", reset_type="manual")

    def quarantine(self, symbol: str, until: int, reason: str = "manual") -> None:
        """Block new entries in ``symbol`` until ``until`` (ms)."""
        self.quarantined[symbol] = max(until, self.quarantined.get(symbol, 0))
        journal_event(self.ctx, "symbol_quarantine", {"symbol": symbol, "until": until,
                                                     "reason": reason})

    def _error_count(self, ts: int) -> int:
        """Errors within the window ending at ``ts``."""
        q = self._errors
        start = ts - self.config.error_window_minutes * MINUTE_MS
        while q and q[0] <= start:
            q.popleft()
        return len(q)

    # ------------------------------------------------------------------ observers

    def on_error(self, ts: int, source: str, kind: str, message: str) -> None:
        """Count a component error or an order rejection; SOFT_BRAKE above the error rate."""
        cfg = self.config
        if kind == "order_rejected" and message.split(":", 1)[0] in cfg.error_ignore_codes:
            return
        self.errors_seen += 1
        self._errors.append(ts)
        n = self._error_count(ts)
        if n > cfg.error_limit and self.level < SOFT_BRAKE:
            self.error_triggers += 1
            self._change(SOFT_BRAKE, ts, f"error rate: {n} errors in "
                         f"{cfg.error_window_minutes:g} min > {cfg.error_limit} (last: {kind} "
                         f"from {source}: {message[:200]})", trigger_type="ERROR_RATE",
                         errors=n, threshold=cfg.error_limit)

    def on_equity(self, ts: int, equity: float) -> None:
        """Equity sample from the engine."""
        self.update(ts, equity)

    def on_position_closed(self, trade: ClosedTrade) -> None:
        """Per-symbol 24 h loss tracking (quarantine trigger)."""
        cfg = self.config
        q = self._symbol_losses.setdefault(trade.symbol, deque())
        ts = trade.closed_ts
        q.append((ts, trade.net_pnl))
        while q and q[0][0] <= ts - DAY_MS:
            q.popleft()
        net = sum(p for _, p in q)
        eq = self.ctx.portfolio.equity()
        if eq > 0.0 and net < 0.0 and -net > cfg.symbol_loss_pct * eq:
            self.quarantine(trade.symbol, ts + int(cfg.symbol_quarantine_hours * HOUR_MS),
                            f"lost {-net:.2f} in 24 h > {pct(cfg.symbol_loss_pct)} of equity")
            q.clear()

    # ------------------------------------------------------------------ vote

    def vote(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """SKIP TRADING_DISABLED in HARD_STOP/killswitch, SYMBOL_BLOCKED when quarantined."""
        ctx = self.ctx
        self.update(ctx.now, ctx.portfolio.equity())
        cfg = self.config
        if self.killswitch or self.level == HARD_STOP:
            self.votes["TRADING_DISABLED"] += 1
            why = "killswitch" if self.killswitch else "HARD_STOP"
            rule = ("manual reset or next UTC day" if self.killswitch else
                    f"dd < {pct(self._thresholds[QUARANTINE] - cfg.step_down_margin_pct)} "
                    f"for {cfg.recover_minutes:g} min")
            return skip("TRADING_DISABLED", f"risk governor {why}: drawdown "
                        f"{self.drawdown:.2%} (hard stop {pct(cfg.hard_stop_pct)}, killswitch "
                        f"{pct(cfg.killswitch_pct)}); resumes after {rule}",
                        risk_state=self.state, killswitch=self.killswitch,
                        drawdown=round(self.drawdown, 6),
                        thresholds={"soft_brake": cfg.soft_brake_pct,
                                    "quarantine": cfg.quarantine_pct,
                                    "hard_stop": cfg.hard_stop_pct,
                                    "killswitch": cfg.killswitch_pct})
        until = self.quarantined.get(signal.symbol)
        if until is not None:
            if ctx.now < until:
                self.votes["SYMBOL_BLOCKED"] += 1
                return skip("SYMBOL_BLOCKED", f"{signal.symbol} quarantined until "
                            f"{until} ms", risk_state=self.state, quarantined_until=until)
            del self.quarantined[signal.symbol]
        return None

    # ------------------------------------------------------------------ reporting

    def report(self) -> dict[str, Any]:
        """The ``risk`` block of report.json."""
        cfg = self.config
        return {"state": self.state, "killswitch": self.killswitch,
                "drawdown": round(self.drawdown, 6), "max_drawdown": round(self.max_drawdown, 6),
                "peak": round(self.peak, 8), "size_multiplier": round(self.multiplier(), 6),
                "thresholds": {"soft_brake": cfg.soft_brake_pct,
                               "quarantine": cfg.quarantine_pct,
                               "hard_stop": cfg.hard_stop_pct,
                               "recover": cfg.recover_pct, "killswitch": cfg.killswitch_pct},
                "killswitch_triggers": self.killswitch_count,
                "errors": {"seen": self.errors_seen, "limit": cfg.error_limit,
                           "window_minutes": cfg.error_window_minutes,
                           "triggers": self.error_triggers},
                "quarantined": dict(self.quarantined), "votes": dict(self.votes),
                "transitions": list(self.transitions)}

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "votes", {}))
