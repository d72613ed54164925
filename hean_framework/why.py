"""``hean why RUN_DIR``: why did (or didn't) this run trade?

Reads ``RUN_DIR/report.json`` and prints the ``small_capital_mode`` block (the seed's
``/trading/why`` payload: enabled, avg cost/edge, edge/cost ratio, top block reasons and,
apart, top skip reasons, maker fill rate, decision counts, min notional, maker-only) and the
whole decision funnel (signals -> validated -> passed filters -> sized -> passed gates ->
orders -> fills, decisions, reasons per stage and per strategy).  BLOCK and SKIP reasons are
counted from the journal's decisions (a SKIP such as ``POSITION_OPEN`` is not a block).
When the run had no trade gate the block is computed from the journal's decisions
(``RUN_DIR/journal.sqlite``) with ``enabled: false``.  Order groups (basis, pairs, exits) are
listed one row per group decision (journal events ``group_decision``; their legs' decisions
share the ``group_id``): kind, strategy, decision and reason, the legs, the entry group an
exit closes, the group's end status and, from ``report.json["group_pnl"]``, its net PnL.

A missing folder, a missing or unreadable ``report.json`` (not JSON, not a HEAN report) and
a corrupt journal are :class:`~hean_framework.errors.HeanError` naming the file, with the hint
to run the backtest again (the CLI prints ``error:``/``hint:`` and exits with status 2).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import click
import orjson

from .errors import HeanError

__all__ = ["load_why", "why"]

BLOCK_KEYS = ("enabled", "avg_cost_bps", "avg_edge_bps", "edge_cost_ratio", "top_block_reasons",
              "top_skip_reasons", "maker_fill_rate", "decision_counts", "min_notional_usd",
              "maker_only_default")
#: the funnel's columns, in the order a signal passes them
FUNNEL_COLUMNS = ("signals", "validated", "passed_filters", "sized", "passed_gates", "orders",
                  "fills")


RERUN = ("run the backtest again to write the run folder: `hean backtest CONFIG --out "
         "RUN_DIR`, then `hean why RUN_DIR`")
#: top-level keys of report.json that ``hean why`` reads: (required, JSON types, in words)
REPORT_KEYS: dict[str, tuple[bool, tuple[type, ...], str]] = {
    "run": (True, (dict,), "an object"), "funnel": (True, (dict,), "an object"),
    "small_capital_mode": (False, (dict, type(None)), "an object or null"),
    "top_reasons": (False, (list,), "an array"),
    "decisions": (False, (list, type(None)), "an array or null")}


def read_report(rp: Path) -> dict[str, Any]:
    """``report.json`` of a run folder, checked to be a HEAN report (:class:`HeanError` naming
    the file otherwise)."""
    if not rp.parent.is_dir():
        raise HeanError(f"{rp.parent} does not exist (or is not a folder)", RERUN)
    if not rp.is_file():
        raise HeanError(f"{rp} not found: {rp.parent} is not a finished run", RERUN)
    try:
        report = orjson.loads(rp.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise HeanError(f"{rp} is not a HEAN report: not valid JSON ({exc})", RERUN) from exc
    except OSError as exc:
        raise HeanError(f"{rp} cannot be read: {exc.strerror or exc}", RERUN) from exc
    if not isinstance(report, dict):
        raise HeanError(f"{rp} is not a HEAN report: it holds a JSON "
                        f"{type(report).__name__}, not an object", RERUN)
    problems = [f"{k!r} is missing" for k, (need, _, _) in REPORT_KEYS.items()
                if need and k not in report]
    problems += [f"{k!r} should be {words}" for k, (_, types, words) in REPORT_KEYS.items()
                 if k in report and not isinstance(report[k], types)]
    if problems:
        raise HeanError(f"{rp} is not a HEAN report: {'; '.join(problems)}", RERUN)
    return report


def load_why(run_dir: str | Path) -> dict[str, Any]:
    """``{"run_dir", "small_capital_mode", "funnel", "top_reasons"}`` for a finished run."""
    d = Path(run_dir)
    status, warning = journal_status(d / "journal.sqlite")
    if warning is not None and not (d / "report.json").is_file():
        raise HeanError(warning, RERUN)
    report = read_report(d / "report.json")
    block = report.get("small_capital_mode")
    if not isinstance(block, dict):
        block = _from_journal(d, report)
    else:
        block = dict(block)
    split = verdict_reasons(d, report)
    if split is not None:
        block["top_block_reasons"] = split["BLOCK"]
        block["top_skip_reasons"] = split["SKIP"]
        block["reasons_source"] = split["source"]
    for k in BLOCK_KEYS:
        block.setdefault(k, None)
    return {"run_dir": str(d), "run": report.get("run", {}).get("name"),
            "small_capital_mode": block, "funnel": report.get("funnel", {}),
            "top_reasons": report.get("top_reasons", []), "journal_status": status,
            "warning": warning, "groups": group_decisions(d, report)}


def group_decisions(d: Path, report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per group decision of the journal (empty without a journal or groups):
    ``group_id``, ``kind``, ``strategy``, ``decision``, ``reason`` (codes), ``legs``
    (``"buy BTC/USDT 0.01 CREATE"`` ...), ``closes``, ``status`` (the group's end) and
    ``net_pnl`` (entry groups, from ``report.json["group_pnl"]``)."""
    jp = d / "journal.sqlite"
    if not jp.is_file():
        return []
    try:
        con = sqlite3.connect(jp.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT kind, payload FROM events WHERE kind IN "
                               "('group_decision', 'order_group_end') ORDER BY rowid"
                               ).fetchall()
        finally:
            con.close()
        events = [(kind, orjson.loads(p)) for kind, p in rows]
    except (sqlite3.Error, orjson.JSONDecodeError):
        return []
    ends = {p.get("group_id"): p.get("status") for kind, p in events
            if kind == "order_group_end"}
    pnl = {g.get("group_id"): g.get("net_pnl") for g in report.get("group_pnl") or []
           if isinstance(g, dict)}
    out = []
    for kind, p in events:
        if kind != "group_decision":
            continue
        gid = p.get("group_id")
        out.append({"group_id": gid, "kind": p.get("kind"), "strategy": p.get("strategy"),
                    "decision": p.get("decision"),
                    "reason": ", ".join(p.get("reason_codes") or []),
                    "legs": [f"{leg.get('side')} {leg.get('symbol')} {leg.get('qty'):g} "
                             f"{leg.get('decision')}" for leg in p.get("legs") or []],
                    "closes": p.get("closes") or None, "exit_reason": p.get("reason") or None,
                    "status": ends.get(gid), "net_pnl": pnl.get(gid)})
    return out


