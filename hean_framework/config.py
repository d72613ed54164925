"""Run configuration: one YAML file -> pydantic models, validated before anything starts.

Flow: read YAML -> apply ``HEAN__A__B=value`` environment overrides -> apply ``--set a.b=value``
overrides -> refuse secrets in the file -> validate the kernel sections (``extra="forbid"``)
-> validate every component section against the model its plugin registered.

Every problem is reported at once with its YAML path, the bad value and the allowed values
(or the allowed keys, or the installed component names) -- see :class:`ConfigError`.

Bad input is refused, never half-read: the YAML loader (:mod:`hean_framework.config_yaml`)
refuses duplicate keys, oversized, too deep or alias-bombed documents; overrides
(:mod:`hean_framework.config_overrides`) refuse malformed dotted keys; and here:
``.nan``/``.inf`` in the kernel sections; a ``--set`` key with an empty part or a
negative index; a ``run.name`` that is not a plain folder name; a backtest whose ``symbols``
no data file provides, or (``need_strategy``, the ``hean`` commands) that has no strategy.
Secrets (exchange keys) come only from the environment: ``HEAN_API_KEY``, ``HEAN_API_SECRET``
(and ``HEAN_API_PASSWORD`` where the exchange needs one).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config_errors import format_errors
from .config_overrides import apply_overrides, check_shape, find_secrets
from .config_yaml import read_yaml
from .errors import ConfigError
from .kinds import KINDS, SECTION_KINDS, CommonKeys
from .registry import ComponentSpec, Registry


class Section(BaseModel):
    """Base of kernel sections: unknown keys are errors, and so are ``.nan`` / ``.inf``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


#: ``run.name``: it names the folder ``runs/<name>``, so no path separators, no ``..``
RUN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")


class RunSection(Section):
    """``run:`` -- what this run is."""

    name: str = "run"
    mode: Literal["backtest", "paper", "live"] = "backtest"
    seed: int = 0
    out: str | None = Field(None, description="output directory (default runs/<name>)")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not RUN_NAME.fullmatch(v) or ".." in v:
            raise ValueError("it names the folder runs/<name>: use 1-100 letters, digits, "
                             "'-', '_' and '.' (not first, no '..'), no '/' or '\\'; to write "
                             "elsewhere set run.out (or --out)")
        return v


class AccountSection(Section):
    """``account:`` -- the exchange account the strategies share."""

    capital: float = Field(300.0, gt=0, description="starting equity in the quote currency")
    currency: str = "USDT"


class InstrumentSpec(Section):
    """``venue.instruments.<symbol>:`` -- exchange rules of one symbol.

    For a symbol of the markets file the given fields replace the file's; a symbol the file
    lacks is defined by them (then ``tick_size``, ``lot_size``, ``min_qty``, ``min_notional``
    and the fees are required, the fees may come from ``venue.maker_fee``/``taker_fee``).
    """

    type: Literal["spot", "swap", "future"] | None = None
    inverse: bool | None = Field(None, description="inverse contract (valued in the quote "
                                 "currency, settled in the base)")
    contract_size: float | None = Field(None, gt=0)
    tick_size: float | None = Field(None, gt=0, description="price step")
    lot_size: float | None = Field(None, gt=0, description="quantity step")
    min_qty: float | None = Field(None, ge=0)
    min_notional: float | None = Field(None, ge=0, description="minimum order value (quote)")
    maker_fee: float | None = Field(None, ge=-0.01, le=0.01,
                                    description="fraction in [-0.01, 0.01]; < 0 = rebate")
    taker_fee: float | None = Field(None, ge=0.0, le=0.01, description="fraction in [0, 0.01]")
    max_qty: float | None = Field(None, ge=0)


class VenueSection(Section):
    """``venue:`` kernel keys; the remaining keys go to the venue plugin's model."""

    name: str = "sim"
    exchange: str = Field("binance", description="whose market metadata (binance, bybit; any "
                          "ccxt id with markets_file); 'ideal' = no exchange rules: any symbol, "
                          "steps 1e-8, no minimums (benchmarks, synthetic data)")
    markets_file: str | None = None
    instruments: dict[str, InstrumentSpec] = Field(
        default_factory=dict, description="per-symbol exchange rules: add a symbol the "
        "metadata lacks or change fields of one it has")


