"""Preparing a run outside the CLI: load the plugins a config allows, validate the config.

Shared by the ``hean`` commands, the capital plan and library users (notebooks, tests); it
imports nothing of the CLI, so any module may use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .config import RunSetup, load_config, load_setup
from .plugins import HeanPluginManager, load_plugins


def plugins_for(config: str | Path | None, sets: Sequence[str] = ()) -> HeanPluginManager:
    """A loaded plugin manager honouring ``plugins.disabled`` of ``config`` (if given)."""
    disabled: list[str] = []
    if config is not None:
        cfg, _ = load_config(config, sets=tuple(sets))
        disabled = cfg.plugins.disabled
    return load_plugins(disabled)


def prepare(config: str | Path, sets: Sequence[str] = ()) -> tuple[RunSetup, HeanPluginManager]:
    """Load plugins and fully validate a run config (every section, before anything starts;
    a backtest without a strategy is refused)."""
    pm = plugins_for(config, sets)
    return load_setup(config, pm.registry, sets=tuple(sets), need_strategy=True), pm
