"""Formatting shared by the terminal summary (:mod:`~hean_framework.report`) and the HTML page
(:mod:`~hean_framework.report_html`): the headline metrics, metric values, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

#: Metrics shown first in summaries, with labels.
HEADLINE_METRICS: Final[tuple[tuple[str, str], ...]] = (
    ("net_pnl", "Net PnL"), ("total_return", "Return"),
    ("annualized_return", "Annualised return"), ("sharpe", "Sharpe"),
    ("sortino", "Sortino"), ("max_drawdown", "Max drawdown"), ("calmar", "Calmar"),
    ("profit_factor", "Profit factor"), ("win_rate", "Win rate"), ("trades", "Trades"),
    ("fills", "Fills"), ("fees", "Fees"), ("funding", "Funding"), ("turnover", "Turnover"),
    ("exposure", "Time exposed"), ("avg_trade_pnl", "Avg trade PnL"),
    ("max_consecutive_losses", "Max losing streak"),
)
_PERCENT: Final = frozenset({"total_return", "annualized_return", "max_drawdown", "win_rate",
                             "exposure"})
_MONEY: Final = frozenset({"net_pnl", "fees", "funding", "avg_trade_pnl", "gross_profit",
                           "gross_loss", "best_trade_pnl", "worst_trade_pnl", "initial_capital",
                           "final_equity", "avg_gross_exposure", "realized", "unrealized"})


def iso_ms(ts: int | None) -> str | None:
    """``ts`` (ms since epoch) as ISO-8601 UTC with ms: ``2024-01-01T00:00:00.000Z``."""
    if ts is None:
        return None
    try:
        dt = datetime.fromtimestamp(int(ts) / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fmt_metric(key: str, value: Any) -> str:
    """Human formatting of one metric value (``—`` for ``None``)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, float):
        return str(value)
    if key in _PERCENT:
        return f"{value * 100:,.2f} %"
    if key in _MONEY or key.endswith(("pnl", "_usdt")):
        return f"{value:,.2f}"
    if key.endswith("_s"):
        return f"{value:,.0f} s"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.2f}"
