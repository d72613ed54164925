"""Performance metrics of a finished run, computed from a :class:`~hean_framework.run.RunResult`.

Pure functions, stdlib only.  Every value is a finite ``float``, an ``int`` or ``None`` (never
NaN or inf), so the output is always valid JSON.  ``None`` means "not defined for this run";
:func:`compute_metrics_with_notes` says why.

Conventions
-----------
* **Equity curve** = the run's ``equity_curve`` samples ``(ts, equity, gross_exposure)``,
  preceded by ``(start_ts, initial_capital)`` when the first sample is later than the run start,
  and followed by ``(end_ts, final_equity)`` when the last sample is earlier than the run end.
  Between samples equity is a step function (last observation carried forward).
* **Returns grid** for Sharpe / Sortino: the curve is resampled on a regular grid starting at
  the run start -- **daily** when the run spans >= 7 days, **hourly** when it spans >= 1 day,
  else **per minute** -- and simple returns ``e[i] / e[i-1] - 1`` are taken between consecutive
  grid points (a trailing partial period is dropped; periods starting at equity <= 0 are
  skipped).  Annualisation uses 365 days (crypto trades every day): ``periods_per_year =
  365 d / grid step``.  Fewer than 3 returns -> ``None``.
* **Sharpe** = mean(r) / stdev(r) * sqrt(periods_per_year) (sample stdev, risk-free rate 0);
  ``None`` when the stdev is 0 (constant equity).
* **Sortino** = mean(r) / downside deviation * sqrt(periods_per_year), with downside deviation
  = sqrt(mean(min(r, 0)^2)) over *all* returns (target 0); ``None`` when no return is negative.
* **max_drawdown** = max over the curve of (peak - equity) / peak, peak = running maximum of
  equity (starting at the initial capital), as a positive fraction (0.25 = 25 %).
* **profit_factor** = sum of winning trades' net PnL / |sum of losing trades' net PnL|, over
  closed round trips.  ``None`` when there are no trades, and also when there are trades but no
  losing trade (the ratio is unbounded) -- the note says which; ``gross_profit`` and
  ``gross_loss`` are always reported so the reader can see the numbers.
* **win_rate** = share of closed trades with net PnL > 0 (``None`` without trades).
* **exposure** = share of the run's time with non-zero gross exposure, each sample's exposure
  holding until the next sample (the time before the first sample counts as flat).
* **annualized_return** = (final / initial) ^ (365 d / run span) - 1; ``None`` for runs shorter
  than one day (extrapolating hours to a year gives meaningless numbers).
* **calmar** = annualized_return / max_drawdown; ``None`` when either is missing or the
  drawdown is 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any, Final

from .models import ClosedTrade
from .run import RunResult

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 3_600_000
DAY_MS: Final = 86_400_000
YEAR_MS: Final = 365 * DAY_MS
MIN_RETURNS: Final = 3
_EPS_EXPOSURE: Final = 1e-12

Number = float | int | None

#: Keys :func:`compute_metrics` always returns (in this order).
METRIC_KEYS: Final[tuple[str, ...]] = (
    "initial_capital", "final_equity", "net_pnl", "total_return", "annualized_return",
    "fees", "funding", "fills", "trades", "wins", "losses", "win_rate", "gross_profit",
    "gross_loss", "profit_factor", "avg_trade_pnl", "best_trade_pnl", "worst_trade_pnl",
    "max_consecutive_losses", "sharpe", "sortino", "max_drawdown", "max_drawdown_duration_s",
    "calmar", "turnover", "exposure", "avg_gross_exposure", "duration_days",
    "returns_period_s", "returns_count",
)


def finite(x: Any) -> float | None:
    """``x`` as a float when it is a finite number, else ``None``."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# --------------------------------------------------------------------------------------------
# Curve helpers
# --------------------------------------------------------------------------------------------


def _points(curve: Iterable[Sequence[Any]]) -> list[tuple[int, float]]:
    """``(ts, equity)`` pairs with finite equity, sorted by time (stable)."""
    pts = [(int(p[0]), float(p[1])) for p in curve if finite(p[1]) is not None]
    if any(pts[i][0] > pts[i + 1][0] for i in range(len(pts) - 1)):
        pts.sort(key=lambda p: p[0])
    return pts


