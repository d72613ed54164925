"""Every ``hean_*`` hook: the whole plugin API of the kernel.

Two families:

* **Registration hooks** (``hean_register_*``) are called once per process by the plugin
  manager.  Each receives a ``register`` callback; call it once per component you provide::

      @hookimpl
      def hean_register_strategies(register):
          register("momentum_trader", MomentumTrader, config=MomentumTraderConfig)

  The component class must subclass the kind's base class in :mod:`hean_framework.components`;
  ``config`` is the pydantic model its YAML section is validated against.  Names are global per
  kind: registering a name twice stops the run with an error naming both plugins.

* **Lifecycle hooks** fire on rare events (run started/finished, parameters updated).  They are
  never called per market event: the engine calls components directly on the hot path.

Implementations use :data:`hean_framework.hookimpl`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click
    from pydantic import BaseModel

    from .components import Component
    from .context import RunContext

hookspec = pluggy.HookspecMarker("hean")


class RegisterComponent(Protocol):
    """The ``register`` callback handed to component registration hooks."""

    def __call__(self, name: str, component_class: type[Component], *,
                 config: type[BaseModel] | None = None, description: str = "") -> None:
        """Register ``component_class`` under ``name``.

        :param name: the name used in YAML (``strategies: {name: {...}}``); lowercase,
            ``[a-z0-9_]``.
        :param component_class: subclass of the kind's base class.
        :param config: pydantic model of the component's YAML section; defaults to the
            class attribute ``config_model``.
        :param description: one line shown by ``hean plugins list``.
        """


class RegisterSection(Protocol):
    """The ``register`` callback handed to :func:`hean_register_sections`."""

    def __call__(self, name: str, model: type[BaseModel]) -> None:
        """Own the top-level YAML section ``name``, validated against ``model``.

        :param name: the top-level key (``risk``, ``small_capital``); kernel sections
            (``run``, ``account``, ``venue``, ...) cannot be taken.
        :param model: pydantic model of the section (``extra="forbid"`` so typos are errors).
            When the model defines ``default_components(config)`` returning
            ``{section: {instance: body}}``, those components run after the YAML's own
            entries of that section (``filters``, ``gates``, ``executors`` ...); an entry of
            the same name changes a default's settings, ``{enabled: false}`` removes it.
        """


class RegisterCommand(Protocol):
    """The ``register`` callback handed to :func:`hean_register_commands`."""

    def __call__(self, command: click.Command) -> None:
        """Add ``command`` (a click command or group) under the ``hean`` CLI."""


@hookspec
def hean_register_strategies(register: RegisterComponent) -> None:
    """Register strategies (signal sources), subclasses of
    :class:`~hean_framework.components.Strategy`.

    :param register: call ``register(name, cls, config=Model)`` once per strategy.

    Called once per process when the plugin manager loads; all implementations are called.

    Example::

        @hookimpl
        def hean_register_strategies(register):
            register("ema_cross", EmaCross, config=EmaCrossConfig)
    """


@hookspec
def hean_register_analyzers(register: RegisterComponent) -> None:
    """Register analyzers: components that turn market data into shared state
    (``ctx.state``), e.g. regime or physics, before strategies see the event.

    :param register: call ``register(name, cls, config=Model)`` once per analyzer.

    Called once per process; all implementations are called.

    Example::

        @hookimpl
        def hean_register_analyzers(register):
            register("regime", RegimeDetector, config=RegimeConfig)
    """


@hookspec
def hean_register_filters(register: RegisterComponent) -> None:
    """Register signal filters (run before sizing; may modify or reject a signal).

    :param register: call ``register(name, cls, config=Model)`` once per filter.

    Called once per process; all implementations are called.

    Example::

        @hookimpl
        def hean_register_filters(register):
            register("spread", SpreadFilter, config=SpreadFilterConfig)
    """


@hookspec
def hean_register_sizers(register: RegisterComponent) -> None:
    """Register position sizers (set or scale the order quantity).

    :param register: call ``register(name, cls, config=Model)`` once per sizer.

    Called once per process; all implementations are called.

    Example::

        @hookimpl
        def hean_register_sizers(register):
            register("physics", PhysicsSizer, config=PhysicsSizerConfig)
    """


@hookspec
def hean_register_gates(register: RegisterComponent) -> None:
    """Register gates: every gate votes on a sized order; any BLOCK blocks and an exception
    counts as BLOCK (gates fail closed).

    :param register: call ``register(name, cls, config=Model)`` once per gate.

    Called once per process; all implementations are called.

    Example::

        @hookimpl
        def hean_register_gates(register):
            register("trade_gate", TradeGate, config=TradeGateConfig)
    """


@hookspec
def hean_register_executors(register: RegisterComponent) -> None:
    """Register execution algorithms (plain, maker chase, TWAP, smart order selection).

    :param register: call ``register(name, cls, config=Model)`` once per executor.

    Called once per process; all implementations are called.

    Example::

        @hookimpl
        def hean_register_executors(register):
            register("twap", TwapExecutor, config=TwapConfig)
    """


@hookspec
def hean_register_optimizers(register: RegisterComponent) -> None:
    """Register parameter optimizers (e.g. a genetic algorithm).

    :param register: call ``register(name, cls, config=Model)`` once per optimizer.

    Called once per process; all implementations are called.

    Example::

        @hookimpl
        def hean_register_optimizers(register):
            register("symbiont", GeneticOptimizer, config=GAConfig)
    """


@hookspec
def hean_register_feeds(register: RegisterComponent) -> None:
    """Register market-data feeds (recorded replay, live exchange streams).

    :param register: call ``register(name, cls, config=Model)`` once per feed.

    Called once per process; all implementations are called.

    Example::

        @hookimpl
        def hean_register_feeds(register):
            register("parquet", ParquetFeed, config=ParquetFeedConfig)
    """


@hookspec
def hean_register_venues(register: RegisterComponent) -> None:
    """Register venues: where orders go (simulated matching, an exchange through ccxt).

    :param register: call ``register(name, cls, config=Model)`` once per venue.

    Called once per process; all implementations are called.

    Example::

        @hookimpl
        def hean_register_venues(register):
            register("sim", SimulatedVenue, config=SimVenueConfig)
    """


@hookspec
def hean_register_sections(register: RegisterSection) -> None:
    """Register top-level YAML sections owned by a plugin, validated before the run starts.

    :param register: call ``register(name, Model)`` once per section.

    Called once per process when the plugin manager loads; all implementations are called.
    ``hean config validate`` and ``hean config schema`` cover registered sections; a typo
    inside one is an error with its YAML path and the allowed keys.  Components read the
    validated model with ``ctx.run.section(name)``.

    Example::

        @hookimpl
        def hean_register_sections(register):
            register("risk", RiskSection)
    """


@hookspec
def hean_register_commands(register: RegisterCommand) -> None:
    """Add subcommands to the ``hean`` CLI.

    :param register: call ``register(command)`` with a ``click.Command`` or ``click.Group``.

    Called once when the CLI starts; all implementations are called.

    Example::

        @hookimpl
        def hean_register_commands(register):
            @click.command("hello")
            def hello():
                click.echo("hi")
            register(hello)
    """


@hookspec
def hean_run_started(ctx: RunContext) -> None:
    """A run is about to process its first event.

    :param ctx: the run's context: its ports (``ctx.run`` names the run and its mode,
        ``ctx.config`` is the validated kernel config).  Read, do not mutate.

    Called once per run, before the first event; all implementations are called.

    Example::

        @hookimpl
        def hean_run_started(ctx):
            print("starting", ctx.run.run_id, ctx.run.mode)
    """


@hookspec
def hean_run_finished(ctx: RunContext, report: dict[str, Any]) -> None:
    """A run finished and its report was built.

    :param ctx: the run's context (see :func:`hean_run_started`).
    :param report: the report dict (what ``report.json`` contains).

    Called once per run, after the last event and the report; all implementations are called.

    Example::

        @hookimpl
        def hean_run_finished(ctx, report):
            notify(report["metrics"]["net_pnl"])
    """


@hookspec
def hean_params_updated(strategy_id: str, params: dict[str, Any], source: str,
                        accepted: list[str]) -> None:
    """A strategy instance accepted new parameters.

    :param strategy_id: the strategy instance name.
    :param params: the parameters proposed.
    :param source: who proposed them (``optimizer:symbiont``, ``api``, ``cli``).
    :param accepted: the keys the strategy applied.

    Called after the strategy's ``on_params_updated`` returned; all implementations are called.

    Example::

        @hookimpl
        def hean_params_updated(strategy_id, params, source, accepted):
            log.info("%s <- %s from %s", strategy_id, accepted, source)
    """
