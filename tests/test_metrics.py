"""Run metrics against hand-computed values, and degenerate inputs (no NaN / inf ever)."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

import pytest

from hean_framework.metrics import (
    DAY_MS,
    METRIC_KEYS,
    MINUTE_MS,
    compute_metrics,
    compute_metrics_with_notes,
    downsample_minmax,
    drawdown_series,
    trade_stats,
)
from hean_framework.models import ClosedTrade
from hean_framework.run import RunResult

T0 = 1_717_200_000_000  # 2024-06-01T00:00:00Z


def make_result(curve: list[tuple[int, float, float]], *, initial: float = 1000.0,
                final: float | None = None, start: int = T0, end: int | None = None,
                trades: list[ClosedTrade] | None = None, **kw: Any) -> RunResult:
    """A hand-built RunResult (unit level: only the arithmetic is under test)."""
    return RunResult(
        run_name="unit", mode="backtest", initial_capital=initial, start_ts=start,
        end_ts=end if end is not None else (curve[-1][0] if curve else start),
        events=100, equity_curve=curve, closed_trades=trades or [], fills=kw.pop("fills", 0),
        fees=kw.pop("fees", 0.0), funding=kw.pop("funding", 0.0),
        turnover=kw.pop("turnover", 0.0),
        final_equity=final if final is not None else (curve[-1][1] if curve else initial),
        final_positions=[], per_strategy={}, funnel={}, rejections={}, **kw)


def ct(net: float, closed_min: int, *, fees: float = 0.0, sid: str = "s1") -> ClosedTrade:
    return ClosedTrade(sid, "BTCUSDT", "long", 0.01, 100.0, 101.0, T0,
                       T0 + closed_min * MINUTE_MS, pnl=net + fees, fees=fees, funding=0.0)


FIVE = [(T0 + i * MINUTE_MS, e, 0.0) for i, e in enumerate([1000.0, 1100.0, 990.0, 1050.0,
                                                             1200.0])]


def test_five_sample_curve_hand_computed() -> None:
    m = compute_metrics(make_result(FIVE, fees=3.5, funding=-0.25, fills=4, turnover=2.4))
    assert m["net_pnl"] == pytest.approx(200.0)
    assert m["total_return"] == pytest.approx(0.2)
    assert m["max_drawdown"] == pytest.approx(110.0 / 1100.0)  # 1100 -> 990
    assert m["max_drawdown_duration_s"] == pytest.approx(180.0)  # peak at 1 min, new high at 4
    assert (m["fees"], m["funding"], m["fills"], m["turnover"]) == (3.5, -0.25, 4, 2.4)
    # 4 minutes < 1 day: per-minute grid, annualised with 365 days of minutes
    rets = [1100 / 1000 - 1, 990 / 1100 - 1, 1050 / 990 - 1, 1200 / 1050 - 1]
    ppy = 365 * 24 * 60
    assert m["returns_period_s"] == 60 and m["returns_count"] == 4
    expected_sharpe = statistics.mean(rets) / statistics.stdev(rets) * math.sqrt(ppy)
    assert m["sharpe"] == pytest.approx(expected_sharpe)
    downside = math.sqrt((990 / 1100 - 1) ** 2 / 4)
    assert m["sortino"] == pytest.approx(statistics.mean(rets) / downside * math.sqrt(ppy))
    # too short to annualise -> no CAGR, no Calmar (with a reason)
    _, notes = compute_metrics_with_notes(make_result(FIVE))
    assert m["annualized_return"] is None and m["calmar"] is None
    assert "one day" in notes["annualized_return"]


def test_drawdown_series() -> None:
    dd = drawdown_series(FIVE)
    assert [t for t, _ in dd] == [p[0] for p in FIVE]
    assert [round(v, 12) for _, v in dd] == [0.0, 0.0, 0.1, round(50 / 1100, 12), 0.0]
    # seeded with the initial capital: a first sample below it is already a drawdown
    assert drawdown_series([(T0, 900.0, 0.0)], initial=1000.0) == [(T0, pytest.approx(0.1))]
    assert drawdown_series([]) == []


def test_drawdown_counts_from_initial_capital_when_first_sample_is_lower() -> None:
    curve = [(T0 + MINUTE_MS, 950.0, 0.0), (T0 + 2 * MINUTE_MS, 1010.0, 0.0)]
    m = compute_metrics(make_result(curve, start=T0))
    assert m["max_drawdown"] == pytest.approx(0.05)


def test_trade_statistics_from_closed_trades() -> None:
    # given out of order: stats follow close time -> net PnLs 30, -10, 20, -5, -5
    trades = [ct(-5.0, 5), ct(30.0, 1, fees=2.0), ct(-5.0, 4), ct(-10.0, 2), ct(20.0, 3)]
    m = compute_metrics(make_result(FIVE, trades=trades))
    assert m["trades"] == 5 and m["wins"] == 2 and m["losses"] == 3
    assert m["gross_profit"] == pytest.approx(50.0)
    assert m["gross_loss"] == pytest.approx(20.0)
    assert m["profit_factor"] == pytest.approx(2.5)
    assert m["win_rate"] == pytest.approx(0.4)
    assert m["avg_trade_pnl"] == pytest.approx(6.0)
    assert m["max_consecutive_losses"] == 2
    assert (m["best_trade_pnl"], m["worst_trade_pnl"]) == (pytest.approx(30.0), -10.0)


def test_profit_factor_without_losses_is_none_with_a_note() -> None:
    m, notes = compute_metrics_with_notes(make_result(FIVE, trades=[ct(5.0, 1), ct(1.0, 2)]))
    assert m["profit_factor"] is None and m["win_rate"] == 1.0
    assert "unbounded" in notes["profit_factor"]
    assert m["gross_profit"] == pytest.approx(6.0) and m["gross_loss"] == 0.0
    assert trade_stats([])["profit_factor"] is None


def test_exposure_is_time_weighted() -> None:
    curve = [(T0, 1000.0, 0.0), (T0 + MINUTE_MS, 1000.0, 100.0), (T0 + 2 * MINUTE_MS, 1000.0,
                                                                   0.0),
             (T0 + 3 * MINUTE_MS, 1000.0, 50.0), (T0 + 4 * MINUTE_MS, 1000.0, 0.0)]
    m = compute_metrics(make_result(curve))
    assert m["exposure"] == pytest.approx(0.5)
    assert m["avg_gross_exposure"] == pytest.approx((100.0 + 50.0) / 4)
    # the last sample's exposure holds until the run's end; before the first sample = flat
    curve2 = [(T0 + 2 * MINUTE_MS, 1000.0, 0.0), (T0 + 6 * MINUTE_MS, 1000.0, -200.0)]
    m2 = compute_metrics(make_result(curve2, start=T0, end=T0 + 10 * MINUTE_MS))
    assert m2["exposure"] == pytest.approx(0.4)
    assert m2["avg_gross_exposure"] == pytest.approx(80.0)


def test_daily_grid_annualised_return_and_calmar() -> None:
    # 10 days, a sample every 6 hours, steadily rising with one dip on day 5
    curve = []
    for k in range(41):
        eq = 1000.0 + 10.0 * k / 4
        if k == 20:
            eq -= 40.0
        curve.append((T0 + k * DAY_MS // 4, eq, 0.0))
    r = make_result(curve)
    m = compute_metrics(r)
    assert m["returns_period_s"] == 86_400 and m["returns_count"] == 10
    assert m["duration_days"] == pytest.approx(10.0)
    final = curve[-1][1]
    assert m["annualized_return"] == pytest.approx((final / 1000.0) ** 36.5 - 1.0)
    peak = curve[19][1]
    assert m["max_drawdown"] == pytest.approx((peak - curve[20][1]) / peak)
    assert m["calmar"] == pytest.approx(m["annualized_return"] / m["max_drawdown"])  # type: ignore[operator]
    # hourly grid for a 2-day run
    two_days = [(T0 + k * DAY_MS // 8, 1000.0 + k, 0.0) for k in range(17)]
    assert compute_metrics(make_result(two_days))["returns_period_s"] == 3600


def _assert_json_clean(m: dict[str, Any]) -> None:
    assert set(METRIC_KEYS) <= set(m)
    json.dumps(m, allow_nan=False)  # raises on NaN / inf
    for k, v in m.items():
        assert v is None or isinstance(v, int | float), k
        if isinstance(v, float):
            assert math.isfinite(v), k


@pytest.mark.parametrize("curve,kw", [
    ([], {}),                                                       # empty curve
    ([(T0, 1000.0, 0.0)], {}),                                      # single sample
    ([(T0 + i * MINUTE_MS, 1000.0, 0.0) for i in range(50)], {}),   # constant equity
    ([(T0, 1000.0, 0.0), (T0 + MINUTE_MS, 0.0, 0.0), (T0 + 2 * MINUTE_MS, -5.0, 0.0),
      (T0 + 3 * MINUTE_MS, 10.0, 0.0)], {}),                        # blown-up account
    ([(T0, float("nan"), float("inf")), (T0 + MINUTE_MS, 1000.0, 0.0)],
     {"fees": float("nan"), "turnover": float("inf")}),             # garbage numbers
    ([(T0, 1.0, 0.0), (T0 + 400 * DAY_MS, 1e300, 0.0)], {"initial": 1e-300}),  # overflow
    ([(T0, 0.0, 0.0)], {"initial": 0.0}),                           # zero capital
])
def test_degenerate_inputs_never_give_nan_or_inf(curve: list[tuple[int, float, float]],
                                                 kw: dict[str, Any]) -> None:
    m, notes = compute_metrics_with_notes(make_result(curve, **kw))
    _assert_json_clean(m)
    for k, v in m.items():
        if v is None and k in ("sharpe", "sortino", "max_drawdown", "profit_factor"):
            assert k in notes, k


def test_constant_equity_and_no_trades() -> None:
    curve = [(T0 + i * MINUTE_MS, 1000.0, 0.0) for i in range(50)]
    m, notes = compute_metrics_with_notes(make_result(curve))
    assert m["sharpe"] is None and "standard deviation" in notes["sharpe"]
    assert m["sortino"] is None
    assert m["max_drawdown"] == 0.0 and m["net_pnl"] == 0.0
    assert m["trades"] == 0 and m["win_rate"] is None and m["profit_factor"] is None
    assert m["max_consecutive_losses"] == 0 and m["exposure"] == 0.0
    short = compute_metrics(make_result(curve[:3]))
    assert short["sharpe"] is None  # 2 returns < 3


def test_downsample_minmax_keeps_extremes() -> None:
    pts = [(i, math.sin(i / 50.0) + (5.0 if i == 7777 else 0.0) - (9.0 if i == 4242 else 0.0))
           for i in range(10_000)]
    ds = downsample_minmax(pts, 2000)
    assert len(ds) <= 2000
    assert ds[0] == pts[0] and ds[-1] == pts[-1]
    assert pts[7777] in ds and pts[4242] in ds
    assert [p[0] for p in ds] == sorted(p[0] for p in ds)
    assert downsample_minmax(pts[:10], 2000) == pts[:10]