class PipelineSection(Section):
    """``pipeline:`` -- kernel rules of the decision pipeline."""

    require_stop_loss: bool = True
    allow_pyramiding: bool = Field(False, description="allow a signal in the direction of the "
                                   "strategy's open position (default: SKIP POSITION_OPEN)")
    allow_reversal: bool = Field(True, description="an opposite signal closes the open "
                                 "position and opens the new one in one order")
    max_component_errors: int = Field(100, ge=1, description="errors before a strategy is "
                                      "disabled for the rest of the run")


class ReportSection(Section):
    """``report:`` -- what the run writes at the end."""

    html: bool = True
    equity_interval_ms: int = Field(3_600_000, gt=0)
    progress: bool = True


class JournalSection(Section):
    """``journal:`` -- the SQLite journal of the run."""

    enabled: bool = True
    batch_size: int = Field(2_500, ge=1)
    writer: Literal["auto", "inline", "process"] = Field(
        "auto", description="inline: SQLite writes in the engine's process; process: in a "
                            "child process on another core; auto: inline until the first "
                            "full batch, then the child process")


class PluginsSection(Section):
    """``plugins:`` -- which plugins to skip."""

    disabled: list[str] = Field(default_factory=list)


class RunConfig(Section):
    """The whole YAML file.  Component sections are raw here and validated in a second pass
    against the models their plugins registered (see :func:`resolve_components`); so are the
    top-level sections plugins own (``risk:``, ``small_capital:``), kept as extra keys here."""

    model_config = ConfigDict(extra="allow")

    run: RunSection = Field(default_factory=RunSection)
    account: AccountSection = Field(default_factory=AccountSection)
    venue: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    strategies: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    analyzers: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    filters: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    sizers: dict[str, dict[str, Any] | None] | None = None
    gates: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    executors: dict[str, dict[str, Any] | None] | None = None
    optimizers: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    pipeline: PipelineSection = Field(default_factory=PipelineSection)
    report: ReportSection = Field(default_factory=ReportSection)
    journal: JournalSection = Field(default_factory=JournalSection)
    plugins: PluginsSection = Field(default_factory=PluginsSection)
    base_dir: str = Field("", description="directory that relative paths resolve against "
                          "(default: the config file's directory)")

    def plugin_sections(self) -> dict[str, Any]:
        """The top-level keys no kernel section owns (validated by their plugins' models)."""
        return dict(self.__pydantic_extra__ or {})


#: top-level keys the kernel owns (a plugin cannot register a section under these names)
KERNEL_SECTIONS: frozenset[str] = frozenset(RunConfig.model_fields)


#: Default pipeline when the YAML does not list sizers / executors.
DEFAULT_SIZERS: dict[str, dict[str, Any] | None] = {"fixed_risk": {}}
DEFAULT_EXECUTORS: dict[str, dict[str, Any] | None] = {"plain": {}}

#: Where a component of the run comes from (``ResolvedComponent.source``, shown by
#: ``hean config show --resolved``): the YAML, the kernel's default sizer/executor, or a
#: plugin-owned section's defaults (``"small_capital default"``).
SOURCE_YAML = "YAML"
SOURCE_DEFAULT = "default"


@dataclass(slots=True)
class ResolvedComponent:
    """One component instance of the run: its name, plugin spec, validated config and the
    validated kernel keys of its section (:mod:`hean_framework.kinds`); ``source`` says where
    it comes from (``"YAML"``, ``"default"``, ``"small_capital default"``, ``"YAML over
    small_capital default"``) and ``body`` is its section as used (kernel keys included)."""

    kind: str
    instance: str
    spec: ComponentSpec
    config: Any
    common: CommonKeys = field(default_factory=CommonKeys)
    source: str = SOURCE_YAML
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str] | None:
        """The ``symbols`` key of a strategy/analyzer section (None: not given)."""
        return getattr(self.common, "symbols", None)

    @property
    def executor(self) -> str | None:
        """The ``executor`` key of a strategy section."""
        return getattr(self.common, "executor", None)

    @property
    def weight(self) -> float:
        """The ``weight`` key of a strategy section (1.0 by default)."""
        return float(getattr(self.common, "weight", 1.0))

    @property
    def min_rr(self) -> float | None:
        """The ``min_rr`` key of a strategy section."""
        return getattr(self.common, "min_rr", None)


