"""Report sections of the execution observers, for ``report.html``: the transaction-cost
analysis (:mod:`hean_framework.tca`) and the market-making block (:mod:`hean_framework.markouts`:
markouts per strategy and symbol, inventory over time).

Each function takes its ``report.json`` section (None or empty: it renders nothing) and returns
HTML built with the page primitives of :mod:`hean_framework.report_html`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .report_html import (
    _as_time,
    _dates,
    _figure,
    _num,
    _png,
    _safe_chart,
    _style,
    _time_axis,
    table,
)

TCA_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("parents", "parents"), ("filled_parents", "filled"), ("fills", "fills"),
    ("maker_fill_share", "maker share"), ("filled_notional", "notional"),
    ("fill_ratio", "fill ratio"), ("is_bps", "IS bps"), ("delay_bps", "delay"),
    ("spread_bps", "spread"), ("impact_bps", "impact"), ("fees_bps", "fees"),
    ("median_is_bps", "median IS"), ("p90_is_bps", "p90 IS"), ("cost_quote", "cost"),
)
TCA_PARENT_COLUMNS: Final[tuple[str, ...]] = (
    "ts", "executor", "symbol", "side", "arrival_mid", "avg_fill_price", "ordered_qty",
    "filled_qty", "fills", "delay_ms", "is_bps", "delay_bps", "spread_bps", "impact_bps",
    "fees_bps")


def tca_section(tca: Mapping[str, Any] | None) -> str:
    """The transaction-cost analysis (:mod:`hean_framework.tca`): one row per executor
    (implementation shortfall and its parts, notional-weighted bps) and the last parents."""
    if not tca:
        return ""
    parts = ["<h2>Transaction costs</h2>"]
    by_ex = tca.get("by_executor") or {}
    if not by_ex:
        parts.append('<p class="note">no order was sent</p>')
        return "".join(parts)
    parts.append(table(["executor", *[h for _, h in TCA_COLUMNS]],
                       [[name, *[(row or {}).get(k) for k, _ in TCA_COLUMNS]]
                        for name, row in by_ex.items()]))
    parts.append('<p class="note">implementation shortfall vs the arrival mid, bps of the '
                 'filled notional (positive = cost) = delay + spread + impact + fees; '
                 'notional-weighted means; cost in the quote currency</p>')
    parents = tca.get("parents") or []
    if parents:
        parts.append(f"<h3>Last {len(parents)} parent orders</h3>")
        parts.append(table(list(TCA_PARENT_COLUMNS),
                           [[_as_time(c, p.get(c)) for c in TCA_PARENT_COLUMNS]
                            for p in reversed(parents)]))
    if tca.get("unattributed_fills"):
        parts.append(f'<p class="note">{_num(tca["unattributed_fills"])} fills of protective '
                     "stop/target orders are not parent orders</p>")
    return "".join(parts)


def inventory_chart(markouts: Mapping[str, Any], end_ts: int | None = None) -> str | None:
    """Each (strategy, symbol)'s inventory notional after each fill (the ``markouts`` section's
    ``inventory`` points), as steps held until ``end_ts`` (the run's end); base64 PNG or None."""
    lines = [(f"{sid} {sym}", pts) for sid, s in (markouts.get("strategies") or {}).items()
             for sym, row in (s.get("symbols") or {}).items()
             if len(pts := row.get("inventory") or []) >= 1]
    if not lines:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    for label, pts in lines:
        if end_ts is not None and end_ts > pts[-1][0]:
            pts = [*pts, [end_ts, pts[-1][1], pts[-1][2]]]
        ax.plot(_dates([int(p[0]) for p in pts]), [float(p[2]) for p in pts], linewidth=1.0,
                drawstyle="steps-post", marker="." if len(pts) < 50 else None, label=label)
    ax.axhline(0, color="#888", linewidth=0.7)
    _style(ax, "Inventory over time (notional at the fill price)")
    ax.legend(fontsize=7, loc="best")
    _time_axis(ax)
    return _png(fig)


def markouts_section(markouts: Mapping[str, Any] | None, end_ts: int | None = None) -> str:
    """The market-making view of the ``markouts`` section (:mod:`hean_framework.markouts`): a
    table per strategy and symbol (fills, fill rate, markouts and mid moves per horizon,
    maker fees, the PnL split) and the inventory-over-time chart."""
    section: Mapping[str, Any] = markouts or {}
    strategies = section.get("strategies") or {}
    if not strategies:
        return ""
    rows = [(sid, sym, s, r) for sid, s in strategies.items()
            for sym, r in (s.get("symbols") or {}).items()]
    hs = [h for h in section.get("horizons") or []
          if any(h in r.get("markout_bps", {}) for *_, r in rows)]
    pnl = ("spread_capture", "inventory", "fees", "net")
    head = ["strategy", "symbol", "maker fills", "taker fills", "maker fill rate",
            *[f"markout {h} bps" for h in hs], *[f"mid move {h} bps" for h in hs],
            "maker fee bps", *[p.replace("_", " ") for p in pnl], "final position"]
    body = [[sid, sym, r.get("maker_fills"), r.get("taker_fills"), s.get("maker_fill_rate"),
             *[r.get("markout_bps", {}).get(h) for h in hs],
             *[r.get("mid_move_bps", {}).get(h) for h in hs], r.get("maker_fee_bps"),
             *[(r.get("pnl") or {}).get(p) for p in pnl], r.get("final_position")]
            for sid, sym, s, r in rows]
    return "".join([
        "<h2>Markouts</h2>", table(head, body),
        '<p class="note">markout = side × (mid after h − fill price), mid move = side × (mid '
        "after h − mid at the fill), bps, averaged over maker fills (negative mid move = "
        "adverse selection); maker fee bps < 0 = rebate; PnL in the quote currency: net = "
        "spread capture + inventory − fees</p>",
        _safe_chart(inventory_chart, section, end_ts, alt="inventory over time")])
