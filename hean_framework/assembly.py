"""Assembly of a run: from a validated :class:`~hean_framework.config.RunSetup` to wired parts.

:func:`assemble` builds, in this order: instruments (the venue section's exchange rules for
every symbol of the data and the strategies), portfolio, venue, feed, journal (a fresh
``journal.sqlite`` in the run folder), the components of every section (analyzers and
strategies get their ``symbols``, default: the data's), the plain executor when none is
configured, the optimizers; then the ports on the context (``ctx.orders``/``ctx.sink`` = the
order router, ``ctx.budgets``, ``ctx.run``), the pipeline, exits and fault isolation, and the
per-event dispatch tables the loop reads (one list of bound methods per event type and symbol,
analyzers first; only overridden callbacks are listed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .components import (
    Analyzer,
    Component,
    Executor,
    Feed,
    MarketListener,
    Optimizer,
    Strategy,
    Venue,
)
from .config import ResolvedComponent, RunSetup, resolve_path
from .context import RunContext
from .errors import HeanError
from .exits import Exits
from .faults import Faults
from .markouts import Markouts
from .models import Bar, BookUpdate, Funding, MarkPrice, Quote, Trade
from .pipeline import Pipeline
from .plugins import HeanPluginManager
from .ports import RunInfo, StrategyInfo
from .router import Budgets, OrderRouter, overrides

CALLBACK_OF = {Bar: "on_bar", Trade: "on_trade", Quote: "on_quote", BookUpdate: "on_book",
               Funding: "on_funding", MarkPrice: "on_mark"}


@dataclass(slots=True)
class Assembly:
    """The wired parts of one run."""

    venue: Venue
    feed: Feed | None
    strategies: dict[str, Strategy]
    analyzers: list[Analyzer]
    optimizers: dict[str, Optimizer]
    components: dict[str, list[Component]]
    pipeline: Pipeline
    router: OrderRouter
    exits: Exits
    faults: Faults
    instruments_info: dict[str, Any]
    #: event type -> symbol -> handlers (analyzers first)
    dispatch: dict[type, dict[str, list[Callable[[Any], Any]]]]
    #: (Bar|Trade, symbol) -> (strategy, its on_bars/on_trades): the batch fast path
    batch: dict[tuple[type, str], tuple[Strategy, Callable[..., Any]]] = field(
        default_factory=dict)


def data_symbols(setup: RunSetup) -> list[str]:
    """Symbols named in the data section, in order of first appearance."""
    out: list[str] = []
    for f in data_files(setup):
        if f.symbol not in out:
            out.append(f.symbol)
    for s in getattr(setup.feed.config, "symbols", None) or () if setup.feed else ():
        if s not in out:  # a live feed names its symbols (data.symbols)
            out.append(s)
    return out


def data_files(setup: RunSetup) -> list[Any]:
    """The ``data.files`` entries of the feed's config (none without a feed)."""
    return getattr(setup.feed.config, "files", []) if setup.feed else []


def check_mode(setup: RunSetup) -> None:
    """Refuse a ``run.mode`` the configured parts cannot honour, with what to change.

    ``paper`` = live market data into the simulated venue: the data section's feed (when
    there is one; events may also be pushed by the caller) must be live.  ``live`` also needs
    a live venue.  ``backtest`` takes anything.
    """
    mode = setup.config.run.mode
    if mode == "backtest":
        return
    missing = []
    if setup.feed is not None and not getattr(setup.feed.spec.cls, "live", False):
        missing.append(f"data.feed {setup.feed.spec.name!r} replays recorded files")
    if mode == "live" and not getattr(setup.venue.spec.cls, "live", False):
        missing.append(f"venue.name {setup.venue.spec.name!r} is simulated")
    if missing:
        raise HeanError(
            f"run.mode: {mode!r} needs live parts; " + "; ".join(missing),
            "set run.mode: backtest to replay recorded data, or install a live exchange plugin "
            "(a feed/venue with live = True, e.g. ccxt/Bybit) and name it in data.feed / "
            "venue.name")


def _make(rc: ResolvedComponent, ctx: RunContext, **extra: Any) -> Any:
    obj: Any = rc.spec.cls(rc.config, ctx, name=rc.instance, **extra)
    obj._origin = rc.spec.origin
    return obj


