"""Self-contained HTML report: inline CSS, charts as base64 PNG (matplotlib, Agg), no URLs.

Charts are drawn with :class:`matplotlib.figure.Figure` on an Agg canvas -- no ``pyplot``, no
global figure state -- and long curves are reduced with
:func:`~hean_framework.metrics.downsample_minmax` (min and max per bucket, <= 2,000 points) so
drawdowns stay visible and the page stays small.  A chart that cannot be drawn is replaced by a
note; it never costs the rest of the page.
"""

from __future__ import annotations

import base64
import html
import io
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from .metrics import downsample_minmax, drawdown_series
from .report_format import HEADLINE_METRICS, fmt_metric, iso_ms
from .run import RunResult

MAX_CHART_POINTS: Final = 2000
FIG_SIZE: Final = (8.0, 3.0)
DPI: Final = 90
MAX_TABLE_ROWS: Final = 200
FUNNEL_STEPS: Final[tuple[tuple[str, str], ...]] = (
    ("signals", "signals"), ("validated", "validated"), ("passed_filters", "passed filters"),
    ("sized", "sized"), ("passed_gates", "passed gates"), ("orders", "orders"),
    ("fills", "fills"),
)
DECISION_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("ts", "time"), ("strategy_id", "strategy"), ("symbol", "symbol"), ("side", "side"),
    ("decision", "decision"), ("stage", "stage"), ("reason_codes", "reason codes"),
    ("expected_edge_bps", "edge bps"), ("cost_bps", "cost bps"),
    ("required_edge_bps", "required bps"), ("qty", "qty"), ("notional", "notional"),
    ("message", "message"),
)
_GREEN: Final = "#2e7d32"
_RED: Final = "#c62828"
_BLUE: Final = "#1f5fa8"

CSS: Final = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;
 background:#f5f6f8;color:#1d2330;font-size:14px}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid
 #d8dce3;padding-bottom:4px}h3{font-size:14px;margin:14px 0 6px}