@dataclass(slots=True)
class RunSetup:
    """A validated run: kernel config, raw dict and resolved components."""

    config: RunConfig
    raw: dict[str, Any]
    source: str
    components: dict[str, list[ResolvedComponent]]
    venue: ResolvedComponent
    feed: ResolvedComponent | None
    venue_section: VenueSection = field(default_factory=VenueSection)
    #: validated plugin-owned top-level sections (``risk``, ``small_capital``), by name
    sections: dict[str, BaseModel] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        """The validated model of a plugin-owned section, or None when no plugin owns it."""
        return self.sections.get(name)


# ---------------------------------------------------------------------- reading & overrides


def resolve_path(path: str, base_dir: str | Path | None) -> Path:
    """Where a relative path of the run config points.

    ``~`` expands; an absolute path stays; a relative one resolves against ``base_dir`` (the
    run config's directory) -- or against the current directory when no file exists under
    ``base_dir`` but one does there (a path typed on the command line with ``--set``).  When
    neither exists the ``base_dir`` candidate is returned, for the error message.
    """
    p = Path(os.path.expanduser(path))
    if p.is_absolute() or not base_dir:
        return p
    under_base = Path(base_dir) / p
    if not under_base.exists() and p.exists():
        return p.resolve()
    return under_base


# ---------------------------------------------------------------------- validation


def load_config(path: str | Path | None = None, *, raw: dict[str, Any] | None = None,
                sets: list[str] | tuple[str, ...] = (),
                environ: dict[str, str] | None = None) -> tuple[RunConfig, dict[str, Any]]:
    """Validate the kernel sections; returns the model and the raw (overridden) dict."""
    source = str(path) if path is not None else "<dict>"
    data = read_yaml(path) if path is not None else dict(raw or {})
    apply_overrides(data, sets, environ)
    shape = check_shape(data)
    if shape:
        raise ConfigError(shape, source, "a run config is a few sections of plain keys: "
                          "check for a runaway alias or a generated file")
    secrets = find_secrets(data)
    if secrets:
        raise ConfigError(
            [f"{p}: secrets are not allowed in the config file" for p in secrets], source,
            "put exchange keys in the environment: HEAN_API_KEY, HEAN_API_SECRET "
            "(HEAN_API_PASSWORD where needed)")
    if "base_dir" not in data and path is not None:
        data["base_dir"] = str(Path(path).resolve().parent)
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, "", RunConfig, data=data), source) from exc
    return cfg, data


def _build(registry: Registry, kind: str, name: str, body: dict[str, Any], where: str,
           name_key: str, problems: list[str],
           extra_allowed: tuple[str, ...]) -> tuple[ComponentSpec, Any] | None:
    """Look up a registered component and validate its section; record problems."""
    spec = registry.get(kind, name)
    if spec is None:
        local = local_plugin(name)
        hint = (f"{name} is in {local}: pip install -e {local}" if local is not None else
                "pip install the plugin that provides it, or fix the name")
        problems.append(f"{name_key}: no installed {kind} named {name!r}; installed: "
                        f"{', '.join(registry.names(kind)) or '(none)'} ({hint})")
        return None
    try:
        return spec, spec.build_config(body)
    except ValidationError as exc:
        problems.extend(format_errors(exc, where, spec.config_model, extra_allowed, body))
        return None


#: where plugin folders live in a HEAN checkout (each holds a pyproject.toml)
PLUGIN_FOLDERS: tuple[str, ...] = ("plugins/*/pyproject.toml", "examples/plugins/*/pyproject.toml")


