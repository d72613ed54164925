"""The run report: ``report.json`` (numbers), ``report.html`` (charts) and a terminal summary.

``build_report(result)`` turns a :class:`~hean_framework.run.RunResult` into a JSON-ready dict::

    {"run": {...}, "metrics": {...}, "notes": {...}, "per_strategy": {...}, "funnel": {...},
     "top_reasons": [...], "rejections": {"total": n, "by_reason": {...}},
     "decisions": [...last <= 100...], <each of result.sections>, "equity": {...},
     "manifest": {...}}

Every float in it is finite (NaN / inf become ``null``), so the file is strict JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from .metrics import compute_metrics_with_notes, downsample_minmax, strategy_trade_metrics
from .report_format import HEADLINE_METRICS, fmt_metric, iso_ms
from .run import RunResult

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger("hean.report")

MAX_DECISIONS: Final = 100
MAX_EQUITY_POINTS_JSON: Final = 500
#: Manifest keys left out of the report (the full config lives in the journal manifest).
MANIFEST_EXCLUDE: Final = frozenset({"config", "env", "environment"})
#: Top-level keys of the report; a ``sections`` entry with one of these names is stored as
#: ``section_<name>`` instead of overwriting it.
CORE_KEYS: Final = frozenset({"run", "metrics", "notes", "per_strategy", "funnel", "top_reasons",
                              "rejections", "decisions", "equity", "manifest"})


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def json_safe(obj: Any, _depth: int = 0) -> Any:
    """A copy of ``obj`` made of JSON types only: NaN/inf -> None, tuples/sets -> lists,
    dataclasses -> dicts, paths and unknown objects -> ``str``; dict keys become strings."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if _depth > 32:
        return repr(obj)
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v, _depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v, _depth + 1) for v in obj]
    if isinstance(obj, set | frozenset):
        items = [json_safe(v, _depth + 1) for v in obj]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: json_safe(getattr(obj, f.name), _depth + 1)
                for f in dataclasses.fields(obj)}
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        try:
            return json_safe(obj.item(), _depth + 1)
        except Exception:  # pragma: no cover - defensive
            return str(obj)
    return str(obj)


def top_reasons(funnel: Mapping[str, Any], n: int = 10) -> list[dict[str, Any]]:
    """The ``n`` most frequent reason codes over all funnel stages (and data validation)."""
    rows: list[tuple[str, str, int]] = []
    for code, count in (funnel.get("validation_reasons") or {}).items():
        rows.append(("validation", str(code), int(count)))
    for stage in funnel.get("stages") or []:
        for code, count in (stage.get("reasons") or {}).items():
            rows.append((str(stage.get("stage", "?")), str(code), int(count)))
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return [{"stage": s, "code": c, "count": k} for s, c, k in rows[:n]]