.sub{color:#5b6475;margin-bottom:12px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.card{background:#fff;border:1px solid #e1e4ea;border-radius:6px;padding:8px 10px}
.card .k{color:#5b6475;font-size:12px}.card .v{font-size:17px;font-weight:600;margin-top:2px}
.neg{color:#c62828}.pos{color:#2e7d32}
table{border-collapse:collapse;background:#fff;margin:6px 0;font-size:13px}
th,td{border:1px solid #e1e4ea;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
img.chart{display:block;max-width:100%;background:#fff;border:1px solid #e1e4ea;
 border-radius:6px;margin:6px 0}
.b{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600}
.CREATE{background:#dff3e3;color:#1b5e20}.SKIP{background:#fff3cd;color:#7a5800}
.BLOCK{background:#fde2e1;color:#8e1c1c}
.note{color:#5b6475;font-style:italic}.scroll{overflow-x:auto}
pre{background:#fff;border:1px solid #e1e4ea;padding:6px;font-size:12px;white-space:pre-wrap}
"""


# --------------------------------------------------------------------------------------------
# Small HTML helpers
# --------------------------------------------------------------------------------------------


def esc(value: Any) -> str:
    """HTML-escaped ``str(value)``."""
    return html.escape(str(value), quote=True)


def _num(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "—" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v == 0:
            return "0"
        a = abs(v)
        if a >= 1000:
            return f"{v:,.2f}"
        if a >= 1:
            return f"{v:,.4g}" if a < 100 else f"{v:,.2f}"
        return f"{v:.4g}"
    return esc(v)


def _cell(v: Any) -> str:
    """A table cell for any value (numbers right-aligned, containers as compact JSON)."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return f'<td class="n">{_num(v)}</td>'
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return f"<td>{esc(', '.join(v))}</td>"
    if isinstance(v, dict | list):
        return f"<td><code>{esc(_compact(v))}</code></td>"
    return f"<td>{'—' if v is None else esc(v)}</td>"


def _compact(v: Any, limit: int = 300) -> str:
    text = orjson.dumps(v, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    return text if len(text) <= limit else text[:limit] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then they are ready ``<td>`` HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(c if raw else _cell(c) for c in r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def render_value(value: Any, depth: int = 0) -> str:
    """Generic rendering of a section value: dicts as key/value tables, lists of dicts as
    tables with one column per key, lists of scalars inline, deep structures as JSON."""
    if isinstance(value, Mapping):
        if not value:
            return '<span class="note">empty</span>'
        if depth >= 3:
            return f"<pre>{esc(_compact(value, 4000))}</pre>"
        rows = [f"<tr><th>{esc(k)}</th>{_section_cell(_as_time(k, v), depth)}</tr>"
                for k, v in list(value.items())[:MAX_TABLE_ROWS]]
        return f'<div class="scroll"><table>{"".join(rows)}</table></div>'
    if isinstance(value, list) and value and all(isinstance(x, Mapping) for x in value):
        cols: list[str] = []
        for item in value[:MAX_TABLE_ROWS]:
            cols.extend(str(k) for k in item if str(k) not in cols)
        rows2 = [[_as_time(c, item.get(c)) for c in cols] for item in value[:MAX_TABLE_ROWS]]
        more = len(value) - MAX_TABLE_ROWS
        tail = f'<div class="note">{more} more rows not shown</div>' if more > 0 else ""
        return table(cols, rows2) + tail
    if isinstance(value, list):
        shown = ", ".join(_num(x) if isinstance(x, int | float) else esc(x) for x in value[:50])
        return shown + (" …" if len(value) > 50 else "") if value else "—"
    return _num(value) if isinstance(value, int | float) else esc(value)


def _as_time(key: Any, v: Any) -> Any:
    """Epoch-ms values under time-like keys (``ts``, ``*_ts``) shown as ISO time."""
    k = str(key)
    if (k == "ts" or k.endswith("_ts")) and isinstance(v, int) and not isinstance(v, bool) \
            and 10**11 < v < 10**14:
        return iso_ms(v)
    return v


def _section_cell(v: Any, depth: int) -> str:
    if isinstance(v, Mapping | list) and v:
        return f"<td>{render_value(v, depth + 1)}</td>"
    return _cell(v)


# --------------------------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------------------------


def _figure(height: float = FIG_SIZE[1]) -> Any:
    """A new Agg-backed figure (no pyplot, no global state)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # headless; never switch away an interactive user's backend
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(FIG_SIZE[0], height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return data


def _img(data: str, alt: str) -> str:
    return f'<img class="chart" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def _dates(ts: Sequence[int]) -> list[datetime]:
    return [datetime.fromtimestamp(t / 1000, tz=UTC) for t in ts]


def _time_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, tz=UTC))


def _style(ax: Any, title: str) -> None:
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(True, alpha=0.25)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def bucket_means(points: Sequence[tuple[int, float]],
                 max_points: int) -> list[tuple[int, float]]:
    """At most ``max_points`` points: the mean value of each run of consecutive points, at the
    run's first time (keeps the duty cycle of an on/off series such as exposure)."""
    n = len(points)
    if n <= max_points:
        return list(points)
    size = n / max_points
    out: list[tuple[int, float]] = []
    for b in range(max_points):
        chunk = points[int(b * size):int((b + 1) * size)]
        if chunk:
            out.append((chunk[0][0], sum(v for _, v in chunk) / len(chunk)))
    return out


def equity_chart(curve: Sequence[Sequence[Any]], initial: float | None) -> str | None:
    """Equity line with gross exposure shaded on a second axis; base64 PNG or None."""
    if len(curve) < 2:
        return None
    pts = downsample_minmax(curve, MAX_CHART_POINTS)
    x = _dates([int(p[0]) for p in pts])
    fig = _figure()
    ax = fig.add_subplot()
    if len(curve[0]) > 2 and any(abs(float(p[2] or 0.0)) > 0 for p in curve):
        xp = bucket_means([(int(p[0]), abs(float(p[2] or 0.0))) for p in curve],
                          MAX_CHART_POINTS)
        ax2 = ax.twinx()
        ax2.fill_between(_dates([int(p[0]) for p in xp]), [p[1] for p in xp], step="post",
                         color="#9aa5b8", alpha=0.25, linewidth=0)
        ax2.set_ylabel("gross exposure", fontsize=8, color="#6b7385")
        ax2.tick_params(labelsize=7, colors="#6b7385")
        ax2.set_ylim(bottom=0)
        ax.set_zorder(ax2.get_zorder() + 1)
        ax.patch.set_visible(False)
    ax.plot(x, [float(p[1]) for p in pts], color=_BLUE, linewidth=1.1, drawstyle="steps-post")
    if initial:
        ax.axhline(initial, color="#888", linewidth=0.7, linestyle="--")
    _style(ax, "Equity (quote currency)")
    _time_axis(ax)
    return _png(fig)


def drawdown_chart(curve: Sequence[Sequence[Any]], initial: float | None) -> str | None:
    """Drawdown below the running peak, in percent (filled, negative); base64 PNG or None."""
    dd = drawdown_series(curve, initial)
    if len(dd) < 2:
        return None
    pts = downsample_minmax(dd, MAX_CHART_POINTS)
    x = _dates([int(p[0]) for p in pts])
    y = [-100.0 * float(p[1]) for p in pts]
    fig = _figure(2.4)
    ax = fig.add_subplot()
    ax.fill_between(x, y, 0, step="post", color=_RED, alpha=0.35, linewidth=0)
    ax.plot(x, y, color=_RED, linewidth=0.8, drawstyle="steps-post")
    worst = min(y)
    _style(ax, f"Drawdown (%) — max {-worst:.2f} %")
    ax.set_ylim(top=0.0, bottom=min(worst * 1.1, -0.01))
    _time_axis(ax)
    return _png(fig)


def strategy_pnl_chart(per_strategy: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Horizontal bars of each strategy's net PnL; base64 PNG or None."""
    items = [(sid, float(v.get("net_pnl") or 0.0)) for sid, v in per_strategy.items()
             if isinstance(v, Mapping)]
    if not items:
        return None
    items.sort(key=lambda kv: kv[1])
    fig = _figure(max(1.6, 0.35 * len(items) + 0.9))
    ax = fig.add_subplot()
    ys = range(len(items))
    ax.barh(list(ys), [v for _, v in items], color=[_GREEN if v >= 0 else _RED for _, v in items],
            height=0.6)
    ax.set_yticks(list(ys), [k for k, _ in items], fontsize=8)
    ax.axvline(0, color="#555", linewidth=0.7)
    for y, (_, v) in zip(ys, items):
        ax.annotate(f"{v:,.2f}", (v, y), xytext=(3 if v >= 0 else -3, 0),
                    textcoords="offset points", ha="left" if v >= 0 else "right",
                    va="center", fontsize=7)
    _style(ax, "Net PnL per strategy")
    ax.margins(x=0.15)
    return _png(fig)


def funnel_steps(funnel: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The funnel's counts in pipeline order (``validated`` only when it differs)."""
    steps: list[tuple[str, int]] = []
    for key, label in FUNNEL_STEPS:
        if key not in funnel:
            continue
        if key == "validated" and funnel.get("validated") == funnel.get("signals"):
            continue
        try:
            steps.append((label, int(funnel[key])))
        except (TypeError, ValueError):
            continue
    return steps


#: Which funnel bar shows the reasons of which pipeline stage.
_STAGE_OF_STEP: Final = {"validated": "validation", "passed filters": "filter",
                         "sized": "sizer", "passed gates": "gate", "orders": "executor"}


def _stage_reasons(funnel: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    if funnel.get("validation_reasons"):
        out["validation"] = funnel["validation_reasons"]
    for st in funnel.get("stages") or []:
        if isinstance(st, Mapping):
            out[str(st.get("stage"))] = st.get("reasons") or {}
    return out


def funnel_chart(funnel: Mapping[str, Any]) -> str | None:
    """Signals -> ... -> fills as horizontal bars with count, share of signals and, beside
    each bar, the top reason codes of the stage that removed signals there."""
    steps = funnel_steps(funnel)
    if not steps:
        return None
    reasons = _stage_reasons(funnel)
    top = max(1, steps[0][1])
    fig = _figure(max(1.8, 0.34 * len(steps) + 0.8))
    ax = fig.add_subplot()
    ys = list(range(len(steps)))[::-1]
    vals = [v for _, v in steps]
    ax.barh(ys, vals, color=_BLUE, alpha=0.8, height=0.65)
    ax.set_yticks(ys, [k for k, _ in steps], fontsize=8)
    for y, (label, v) in zip(ys, steps):
        text = f"{v:,}  ({100.0 * v / top:.0f} %)"
        stage_reasons = reasons.get(_STAGE_OF_STEP.get(label, ""), {})
        if stage_reasons:
            top2 = sorted(stage_reasons.items(), key=lambda kv: -int(kv[1] or 0))[:2]
            why = ", ".join(f"{k} {n}" for k, n in top2)
            text += "   ← " + (why if len(why) <= 60 else why[:59] + "…")
        ax.annotate(text, (v, y), xytext=(3, 0), textcoords="offset points", va="center",
                    fontsize=7)
    _style(ax, "Decision funnel (top reason codes beside the stage that removed signals)")
    ax.set_xlim(0, max(*vals, 1) * (2.2 if reasons else 1.3))
    return _png(fig)


def _safe_chart(fn: Callable[..., str | None], *args: Any, alt: str) -> str:
    try:
        data = fn(*args)
    except Exception as exc:  # a chart must never cost the page
        return f'<p class="note">{esc(alt)}: chart unavailable ({esc(type(exc).__name__)}: ' \
               f"{esc(exc)})</p>"
    return _img(data, alt) if data else f'<p class="note">{esc(alt)}: no data</p>'


# --------------------------------------------------------------------------------------------
# Page sections
# --------------------------------------------------------------------------------------------


def _metric_cards(metrics: Mapping[str, Any]) -> str:
    cards = []
    for key, label in HEADLINE_METRICS:
        v = metrics.get(key)
        cls = " neg" if isinstance(v, int | float) and v < 0 else ""
        cards.append(f'<div class="card"><div class="k">{esc(label)}</div>'
                     f'<div class="v{cls}">{esc(fmt_metric(key, v))}</div></div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def _metrics_table(metrics: Mapping[str, Any], notes: Mapping[str, Any]) -> str:
    rows = []
    for k, v in metrics.items():
        note = notes.get(k, "")
        rows.append(f"<tr><th>{esc(k)}</th><td class='n'>{esc(fmt_metric(k, v))}</td>"
                    f"<td class='note'>{esc(note)}</td></tr>")
    return f'<div class="scroll"><table>{"".join(rows)}</table></div>'


def _per_strategy_table(per: Mapping[str, Any]) -> str:
    if not per:
        return '<p class="note">no strategies</p>'
    preferred = ["net_pnl", "realized", "unrealized", "fees", "funding", "trades", "wins",
                 "win_rate", "profit_factor", "fills", "turnover"]
    keys: list[str] = [k for k in preferred if any(k in (v or {}) for v in per.values())]
    for v in per.values():
        for k in v or {}:
            if k not in keys:
                keys.append(k)
    rows = [[sid, *[(v or {}).get(k) for k in keys]] for sid, v in per.items()]
    return table(["strategy", *keys], rows)


def _funnel_tables(funnel: Mapping[str, Any]) -> str:
    parts: list[str] = []
    stage_rows: list[list[Any]] = []
    if funnel.get("validation_reasons"):
        stage_rows.append(["validation", funnel.get("signals"), funnel.get("validated"),
                           _reason_list(funnel["validation_reasons"])])
    for st in funnel.get("stages") or []:
        stage_rows.append([st.get("stage"), st.get("in"), st.get("out"),
                           _reason_list(st.get("reasons") or {})])
    if stage_rows:
        parts.append("<h3>Stages and top reason codes</h3>")
        parts.append(table(["stage", "in", "out", "top reasons (count)"],
                           [[_cell(a), _cell(b), _cell(c), f"<td>{d}</td>"]
                            for a, b, c, d in stage_rows], raw=True))
    decisions = funnel.get("decisions") or {}
    if decisions:
        parts.append("<h3>Decisions</h3>")
        parts.append(table(list(decisions), [list(decisions.values())]))
    by_strategy = funnel.get("by_strategy") or {}
    if by_strategy:
        cols: list[str] = []
        for v in by_strategy.values():
            cols.extend(k for k in v if k not in cols)
        parts.append("<h3>By strategy</h3>")
        parts.append(table(["strategy", *cols],
                           [[sid, *[v.get(c, 0) for c in cols]] for sid, v in
                            by_strategy.items()]))
    extra = {k: v for k, v in funnel.items()
             if k not in {"stages", "decisions", "by_strategy", "validation_reasons"}
             and k not in dict(FUNNEL_STEPS)}
    if extra:
        parts.append(render_value(extra))
    return "".join(parts)


def _reason_list(reasons: Mapping[str, Any], n: int = 5) -> str:
    items = sorted(reasons.items(), key=lambda kv: -int(kv[1] or 0))
    if not items:
        return '<span class="note">—</span>'
    shown = "<br>".join(f"<code>{esc(k)}</code> {_num(v)}" for k, v in items[:n])
    more = len(items) - n
    return shown + (f'<br><span class="note">+{more} more</span>' if more > 0 else "")


def _decisions_table(decisions: Sequence[Mapping[str, Any]]) -> str:
    if not decisions:
        return '<p class="note">no decisions recorded</p>'
    rows: list[list[str]] = []
    for d in reversed(decisions[-100:]):
        row: list[str] = []
        for key, _ in DECISION_COLUMNS:
            v = d.get(key)
            if key == "ts":
                row.append(f"<td>{esc(iso_ms(v) if isinstance(v, int) else v)}</td>")
            elif key == "decision":
                row.append(f'<td><span class="b {esc(v)}">{esc(v)}</span></td>')
            else:
                row.append(_cell(v))
        rows.append(row)
    return table([label for _, label in DECISION_COLUMNS], rows, raw=True) + \
        '<p class="note">newest first</p>'


_SKIP_GENERIC: Final = frozenset({"run", "metrics", "notes", "per_strategy", "funnel",
                                  "top_reasons", "rejections", "decisions", "equity",
                                  "manifest", "tca", "markouts"})
#: columns of the per-executor transaction-cost table (report key, header)
def render_html(report: dict[str, Any], result: RunResult) -> str:
    """The full self-contained report page for ``report`` (from ``build_report(result)``).

    ``result`` supplies the full-resolution equity curve for the charts (``report`` only holds
    a reduced copy).
    """
    run = report.get("run", {})
    metrics = report.get("metrics", {})
    name = str(run.get("name", "run"))
    curve: Sequence[Sequence[Any]] = result.equity_curve or report.get("equity", {}).get(
        "points", [])
    initial = metrics.get("initial_capital") or result.initial_capital
    parts: list[str] = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>HEAN report — {esc(name)}</title><style>{CSS}</style></head><body><main>",
        f"<h1>HEAN report — {esc(name)}</h1>",
        f"<div class='sub'>{esc(run.get('mode', ''))} · {esc(run.get('start'))} → "
        f"{esc(run.get('end'))} · {_num(run.get('events'))} events · elapsed "
        f"{_num(run.get('elapsed_s'))} s · hean {esc(run.get('hean_version', ''))}"
        + (f" · <span class='neg'>{_num(run.get('dead_letters'))} dead letters</span>"
           if run.get("dead_letters") else "") + "</div>",
        _metric_cards(metrics),
        "<h2>Equity</h2>",
        _safe_chart(equity_chart, curve, initial, alt="equity curve"),
        _safe_chart(drawdown_chart, curve, initial, alt="drawdown"),
        "<h2>Strategies</h2>",
        _safe_chart(strategy_pnl_chart, report.get("per_strategy") or {},
                    alt="net PnL per strategy"),
        _per_strategy_table(report.get("per_strategy") or {}),
        "<h2>Decision funnel</h2>",
        _safe_chart(funnel_chart, report.get("funnel") or {}, alt="decision funnel"),
        _funnel_tables(report.get("funnel") or {}),
    ]
    rej = report.get("rejections") or {}
    parts.append(f"<h2>Data rejections ({_num(rej.get('total', 0))})</h2>")
    by_reason = rej.get("by_reason") or {}
    parts.append(table(["reason", "count"], list(by_reason.items())) if by_reason
                 else '<p class="note">no market data rejected</p>')
    parts.append("<h2>Recent decisions</h2>")
    parts.append(_decisions_table(report.get("decisions") or []))
    from .report_sections import markouts_section, tca_section  # they use this module's parts

    parts.append(tca_section(report.get("tca")))
    parts.append(markouts_section(report.get("markouts"),
                                  int(curve[-1][0]) if curve else None))
    for key, value in report.items():
        if key in _SKIP_GENERIC:
            continue
        parts.append(f"<h2>{esc(key.replace('_', ' ').capitalize())}</h2>")
        parts.append(render_value(value))
    parts.append("<h2>All metrics</h2>")
    parts.append(_metrics_table(metrics, report.get("notes") or {}))
    positions = (report.get("equity") or {}).get("final_positions") or []
    open_pos = [p for p in positions if p.get("qty")]
    if open_pos:
        parts.append("<h2>Open positions at the end</h2>")
        parts.append(render_value(open_pos))
    parts.append("<h2>Manifest</h2>")
    parts.append(render_value(report.get("manifest") or {}))
    parts.append("</main></body></html>")
    return "\n".join(parts)


def render_error_page(report: Mapping[str, Any], exc: BaseException) -> str:
    """A minimal page used when :func:`render_html` failed: names the error, lists metrics."""
    run = report.get("run", {})
    metrics = report.get("metrics", {})
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(fmt_metric(k, v))}</td></tr>"
                   for k, v in metrics.items())
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>HEAN report — "
            f"{esc(run.get('name', ''))}</title><style>{CSS}</style></head><body><main>"
            f"<h1>HEAN report — {esc(run.get('name', ''))}</h1>"
            f"<p class='neg'>The full report could not be rendered: "
            f"{esc(type(exc).__name__)}: {esc(exc)}. The numbers are in report.json.</p>"
            f"<table>{rows}</table></main></body></html>")