def local_plugin(name: str, roots: tuple[Path, ...] | None = None) -> str | None:
    """The plugin folder of this repository that provides component ``name``, as a path to
    type (relative to the current directory when under it), or None.

    Looks at ``plugins/*/`` and ``examples/plugins/*/`` under the current directory and
    under the kernel's source checkout (when it runs from one): a folder matches when an
    entry point of its ``hean`` group is named ``name`` or its module's file names ``name``
    in quotes (``register("regime_detector", ...)``).  Nothing is imported.
    """
    if roots is None:
        from .scaffold import kernel_source

        src = kernel_source()
        roots = (Path.cwd(),) if src is None else (Path.cwd(), src)
    seen: set[Path] = set()
    for root in roots:
        for pattern in PLUGIN_FOLDERS:
            for project in sorted(root.glob(pattern)):
                folder = project.parent.resolve()
                if folder in seen:
                    continue
                seen.add(folder)
                if _provides(folder, project, name):
                    try:
                        return folder.relative_to(Path.cwd().resolve()).as_posix()
                    except ValueError:
                        return folder.as_posix()
    return None


def _provides(folder: Path, project: Path, name: str) -> bool:
    import tomllib

    try:
        meta = tomllib.loads(project.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    eps = meta.get("project", {}).get("entry-points", {}).get("hean", {})
    if not isinstance(eps, dict):
        return False
    if name in eps:
        return True
    quoted = (f'"{name}"', f"'{name}'")
    for target in eps.values():
        module = str(target).split(":")[0].replace(".", "/")
        for base in (folder, folder / "src"):
            for path in (base / f"{module}.py", base / module / "__init__.py"):
                try:
                    text = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                if any(q in text for q in quoted):
                    return True
    return False


def _resolve_one(registry: Registry, kind: str, section: str, instance: str,
                 body: dict[str, Any] | None, problems: list[str],
                 source: str = SOURCE_YAML) -> ResolvedComponent | None:
    body = dict(body or {})
    given = dict(body)
    common_model = KINDS[kind].common
    reserved = KINDS[kind].reserved
    where = f"{section}.{instance}"
    raw_common = {k: body.pop(k) for k in list(body) if k in reserved}
    try:
        common = common_model.model_validate(raw_common)
    except ValidationError as exc:
        problems.extend(format_errors(exc, where, common_model, data=raw_common))
        return None
    infinite = [f"{where}.{k}: Input should be a finite number (got {v})"
                for k, v in common.model_dump().items()
                if isinstance(v, float) and not math.isfinite(v)]
    if infinite:
        problems.extend(infinite)
        return None
    plugin = common.plugin or instance
    built = _build(registry, kind, plugin, body, where,
                   f"{where}.plugin" if common.plugin else where, problems, tuple(reserved))
    if built is None:
        return None
    spec, cfg = built
    return ResolvedComponent(kind, instance, spec, cfg, common, source, given)


def resolve_components(cfg: RunConfig, raw: dict[str, Any], registry: Registry,
                       source: str = "", *, need_strategy: bool = False) -> RunSetup:
    """Validate every component section against its registered model (all errors at once).

    A backtest whose strategy/analyzer ``symbols`` name a symbol no data file provides is
    refused.  ``need_strategy`` (the ``hean`` commands) also refuses a backtest without an
    enabled strategy; library callers that build a run to push orders or events themselves
    leave it off.
    """
    problems: list[str] = []
    comps: dict[str, list[ResolvedComponent]] = {k: [] for k in SECTION_KINDS.values()}
    sections = resolve_sections(cfg, registry, problems)
    defaults = plugin_defaults(cfg, sections)
    for section, kind in SECTION_KINDS.items():
        for instance, body, origin in section_entries(cfg, section, defaults.get(section, {})):
            if body is not None and not isinstance(body, dict):
                problems.append(f"{section}.{instance}: must be a mapping (got {body!r})")
                continue
            if body and body.get("enabled") is False:
                continue
            rc = _resolve_one(registry, kind, section, instance, body, problems, origin)
            if rc is not None:
                comps[kind].append(rc)
    exec_names = [rc.instance for rc in comps["executor"]] or ["plain"]
    for rc in comps["strategy"]:
        ex = rc.executor
        if ex is not None and ex not in exec_names and ex != "plain":
            problems.append(f"strategies.{rc.instance}.executor: unknown executor {ex!r}; "
                            f"configured executors: {', '.join(exec_names)}")
    if cfg.run.mode == "backtest" and not cfg.data:
        problems.append("data: a backtest needs a data section (data.files: [...])")
    # venue
    vraw = dict(cfg.venue)
    vkern = {k: vraw.pop(k) for k in list(vraw) if k in VenueSection.model_fields}
    try:
        vsec = VenueSection.model_validate(vkern)
    except ValidationError as exc:
        problems.extend(format_errors(exc, "venue", VenueSection, data=vkern))
        vsec = VenueSection()
    venue = _resolve_venue_like(registry, "venue", "venue", vsec.name, vraw, problems,
                                tuple(VenueSection.model_fields))
    feed = None
    if cfg.data:
        draw = dict(cfg.data)
        feed_name = str(draw.pop("feed", "csv"))
        feed = _resolve_venue_like(registry, "feed", "data", feed_name, draw, problems,
                                   ("feed",))
    if cfg.run.mode == "backtest":
        problems.extend(_backtest_problems(cfg, comps, feed, registry, need_strategy))
    if problems or venue is None:
        raise ConfigError(problems or ["venue: could not be resolved"], source)
    return RunSetup(cfg, raw, source, comps, venue, feed, vsec, sections)


def _backtest_problems(cfg: RunConfig, comps: dict[str, list[ResolvedComponent]],
                       feed: ResolvedComponent | None, registry: Registry,
                       need_strategy: bool) -> list[str]:
    """What makes a backtest unable to produce anything: no strategy (none listed, or every
    one ``enabled: false``), a strategy/analyzer ``symbols`` entry no data file provides."""
    out = []
    listed = cfg.strategies or {}
    if need_strategy and not comps["strategy"] and all(
            isinstance(v, dict) and v.get("enabled") is False for v in listed.values()):
        why = "every strategy has enabled: false" if listed else \
            "strategies lists none" if "strategies" in cfg.model_fields_set else \
            "there is no strategies section"
        out.append(f"strategies: a backtest needs at least one strategy ({why}); installed: "
                   f"{', '.join(registry.names('strategy')) or '(none)'} -- e.g. strategies: "
                   "{<name>: {symbols: [BTC/USDT:USDT]}}")
    files = getattr(feed.config, "files", None) if feed is not None else None
    if not files:
        return out
    market: list[str] = []
    funding: set[str] = set()
    for f in files:
        sym, kind = getattr(f, "symbol", None), getattr(f, "kind", None)
        if kind == "funding":
            funding.add(str(sym))
        elif sym is not None and sym not in market:
            market.append(sym)
    for rc in comps["strategy"] + comps["analyzer"]:
        missing = [s for s in rc.symbols or () if s not in market]
        if not missing:
            continue
        only_funding = [s for s in missing if s in funding]
        note = f" ({', '.join(only_funding)}: funding only, no market data)" \
            if only_funding else ""
        out.append(f"{KINDS[rc.kind].section}.{rc.instance}.symbols: no data file provides "
                   f"{', '.join(missing)}{note}; the data's symbols: "
                   f"{', '.join(market) or '(none)'} -- add a data.files entry for it or "
                   "remove it from symbols")
    return out


def resolve_sections(cfg: RunConfig, registry: Registry,
                     problems: list[str]) -> dict[str, BaseModel]:
    """Validate every plugin-owned top-level section (also the absent ones: their defaults).

    A top-level key that neither the kernel nor an installed plugin owns is a problem naming
    the allowed keys.
    """
    given = cfg.plugin_sections()
    out: dict[str, BaseModel] = {}
    for name, spec in registry.sections.items():
        body = given.pop(name, None)
        if body is not None and not isinstance(body, dict):
            problems.append(f"{name}: must be a mapping (got {body!r})")
            continue
        try:
            out[name] = spec.model.model_validate(body or {})
        except ValidationError as exc:
            problems.extend(format_errors(exc, name, spec.model, data=body or {}))
    allowed = sorted(KERNEL_SECTIONS - {"base_dir"} | set(registry.sections))
    for name in given:
        problems.append(f"{name}: unknown key; allowed keys: {', '.join(allowed)}")
    return out


def plugin_defaults(cfg: RunConfig, sections: dict[str, BaseModel]
                    ) -> dict[str, dict[str, tuple[dict[str, Any], str]]]:
    """Components that plugin-owned sections switch on, with where each comes from.

    A section model that defines ``default_components(config)`` (e.g. ``small_capital``:
    market filters, the trade gate and the maker chase below 10,000 USDT) contributes
    ``{section: {instance: body}}``; the result is ``{section: {instance: (body, "<owner>
    default")}}`` (the first owner to name an instance wins).  :func:`section_entries` merges
    them with the YAML's own instances.
    """
    out: dict[str, dict[str, tuple[dict[str, Any], str]]] = {}
    for owner, model in sections.items():
        fn = getattr(model, "default_components", None)
        if fn is None:
            continue
        for section, entries in fn(cfg).items():
            got = out.setdefault(section, {})
            for instance, body in entries.items():
                got.setdefault(instance, (dict(body or {}), f"{owner} {SOURCE_DEFAULT}"))
    return out


def default_components(cfg: RunConfig, sections: dict[str, BaseModel]
                       ) -> dict[str, dict[str, Any]]:
    """``{section: {instance: body}}`` of :func:`plugin_defaults` (without the sources)."""
    return {section: {i: body for i, (body, _) in entries.items()}
            for section, entries in plugin_defaults(cfg, sections).items()}


def section_entries(cfg: RunConfig, section: str,
                    defaults: dict[str, tuple[dict[str, Any], str]]
                    ) -> list[tuple[str, Any, str]]:
    """``(instance, body, source)`` of one component section, in the order they run.

    The rule (docs/configuration.md "Order and defaults"): defaults stay unless the YAML
    says otherwise explicitly.

    * the YAML's instances come first, in the YAML's order; an instance named like a plugin
      default (``stale_data``, ``trade_gate``, ``maker_chase``) takes the default's settings
      and overrides them key by key (source ``"YAML over small_capital default"``), unless its
      ``plugin:`` names another component (then the YAML's section replaces the default);
    * then every plugin default the YAML does not name, in the plugin's order;
    * ``{enabled: false}`` (here or in ``small_capital.<section>``) removes one;
    * ``sizers:`` / ``executors:`` absent, and no plugin default for them: the kernel's
      default (``{fixed_risk: {}}`` / ``{plain: {}}``, source ``"default"``).  An explicit
      empty mapping (``sizers: {}``) means none of the kernel's default.
    """
    listed = getattr(cfg, section)
    if listed is None and not defaults:
        kernel = DEFAULT_SIZERS if section == "sizers" else \
            DEFAULT_EXECUTORS if section == "executors" else {}
        return [(i, b, SOURCE_DEFAULT) for i, b in kernel.items()]
    out: list[tuple[str, Any, str]] = []
    for instance, body in (listed or {}).items():
        default = defaults.get(instance)
        if default is None or not isinstance(body, dict | None):
            out.append((instance, body, SOURCE_YAML))
            continue
        own = dict(body or {})
        if own.get("plugin", instance) != default[0].get("plugin", instance):
            out.append((instance, own, f"{SOURCE_YAML} (replaces the {default[1]})"))
        else:
            out.append((instance, {**default[0], **own}, f"{SOURCE_YAML} over {default[1]}"))
    out.extend((i, dict(body), src) for i, (body, src) in defaults.items()
               if listed is None or i not in listed)
    return out


def _resolve_venue_like(registry: Registry, kind: str, section: str, name: str,
                        body: dict[str, Any], problems: list[str],
                        extra_allowed: tuple[str, ...]) -> ResolvedComponent | None:
    key = f"{section}.name" if kind == "venue" else f"{section}.feed"
    built = _build(registry, kind, name, body, section, key, problems, extra_allowed)
    return None if built is None else ResolvedComponent(kind, name, built[0], built[1])


def load_setup(path: str | Path | None, registry: Registry, *, raw: dict[str, Any] | None = None,
               sets: list[str] | tuple[str, ...] = (),
               environ: dict[str, str] | None = None,
               need_strategy: bool = False) -> RunSetup:
    """Read, override and fully validate a run configuration (``need_strategy``: see
    :func:`resolve_components`)."""
    cfg, data = load_config(path, raw=raw, sets=sets, environ=environ)
    return resolve_components(cfg, data, registry, str(path) if path else "<dict>",
                              need_strategy=need_strategy)
