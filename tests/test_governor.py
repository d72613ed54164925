"""The ``governor`` (:mod:`hean_framework.risk.governor`, docs/risk.md "Governor"): monotonic
escalation, de-escalation only by rule (never HARD_STOP -> QUARANTINE on a bounce), killswitch,
quarantine, journal."""

from __future__ import annotations

from typing import Any

import pytest

from hean_framework.models import ClosedTrade, OrderDecision, Signal
from hean_framework.risk.governor import (
    RISK_SIZE_MULTIPLIER,
    RISK_STATE,
    GovernorConfig,
    RiskGovernor,
)
from hean_framework.testing import make_context

T0 = 1_741_305_600_000  # 2025-03-07 00:00 UTC
MIN = 60_000
BTC = "BTC/USDT:USDT"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[int, str, dict[str, Any]]] = []

    def event(self, ts: int, kind: str, payload: dict[str, Any]) -> None:
        self.events.append((ts, kind, payload))


def _gov(**cfg: Any) -> RiskGovernor:
    ctx = make_context(capital=1000.0, price=80_000.0, now=T0)
    ctx.journal = Recorder()  # type: ignore[assignment]
    g = RiskGovernor(GovernorConfig(**cfg), ctx, name="governor")
    g.on_start()
    return g


def _vote(g: RiskGovernor, equity: float, ts: int) -> Any:
    g.ctx.now = ts
    g.ctx.portfolio.cash = equity
    sig = Signal("s", BTC, "buy", ts, 80_000.0, stop_loss=79_000.0)
    return g.vote(sig, OrderDecision(1, 1, "s", BTC, "buy", ts, price=80_000.0))


def test_ladder_and_multipliers() -> None:
    g = _gov()
    g.on_equity(T0, 1000.0)
    assert g.state == "NORMAL" and g.ctx.facts.get(RISK_SIZE_MULTIPLIER) == 1.0
    g.on_equity(T0 + MIN, 930.0)  # 7 %: still NORMAL, drawdown factor 0.7
    assert g.state == "NORMAL"
    assert g.ctx.facts.get(RISK_SIZE_MULTIPLIER) == pytest.approx(0.7)
    g.on_equity(T0 + 2 * MIN, 890.0)  # 11 %
    assert g.state == "SOFT_BRAKE"
    assert g.ctx.facts.get(RISK_SIZE_MULTIPLIER) == pytest.approx(0.25)
    assert g.ctx.facts.get(RISK_STATE) == "SOFT_BRAKE"
    g.on_equity(T0 + 3 * MIN, 840.0)  # 16 %
    assert g.state == "QUARANTINE"
    assert g.ctx.facts.get(RISK_SIZE_MULTIPLIER) == pytest.approx(0.75 * 0.3)


def test_22_percent_hard_stop_bounce_to_17_stays_hard_stop() -> None:
    g = _gov()
    g.on_equity(T0, 780.0)  # 22 % -> straight to HARD_STOP
    assert g.state == "HARD_STOP"
    v = _vote(g, 780.0, T0 + MIN)
    assert v.decision == "SKIP" and v.code == "TRADING_DISABLED"
    assert v.details["drawdown"] == pytest.approx(0.22)
    assert v.details["thresholds"]["hard_stop"] == 0.2
    for k in range(1, 200):  # 17 % for more than 3 hours
        g.on_equity(T0 + k * MIN, 830.0)
    assert g.state == "HARD_STOP"
    assert g.ctx.facts.get(RISK_SIZE_MULTIPLIER) == 0.0
    # 12 % (< 15 % − 2 pp) for 30 min -> one step down to QUARANTINE, not further
    t = T0 + 300 * MIN
    g.on_equity(t, 880.0)
    g.on_equity(t + 29 * MIN, 880.0)
    assert g.state == "HARD_STOP"
    g.on_equity(t + 30 * MIN, 880.0)
    assert g.state == "QUARANTINE"
    assert _vote(g, 880.0, t + 31 * MIN) is None  # QUARANTINE trades at reduced size
    # < 5 % for 30 min -> NORMAL
    t += 60 * MIN
    g.on_equity(t, 960.0)
    g.on_equity(t + 30 * MIN, 960.0)
    assert g.state == "NORMAL"
    states = [p["state"] for _, k, p in g.ctx.journal.events if k == "risk_state"]
    assert states == ["HARD_STOP", "QUARANTINE", "NORMAL"]
    rep = g.ctx.sections["risk"]()
    assert [x["state"] for x in rep["transitions"]] == states
    assert rep["max_drawdown"] == pytest.approx(0.22)


def test_recovery_condition_must_hold_continuously() -> None:
    g = _gov()
    g.on_equity(T0, 880.0)
    assert g.state == "SOFT_BRAKE"
    g.on_equity(T0 + 40 * MIN, 970.0)
    g.on_equity(T0 + 60 * MIN, 940.0)  # 6 %: condition broken
    g.on_equity(T0 + 75 * MIN, 970.0)
    assert g.state == "SOFT_BRAKE"
    g.on_equity(T0 + 105 * MIN, 970.0)
    assert g.state == "NORMAL"