def drawdown_series(curve: Iterable[Sequence[Any]],
                    initial: float | None = None) -> list[tuple[int, float]]:
    """Drawdown below the running peak at every sample: ``[(ts, dd), ...]``.

    ``curve`` holds ``(ts, equity, ...)`` tuples; ``dd = (peak - equity) / peak`` is a positive
    fraction (0 at a new high).  ``initial``, when given, seeds the peak (a run that loses from
    its first sample on is in drawdown from the start).  A non-positive peak gives ``dd = 0``.
    """
    peak = initial if initial is not None and math.isfinite(initial) else -math.inf
    out: list[tuple[int, float]] = []
    for ts, eq in _points(curve):
        if eq > peak:
            peak = eq
        out.append((ts, (peak - eq) / peak if peak > 0 else 0.0))
    return out


def _full_curve(result: RunResult) -> list[tuple[int, float]]:
    """The equity curve with the run's start and end anchored (see the module docstring)."""
    pts = _points(result.equity_curve)
    init = finite(result.initial_capital)
    final = finite(result.final_equity)
    start, end = _run_bounds(result, pts)
    if init is not None and (not pts or pts[0][0] > start):
        pts.insert(0, (start, init))
    if final is not None and (not pts or pts[-1][0] < end):
        pts.append((end, final))
    return pts


def _run_bounds(result: RunResult, pts: Sequence[tuple[int, float]]) -> tuple[int, int]:
    """Run start/end in ms; unset (<= 0) bounds fall back to the curve's first/last sample."""
    start, end = int(result.start_ts), int(result.end_ts)
    if start <= 0 and pts:
        start = pts[0][0]
    if end <= 0 and pts:
        end = pts[-1][0]
    return start, max(start, end)


def choose_grid(span_ms: int) -> int:
    """Return-grid step for a run spanning ``span_ms``: 1 day (>= 7 d), 1 h (>= 1 d), 1 min."""
    if span_ms >= 7 * DAY_MS:
        return DAY_MS
    if span_ms >= DAY_MS:
        return HOUR_MS
    return MINUTE_MS


def resample(points: Sequence[tuple[int, float]], step: int) -> list[float]:
    """Equity on the grid ``t0, t0 + step, ...`` (t0 = first point) carrying values forward.

    The grid stops at the last full step not after the last point.
    """
    if not points or step <= 0:
        return []
    t0, t_end = points[0][0], points[-1][0]
    n = (t_end - t0) // step
    out: list[float] = []
    i = 0
    last = points[0][1]
    for k in range(n + 1):
        t = t0 + k * step
        while i < len(points) and points[i][0] <= t:
            last = points[i][1]
            i += 1
        out.append(last)
    return out


def simple_returns(values: Sequence[float]) -> list[float]:
    """``v[i] / v[i-1] - 1`` for consecutive values, skipping periods starting at <= 0 (and
    non-finite results)."""
    out: list[float] = []
    for a, b in pairwise(values):
        if a > 0:
            r = b / a - 1.0
            if math.isfinite(r):
                out.append(r)
    return out


def sharpe_ratio(returns: Sequence[float], periods_per_year: float) -> float | None:
    """Annualised Sharpe (risk-free 0); ``None`` for < 3 returns or zero variance."""
    n = len(returns)
    if n < MIN_RETURNS:
        return None
    try:
        mean = math.fsum(returns) / n
        var = math.fsum((r - mean) ** 2 for r in returns) / (n - 1)
        sd = math.sqrt(var)
        if not sd > 1e-15 * max(1.0, abs(mean)):
            return None
        return finite(mean / sd * math.sqrt(periods_per_year))
    except (OverflowError, ValueError):
        return None


def sortino_ratio(returns: Sequence[float], periods_per_year: float) -> float | None:
    """Annualised Sortino (target 0); ``None`` for < 3 returns or no negative return."""
    n = len(returns)
    if n < MIN_RETURNS:
        return None
    try:
        mean = math.fsum(returns) / n
        dd = math.sqrt(math.fsum(min(r, 0.0) ** 2 for r in returns) / n)
        if not dd > 1e-15:
            return None
        return finite(mean / dd * math.sqrt(periods_per_year))
    except (OverflowError, ValueError):
        return None