def assemble(setup: RunSetup, plugins: HeanPluginManager, ctx: RunContext, *,
             out_dir: Path, use_journal: bool,
             sample_equity: Callable[[int], None], report: bool = True) -> Assembly:
    """Build every part of the run described by ``setup`` (see the module docstring);
    ``report=False`` (an optimizer's candidate run, metrics only) leaves out the observers
    that only feed report sections: markouts and the transaction-cost analysis."""
    from .instruments import IDEAL, Instruments
    from .portfolio import Portfolio

    cfg = setup.config
    check_mode(setup)
    vsec = setup.venue_section
    symbols = data_symbols(setup)
    for rc in setup.components["strategy"]:
        for s in rc.symbols or ():
            if s not in symbols:
                symbols.append(s)
    vcfg = setup.venue.config
    overrides_ = {k: getattr(vcfg, k + "_fee") for k in ("maker", "taker")
                  if getattr(vcfg, k + "_fee", None) is not None}
    markets = str(resolve_path(vsec.markets_file, cfg.base_dir)) if vsec.markets_file else None
    ctx.instruments = Instruments.load(
        vsec.exchange, symbols or None, markets_file=markets,
        fee_overrides=overrides_ or None,
        specs={s: spec.model_dump(exclude_none=True)
               for s, spec in vsec.instruments.items()} or None)
    inst = ctx.instruments
    info = {"exchange": inst.exchange, "source": inst.source,
            "symbols": {s: inst.get(s).to_dict() for s in inst.symbols()}}
    if inst.exchange == IDEAL:
        ctx.log.warning("venue.exchange 'ideal': no exchange rules (steps 1e-8, no "
                        "minimums) -- results a real exchange would not allow")
    ctx.portfolio = Portfolio(cfg.account.capital, ctx.instruments, ctx.market)
    comps = setup.components
    ctx.run = RunInfo(
        run_id=cfg.run.name, mode=cfg.run.mode, config_path=setup.source,
        base_dir=cfg.base_dir,
        strategies={rc.instance: StrategyInfo(rc.instance, rc.spec.name,
                                              tuple(rc.symbols or symbols), rc.weight,
                                              rc.executor, rc.min_rr,
                                              getattr(rc.spec.cls, "style", "directional"))
                    for rc in comps["strategy"]},
        sections=dict(setup.sections), setup=setup)
    faults = Faults(ctx, cfg.pipeline.max_component_errors)
    venue: Venue = _make(setup.venue, ctx)
    feed: Feed | None = _make(setup.feed, ctx) if setup.feed is not None else None
    if use_journal:
        from .rundir import open_journal

        ctx.journal = open_journal(out_dir, cfg.journal)
        ctx.journal.follow_equity(ctx.portfolio.equity_curve)
    analyzers = [_make(rc, ctx, symbols=rc.symbols or symbols) for rc in comps["analyzer"]]
    strategies = {rc.instance: _make(rc, ctx, symbols=rc.symbols or symbols)
                  for rc in comps["strategy"]}
    ctx.run.update_params = _params_updater(strategies, plugins)
    filters = [_make(rc, ctx) for rc in comps["filter"]]
    sizers = [_make(rc, ctx) for rc in comps["sizer"]]
    gates = [_make(rc, ctx) for rc in comps["gate"]]
    executors: dict[str, Executor] = {rc.instance: _make(rc, ctx) for rc in comps["executor"]}
    optimizers: dict[str, Optimizer] = {rc.instance: _make(rc, ctx)
                                        for rc in comps["optimizer"]}
    if "plain" not in executors:
        spec = plugins.registry.get("executor", "plain")
        if spec is not None:
            executors["plain"] = spec.cls(spec.config_model(), ctx, name="plain")  # type: ignore[assignment]
    if not executors:
        raise HeanError("no executor available", "install/enable the builtin 'plain' "
                        "executor or list one under executors:")
    default_ex = next(iter(comps["executor"])).instance if comps["executor"] else "plain"
    strat_ex = {}
    for rc in comps["strategy"]:
        ex = rc.executor
        if ex is not None:
            if ex not in executors:
                raise HeanError(f"strategies.{rc.instance}.executor: unknown executor "
                                f"{ex!r}; configured: {', '.join(executors)}")
            strat_ex[rc.instance] = ex
    weights = {rc.instance: rc.weight for rc in comps["strategy"]}
    total = sum(weights.values()) or 1.0
    ctx.budgets = Budgets(ctx, {k: v / total for k, v in weights.items()})
    router = OrderRouter(ctx, venue, faults, strategies, list(executors.values()),
                         sample_equity, tca=report)
    faults.signals = router.route
    ctx.orders = ctx.sink = router
    pipeline = Pipeline(
        ctx, filters=filters, sizers=sizers, gates=gates, executors=executors,
        default_executor=default_ex, strategy_executor=strat_ex,
        require_stop_loss=cfg.pipeline.require_stop_loss,
        allow_pyramiding=cfg.pipeline.allow_pyramiding,
        allow_reversal=cfg.pipeline.allow_reversal, on_decision=router.decided,
        groups=router.groups,
        on_error=lambda name, exc, sig: faults.dead_letter(
            _named(components, name), exc, sig))
    router.pipeline = pipeline
    exits = Exits(ctx, router, pipeline)
    router.exits = exits
    components: dict[str, list[Component]] = {
        "analyzer": list(analyzers), "strategy": list(strategies.values()),
        "filter": filters, "sizer": sizers, "gate": gates,
        "executor": list(executors.values()), "optimizer": list(optimizers.values()),
        "venue": [venue],
    }
    # Markouts: maker fills' markouts, report section "markouts" (not in a metrics-only run)
    faults.watch([*filters, *sizers, *gates, *executors.values(), *analyzers,
                  *([Markouts(ctx)] if report else [])])
    dispatch, batch = build_dispatch(analyzers, strategies)
    return Assembly(venue, feed, strategies, analyzers, optimizers, components, pipeline,
                    router, exits, faults, info, dispatch, batch)


