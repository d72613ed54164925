"""The ``hean`` command.

Core subcommands live here (``version``, ``plugins``, ``config``); everything else --
including the kernel's own ``backtest``, ``why`` and ``capital-plan`` -- is added through the
:func:`~hean_framework.hookspecs.hean_register_commands` hook, exactly as a plugin would.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import orjson

from . import __version__
from .config import RunSetup
from .config_yaml import read_yaml
from .errors import EXIT_REFUSED, HeanError
from .kinds import SCAFFOLD_KINDS, SECTION_KINDS
from .plugins import load_plugins
from .session import plugins_for, prepare

__all__ = ["cli", "fail", "main", "plugins_for", "prepare", "report_error"]


#: a plugin failure met while ``make_cli`` collected the plugins' commands, told once:
#: as the error of a command that loads the plugins and stops on it, else as a warning
_STARTUP: list[HeanError] = []


def _warn_startup() -> None:
    while _STARTUP:
        exc = _STARTUP.pop()
        click.secho(f"warning: {exc.message}", fg="yellow", err=True)
        click.echo("  (skipped: its commands are missing, and a command that loads it stops "
                   "on it" + (f"; {exc.hint})" if exc.hint else ")"), err=True)


def report_error(exc: HeanError) -> None:
    """Print a HEAN error with its hint (to stderr)."""
    _STARTUP[:] = [e for e in _STARTUP if e.message != exc.message]  # told once, here
    click.secho(f"error: {exc.message}", fg="red", err=True)
    if exc.hint:
        click.echo(f"  hint: {exc.hint}", err=True)


def fail(exc: HeanError) -> None:
    """Print a HEAN error with its hint and exit with status 2."""
    report_error(exc)
    sys.exit(EXIT_REFUSED)


set_option = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                          help="override a config value, e.g. --set run.seed=7 (repeatable)")


class HeanGroup(click.Group):
    """Turns HeanError into a clean message instead of a traceback, and tells a plugin
    failure met at start-up exactly once (never a warning and the same error)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HeanError as exc:
            fail(exc)
        finally:
            _warn_startup()

    def get_help(self, ctx: click.Context) -> str:
        text = super().get_help(ctx)
        _warn_startup()
        return text


@click.group(cls=HeanGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hean")
def cli() -> None:
    """HEAN: plugin-based crypto trading for small accounts.

    One YAML file describes a run; the same file and decision code drive a backtest on
    recorded data (hean backtest), a paper session (live Bybit data, simulated fills) and a
    live session (real orders on Bybit): hean run CONFIG --mode paper|live (see
    docs/live.md).
    """


@cli.command()
def version() -> None:
    """Print the kernel version and the Python version."""
    click.echo(f"hean-framework {__version__} (Python {sys.version.split()[0]})")


# ------------------------------------------------------------------------------ plugins


@cli.group()
def plugins() -> None:
    """Inspect and scaffold plugins."""


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False),
              help="apply this config's plugins.disabled list")
def plugins_list(as_json: bool, config: str | None) -> None:
    """List plugins with their kinds, distribution, version and status."""
    pm = plugins_for(config)
    rows = pm.plugin_list()
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    from rich.console import Console

    console = Console()
    console.print(plugins_table(rows, console.width))


def plugins_table(rows: list[dict[str, Any]], width: int = 80) -> Any:
    """The ``hean plugins list`` table for a console ``width`` columns wide.

    Names are never cut: the plugin and component columns are as wide as their longest name
    (one component per line, ``kind:name``), the distribution column at least as wide as the
    longest distribution name (its version wraps under it); the status gets what is left,
    wrapping at spaces and folding only a word wider than that.
    """
    from rich import box
    from rich.table import Table

    def longest(values: list[str], floor: int = 1) -> int:
        return max([floor, *map(len, values)])

    dists = [f"{r['distribution']} {r['version']}".strip() for r in rows]
    name_w = longest([r["name"] for r in rows], 4)
    comp_w = longest([c for r in rows for c in r["components"]], 10)
    left = width - 2 * 3 - name_w - comp_w  # collapsed padding between 4 columns, no edges
    status_w = longest([w for r in rows for w in r["status"].split()], 6)
    dist_w = max(8, min(longest(dists, 12),
                        max(longest([r["distribution"] for r in rows]), left - status_w)))
    status_w = max(4, min(longest([r["status"] for r in rows]), left - dist_w))
    dist_w = max(8, min(dist_w, left - status_w))
    table = Table(title="HEAN plugins", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True, show_edge=False)
    table.add_column("name", width=name_w, overflow="fold")
    table.add_column("components", width=comp_w, overflow="fold")
    table.add_column("distribution", width=dist_w, overflow="fold")
    table.add_column("status", width=status_w, overflow="fold")
    for r, dist in zip(rows, dists, strict=True):
        table.add_row(r["name"], "\n".join(r["components"]) or "-", dist, r["status"])
    return table


@plugins.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(SCAFFOLD_KINDS), required=True,
              help="what the plugin provides")
@click.option("--dir", "directory", default="plugins", show_default=True,
              type=click.Path(file_okay=False), help="where to create the plugin folder")
