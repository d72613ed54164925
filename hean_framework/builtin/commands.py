"""Builtin CLI commands added through the commands hook: ``backtest`` (and, as they land,
``why`` and ``capital-plan``)."""

from __future__ import annotations

import sys

import click

from .. import hookimpl
from ..errors import EXIT_DEGRADED
from ..hookspecs import RegisterCommand


@click.command("backtest")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="output directory (default: run.out or runs/<run.name>)")
@click.option("--overwrite", is_flag=True,
              help="replace the run already in the output directory (its files are removed "
                   "first); without it such a directory is refused")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="override a config value, e.g. --set run.seed=7 (repeatable)")
@click.option("--no-progress", is_flag=True, help="do not show the progress bar")
@click.option("--quiet", is_flag=True, help="print only the output directory")
def backtest(config: str, out: str | None, overwrite: bool, sets: tuple[str, ...],
             no_progress: bool, quiet: bool) -> None:
    """Run a backtest of CONFIG on recorded data; writes journal, report.json, report.html.

    The output directory belongs to this run: it is locked while the run writes, and a
    directory holding another run's files is refused unless --overwrite is given.
    """
    from ..engine import Engine
    from ..report import print_summary, write_report
    from ..rundir import RunFolder
    from ..session import prepare

    setup, pm = prepare(config, sets)
    engine = Engine(setup, pm, out_dir=out, progress=False if (no_progress or quiet) else None)
    with RunFolder(engine.out_dir, overwrite=overwrite) as folder:
        for note in folder.notes:
            click.echo(f"note: {note}", err=True)
        try:
            result = engine.run()  # a run that raises closes its journal as cut short
        finally:
            engine.close()
        report = write_report(result, folder.path, html=setup.config.report.html)
        pm.run_finished(engine.ctx, report)
        written = folder.run_files()
    if quiet:
        click.echo(str(folder.path))
    else:
        print_summary(report)
        first, *rest = written or ["(nothing)"]
        click.echo(f"wrote {folder.path / first}" + "".join(f", {n}" for n in rest))
    disabled = {name: row.get("disabled_why", "") for name, row in result.per_strategy.items()
                if "disabled_after_errors" in row}
    if disabled:
        for name, why in disabled.items():
            click.secho(f"warning: strategy {name!r} was disabled during the run ({why}); its "
                        "results are incomplete -- the journal's dead_letters say what failed",
                        fg="yellow", err=True)
        sys.exit(EXIT_DEGRADED)


@hookimpl
def hean_register_commands(register: RegisterCommand) -> None:
    """Register the kernel's run commands."""
    register(backtest)
