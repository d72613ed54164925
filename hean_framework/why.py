"""``hean why RUN_DIR``: why did (or didn't) this run trade?

Reads ``RUN_DIR/report.json`` and prints the ``small_capital_mode`` block (the seed's
``/trading/why`` payload: enabled, avg cost/edge, edge/cost ratio, top block reasons, maker
fill rate, decision counts, min notional, maker-only) and the whole decision funnel (signals ->
passed filters -> sized -> passed gates -> orders -> fills, decisions, reasons per stage and
per strategy).  When the run had no trade gate the block is computed from the journal's
decisions (``RUN_DIR/journal.sqlite``) with ``enabled: false``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from .errors import HeanError

__all__ = ["load_why", "why"]

BLOCK_KEYS = ("enabled", "avg_cost_bps", "avg_edge_bps", "edge_cost_ratio", "top_block_reasons",
              "maker_fill_rate", "decision_counts", "min_notional_usd", "maker_only_default")


def load_why(run_dir: str | Path) -> dict[str, Any]:
    """``{"run_dir", "small_capital_mode", "funnel", "top_reasons"}`` for a finished run."""
    d = Path(run_dir)
    rp = d / "report.json"
    if not rp.is_file():
        raise HeanError(f"{rp} not found: {d} is not a finished run",
                        "run `hean backtest CONFIG --out RUN_DIR` first, then "
                        "`hean why RUN_DIR`")
    report = orjson.loads(rp.read_bytes())
    block = report.get("small_capital_mode")
    if not isinstance(block, dict):
        block = _from_journal(d, report)
    else:
        block = dict(block)
    for k in BLOCK_KEYS:
        block.setdefault(k, None)
    return {"run_dir": str(d), "run": report.get("run", {}).get("name"),
            "small_capital_mode": block, "funnel": report.get("funnel", {}),
            "top_reasons": report.get("top_reasons", [])}


def _from_journal(d: Path, report: dict[str, Any]) -> dict[str, Any]:
    from .execution.trade_gate import summarize_decisions

    jp = d / "journal.sqlite"
    decisions: list[dict[str, Any]]
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
    t = Table(title="small_capital_mode", show_header=False, title_justify="left")
    t.add_column("key", style="cyan")
    t.add_column("value")
    for k in BLOCK_KEYS:
        v = b.get(k)
        if k == "top_block_reasons":
            v = ", ".join(f"{r['reason']} ({r['count']})" for r in v or []) or "-"
        elif k == "decision_counts" and isinstance(v, dict):
            v = "  ".join(f"{kk}={vv}" for kk, vv in v.items())
        t.add_row(k, _fmt(v))
    con.print(t)
    f = data["funnel"]
    ft = Table(title="funnel", title_justify="left")
    for col in ("signals", "passed_filters", "sized", "passed_gates", "orders", "fills"):
        ft.add_column(col, justify="right")
    ft.add_row(*(_fmt(f.get(c)) for c in ("signals", "passed_filters", "sized",
                                          "passed_gates", "orders", "fills")))
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


@click.command("why")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def why(run_dir: str, as_json: bool) -> None:
    """Explain the decisions of a finished run: small-capital block and funnel."""
    try:
        data = load_why(run_dir)
    except HeanError as exc:
        raise click.ClickException(f"{exc}") from exc
    if as_json:
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    render(data)
