"""Plugin manager: builtins and external plugins, loaded through the very same hooks.

* Builtin plugins are modules of :mod:`hean_framework.builtin` registered exactly like external
  ones (so they can be disabled and replaced the same way).
* External plugins are found through the ``hean`` entry-point group.
* Disable by name from YAML (``plugins: {disabled: [name]}``) or the environment
  (``HEAN_DISABLED_PLUGINS=a,b``).  ``HEAN_DISABLE_PLUGIN_AUTOLOAD=1`` loads no external plugin
  except those listed in the allow-list ``HEAN_PLUGINS=a,b``.
* A plugin that fails to import, registers a duplicate name or has an invalid hookimpl stops
  the run with a :class:`~hean_framework.errors.PluginError` naming plugin, distribution,
  version and what to do.  Importing a plugin module must have no side effects.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from . import __version__, hookspecs
from .errors import PluginError
from .kinds import HOOK_KINDS
from .registry import PluginInfo, Registry

if TYPE_CHECKING:
    from .context import RunContext

ENTRY_POINT_GROUP = "hean"
ENV_DISABLE_AUTOLOAD = "HEAN_DISABLE_PLUGIN_AUTOLOAD"
ENV_ALLOW = "HEAN_PLUGINS"
ENV_DISABLED = "HEAN_DISABLED_PLUGINS"

#: Modules of the kernel's own components, registered as builtin plugins.
BUILTIN_MODULES: tuple[str, ...] = (
    "hean_framework.builtin.pipeline",
    "hean_framework.builtin.feeds",
    "hean_framework.builtin.venues",
    "hean_framework.builtin.commands",
    "hean_framework.builtin.risk",
    "hean_framework.builtin.costs",
    "hean_framework.builtin.optimizers",
    "hean_framework.live",
)


def _split_env(name: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, "").split(",") if x.strip()]


@dataclass(slots=True)
class PluginRecord:
    """One plugin known to the manager (loaded or not)."""

    info: PluginInfo
    enabled: bool
    reason: str = ""
    module: Any = None


class HeanPluginManager:
    """Loads plugins once and exposes the :class:`Registry` and typed lifecycle hooks."""

    def __init__(self, disabled: Iterable[str] = (), *, autoload: bool | None = None,
                 allow: Iterable[str] | None = None, builtins: bool = True) -> None:
        self.pm = pluggy.PluginManager("hean")
        self.pm.add_hookspecs(hookspecs)
        self.disabled = set(disabled) | set(_split_env(ENV_DISABLED))
        env_off = os.environ.get(ENV_DISABLE_AUTOLOAD, "").lower() in ("1", "true", "yes")
        self.autoload = (not env_off) if autoload is None else autoload
        self.allow = set(allow) if allow is not None else set(_split_env(ENV_ALLOW))
        self.use_builtins = builtins
        self.records: dict[str, PluginRecord] = {}
        self.registry = Registry()
        self._loaded = False

    # ----------------------------------------------------------------- loading

    def load(self) -> HeanPluginManager:
        """Import and register every enabled plugin, then fill the registry (idempotent)."""
        if self._loaded:
            return self
        if self.use_builtins:
            for modname in BUILTIN_MODULES:
                name = "builtin." + modname.rsplit(".", 1)[1]
                info = PluginInfo(name, "hean-framework", __version__, builtin=True)
                if name in self.disabled:
                    self.records[name] = PluginRecord(info, False, "disabled")
                    continue
                self._register(importlib.import_module(modname), info)
        for ep in self._entry_points():
            dist = ep.dist.name if ep.dist else ""
            version = ep.dist.version if ep.dist else ""
            info = PluginInfo(ep.name, dist, version)
            if ep.name in self.records:
                continue  # the same entry point seen twice (editable + regular install)
            if ep.name in self.disabled:
                self.records[ep.name] = PluginRecord(info, False, "disabled")
                continue
            if not self.autoload and ep.name not in self.allow:
                self.records[ep.name] = PluginRecord(info, False, f"autoload off ({ENV_ALLOW})")
                continue
            try:
                module = ep.load()
            except Exception as exc:  # any import failure is reported the same way
                raise PluginError(
                    f"{info.describe()} failed to import ({ep.value}): "
                    f"{type(exc).__name__}: {exc}",
                    f"reinstall it (pip install --force-reinstall {dist or ep.name}) or disable "
                    f"it: YAML plugins.disabled: [{ep.name}] or {ENV_DISABLED}={ep.name}",
                ) from exc
            self._register(module, info)
        self._check_pending()
        self._fill_registry()
        self._loaded = True
        return self

    def register_plugin(self, module: Any, name: str, distribution: str = "",
                        version: str = "") -> None:
        """Register an in-process plugin object (tests, notebooks) before :meth:`load`."""
        self._register(module, PluginInfo(name, distribution, version))

    def _entry_points(self) -> list[metadata.EntryPoint]:
        return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)

    def _register(self, module: Any, info: PluginInfo) -> None:
        try:
            self.pm.register(module, name=info.plugin)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(
                f"{info.describe()} has an invalid hook implementation: {exc}",
                "check the hook name and its arguments against docs/plugin_hooks.md",
            ) from exc
        self.records[info.plugin] = PluginRecord(info, True, module=module)

    def _check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            plugin = getattr(exc, "plugin", None)
            name = self.pm.get_name(plugin) if plugin is not None else "?"
            rec = self.records.get(name or "")
            where = rec.info.describe() if rec else f"plugin {name!r}"
            raise PluginError(
                f"{where} implements a hook that does not exist: {exc}",
                "hooks are listed in docs/plugin_hooks.md; fix the name or mark it "
                "@hookimpl(optionalhook=True)",
            ) from exc

    def _origin(self, plugin_name: str) -> PluginInfo:
        rec = self.records.get(plugin_name)
        return rec.info if rec else PluginInfo(plugin_name)

    def _fill_registry(self) -> None:
        for hook_name, kind in HOOK_KINDS.items():
            caller = getattr(self.pm.hook, hook_name)
            for impl in caller.get_hookimpls():  # registration order
                origin = self._origin(impl.plugin_name)

                def register(name: str, component_class: Any, *, config: Any = None,
                             description: str = "", _k: str = kind,
                             _o: PluginInfo = origin) -> None:
                    self.registry.add(_k, name, component_class, config, _o, description)

                self._call_impl(impl, origin, register=register)
        from .config import KERNEL_SECTIONS

        for impl in self.pm.hook.hean_register_sections.get_hookimpls():
            origin = self._origin(impl.plugin_name)

            def register_section(name: str, model: Any, _o: PluginInfo = origin) -> None:
                self.registry.add_section(name, model, _o, KERNEL_SECTIONS)

            self._call_impl(impl, origin, register=register_section)
        for impl in self.pm.hook.hean_register_commands.get_hookimpls():
            origin = self._origin(impl.plugin_name)
            self._call_impl(impl, origin,
                            register=lambda cmd, _o=origin: self.registry.commands.append(
                                (cmd, _o)))

    @staticmethod
    def _call_impl(impl: Any, origin: PluginInfo, **kwargs: Any) -> None:
        try:
            impl.function(**{k: v for k, v in kwargs.items() if k in impl.argnames})
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"{origin.describe()} raised in {impl.function.__name__}: "
                f"{type(exc).__name__}: {exc}",
                "registration hooks must only call register(...); fix or disable the plugin",
            ) from exc

    # ----------------------------------------------------------------- queries

    def plugin_list(self) -> list[dict[str, Any]]:
        """One dict per plugin: name, kinds, components, distribution, version, enabled."""
        by_plugin: dict[str, list[tuple[str, str]]] = {}
        for spec in self.registry.all():
            by_plugin.setdefault(spec.origin.plugin, []).append((spec.kind, spec.name))
        for _cmd, origin in self.registry.commands:
            by_plugin.setdefault(origin.plugin, []).append(("command", _cmd.name or ""))
        out = []
        for name, rec in sorted(self.records.items(), key=lambda kv: (not kv[1].info.builtin,
                                                                        kv[0])):
            comps = by_plugin.get(name, [])
            out.append({
                "name": name,
                "kinds": sorted({k for k, _ in comps}),
                "components": [f"{k}:{n}" for k, n in comps],
                "distribution": rec.info.distribution,
                "version": rec.info.version,
                "builtin": rec.info.builtin,
                "enabled": rec.enabled,
                "status": "enabled" if rec.enabled else rec.reason,
            })
        return out

    # ----------------------------------------------------------------- typed lifecycle hooks

    def run_started(self, ctx: RunContext) -> None:
        """Fire :func:`~hean_framework.hookspecs.hean_run_started`."""
        self.pm.hook.hean_run_started(ctx=ctx)

    def run_finished(self, ctx: RunContext, report: dict[str, Any]) -> None:
        """Fire :func:`~hean_framework.hookspecs.hean_run_finished`."""
        self.pm.hook.hean_run_finished(ctx=ctx, report=report)

    def params_updated(self, strategy_id: str, params: dict[str, Any], source: str,
                       accepted: list[str]) -> None:
        """Fire :func:`~hean_framework.hookspecs.hean_params_updated`."""
        self.pm.hook.hean_params_updated(strategy_id=strategy_id, params=params,
                                         source=source, accepted=accepted)


def load_plugins(disabled: Iterable[str] = (), **kw: Any) -> HeanPluginManager:
    """Create a manager and load every enabled plugin."""
    return HeanPluginManager(disabled, **kw).load()
