"""The ``risk_limits`` gate (:mod:`hean_framework.risk.limits`, docs/risk.md "Risk limits") and
the ``risk:`` section validation."""

from __future__ import annotations

from typing import Any

import pytest

from hean_framework.errors import ConfigError
from hean_framework.facts import REGIME
from hean_framework.models import ClosedTrade, Fill, OrderDecision, Signal
from hean_framework.risk.inflight import INFLIGHT_COUNT, INFLIGHT_SIGNALS
from hean_framework.risk.limits import RiskLimits, RiskLimitsConfig
from hean_framework.testing import make_context

T0 = 1_741_305_600_000  # 2025-03-07 00:00 UTC
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def _limits(**cfg: Any) -> RiskLimits:
    ctx = make_context(capital=1000.0, price=100.0, now=T0, symbols=[BTC, ETH])
    g = RiskLimits(RiskLimitsConfig(**cfg), ctx, name="risk_limits")
    g.on_start()
    return g


def _vote(g: RiskLimits, sid: str = "s", sym: str = BTC, rr: float = 2.0,
          ts: int | None = None, signal_id: int = 1) -> Any:
    if ts is not None:
        g.ctx.now = ts
    sig = Signal(sid, sym, "buy", g.ctx.now, 100.0, stop_loss=99.0, take_profit=100.0 + rr,
                 signal_id=signal_id)
    return g.vote(sig, OrderDecision(signal_id, signal_id, sid, sym, "buy", g.ctx.now,
                                     price=100.0))


def _created(g: RiskLimits, sid: str, ts: int) -> None:
    d = OrderDecision(7, 7, sid, BTC, "buy", ts, stage="executor:plain")
    g.on_decision(d)


def test_min_rr_blocks_with_reason_text_and_overrides() -> None:
    g = _limits()
    v = _vote(g, rr=1.5)
    assert v.decision == "BLOCK" and v.code == "RISK_BLOCKED"
    assert v.message == "reward:risk 1.5 < 2.0"
    assert _vote(g, rr=2.0) is None
    g = _limits(min_rr_by_strategy={"grid": 1.0})
    assert _vote(g, sid="grid", rr=1.5) is None
    assert _vote(g, sid="other", rr=1.5).code == "RISK_BLOCKED"
    v = _vote(_limits(), rr=1.9999)
    assert v.message == "reward:risk 1.999 < 2.0"


def test_one_position_per_symbol_names_the_holder() -> None:
    g = _limits()
    g.ctx.portfolio.apply_fill(Fill(1, 1, "holder", BTC, "buy", 1.0, 100.0, 0.0, False, T0))
    v = _vote(g, sid="s")
    assert v.decision == "BLOCK" and v.code == "RISK_BLOCKED"
    assert v.details["held_by"] == "holder" and "holder" in v.message
    assert _vote(g, sid="s", sym=ETH) is None


def test_daily_attempts_per_utc_day() -> None:
    g = _limits(daily_attempts={"s": 2})
    for _ in range(2):
        assert _vote(g) is None
        _created(g, "s", g.ctx.now)
    v = _vote(g)
    assert v.decision == "SKIP" and v.code == "DAILY_LIMIT"
    assert v.details == {"attempts": 2, "daily_limit": 2}
    assert _vote(g, sid="other") is None  # others: 200
    assert _vote(g, ts=T0 + 86_400_000) is None  # next UTC day


def test_daily_table_uses_plugin_names() -> None:
    g = _limits()
    assert g.daily_limit("x", BTC) == 200
    g._plugins = {"fast_impulse": "impulse_engine"}
    assert g.daily_limit("fast_impulse", BTC) == 120
    g.ctx.facts.set(REGIME, "IMPULSE", BTC)
    assert g.daily_limit("fast_impulse", BTC) == 96


def test_consecutive_loss_lockout_released_after_cooldown() -> None:
    g = _limits()
    for i in range(3):
        g.on_position_closed(ClosedTrade("s", BTC, "long", 1.0, 100, 99, T0, T0 + i, -1.0,
                                         0.0, 0.0))
    v = _vote(g, ts=T0 + 3_600_000)
    assert v.decision == "SKIP" and v.code == "COOLDOWN"
    assert _vote(g, ts=T0 + 2 * 3_600_000 + 2) is None  # 2 h after the third loss
    assert g.streak["s"] == 0
    # a win resets the streak
    g.on_position_closed(ClosedTrade("t", BTC, "long", 1, 100, 99, T0, T0, -1.0, 0, 0))
    g.on_position_closed(ClosedTrade("t", BTC, "long", 1, 100, 101, T0, T0, 1.0, 0, 0))
    assert g.streak["t"] == 0


def test_max_open_positions_counts_other_in_flight() -> None:
    g = _limits(max_open_positions=2)
    g.ctx.portfolio.apply_fill(Fill(1, 1, "a", ETH, "buy", 1.0, 100.0, 0.0, False, T0))
    assert _vote(g, sid="s") is None
    g.ctx.facts.set(INFLIGHT_COUNT, 1)
    g.ctx.facts.set(INFLIGHT_SIGNALS, frozenset({99}))
    v = _vote(g, sid="s")
    assert v.code == "LIMIT_REACHED" and v.details["in_flight"] == 1
    # the reservation of this very signal is not counted twice
    g.ctx.facts.set(INFLIGHT_SIGNALS, frozenset({1}))
    assert _vote(g, sid="s", signal_id=1) is None


def test_risk_section_errors_carry_the_yaml_path() -> None:
    """``risk:`` is a registered section: validated with the config, before anything runs
    (``hean config validate`` used to accept a typo inside it)."""
    from hean_framework.config import load_setup
    from hean_framework.testing import isolated_plugins

    reg = isolated_plugins().registry
    raw = {"run": {"mode": "paper"}, "risk": {"disable_non_viable": True}}
    assert load_setup(None, reg, raw=raw, environ={}).section("risk").disable_non_viable
    with pytest.raises(ConfigError) as e:
        load_setup(None, reg, raw={**raw, "risk": {"disable_non_viable": "sometimes",
                                                   "bogus": 1}}, environ={})
    text = str(e.value)
    assert "risk.disable_non_viable" in text
    assert "risk.bogus: unknown key" in text
