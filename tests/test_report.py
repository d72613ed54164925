"""report.json / report.html / terminal summary built from hand-made RunResults."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from hean_framework.metrics import METRIC_KEYS
from hean_framework.models import ClosedTrade, OrderDecision, Position, to_dict
from hean_framework.report import build_report, iso_ms, print_summary, write_report
from hean_framework.run import RunResult

T0 = 1_717_200_000_000  # 2024-06-01T00:00:00Z
REQUIRED_METRICS = ("net_pnl", "fees", "funding", "fills", "trades", "total_return", "sharpe",
                    "sortino", "max_drawdown", "profit_factor", "win_rate", "turnover",
                    "exposure", "avg_trade_pnl", "max_consecutive_losses", "calmar",
                    "annualized_return")

FUNNEL: dict[str, Any] = {
    "signals": 120, "passed_filters": 100, "sized": 80, "passed_gates": 60, "orders": 60,
    "fills": 58, "decisions": {"CREATE": 60, "SKIP": 25, "BLOCK": 35},
    "stages": [
        {"stage": "filter", "in": 120, "out": 100,
         "reasons": {"SPREAD_TOO_WIDE": 15, "STALE_MARKET_DATA": 5}},
        {"stage": "sizer", "in": 100, "out": 80, "reasons": {"POSITION_SIZER_ZERO": 20}},
        {"stage": "gate", "in": 80, "out": 60, "reasons": {"EDGE_TOO_LOW_FOR_COST": 20}},
        {"stage": "executor", "in": 60, "out": 60, "reasons": {}}],
    "by_strategy": {"momentum_trader": {"signals": 120, "CREATE": 60, "SKIP": 25,
                                        "BLOCK": 35}},
}


def decisions(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        d = OrderDecision(i, i, "momentum_trader", "BTCUSDT", "buy", T0 + i * 60_000,
                          decision="BLOCK" if i % 2 else "CREATE",
                          stage="gate:trade_gate" if i % 2 else "pipeline",
                          reason_codes=["EDGE_TOO_LOW_FOR_COST"] if i % 2 else [],
                          expected_edge_bps=6.0 + i % 5, cost_bps=9.0,
                          cost_breakdown={"fee": 5.0, "spread": 4.0}, qty=0.002,
                          notional=134.0, message="<b>edge</b> & cost")
        out.append(to_dict(d))
    return out


def make_result(n_samples: int = 10_000, **overrides: Any) -> RunResult:
    """10k equity samples (1 per minute, ~7 days) with a drawdown in the middle."""
    curve = []
    for i in range(n_samples):
        eq = 500.0 + 0.004 * i + 3.0 * math.sin(i / 300.0) - (25.0 if 4000 <= i < 4100 else 0.0)
        curve.append((T0 + i * 60_000, eq, 130.0 if (i // 50) % 3 == 0 else 0.0))
    trades = [ClosedTrade("momentum_trader", "BTCUSDT", "long", 0.002, 67_000.0, 67_100.0,
                          T0 + k * 600_000, T0 + k * 600_000 + 300_000,
                          pnl=(2.0 if k % 3 else -1.5), fees=0.1, funding=0.0)
               for k in range(30)]
    kw: dict[str, Any] = dict(
        run_name="momentum-btc", mode="backtest", initial_capital=500.0, start_ts=T0,
        end_ts=curve[-1][0] if curve else T0, events=250_000, equity_curve=curve,
        closed_trades=trades, fills=58, fees=6.2, funding=-0.4, turnover=12.5,
        final_equity=curve[-1][1] if curve else 500.0,
        final_positions=[Position("momentum_trader", "BTCUSDT", qty=0.002, avg_price=67_000.0)],
        per_strategy={
            "momentum_trader": {"realized": 45.0, "unrealized": 1.2, "fees": 6.2,
                                "funding": -0.4, "net_pnl": 39.6, "trades": 30, "wins": 20,
                                "fills": 58, "turnover": 12.5},
            "funding_harvester": {"realized": -3.0, "unrealized": 0.0, "fees": 0.5,
                                  "funding": 1.0, "net_pnl": -2.5, "trades": 0, "wins": 0,
                                  "fills": 2, "turnover": 0.4}},
        funnel=FUNNEL, rejections={"CROSSED_BOOK": 3, "NEGATIVE_PRICE": 1},
        manifest={"seed": 7, "hean_version": "0.1.0", "config": {"big": "x" * 1000},
                  "data_files": {"btc.csv": "ab" * 32}},
        sections={"allocation": {"budgets": {"momentum_trader": 300.0,
                                             "funding_harvester": 200.0},
                                 "rebalances": 4},
                  "risk": {"state": "NORMAL", "transitions": [
                      {"ts": T0, "from": "NORMAL", "to": "SOFT_BRAKE"},
                      {"ts": T0 + 9, "from": "SOFT_BRAKE", "to": "NORMAL"}]},
                  "small_capital_mode": {"enabled": True, "min_notional_skips": 12},
                  "metrics": {"collides": True}},
        recent_decisions=decisions(150), dead_letters=1, elapsed_s=12.5)
    kw.update(overrides)
    return RunResult(**kw)


def strict_loads(data: bytes) -> Any:
    def bad(x: str) -> None:
        raise ValueError(f"non-finite number {x} in JSON")
    return json.loads(data, parse_constant=bad)


def test_report_json_has_every_section_and_metric(tmp_path: Path) -> None:
    result = make_result()
    report = write_report(result, tmp_path)
    on_disk = strict_loads((tmp_path / "report.json").read_bytes())
    assert on_disk == report
    for key in ("run", "metrics", "per_strategy", "funnel", "rejections", "decisions",
                "allocation", "risk", "small_capital_mode", "manifest"):
        assert key in on_disk, key
    assert set(REQUIRED_METRICS) <= set(on_disk["metrics"])
    assert set(METRIC_KEYS) <= set(on_disk["metrics"])
    run = on_disk["run"]
    assert run["start"] == "2024-06-01T00:00:00.000Z" and run["start_ms"] == T0
    assert run["end"] == iso_ms(result.end_ts) and run["events"] == 250_000
    assert run["elapsed_s"] == 12.5 and run["hean_version"]
    assert on_disk["rejections"] == {"total": 4,
                                     "by_reason": {"CROSSED_BOOK": 3, "NEGATIVE_PRICE": 1}}
    assert len(on_disk["decisions"]) == 100
    assert on_disk["decisions"][-1]["decision_id"] == 149  # the *last* 100
    assert on_disk["funnel"] == FUNNEL
    assert on_disk["top_reasons"][0]["count"] == 20
    # a section named like a core key does not overwrite it
    assert on_disk["section_metrics"] == {"collides": True}
    assert "config" not in on_disk["manifest"] and on_disk["manifest"]["seed"] == 7
    # per-strategy numbers are kept and completed with trade statistics
    mt = on_disk["per_strategy"]["momentum_trader"]
    assert mt["net_pnl"] == 39.6 and mt["trades"] == 30
    assert mt["win_rate"] == pytest.approx(20 / 30)
    m = on_disk["metrics"]
    assert m["trades"] == 30 and m["fills"] == 58 and m["turnover"] == 12.5
    assert m["max_drawdown"] > 0.04  # the 25-USDT dip on ~520 USDT is visible
    assert m["returns_period_s"] == 3600  # 10k minutes = 6.9 days < 7 -> hourly grid
    assert m["profit_factor"] == pytest.approx((20 * 1.9) / (10 * 1.6))
    assert on_disk["equity"]["samples"] == 10_000 and len(on_disk["equity"]["points"]) <= 500


def test_report_html_is_self_contained_and_small(tmp_path: Path) -> None:
    write_report(make_result(), tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    size = (tmp_path / "report.html").stat().st_size
    assert size < 1_000_000, size
    assert page.count('<img class="chart"') >= 4  # equity, drawdown, strategies, funnel
    assert '<img class="chart" alt="equity curve" src="data:image/png;base64,' in page
    assert "data:image/png;base64," in page
    # nothing is loaded from elsewhere
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page, re.I)
    assert "@import" not in page and "<script" not in page
    # funnel reasons, sections, decisions, rejections are on the page
    for text in ("SPREAD_TOO_WIDE", "POSITION_SIZER_ZERO", "EDGE_TOO_LOW_FOR_COST",
                 "Allocation", "Risk", "Small capital mode", "SOFT_BRAKE", "CROSSED_BOOK",
                 "funding_harvester", "momentum-btc"):
        assert text in page, text
    # user text is escaped
    assert "&lt;b&gt;edge&lt;/b&gt; &amp; cost" in page and "<b>edge</b>" not in page


def test_degenerate_result_gives_clean_report(tmp_path: Path) -> None:
    result = make_result(n_samples=0, closed_trades=[], per_strategy={}, funnel={},
                         rejections={}, sections={}, recent_decisions=[], final_positions=[],
                         fills=0, fees=float("nan"), turnover=float("inf"), elapsed_s=0.0)
    report = write_report(result, tmp_path / "out")
    data = strict_loads((tmp_path / "out" / "report.json").read_bytes())
    assert data == report
    assert set(REQUIRED_METRICS) <= set(data["metrics"])
    assert data["metrics"]["fees"] is None and data["metrics"]["sharpe"] is None
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "no data" in page and "<html" in page


def test_build_report_without_html(tmp_path: Path) -> None:
    report = write_report(make_result(n_samples=50), tmp_path, html=False)
    assert (tmp_path / "report.json").exists() and not (tmp_path / "report.html").exists()
    assert report == build_report(make_result(n_samples=50))


def test_short_run_grid_and_notes() -> None:
    report = build_report(make_result(n_samples=100))  # 99 minutes
    assert report["metrics"]["returns_period_s"] == 60
    assert report["metrics"]["annualized_return"] is None
    assert "annualized_return" in report["notes"]


def test_print_summary_renders_metrics_and_funnel() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=120, color_system=None)
    print_summary(build_report(make_result(n_samples=200)), console)
    text = buf.getvalue()
    for word in ("Net PnL", "Sharpe", "Max drawdown", "Decision funnel", "filter",
                 "SPREAD_TOO_WIDE", "CROSSED_BOOK", "dead letters"):
        assert word in text, word