def verdict_reasons(d: Path, report: dict[str, Any]) -> dict[str, Any] | None:
    """The top reasons of BLOCK and of SKIP entry decisions, apart (exits excluded):
    ``{"BLOCK": [...], "SKIP": [...], "source": ...}`` from every decision of the journal,
    else from the last decisions ``report.json`` keeps; None when neither can be read (the
    report's ``top_block_reasons`` then stays as the run wrote it: blocks and skips)."""
    from .report import reasons_by_verdict

    jp = d / "journal.sqlite"
    if jp.is_file():
        try:
            con = sqlite3.connect(jp.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                grouped = con.execute(
                    "SELECT decision, reason_codes, COUNT(*) FROM decisions WHERE decision IN "
                    "('BLOCK', 'SKIP') AND stage != 'exit' GROUP BY decision, reason_codes"
                ).fetchall()
            finally:
                con.close()
            rows = [(dec, orjson.loads(codes) if codes else [], n) for dec, codes, n in grouped]
            return {**reasons_by_verdict(rows), "source": "journal"}
        except (sqlite3.Error, orjson.JSONDecodeError, TypeError):
            pass  # an unreadable journal is reported where it is needed
    recent = report.get("decisions")
    if isinstance(recent, list) and recent:
        try:
            rows = [(r["decision"], list(r.get("reason_codes") or ()), 1) for r in recent
                    if isinstance(r, dict) and r.get("stage") != "exit"]
        except (KeyError, TypeError):
            return None
        return {**reasons_by_verdict(rows),
                "source": f"report.decisions (the last {len(recent)} decisions)"}
    return None


def journal_status(path: Path) -> tuple[str | None, str | None]:
    """``(status, what to tell the user when it is not complete)`` of a run's journal;
    ``(None, None)`` without a readable journal (old journals have no status either)."""
    if not path.is_file():
        return None, None
    from .journal_reader import JournalReader

    try:
        with JournalReader(path) as r:
            return r.status(), r.cut_short_message()
    except (sqlite3.Error, OSError):
        return None, None  # reported where the journal is needed


def _from_journal(d: Path, report: dict[str, Any]) -> dict[str, Any]:
    from .execution.trade_gate import summarize_decisions

    jp = d / "journal.sqlite"
    decisions: list[dict[str, Any]]
    where = jp if jp.is_file() else d / "report.json"
    try:
        if jp.is_file():
            from .journal import Journal
            reader = Journal.open_readonly(jp)
            try:
                decisions = reader.decisions()
            finally:
                reader.close()
        else:
            decisions = list(report.get("decisions") or [])
        block = summarize_decisions(decisions, enabled=False)
    except sqlite3.Error as exc:
        raise HeanError(f"{jp} is not a readable HEAN journal ({exc})", RERUN) from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise HeanError(f"{where}: its decisions cannot be read ({type(exc).__name__}: "
                        f"{exc})", RERUN) from exc
    block["min_notional_usd"] = None
    block["maker_only_default"] = False
    block["source"] = "journal" if jp.is_file() else "report.decisions"
    return block


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.2f}"
    return str(v)