def max_drawdown_stats(points: Sequence[tuple[int, float]]) -> tuple[float, int]:
    """(max drawdown fraction, longest time under water in ms) of an equity curve."""
    peak = -math.inf
    peak_ts = points[0][0] if points else 0
    mdd = 0.0
    longest = 0
    under = False
    for ts, eq in points:
        if eq >= peak:
            if under:  # recovered: the whole span since the peak was under water
                longest = max(longest, ts - peak_ts)
                under = False
            peak, peak_ts = eq, ts
        else:
            under = True
            if peak > 0:
                mdd = max(mdd, (peak - eq) / peak)
    if under:  # still under water at the end
        longest = max(longest, points[-1][0] - peak_ts)
    return mdd, longest


def exposure_stats(curve: Sequence[Sequence[Any]], start_ts: int,
                   end_ts: int) -> tuple[float | None, float | None]:
    """(share of time exposed, time-weighted mean gross exposure) over ``[start, end]``.

    Each sample's exposure holds until the next sample; before the first sample the book is
    flat.  ``(None, None)`` when there are no samples or the span is empty.
    """
    samples = sorted(((int(p[0]), abs(finite(p[2]) or 0.0)) for p in curve if len(p) > 2),
                     key=lambda s: s[0])
    if not samples:
        return None, None
    start = min(start_ts, samples[0][0])
    end = max(end_ts, samples[-1][0])
    span = end - start
    if span <= 0:
        return None, None
    exposed = 0.0
    weighted = 0.0
    for (ts, x), nxt in zip(samples, [*samples[1:], (end, 0.0)]):
        dt = nxt[0] - ts
        if x > _EPS_EXPOSURE:
            exposed += dt
            weighted += x * dt
    return exposed / span, weighted / span


# --------------------------------------------------------------------------------------------
# Trade statistics
# --------------------------------------------------------------------------------------------


def _fsum(values: Iterable[float]) -> float:
    """``math.fsum`` that returns +-inf instead of raising on overflow."""
    try:
        return math.fsum(values)
    except OverflowError:
        return math.inf


def trade_stats(trades: Sequence[ClosedTrade]) -> dict[str, Number]:
    """Win rate, profit factor, streaks ... of closed round trips (ordered by close time)."""
    ordered = sorted(trades, key=lambda t: t.closed_ts)
    pnls = [v for v in (finite(t.net_pnl) for t in ordered) if v is not None]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_profit = _fsum(wins)
    gross_loss = -_fsum(losses)
    streak = worst = 0
    for p in pnls:
        streak = streak + 1 if p < 0 else 0
        worst = max(worst, streak)
    n = len(pnls)
    return {
        "trades": len(trades),
        "wins": len(wins),
        "losses": len(losses),
        "win_rate": len(wins) / n if n else None,
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "profit_factor": finite(gross_profit / gross_loss) if gross_loss > 0 else None,
        "avg_trade_pnl": finite(_fsum(pnls) / n) if n else None,
        "best_trade_pnl": max(pnls) if pnls else None,
        "worst_trade_pnl": min(pnls) if pnls else None,
        "max_consecutive_losses": worst,
    }


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def compute_metrics_with_notes(result: RunResult) -> tuple[dict[str, Number], dict[str, str]]:
    """:func:`compute_metrics` plus a note for every metric that is ``None`` (and why)."""
    notes: dict[str, str] = {}
    init = finite(result.initial_capital)
    final = finite(result.final_equity)
    curve = _full_curve(result)
    start, end = _run_bounds(result, curve)
    if curve:
        start, end = min(start, curve[0][0]), max(end, curve[-1][0])
    span = max(0, end - start)

    m: dict[str, Number] = {k: None for k in METRIC_KEYS}
    m["initial_capital"] = init
    m["final_equity"] = final
    m["net_pnl"] = finite(final - init) if final is not None and init is not None else None
    if init and init > 0 and m["net_pnl"] is not None:
        m["total_return"] = finite(float(m["net_pnl"]) / init)
    else:
        notes["total_return"] = "initial capital is not positive"
    m["fees"] = finite(result.fees)
    m["funding"] = finite(result.funding)
    m["fills"] = int(result.fills)
    m["turnover"] = finite(result.turnover)
    m["duration_days"] = span / DAY_MS

    # annualised return / CAGR
    if span < DAY_MS:
        notes["annualized_return"] = "run shorter than one day: not annualised"
    elif init and init > 0 and final is not None:
        if final <= 0:
            m["annualized_return"] = -1.0
        else:
            try:
                m["annualized_return"] = finite((final / init) ** (YEAR_MS / span) - 1.0)
            except OverflowError:
                m["annualized_return"] = None
            if m["annualized_return"] is None:
                notes["annualized_return"] = "too large to represent"

    # trades
    ts = trade_stats(result.closed_trades)
    m.update(ts)
    if not result.closed_trades:
        for k in ("win_rate", "profit_factor", "avg_trade_pnl", "best_trade_pnl",
                  "worst_trade_pnl"):
            notes[k] = "no closed trades"
    elif ts["profit_factor"] is None:
        notes["profit_factor"] = "no losing trades: profit factor is unbounded"

    # returns on a regular grid
    step = choose_grid(span)
    rets = simple_returns(resample(curve, step))
    ppy = YEAR_MS / step
    m["returns_period_s"] = step // 1000
    m["returns_count"] = len(rets)
    m["sharpe"] = sharpe_ratio(rets, ppy)
    m["sortino"] = sortino_ratio(rets, ppy)
    if len(rets) < MIN_RETURNS:
        notes["sharpe"] = notes["sortino"] = (
            f"fewer than {MIN_RETURNS} returns on the {step // 1000} s grid")
    else:
        if m["sharpe"] is None:
            notes["sharpe"] = "equity did not vary (zero standard deviation)"
        if m["sortino"] is None:
            notes["sortino"] = "no negative return (zero downside deviation)"

    # drawdown
    if curve:
        mdd, dur = max_drawdown_stats(curve)
        m["max_drawdown"] = finite(mdd)
        m["max_drawdown_duration_s"] = dur / 1000
    else:
        notes["max_drawdown"] = "empty equity curve"
    ar, mdd_v = m["annualized_return"], m["max_drawdown"]
    if ar is not None and mdd_v:
        m["calmar"] = finite(float(ar) / float(mdd_v))
    else:
        notes["calmar"] = ("no drawdown" if mdd_v == 0 else
                           "annualized return or max drawdown undefined")

    # exposure
    m["exposure"], m["avg_gross_exposure"] = exposure_stats(result.equity_curve, start, end)
    if m["exposure"] is None:
        notes["exposure"] = "no equity samples"

    clean: dict[str, Number] = {}
    for k, v in m.items():
        clean[k] = v if isinstance(v, int) and not isinstance(v, bool) else finite(v)
    return clean, {k: v for k, v in notes.items() if clean.get(k) is None}


