"""``gates.risk_limits``: account risk limits (documented in ``docs/risk.md``, "Risk limits").

Votes, most severe first:

1. reward:risk below ``min_rr`` (2.0; per strategy from ``min_rr_by_strategy``, else the
   strategy's own ``min_rr`` key, measured from the order price) → BLOCK ``RISK_BLOCKED``;
2. another strategy holds the symbol (one open position per symbol) → BLOCK ``RISK_BLOCKED``;
3. non-viable strategy × symbol when ``risk.disable_non_viable`` is true → SKIP
   ``STRATEGY_NOT_VIABLE`` (see :mod:`hean_framework.risk.capital_plan`);
4. consecutive-loss lockout: after ``consecutive_losses`` losing trades in a row (per strategy,
   :data:`CONSECUTIVE_LOSSES`, others ``consecutive_losses_default`` 3) → SKIP ``COOLDOWN`` for
   ``consecutive_losses_cooldown_hours`` (2 h), then the streak restarts;
5. daily attempts (orders created) per strategy and UTC day ≥ its cap (:data:`DAILY_ATTEMPTS`,
   others ``daily_attempts_default`` 200; ``impulse_engine``'s cap × ``impulse_regime_factor``
   0.8 while its symbol's regime is IMPULSE) → SKIP ``DAILY_LIMIT``;
6. open positions + in-flight reservations of other signals ≥ ``max_open_positions`` → SKIP
   ``LIMIT_REACHED``.

The lockout is released by time on purpose: the original released it only at the strategy's
next winning trade, which a locked-out strategy can never make, so the lockout was permanent.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from ..components import ComponentConfig, Gate, Verdict, block, skip
from ..facts import REGIME
from ..models import CREATE, ClosedTrade, OrderDecision, Signal
from ..styles import EXEMPTIONS
from ._common import DAY_MS, HOUR_MS, journal_event, lookup, plugin_names
from .inflight import INFLIGHT_COUNT, INFLIGHT_SIGNALS

#: Orders created per UTC day allowed to each original HEAN strategy; others
#: ``daily_attempts_default`` (200).
DAILY_ATTEMPTS: dict[str, int] = {
    "impulse_engine": 120, "hf_scalping": 200, "momentum_trader": 150,
    "funding_harvester": 100, "basis_arbitrage": 100, "enhanced_grid": 150,
    "inventory_neutral_mm": 200, "correlation_arb": 100, "rebate_farmer": 200,
    "sentiment_strategy": 100, "liquidity_sweep": 100,
}
#: Losing trades in a row before the lockout, per original HEAN strategy; others
#: ``consecutive_losses_default`` (3).
CONSECUTIVE_LOSSES: dict[str, int] = {"impulse_engine": 3, "hf_scalping": 2,
                                      "momentum_trader": 3}


class RiskLimitsConfig(ComponentConfig):
    """``gates.risk_limits``: positions, per-symbol exclusivity, attempts, lockouts, R:R."""

    max_open_positions: int = Field(10, ge=1, description="account-wide open positions "
                                    "(in-flight reservations included)")
    one_position_per_symbol: bool = Field(True, description="refuse a symbol another "
                                          "strategy already holds")
    daily_attempts: dict[str, int] = Field(default_factory=lambda: dict(DAILY_ATTEMPTS),
                                           description="orders per strategy per UTC day")
    daily_attempts_default: int = Field(200, ge=0, description="for strategies not listed")
    impulse_regime_factor: float = Field(0.8, gt=0, le=1, description="impulse_engine's "
                                         "daily limit factor in the IMPULSE regime")
    consecutive_losses: dict[str, int] = Field(
        default_factory=lambda: dict(CONSECUTIVE_LOSSES),
        description="losses in a row before the lockout, per strategy")
    consecutive_losses_default: int = Field(3, ge=1, description="for strategies not listed")
    consecutive_losses_cooldown_hours: float = Field(2.0, ge=0, description="lockout length")
    min_rr: float = Field(2.0, ge=0, description="minimum reward:risk (0 disables)")
    min_rr_by_strategy: dict[str, float] = Field(default_factory=dict,
                                                 description="per-strategy overrides")
    require_take_profit: bool = Field(False, description="BLOCK signals without a target "
                                      "(otherwise the R:R rule cannot apply and passes)")


class RiskLimits(Gate):
    """Account-level risk limits; every rule fails closed on missing data."""

    config: RiskLimitsConfig

    def on_start(self) -> None:
        ctx = self.ctx
        self._plugins = plugin_names(ctx)
        self._day = -1
        self.attempts: dict[str, int] = {}
        self.streak: dict[str, int] = {}
        self.locked_until: dict[str, int] = {}
        self.not_viable: dict[tuple[str, str], str] = {}
        self._logged: set[tuple[str, str]] = set()
        self.votes: dict[str, int] = {}
        self._min_rr_cache: dict[str, float] = {}
        self._exempt_cache: dict[str, frozenset[str]] = {}
        self._load_viability()

    # ------------------------------------------------------------------ viability

    def _load_viability(self) -> None:
        """Apply ``risk.disable_non_viable`` (validated with its YAML path)."""
        from .capital_plan import load_not_viable

        self.not_viable = load_not_viable(self.ctx)

    # ------------------------------------------------------------------ helpers

    def min_rr_for(self, sid: str) -> float:
        """The reward:risk floor of strategy ``sid``."""
        v = self._min_rr_cache.get(sid)
        if v is None:
            cfg = self.config
            v = lookup(cfg.min_rr_by_strategy, sid, self._plugins, None)
            if v is None:
                info = self.ctx.run.strategies.get(sid)
                own = info.min_rr if info is not None else None
                v = float(own) if own is not None else cfg.min_rr
            v = float(v)
            self._min_rr_cache[sid] = v
        return v

    def _reward_risk(self, signal: Signal, price: float) -> Verdict | None:
        """Rule 1: reward:risk from the order price must reach the strategy's floor."""
        min_rr = self.min_rr_for(signal.strategy_id)
        if signal.take_profit is None:
            if self.config.require_take_profit:
                return block("RISK_BLOCKED", "no take_profit: reward:risk cannot be checked "
                             "(risk_limits.require_take_profit)", min_rr=min_rr)
            return None
        if min_rr <= 0.0:
            return None
        if signal.stop_loss is None:
            return block("RISK_BLOCKED", "no stop_loss: reward:risk cannot be checked",
                         min_rr=min_rr)
        risk = abs(price - signal.stop_loss)
        reward = (signal.take_profit - price) if signal.side == "buy" \
            else (price - signal.take_profit)
        rr = reward / risk if risk > 0.0 else 0.0
        if rr < min_rr - 1e-9:
            return block("RISK_BLOCKED", f"reward:risk {_num(rr, floor=True)} < {_num(min_rr)}",
                         reward_risk=round(rr, 6), min_rr=min_rr)
        return None

    def exemptions(self, sid: str) -> frozenset[str]:
        """The rules strategy ``sid`` is exempt from by its declared style
        (:mod:`hean_framework.styles`)."""
        v = self._exempt_cache.get(sid)
        if v is None:
            info = self.ctx.run.strategies.get(sid)
            v = self._exempt_cache[sid] = EXEMPTIONS.get(
                info.style if info is not None else "directional", frozenset())
        return v

    def daily_limit(self, sid: str, symbol: str) -> int:
        """Orders allowed per UTC day for ``sid`` (impulse_engine × 0.8 in IMPULSE)."""
        cfg = self.config
        lim = int(lookup(cfg.daily_attempts, sid, self._plugins, cfg.daily_attempts_default))
        if self._plugins.get(sid, sid) == "impulse_engine" and \
                self.ctx.facts.get(REGIME, symbol).upper() == "IMPULSE":
            lim = int(lim * cfg.impulse_regime_factor)
        return lim

    def _roll_day(self, ts: int) -> None:
        day = ts // DAY_MS
        if day != self._day:
            self._day = day
            self.attempts.clear()

    def _count(self, code: str) -> None:
        self.votes[code] = self.votes.get(code, 0) + 1

    # ------------------------------------------------------------------ vote

    def vote(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Apply the limits in order of severity; return the first failing rule."""
        cfg = self.config
        ctx = self.ctx
        sid, sym = signal.strategy_id, signal.symbol
        price = decision.price
        exempt = self.exemptions(sid)
        # 1. reward:risk (styles exempt from it: hean_framework.styles)
        if "reward_risk" not in exempt:
            verdict = self._reward_risk(signal, price)
            if verdict is not None:
                self._count("RISK_BLOCKED")
                return verdict
        # 2. one open position per symbol across strategies
        pf = ctx.portfolio
        positions = pf.positions()
        if cfg.one_position_per_symbol and "one_position" not in exempt:
            for p in positions:
                if p.symbol == sym and p.strategy_id != sid and p.qty:
                    self._count("RISK_BLOCKED")
                    return block("RISK_BLOCKED", f"{sym} is already held by {p.strategy_id} "
                                 f"({p.qty:g}); one open position per symbol",
                                 held_by=p.strategy_id, held_qty=p.qty)
        # 3. viability
        why = self.not_viable.get((sid, sym))
        if why is not None:
            self._count("STRATEGY_NOT_VIABLE")
            return skip("STRATEGY_NOT_VIABLE", f"{sid} on {sym} disabled at start "
                        f"(risk.disable_non_viable): {why}")
        now = ctx.now
        # 4. consecutive-loss lockout
        until = self.locked_until.get(sid)
        if until is not None:
            if now < until:
                self._count("COOLDOWN")
                return skip("COOLDOWN", f"{sid} locked after {self.streak.get(sid, 0)} "
                            f"losses in a row until {until} ms", locked_until=until)
            del self.locked_until[sid]
            self.streak[sid] = 0
        # 5. daily attempts
        self._roll_day(now)
        lim = self.daily_limit(sid, sym)
        used = self.attempts.get(sid, 0)
        if used >= lim and "daily_attempts" not in exempt:
            self._count("DAILY_LIMIT")
            return skip("DAILY_LIMIT", f"{sid} used {used} of {lim} daily attempts (UTC day)",
                        attempts=used, daily_limit=lim)
        # 6. open positions (+ in-flight reservations of other signals)
        own = pf.position(sid, sym).qty
        if not own and "max_open_positions" not in exempt:
            n_open = sum(1 for p in positions if p.qty)
            inflight = ctx.facts.get(INFLIGHT_COUNT)
            if signal.signal_id in ctx.facts.get(INFLIGHT_SIGNALS):
                inflight -= 1
            if n_open + max(0, inflight) >= cfg.max_open_positions:
                self._count("LIMIT_REACHED")
                return skip("LIMIT_REACHED", f"{n_open} open positions + {max(0, inflight)} "
                            f"in flight >= max_open_positions {cfg.max_open_positions}",
                            open_positions=n_open, in_flight=max(0, inflight),
                            max_open_positions=cfg.max_open_positions)
        return None

    # ------------------------------------------------------------------ observers

    def on_decision(self, decision: OrderDecision) -> None:
        """An entry order created counts as one daily attempt."""
        if decision.decision != CREATE or decision.stage == "exit" or \
                decision.decision_id == 0:
            return
        self._roll_day(decision.ts)
        sid = decision.strategy_id
        self.attempts[sid] = self.attempts.get(sid, 0) + 1

    def on_position_closed(self, trade: ClosedTrade) -> None:
        """Track losses in a row; lock the strategy for the cooldown at the limit."""
        cfg = self.config
        sid = trade.strategy_id
        if trade.net_pnl < 0.0:
            n = self.streak.get(sid, 0) + 1
            self.streak[sid] = n
            lim = int(lookup(cfg.consecutive_losses, sid, self._plugins,
                             cfg.consecutive_losses_default))
            if n >= lim:
                until = trade.closed_ts + int(cfg.consecutive_losses_cooldown_hours * HOUR_MS)
                self.locked_until[sid] = until
                journal_event(self.ctx, "strategy_lockout", {
                    "strategy": sid, "losses_in_a_row": n, "until": until}, trade.closed_ts)
        else:
            self.streak[sid] = 0

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "votes", {}))


def _num(x: float, floor: bool = False) -> str:
    """``1.5``, ``2.0``, ``1.999`` (floored to 3 decimals so 1.9999 never prints as 2.0)."""
    if floor:
        x = math.floor(x * 1000.0) / 1000.0
    s = f"{x:.3f}".rstrip("0")
    return s + "0" if s.endswith(".") else s
