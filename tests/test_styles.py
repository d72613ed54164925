"""Strategy styles (:mod:`hean_framework.styles`): a declared class attribute, one exemption
table, read by the risk limits and the pipeline; an unknown style is refused at registration."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.errors import PluginError
from hean_framework.groups import OrderGroup
from hean_framework.models import Bar, Fill, OrderDecision, Signal
from hean_framework.ports import RunInfo, StrategyInfo
from hean_framework.risk.limits import RiskLimits, RiskLimitsConfig
from hean_framework.styles import EXEMPTIONS, RULES, STYLES
from hean_framework.testing import isolated_plugins, make_context

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
T0 = 1_741_305_600_000
BTC = "BTC/USDT:USDT"


def test_table_covers_every_style_with_known_rules() -> None:
    assert set(EXEMPTIONS) == set(STYLES)
    assert all(set(rules) <= set(RULES) for rules in EXEMPTIONS.values())
    assert EXEMPTIONS["directional"] == frozenset()
    assert Strategy.style == "directional"


def test_unknown_style_is_refused_at_registration() -> None:
    class Odd(Strategy):
        style = "market_making"  # type: ignore[assignment]

    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("odd", Odd, config=ComponentConfig)

    with pytest.raises(PluginError, match="style 'market_making'") as e:
        isolated_plugins(Plugin(), names=["odd_test"])
    assert "directional, quoting, carry" in str(e.value.hint)


def _limits(style: str) -> RiskLimits:
    ctx = make_context(capital=1000.0, price=100.0, now=T0, symbols=[BTC])
    ctx.run = RunInfo(strategies={"s": StrategyInfo("s", "p", (BTC,), style=style)})
    g = RiskLimits(RiskLimitsConfig(require_take_profit=True, daily_attempts_default=1,
                                    max_open_positions=1), ctx, name="risk_limits")
    g.on_start()
    # another strategy holds BTC: one-position-per-symbol and max_open_positions both bite
    ctx.portfolio.apply_fill(Fill(1, 1, "holder", BTC, "buy", 1.0, 100.0, 0.0, False, T0))
    return g


def _vote(g: RiskLimits) -> Any:
    sig = Signal("s", BTC, "buy", T0, 100.0, limit_price=99.0, size=0.1, signal_id=1)
    return g.vote(sig, OrderDecision(1, 1, "s", BTC, "buy", T0, price=99.0))


def test_quoting_is_exempt_from_rr_one_position_attempts_and_max_open() -> None:
    g = _limits("quoting")
    for _ in range(3):  # requotes are not attempts
        assert _vote(g) is None
        g.on_decision(OrderDecision(2, 2, "s", BTC, "buy", T0, stage="executor:plain"))


def test_carry_is_exempt_from_reward_risk_only() -> None:
    v = _vote(_limits("carry"))
    assert v is not None and v.code == "RISK_BLOCKED" and "held by holder" in v.message


def test_directional_gets_every_rule() -> None:
    v = _vote(_limits("directional"))
    assert v is not None and v.code == "RISK_BLOCKED" and "take_profit" in v.message


def _run(tmp_path: Path, style: str) -> Counter[str]:
    class Quoter(Strategy):
        """Bids two levels under every BTC bar's close."""

        def on_bar(self, bar: Bar) -> Any:
            if bar.symbol != BTC:
                return None
            legs = [self.signal(BTC, "buy", bar.ts, bar.close, size=0.01,
                                limit_price=round(bar.close * (1 - k / 1000), 1))
                    for k in (1, 2)]
            return OrderGroup(legs, kind="quote")

    Quoter.style = style  # type: ignore[assignment]

    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("quoter", Quoter, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["quoter_test"])
    raw = {"run": {"name": "styles"}, "account": {"capital": 50_000},
           "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
           "data": {"files": [{"kind": "bars", "symbol": BTC, "path": str(
               DATA / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz")}],
               "end": "2025-03-08"},
           "strategies": {"quoter": {}}, "report": {"progress": False},
           "gates": {"risk_limits": {"daily_attempts_default": 50}}}
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=tmp_path, journal=False, progress=False)
    res = eng.run()
    eng.close()
    reasons: Counter[str] = Counter(res.funnel["validation_reasons"])
    for stage in res.funnel["stages"]:
        reasons.update(stage["reasons"])
    reasons["CREATE"] = res.funnel["decisions"]["CREATE"]
    return reasons


def test_a_quoting_strategy_requotes_all_day_a_directional_one_hits_its_limits(
        tmp_path: Path) -> None:
    directional = _run(tmp_path / "d", "directional")
    quoting = _run(tmp_path / "q", "quoting")
    assert directional["DAILY_LIMIT"] > 0
    assert quoting["DAILY_LIMIT"] == quoting["LIMIT_REACHED"] == 0
    assert quoting["CREATE"] > 2 * directional["CREATE"]
