"""The typed registries filled by the ``register`` callbacks of the registration hooks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .components import Component
from .errors import PluginError
from .kinds import HOOK_KINDS, KINDS
from .styles import STYLES

if TYPE_CHECKING:
    import click

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

__all__ = ["HOOK_KINDS", "ComponentSpec", "PluginInfo", "Registry", "SectionSpec"]


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """Where a component came from: plugin name, distribution and version."""

    plugin: str
    distribution: str = ""
    version: str = ""
    builtin: bool = False

    def describe(self) -> str:
        """``plugin (distribution version)`` for error messages."""
        if self.builtin:
            return f"builtin plugin {self.plugin!r} (hean-framework {self.version})"
        dist = f"{self.distribution} {self.version}".strip()
        return f"plugin {self.plugin!r} ({dist or 'not installed as a distribution'})"


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    """One registered component."""

    kind: str
    name: str
    cls: type[Component]
    config_model: type[BaseModel]
    origin: PluginInfo
    description: str = ""

    def build_config(self, raw: dict[str, Any]) -> BaseModel:
        """Validate a YAML section against this component's model."""
        return self.config_model.model_validate(raw)


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """One plugin-owned top-level YAML section (``risk:``, ``small_capital:``)."""

    name: str
    model: type[BaseModel]
    origin: PluginInfo


@dataclass(slots=True)
class Registry:
    """All registered components, by kind and name, plus CLI commands."""

    components: dict[str, dict[str, ComponentSpec]] = field(
        default_factory=lambda: {k: {} for k in KINDS})
    commands: list[tuple[click.Command, PluginInfo]] = field(default_factory=list)
    sections: dict[str, SectionSpec] = field(default_factory=dict)

    def add(self, kind: str, name: str, cls: Any, config: Any, origin: PluginInfo,
            description: str = "") -> None:
        """Validate and store one registration; raises :class:`PluginError` on misuse."""
        where = origin.describe()
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PluginError(
                f"{where} registered a {kind} with invalid name {name!r}",
                "names are lowercase letters, digits and '_', starting with a letter")
        base = KINDS[kind].base
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(
                f"{where} registered {kind} {name!r} with {cls!r}, which is not a subclass of "
                f"hean_framework.components.{base.__name__}",
                f"make the class inherit from {base.__name__}")
        model = config if config is not None else getattr(cls, "config_model", None)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(
                f"{where} registered {kind} {name!r} with config={model!r}, not a pydantic model",
                "pass config=YourModel (a subclass of hean_framework.ComponentConfig)")
        if KINDS[kind].section is not None:
            clash = sorted(KINDS[kind].reserved & set(model.model_fields))
            if clash:
                raise PluginError(
                    f"{where} registered {kind} {name!r} whose config {model.__name__} has "
                    f"field(s) {', '.join(clash)} -- kernel keys of every {kind} section "
                    f"({', '.join(sorted(KINDS[kind].reserved))}): the plugin would never "
                    "see their values",
                    "rename the field(s) in the plugin's config model")
        style = getattr(cls, "style", "directional") if kind == "strategy" else "directional"
        if style not in STYLES:
            raise PluginError(
                f"{where} registered strategy {name!r} with style {style!r}",
                f"Strategy.style is one of {', '.join(STYLES)} (hean_framework.styles)")
        existing = self.components[kind].get(name)
        if existing is not None:
            raise PluginError(
                f"{kind} name {name!r} is registered twice: by {existing.origin.describe()} "
                f"and by {where}",
                f"uninstall or disable one of them (YAML plugins.disabled: [{origin.plugin}])")
        self.components[kind][name] = ComponentSpec(
            kind, name, cls, model, origin, description or _first_line(cls.__doc__))

    def get(self, kind: str, name: str) -> ComponentSpec | None:
        """The spec registered under ``name`` for ``kind``, if any."""
        return self.components[kind].get(name)

    def names(self, kind: str) -> list[str]:
        """Sorted names registered for ``kind``."""
        return sorted(self.components[kind])

    def all(self) -> list[ComponentSpec]:
        """Every spec, ordered by kind then name."""
        return [s for k in KINDS for _, s in sorted(self.components[k].items())]

    def add_section(self, name: str, model: Any, origin: PluginInfo,
                    reserved: frozenset[str] = frozenset()) -> None:
        """Store a plugin-owned top-level YAML section; raises :class:`PluginError`."""
        where = origin.describe()
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PluginError(f"{where} registered a YAML section with invalid name {name!r}",
                              "names are lowercase letters, digits and '_'")
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(f"{where} registered section {name!r} with {model!r}, not a "
                              "pydantic model", "pass a subclass of pydantic.BaseModel")
        if name in reserved:
            raise PluginError(f"{where} registered section {name!r}, which the kernel owns",
                              "choose another top-level name")
        existing = self.sections.get(name)
        if existing is not None:
            raise PluginError(f"YAML section {name!r} is registered twice: by "
                              f"{existing.origin.describe()} and by {where}",
                              f"disable one of them (YAML plugins.disabled: [{origin.plugin}])")
        self.sections[name] = SectionSpec(name, model, origin)


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""