def compute_metrics(result: RunResult) -> dict[str, Number]:
    """Every metric of :data:`METRIC_KEYS` for ``result`` (see the module docstring).

    Values are finite floats, ints or ``None``; never NaN or inf.
    """
    return compute_metrics_with_notes(result)[0]


def strategy_trade_metrics(trades: Sequence[ClosedTrade]) -> dict[str, dict[str, Number]]:
    """:func:`trade_stats` per ``strategy_id`` (for the report's per-strategy block)."""
    groups: dict[str, list[ClosedTrade]] = {}
    for t in trades:
        groups.setdefault(t.strategy_id, []).append(t)
    return {k: trade_stats(v) for k, v in sorted(groups.items())}


def downsample_minmax(points: Sequence[Sequence[Any]], max_points: int = 2000,
                      value_index: int = 1) -> list[Sequence[Any]]:
    """At most ``max_points`` of ``points`` keeping each bucket's min and max value.

    ``points`` are time-ordered tuples; ``value_index`` picks the value compared.  Buckets of
    consecutive points each contribute their lowest and highest point (in time order), so
    spikes and drawdowns stay visible when a long curve is drawn.  The first and last points
    are always kept.
    """
    n = len(points)
    if n <= max_points or max_points < 4:
        return list(points)
    buckets = (max_points - 2) // 2
    size = (n - 2) / buckets
    out: list[Sequence[Any]] = [points[0]]
    for b in range(buckets):
        lo = 1 + int(b * size)
        hi = min(n - 1, 1 + int((b + 1) * size))
        if lo >= hi:
            continue
        i_min = i_max = lo
        v_min = v_max = points[lo][value_index]
        for i in range(lo + 1, hi):
            v = points[i][value_index]
            if v < v_min:
                v_min, i_min = v, i
            elif v > v_max:
                v_max, i_max = v, i
        for i in sorted({i_min, i_max}):
            out.append(points[i])
    out.append(points[-1])
    return out