def render(data: dict[str, Any]) -> None:
    """Print ``data`` (from :func:`load_why`) for a person, with rich tables."""
    from rich.console import Console
    from rich.table import Table

    con = Console(width=110)
    b = data["small_capital_mode"]
    con.print(f"[bold]hean why[/bold] {data['run_dir']}  (run {data.get('run')})")
    if data.get("warning"):
        con.print(f"[yellow]warning: {data['warning']}[/yellow]")
    t = Table(title="small_capital_mode", show_header=False, title_justify="left")
    t.add_column("key", style="cyan")
    t.add_column("value")
    for k in BLOCK_KEYS:
        v = b.get(k)
        if k in ("top_block_reasons", "top_skip_reasons"):
            v = ", ".join(f"{r['reason']} ({r['count']})" for r in v or []) or "-"
            if k == "top_skip_reasons" and b.get(k) is None:
                v = "- (no journal: top_block_reasons counts blocks and skips)"
        elif k == "decision_counts" and isinstance(v, dict):
            v = "  ".join(f"{kk}={vv}" for kk, vv in v.items())
        t.add_row(k, _fmt(v))
    con.print(t)
    f = data["funnel"]
    ft = Table(title="funnel", title_justify="left")
    for col in FUNNEL_COLUMNS:
        ft.add_column(col, justify="right")
    ft.add_row(*(_fmt(f.get(c)) for c in FUNNEL_COLUMNS))
    con.print(ft)
    dec = f.get("decisions") or {}
    con.print("decisions: " + "  ".join(f"{k}={v}" for k, v in dec.items())
              + f"  (exits {f.get('exits', 0)})")
    if f.get("validation_reasons"):
        con.print("validation: " + ", ".join(f"{k} ({v})" for k, v in
                                             f["validation_reasons"].items()))
    st = Table(title="stages", title_justify="left")
    for col in ("stage", "in", "out", "reasons"):
        st.add_column(col)
    for s in f.get("stages") or []:
        reasons = ", ".join(f"{k} ({v})" for k, v in (s.get("reasons") or {}).items()) or "-"
        st.add_row(str(s.get("stage")), _fmt(s.get("in")), _fmt(s.get("out")), reasons)
    con.print(st)
    bs = f.get("by_strategy") or {}
    if bs:
        keys = sorted({k for v in bs.values() for k in v})
        bt = Table(title="by_strategy", title_justify="left")
        bt.add_column("strategy")
        for k in keys:
            bt.add_column(k, justify="right")
        for name, v in bs.items():
            bt.add_row(name, *(_fmt(v.get(k, 0)) for k in keys))
        con.print(bt)
    render_groups(con, data.get("groups") or [])


def render_groups(con: Any, groups: list[dict[str, Any]], limit: int = 40) -> None:
    """The group decisions (the last ``limit``) as a table."""
    if not groups:
        return
    from rich.table import Table

    gt = Table(title=f"order groups ({len(groups)} decisions"
               + (f", last {limit}" if len(groups) > limit else "") + ")",
               title_justify="left")
    for col in ("group", "kind", "strategy", "decision", "reason", "legs", "closes",
                "status", "net_pnl"):
        gt.add_column(col)
    for g in groups[-limit:]:
        reason = g["reason"] + (f" ({g['exit_reason']})" if g.get("exit_reason") else "")
        gt.add_row(str(g["group_id"]), str(g["kind"]), str(g["strategy"]),
                   str(g["decision"]), reason, "; ".join(g["legs"]), _fmt(g["closes"]),
                   _fmt(g["status"]), _fmt(g["net_pnl"]))
    con.print(gt)


@click.command("why")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def why(run_dir: str, as_json: bool) -> None:
    """Explain the decisions of a finished run: small-capital block and funnel."""
    from .cli import fail

    try:
        data = load_why(run_dir)
        if as_json:
            click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
            return
        try:
            render(data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise HeanError(f"{Path(run_dir) / 'report.json'} has an unexpected shape "
                            f"({type(exc).__name__}: {exc})", RERUN) from exc
    except HeanError as exc:
        fail(exc)