def plugins_new(name: str, kind: str, directory: str) -> None:
    """Scaffold a plugin package NAME (e.g. my_filter) under plugins/."""
    from .scaffold import scaffold

    path = scaffold(name, kind, Path(directory))
    click.echo(f"created {path}")
    click.echo(f"  test it: cd {path} && pip install -e '.[test]' && pytest   (or: tox, with "
               "the tox.ini it carries)")


# ------------------------------------------------------------------------------ config


@cli.group("config")
def config_group() -> None:
    """Validate a run configuration or print its JSON Schema."""


@config_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@set_option
def config_validate(files: tuple[str, ...], sets: tuple[str, ...]) -> None:
    """Validate each of FILES against the kernel and every installed plugin's model.

    Every file is checked and reported (valid, or its problems); the exit status is 2 when
    any of them is refused.
    """
    refused = 0
    for file in files:
        try:
            setup, _ = prepare(file, sets)
        except HeanError as exc:
            refused += 1
            report_error(exc)
            continue
        n = sum(len(v) for v in setup.components.values())
        click.secho(f"{file}: valid ({n} components, venue {setup.venue.instance!r}, "
                    f"mode {setup.config.run.mode})", fg="green")
    if refused:
        if len(files) > 1:
            click.secho(f"{refused} of {len(files)} files refused", fg="red", err=True)
        sys.exit(EXIT_REFUSED)


@config_group.command("schema")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False),
              help="apply this config's plugins.disabled list")
def config_schema(config: str | None) -> None:
    """Print a JSON Schema covering every installed plugin's section (for editors)."""
    from .schema import json_schema

    pm = plugins_for(config)
    click.echo(orjson.dumps(json_schema(pm.registry), option=orjson.OPT_INDENT_2).decode())


@config_group.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--resolved", is_flag=True,
              help="list the components that will run, per section and in order, with where "
                   "each came from (YAML, default, small_capital default) and its plugin")
@set_option
def config_show(file: str, resolved: bool, sets: tuple[str, ...]) -> None:
    """Print FILE after environment and --set overrides (secrets never appear).

    Component sections show the instances that will run (defaults included); --resolved
    lists them with their sources instead of printing the JSON.
    """
    read_yaml(file)
    setup, _ = prepare(file, sets)
    if resolved:
        click.echo("\n".join(resolved_lines(file, setup)))
        return
    data = setup.config.model_dump(mode="json")
    for section, kind in SECTION_KINDS.items():
        data[section] = {rc.instance: rc.body for rc in setup.components[kind]}
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def resolved_lines(file: str, setup: RunSetup) -> list[str]:
    """``hean config show --resolved``: every component that will run, per section in the
    order it runs, as ``instance [(component)]: source; plugin (distribution version)``."""
    out = [f"{file}: the components that will run, in order"]
    for section, kind in SECTION_KINDS.items():
        rows = setup.components[kind]
        if not rows:
            out.append(f"{section}: (none)")
        else:
            out.append(f"{section}:")
        for rc in rows:
            comp = f" ({rc.spec.name})" if rc.spec.name != rc.instance else ""
            out.append(f"  {rc.instance}{comp}: {rc.source}; {rc.spec.origin.describe()}")
        if kind == "executor" and "plain" not in {rc.instance for rc in rows}:
            out.append("  (plain: always available; exits use it)")
    out.append(f"venue: {setup.venue.instance}; {setup.venue.spec.origin.describe()}")
    if setup.feed is not None:
        out.append(f"data: {setup.feed.instance}; {setup.feed.spec.origin.describe()}")
    for name, model in setup.sections.items():
        fn = getattr(model, "default_components", None)
        if fn is None:
            continue
        on = any(fn(setup.config).values())
        enabled = getattr(model, "enabled", None)
        below = getattr(model, "account_below", None)
        capital = setup.config.account.capital
        if enabled == "auto" and below is not None:
            why = f"account.capital {capital:g} {'<' if on else '>='} account_below {below:g}"
        else:
            why = f"{name}.enabled: {str(enabled).lower()}"
        out.append(f"{name} mode: {'on' if on else 'off'} ({why})")
    return out


# ------------------------------------------------------------------------------ main


def make_cli() -> click.Group:
    """A fresh ``hean`` group: the builtin commands of :data:`cli` plus every plugin-registered
    command (a new group per call, so commands of one plugin set never leak into the next)."""
    _STARTUP.clear()
    try:
        pm = load_plugins()
    except HeanError as exc:
        # Keep the CLI usable (a config's plugins.disabled list may exclude the broken plugin):
        # a command that loads the plugins and meets the failure prints it as its error; any
        # other command (hean version, --help) ends with it as a warning.
        _STARTUP.append(exc)
        pm = load_plugins(autoload=False)
    group = copy.copy(cli)
    group.commands = dict(cli.commands)
    for cmd, origin in pm.registry.commands:
        name = cmd.name or ""
        if name in group.commands:
            fail(HeanError(f"command {cmd.name!r} from {origin.describe()} clashes with an "
                           f"existing command", "disable one of the plugins"))
        group.add_command(cmd)
    return group


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    make_cli().main(args=list(argv) if argv is not None else None, prog_name="hean")


if __name__ == "__main__":  # pragma: no cover
    main()