def _params_updater(strategies: dict[str, Strategy], plugins: HeanPluginManager
                    ) -> Callable[[str, dict[str, Any], str], list[str]]:
    """``ctx.run.update_params``: the strategy's ``on_params_updated``, then the
    ``hean_params_updated`` hook with the keys it accepted."""

    def update_params(strategy_id: str, params: dict[str, Any], source: str) -> list[str]:
        strat = strategies.get(strategy_id)
        if strat is None:
            raise HeanError(f"no strategy {strategy_id!r} in the run",
                            f"strategies: {', '.join(strategies) or '-'}")
        accepted = strat.on_params_updated(dict(params))
        plugins.params_updated(strategy_id, dict(params), source, list(accepted))
        return list(accepted)

    return update_params


def _named(components: dict[str, list[Component]], name: str) -> Any:
    return next((c for cs in components.values() for c in cs if c.name == name), name)


def build_dispatch(analyzers: list[Analyzer], strategies: dict[str, Strategy]
              ) -> tuple[dict[type, dict[str, list[Callable[[Any], Any]]]],
                         dict[tuple[type, str], tuple[Strategy, Callable[..., Any]]]]:
    """One list of bound methods per (event type, symbol), analyzers first; and the batch
    fast path: a symbol whose only bar (trade) listener is a strategy with on_bars
    (on_trades)."""
    listeners: list[MarketListener] = [*analyzers, *strategies.values()]
    dispatch: dict[type, dict[str, list[Callable[[Any], Any]]]] = {}
    for etype, meth in CALLBACK_OF.items():
        table: dict[str, list[Callable[[Any], Any]]] = {}
        for obj in listeners:
            base = Analyzer if isinstance(obj, Analyzer) else Strategy
            if not overrides(obj, base, meth):
                continue
            for sym in obj.symbols:
                table.setdefault(sym, []).append(getattr(obj, meth))
        dispatch[etype] = table
    batch: dict[tuple[type, str], tuple[Strategy, Callable[..., Any]]] = {}
    for etype, meth in ((Bar, "on_bars"), (Trade, "on_trades")):
        for sym, handlers in dispatch[etype].items():
            owner = getattr(handlers[0], "__self__", None)
            if len(handlers) == 1 and isinstance(owner, Strategy) \
                    and overrides(owner, Strategy, meth):
                batch[etype, sym] = (owner, getattr(owner, meth))
    return dispatch, batch