def test_killswitch_until_next_utc_day_or_manual_reset() -> None:
    g = _gov()
    v = _vote(g, 690.0, T0 + 60 * MIN)  # −31 %
    assert g.killswitch and g.state == "HARD_STOP"
    assert v.code == "TRADING_DISABLED" and v.details["killswitch"] is True
    assert g.ctx.facts.get(RISK_STATE) == "KILLSWITCH"
    # next UTC day: the killswitch clears, the governor state still follows its rules
    v = _vote(g, 750.0, T0 + 86_400_000 + MIN)
    assert not g.killswitch and g.state == "HARD_STOP"
    assert v.code == "TRADING_DISABLED"
    g.reset()
    assert g.state == "NORMAL" and _vote(g, 750.0, T0 + 86_400_000 + 2 * MIN) is None
    kinds = [p.get("reset_type") for _, k, p in g.ctx.journal.events if k == "risk_state"]
    assert "new_day" in kinds and "manual" in kinds


def test_symbol_quarantine_after_24h_loss() -> None:
    g = _gov()
    g.on_position_closed(ClosedTrade("s", BTC, "long", 0.01, 80_000, 77_000, T0 - MIN, T0,
                                     -30.0, 0.0, 0.0))
    assert BTC not in g.quarantined  # 3.0 % of 1000 is not > 3 %
    g.on_position_closed(ClosedTrade("s", BTC, "long", 0.01, 80_000, 79_000, T0, T0 + MIN,
                                     -5.0, 0.0, 0.0))
    v = _vote(g, 1000.0, T0 + 2 * MIN)
    assert v.code == "SYMBOL_BLOCKED" and v.decision == "SKIP"
    assert _vote(g, 1000.0, T0 + 7 * 3_600_000) is None


def test_config_validates_ladder() -> None:
    with pytest.raises(ValueError):
        GovernorConfig(soft_brake_pct=0.2, quarantine_pct=0.15)


SEC = 1_000


def _errors(g: RiskGovernor, times: list[int], kind: str = "handler",
            message: str = "ValueError: bug") -> None:
    for ts in times:
        g.on_error(ts, "bad_gate", kind, message)


def test_error_rate_above_10_in_5_min_soft_brakes() -> None:
    """Error-rate trigger: > 10 component/venue errors per 5 min -> SOFT_BRAKE."""
    g = _gov()
    g.on_equity(T0, 1000.0)
    _errors(g, [T0 + k * 29 * SEC for k in range(10)])
    assert g.state == "NORMAL"
    _errors(g, [T0 + 10 * 29 * SEC])  # the 11th within 290 s
    assert g.state == "SOFT_BRAKE"
    assert g.ctx.facts.get(RISK_SIZE_MULTIPLIER) == 0.5
    ev = [p for _, k, p in g.ctx.journal.events if k == "risk_state"]
    assert ev[-1]["trigger_type"] == "ERROR_RATE" and ev[-1]["errors"] == 11
    assert "bad_gate" in ev[-1]["reason"]
    assert g.report()["errors"] == {"seen": 11, "limit": 10, "window_minutes": 5.0,
                                    "triggers": 1}


def test_errors_spread_over_more_than_5_min_do_not_trigger() -> None:
    g = _gov()
    _errors(g, [T0 + k * 30 * SEC for k in range(40)])  # 11th is exactly 300 s after the 1st
    assert g.state == "NORMAL" and g.error_triggers == 0


def test_post_only_rejects_are_outcomes_not_errors() -> None:
    g = _gov()
    _errors(g, [T0 + k * SEC for k in range(20)], "order_rejected",
            "post_only_would_cross: buy limit 80000 >= ask 79990")
    assert g.state == "NORMAL" and g.errors_seen == 0
    _errors(g, [T0 + (20 + k) * SEC for k in range(11)], "order_rejected",
            "below_exchange_minimum: 0.0001 at 80000 = 8 USDT; min notional 100 USDT")
    assert g.state == "SOFT_BRAKE"


def test_recovery_waits_until_the_error_rate_is_back_within_the_limit() -> None:
    g = _gov()
    for k in range(120):  # an error every 20 s for 40 min, equity (drawdown 0) every minute
        ts = T0 + k * 20 * SEC
        g.on_error(ts, "bad_gate", "handler", "ValueError: bug")
        if k % 3 == 0:
            g.on_equity(ts, 1000.0)
    assert g.state == "SOFT_BRAKE"  # without the error rule: NORMAL 30 min after the trigger
    g.on_equity(T0 + 41 * MIN, 1000.0)  # 11 errors in (36, 41] min: still above the limit
    g.on_equity(T0 + 42 * MIN, 1000.0)  # 8 in (37, 42]: the 30 min of recovery start here
    g.on_equity(T0 + 71 * MIN, 1000.0)
    assert g.state == "SOFT_BRAKE"
    g.on_equity(T0 + 72 * MIN, 1000.0)
    assert g.state == "NORMAL"


def test_reason_texts_show_thresholds_as_configured() -> None:
    from hean_framework.risk._common import pct

    assert (pct(0.006), pct(0.2), pct(0.125)) == ("0.6%", "20%", "12.5%")