def reasons_by_verdict(rows: Iterable[tuple[str, Sequence[str], int]], n: int = 5
                       ) -> dict[str, list[dict[str, Any]]]:
    """The ``n`` most frequent reason codes of BLOCK and of SKIP decisions, apart.

    ``rows`` are ``(decision, reason_codes, count)`` (a journal's grouped decisions, or one
    row per decision); CREATE rows are ignored.  A SKIP (``POSITION_OPEN``: the strategy
    already holds a position) is a different thing from a BLOCK (the order was refused):
    ``hean why`` shows them as ``top_block_reasons`` and ``top_skip_reasons``.
    """
    counts: dict[str, Counter[str]] = {"BLOCK": Counter(), "SKIP": Counter()}
    for decision, codes, count in rows:
        c = counts.get(str(decision))
        if c is None:
            continue
        for code in codes or ():
            c[str(code)] += int(count)
    return {k: [{"reason": code, "count": v} for code, v in
                sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
            for k, c in counts.items()}


def _per_strategy(result: RunResult) -> dict[str, Any]:
    """Engine per-strategy numbers, completed with trade statistics from the closed trades."""
    out: dict[str, Any] = {k: dict(v) for k, v in result.per_strategy.items()}
    for sid, stats in strategy_trade_metrics(result.closed_trades).items():
        entry = out.setdefault(sid, {})
        for k in ("trades", "wins", "losses", "win_rate", "profit_factor", "avg_trade_pnl",
                  "max_consecutive_losses"):
            entry.setdefault(k, stats[k])
    return out


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def build_report(result: RunResult) -> dict[str, Any]:
    """The content of ``report.json`` for ``result`` (JSON-safe; see the module docstring)."""
    from . import __version__

    metrics, notes = compute_metrics_with_notes(result)
    rejections = {str(k): int(v) for k, v in
                  sorted(result.rejections.items(), key=lambda kv: (-kv[1], kv[0]))}
    curve = result.equity_curve
    report: dict[str, Any] = {
        "run": {
            "name": result.run_name,
            "mode": result.mode,
            "start": iso_ms(result.start_ts),
            "start_ms": int(result.start_ts),
            "end": iso_ms(result.end_ts),
            "end_ms": int(result.end_ts),
            "duration_s": max(0, int(result.end_ts) - int(result.start_ts)) / 1000,
            "events": int(result.events),
            "elapsed_s": result.elapsed_s,
            "events_per_s": (result.events / result.elapsed_s if result.elapsed_s > 0 else None),
            "initial_capital": result.initial_capital,
            "dead_letters": int(result.dead_letters),
            "hean_version": __version__,
            "out_dir": str(result.out_dir) if result.out_dir is not None else None,
        },
        "metrics": metrics,
        "notes": notes,
        "per_strategy": _per_strategy(result),
        "funnel": result.funnel,
        "top_reasons": top_reasons(result.funnel),
        "rejections": {"total": sum(rejections.values()), "by_reason": rejections},
        "decisions": result.recent_decisions[-MAX_DECISIONS:],
    }
    for name, section in result.sections.items():
        report[f"section_{name}" if name in CORE_KEYS else name] = section
    report["equity"] = {
        "samples": len(curve),
        "points": [list(p) for p in downsample_minmax(curve, MAX_EQUITY_POINTS_JSON)],
        "final_positions": [dataclasses.asdict(p) for p in result.final_positions],
    }
    report["manifest"] = {k: v for k, v in result.manifest.items() if k not in MANIFEST_EXCLUDE}
    safe: dict[str, Any] = json_safe(report)
    return safe


def dumps_report(report: Mapping[str, Any]) -> bytes:
    """``report`` as indented JSON bytes (insertion order kept; NaN/inf as ``null``)."""
    return orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
                        | orjson.OPT_SERIALIZE_NUMPY, default=str)


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``<name>.partial`` and a rename: the file is either
    the whole new one or absent, never half written (a full disk)."""
    from .rundir import os_error

    part = path.with_name(path.name + ".partial")
    try:
        part.write_bytes(data)
        os.replace(part, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            part.unlink()
        raise os_error(exc, path, "write") from exc


def write_report(result: RunResult, out_dir: Path, html: bool = True) -> dict[str, Any]:
    """Write ``report.json`` (and ``report.html`` when ``html``) into ``out_dir``.

    Returns the report dict.  A failure while rendering the HTML page never loses the JSON:
    it is logged and a minimal page naming the error is written instead.  Each file is
    written whole or not at all; a ``report.html`` of an earlier run is removed when
    ``html`` is off (so the folder never pairs this run's JSON with another run's page).
    A file that cannot be written raises :class:`~hean_framework.errors.HeanError`.
    """
    from .rundir import os_error

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, out, "create the run folder") from exc
    report = build_report(result)
    _write_file(out / "report.json", dumps_report(report))
    if not html:
        try:
            (out / "report.html").unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise os_error(exc, out / "report.html", "remove the earlier run's") from exc
    if html:
        from .report_html import render_error_page, render_html

        try:
            page = render_html(report, result)
        except Exception as exc:  # a drawing problem must not cost the run its report
            log.warning("report.html could not be rendered: %s", exc, exc_info=True)
            page = render_error_page(report, exc)
        _write_file(out / "report.html", page.encode("utf-8"))
    return report


def print_summary(report: Mapping[str, Any], console: Console | None = None) -> None:
    """Print a compact table of the key metrics and the decision funnel."""
    from rich.console import Console
    from rich.table import Table

    con = console or Console()
    run = report.get("run", {})
    metrics = report.get("metrics", {})
    title = (f"HEAN {run.get('mode', '')} run [bold]{run.get('name', '')}[/bold]  "
             f"{run.get('start') or ''} → {run.get('end') or ''}")
    t = Table(title=title, show_header=False, box=None, pad_edge=False, title_justify="left")
    t.add_column("metric", style="dim")
    t.add_column("value", justify="right")
    t.add_column("metric", style="dim")
    t.add_column("value", justify="right")
    cells = [(label, fmt_metric(key, metrics.get(key))) for key, label in HEADLINE_METRICS]
    for i in range(0, len(cells), 2):
        left = cells[i]
        right = cells[i + 1] if i + 1 < len(cells) else ("", "")
        t.add_row(left[0], _signed(left[1]), right[0], _signed(right[1]))
    con.print(t)

    funnel = report.get("funnel") or {}
    if funnel:
        f = Table(title="Decision funnel", title_justify="left")
        f.add_column("stage")
        f.add_column("in", justify="right")
        f.add_column("out", justify="right")
        f.add_column("top reasons")
        if funnel.get("validation_reasons"):
            f.add_row("validation", str(funnel.get("signals", "")),
                      str(funnel.get("validated", "")),
                      _reasons_text(funnel.get("validation_reasons") or {}))
        for st in funnel.get("stages") or []:
            f.add_row(str(st.get("stage")), str(st.get("in", "")), str(st.get("out", "")),
                      _reasons_text(st.get("reasons") or {}))
        con.print(f)
        # Below the table, not as its caption: a caption wraps at the table's width, which
        # split "BLOCK 231" over two lines; each phrase here is one short line.
        decisions = funnel.get("decisions") or {}
        con.print(f"signals {funnel.get('signals', 0)} → orders {funnel.get('orders', 0)} → "
                  f"fills {funnel.get('fills', 0)}", highlight=False, soft_wrap=True)
        if decisions:
            con.print("decisions: " + "  ".join(f"{k} {v}" for k, v in decisions.items()),
                      highlight=False, soft_wrap=True)
    rej = report.get("rejections") or {}
    if rej.get("total"):
        con.print(f"[yellow]data rejected:[/yellow] {rej['total']} "
                  f"({_reasons_text(rej.get('by_reason') or {})})")
    if run.get("dead_letters"):
        con.print(f"[red]dead letters:[/red] {run['dead_letters']} (see the journal)")


def _reasons_text(reasons: Mapping[str, Any], n: int = 3) -> str:
    items = sorted(reasons.items(), key=lambda kv: -int(kv[1]))[:n]
    more = len(reasons) - len(items)
    text = ", ".join(f"{k} {v}" for k, v in items)
    return text + (f", +{more} more" if more > 0 else "")


def _signed(text: str) -> str:
    """Colour negative numbers red in rich markup."""
    return f"[red]{text}[/red]" if text.startswith("-") else text
