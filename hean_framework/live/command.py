"""``hean run CONFIG --mode paper|live``: a paper or live session from the command line.

Refused before anything starts (exit 2) when: ``--mode`` and the YAML's ``run.mode``
disagree; live without ``--live`` or ``HEAN_LIVE=1``; live without ``HEAN_API_KEY`` /
``HEAN_API_SECRET``; the config does not validate.  Before connecting it prints what it will
trade (endpoint, account, symbols, strategies, venue, run folder).  Keys are read from the
environment only and never printed, logged or journaled.

A live run folder that holds a session cut short (a killed process: its journal still says
``running``) is **resumed**: that session's files move to ``sessions/<n>/`` (journal intact),
the order ledger is kept, and the new session reconciles against it before trading.  Any
other previous run in the folder needs ``--overwrite``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import click

from ..errors import EXIT_REFUSED, HeanError

LIVE_ENV = "HEAN_LIVE"


def _resume(out: Path) -> str | None:
    """Move a cut-short session's files aside; returns the note, or None."""
    from ..journal import Journal
    from ..rundir import JOURNAL_NAME, RUN_FILES, lock_holder

    jpath = out / JOURNAL_NAME
    if not jpath.exists():
        return None
    holder = lock_holder(out)
    from ..rundir import holder_alive

    if holder is not None and holder_alive(holder):
        return None  # RunFolder refuses it with the right message
    try:
        with Journal.open_readonly(jpath) as j:
            state = j.status()
    except Exception:  # a journal cut mid-write: keep it aside all the same
        state = "unreadable"
    if state not in ("cut short", "unreadable"):
        return None
    n = 1
    while (out / "sessions" / str(n)).exists():
        n += 1
    dest = out / "sessions" / str(n)
    dest.mkdir(parents=True)
    for name in RUN_FILES:
        if (out / name).exists():
            shutil.move(str(out / name), str(dest / name))
    if (out / "recorded").is_dir():
        shutil.move(str(out / "recorded"), str(dest / "recorded"))
    return f"resuming: the previous session was cut short; its files are in {dest}"


@click.command("run")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--mode", type=click.Choice(["paper", "live"]), required=True,
              help="paper: live data, simulated fills; live: real orders (must match "
                   "run.mode in the YAML)")
@click.option("--live", "confirm_live", is_flag=True,
              help="confirm a live run places real orders (or set HEAN_LIVE=1)")
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="run folder (default: run.out or runs/<run.name>)")
@click.option("--overwrite", is_flag=True, help="replace a finished run in the folder")
@click.option("--duration", type=float, default=None, metavar="SECONDS",
              help="stop after this long (default: until SIGINT/SIGTERM)")
@click.option("--max-events", type=int, default=None, help="stop after this many events")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="override a config value (repeatable)")
def run_command(config: str, mode: str, confirm_live: bool, out: str | None, overwrite: bool,
                duration: float | None, max_events: int | None, sets: tuple[str, ...]) -> None:
    """Run CONFIG as a paper or live session on the exchange of its exchange: section.

    Stops on SIGINT/SIGTERM (or --duration / --max-events): no new orders, the run's own open
    orders cancelled, the journal records how it ended. Writes journal.sqlite, report.json,
    report.html and recorded/ (the events, replayable with hean backtest recorded/replay.yaml).
    """
    from ..engine import Engine
    from ..report import print_summary, write_report
    from ..rundir import RunFolder
    from ..session import prepare
    from .client import api_keys, endpoint
    from .config import ExchangeSection

    setup, pm = prepare(config, sets)
    cfg = setup.config
    if cfg.run.mode != mode:
        raise HeanError(f"--mode {mode} but run.mode in {config} is {cfg.run.mode!r}: they "
                        "must agree", f"set run.mode: {mode} in the YAML (or --set "
                        f"run.mode={mode})")
    if mode == "live" and not (confirm_live or os.environ.get(LIVE_ENV) == "1"):
        raise HeanError("a live run places real orders: confirm it",
                        f"add --live (or set {LIVE_ENV}=1)")
    section = setup.section("exchange")
    if not isinstance(section, ExchangeSection):
        raise HeanError("no exchange: section model (builtin.live disabled?)",
                        "remove builtin.live from plugins.disabled")
    keys = api_keys()
    if mode == "live" and not all(keys):
        raise HeanError("a live run needs API keys in the environment",
                        "export HEAN_API_KEY=... HEAN_API_SECRET=... (never in the YAML)")
    from ..assembly import data_symbols

    engine = Engine(setup, pm, out_dir=out, progress=False)
    symbols = data_symbols(setup)
    strategies = ", ".join(
        f"{rc.instance} ({rc.spec.name}: {', '.join(rc.symbols or symbols) or '-'})"
        for rc in setup.components["strategy"]) or "(none)"
    click.echo(f"hean run: {mode.upper()} on {endpoint(section)}")
    click.echo(f"  account: {cfg.account.capital:g} {cfg.account.currency}; venue: "
               f"{setup.venue.instance}; feed: {setup.feed.instance if setup.feed else '-'}")
    click.echo(f"  symbols: {', '.join(symbols) or '(from the strategies)'}")
    click.echo(f"  strategies: {strategies}")
    click.echo(f"  run folder: {engine.out_dir}")
    if mode == "live":
        click.secho("  REAL ORDERS will be placed.", fg="red", bold=True)
    note = _resume(engine.out_dir) if mode == "live" else None
    if note:
        click.echo(f"note: {note}", err=True)
    from .session import LiveSession

    with RunFolder(engine.out_dir, overwrite=overwrite) as folder:
        for n in folder.notes:
            click.echo(f"note: {n}", err=True)
        session = LiveSession(engine, section, keys=keys if mode == "live" else ("", ""),
                              duration_s=duration, max_events=max_events,
                              say=lambda s: click.echo(s, err=True))
        try:
            result = asyncio.run(session.run())
        except BaseException as exc:
            engine._failure = exc  # close() marks the journal failed / interrupted
            engine.close()
            raise
        failed = session.reason.startswith("failed")
        journal = engine.ctx.journal
        if journal is not None:
            engine.ctx.journal = None
            journal.close("failed" if failed else "complete",
                          f"{mode} session ended: {session.reason or 'ended'}")
        report = write_report(result, folder.path, html=cfg.report.html)
        pm.run_finished(engine.ctx, report)
    print_summary(report)
    click.echo(f"ended: {session.reason or 'ended'}; wrote {folder.path}")
    if failed:
        sys.exit(EXIT_REFUSED)
