"""Builtin CLI commands added through the commands hook: ``backtest`` (and, as they land,
``why`` and ``capital-plan``)."""

from __future__ import annotations

from pathlib import Path

import click

from .. import hookimpl
from ..hookspecs import RegisterCommand


@click.command("backtest")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="output directory (default: run.out or runs/<run.name>)")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="override a config value, e.g. --set run.seed=7 (repeatable)")
@click.option("--no-progress", is_flag=True, help="do not show the progress bar")
@click.option("--quiet", is_flag=True, help="print only the output directory")
def backtest(config: str, out: str | None, sets: tuple[str, ...], no_progress: bool,
             quiet: bool) -> None:
    """Run a backtest of CONFIG on recorded data; writes journal, report.json, report.html."""
    from ..engine import Engine
    from ..report import print_summary, write_report
    from ..session import prepare

    setup, pm = prepare(config, sets)
    engine = Engine(setup, pm, out_dir=out, progress=False if no_progress else None)
    try:
        result = engine.run()
    finally:
        engine.close()
    report = write_report(result, engine.out_dir, html=setup.config.report.html)
    pm.run_finished(engine.ctx, report)
    if quiet:
        click.echo(str(engine.out_dir))
        return
    print_summary(report)
    click.echo(f"wrote {Path(engine.out_dir) / 'report.json'}, report.html, journal.sqlite")


@hookimpl
def hean_register_commands(register: RegisterCommand) -> None:
    """Register the kernel's run commands."""
    register(backtest)
