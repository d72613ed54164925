"""Errors that tell the user what was wrong and what to do, and the CLI's exit codes
(docs/errors.md)."""

from __future__ import annotations

#: the command did what it was asked
EXIT_OK = 0
#: an unexpected failure inside HEAN or a plugin (a traceback): a bug to report
EXIT_BUG = 1
#: the input was refused (config, data, run folder, plugin): the message says what to change
EXIT_REFUSED = 2
#: the run finished and wrote its report, but a component was disabled during it (its
#: results are incomplete): the report and the warning name it and why
EXIT_DEGRADED = 3


class HeanError(Exception):
    """Base class of every error HEAN raises on purpose.

    ``hint`` is the "what to do" part, printed on its own line by the CLI.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(HeanError):
    """The run configuration is invalid; raised before anything starts."""

    def __init__(self, problems: list[str], source: str = "", hint: str = "") -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration{where}:\n{lines}", hint)


class PluginError(HeanError):
    """A plugin failed to load or register; names the plugin, distribution and version."""


class DataError(HeanError):
    """Market data cannot be read at all (missing file, unknown format)."""


class ComponentError(HeanError):
    """A component raised while handling an event; names plugin, distribution and version."""
