"""One real test per ``hean_*`` hook, plus the plugin manager's error paths.

Every test registers a small in-test plugin (an object with ``@hookimpl`` methods) through
:func:`hean_framework.testing.isolated_plugins` or :meth:`HeanPluginManager.register_plugin`
and checks the effect.  ``tests/test_docs.py`` fails when a hook has no ``test_hook_<hook>``
function here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, Field

from hean_framework import (
    Analyzer,
    Bar,
    ComponentConfig,
    EmptyConfig,
    Executor,
    Feed,
    Filter,
    Gate,
    Optimizer,
    Order,
    OrderDecision,
    Signal,
    Sizer,
    Strategy,
    Venue,
    Verdict,
    __version__,
    block,
    hookimpl,
)
from hean_framework.components import OptimizationProblem, OptimizationResult, Param
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.errors import PluginError
from hean_framework.facts import REGIME
from hean_framework.plugins import BUILTIN_MODULES, HeanPluginManager
from hean_framework.registry import ComponentSpec
from hean_framework.testing import build_component, isolated_plugins, make_context, sample_bars

SYMBOL = "BTC/USDT:USDT"
DIST = "hean-test-plugin"
DIST_VERSION = "9.8.7"


@pytest.fixture(autouse=True)
def _no_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's environment must not change which plugins load."""
    for var in ("HEAN_DISABLED_PLUGINS", "HEAN_PLUGINS", "HEAN_DISABLE_PLUGIN_AUTOLOAD"):
        monkeypatch.delenv(var, raising=False)


def load_with(plugin: Any, name: str = "test_plugin", **kw: Any) -> HeanPluginManager:
    """A manager with autoload off, the builtins and ``plugin`` (with a distribution)."""
    pm = HeanPluginManager(autoload=False, allow=(), **kw)
    pm.register_plugin(plugin, name, DIST, DIST_VERSION)
    return pm.load()


def check_spec(pm: HeanPluginManager, kind: str, name: str, cls: type,
               model: type[BaseModel], plugin: str = "test_plugin") -> ComponentSpec:
    """The registration landed in the registry with kind, class, model and origin."""
    spec = pm.registry.get(kind, name)
    assert spec is not None, f"{kind} {name!r} not registered; have {pm.registry.names(kind)}"
    assert spec.kind == kind
    assert spec.cls is cls
    assert spec.config_model is model
    assert spec.origin.plugin == plugin
    assert spec.origin.distribution == DIST
    assert spec.origin.version == DIST_VERSION
    assert spec.origin.builtin is False
    row = next(r for r in pm.plugin_list() if r["name"] == plugin)
    assert f"{kind}:{name}" in row["components"]
    assert row["enabled"] is True
    return spec


def signal(**kw: Any) -> Signal:
    base: dict[str, Any] = dict(strategy_id="s", symbol=SYMBOL, side="buy", ts=1,
                                entry_price=80_000.0, stop_loss=79_000.0)
    base.update(kw)
    return Signal(**base)


def decision(sig: Signal) -> OrderDecision:
    return OrderDecision(1, sig.signal_id, sig.strategy_id, sig.symbol, sig.side, sig.ts,
                         price=sig.entry_price, qty_raw=0.01, qty=0.01)


# ---------------------------------------------------------------------- registration hooks


class CrossConfig(ComponentConfig):
    threshold: float = Field(100.0, gt=0)


class Breakout(Strategy):
    """Buys when the close is above ``threshold``."""

    config: CrossConfig

    def on_bar(self, bar: Bar) -> Signal | None:
        if bar.close > self.config.threshold:
            return self.signal(bar.symbol, "buy", bar.ts, bar.close, stop_loss=bar.low * 0.99)
        return None


def test_hook_hean_register_strategies() -> None:
    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("breakout", Breakout, config=CrossConfig)

    pm = load_with(Plugin())
    spec = check_spec(pm, "strategy", "breakout", Breakout, CrossConfig)
    assert spec.description == "Buys when the close is above ``threshold``."
    assert spec.build_config({"threshold": 5}).threshold == 5
    strat = build_component(pm, "strategy", "breakout", make_context(), {"threshold": 1.0})
    sig = strat.on_bar(next(sample_bars(1)))
    assert isinstance(sig, Signal)
    assert sig.strategy_id == "breakout"
    assert sig.side == "buy"


class Trend(Analyzer):
    def on_bar(self, bar: Bar) -> None:
        self.ctx.facts.set(REGIME, "MARKUP" if bar.close > bar.open else "RANGE", bar.symbol)


def test_hook_hean_register_analyzers() -> None:
    class Plugin:
        @hookimpl
        def hean_register_analyzers(self, register: Any) -> None:
            register("trend", Trend, description="regime from the candle body")

    pm = load_with(Plugin())
    spec = check_spec(pm, "analyzer", "trend", Trend, EmptyConfig)
    assert spec.description == "regime from the candle body"
    ctx = make_context()
    analyzer = build_component(pm, "analyzer", "trend", ctx)
    bar = next(sample_bars(1))
    assert analyzer.on_bar(bar) is None
    assert ctx.facts.get(REGIME, SYMBOL) in ("MARKUP", "RANGE")


class MaxPriceConfig(ComponentConfig):
    max_price: float = 50_000.0


class MaxPrice(Filter):
    config: MaxPriceConfig

    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        if signal.entry_price > self.config.max_price:
            return block("PRICE_TOO_HIGH", "above max_price", max_price=self.config.max_price)
        return None


def test_hook_hean_register_filters() -> None:
    class Plugin:
        @hookimpl
        def hean_register_filters(self, register: Any) -> None:
            register("max_price", MaxPrice, config=MaxPriceConfig)

    pm = load_with(Plugin())
    check_spec(pm, "filter", "max_price", MaxPrice, MaxPriceConfig)
    assert pm.registry.get("filter", "passthrough") is not None  # builtins still there
    flt = build_component(pm, "filter", "max_price", make_context())
    sig = signal()
    v = flt.check(sig, decision(sig))
    assert v is not None and v.code == "PRICE_TOO_HIGH"
    assert v.details == {"max_price": 50_000.0}


class HalfSizer(Sizer):
    def size(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        decision.qty_raw *= 0.5
        return None


def test_hook_hean_register_sizers() -> None:
    class Plugin:
        @hookimpl
        def hean_register_sizers(self, register: Any) -> None:
            register("half", HalfSizer)

    pm = load_with(Plugin())
    check_spec(pm, "sizer", "half", HalfSizer, EmptyConfig)
    sizer = build_component(pm, "sizer", "half", make_context())
    sig = signal()
    d = decision(sig)
    assert sizer.size(sig, d) is None
    assert d.qty_raw == pytest.approx(0.005)


class NoShorts(Gate):
    def vote(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        return block("NO_SHORTS") if signal.side == "sell" else None


def test_hook_hean_register_gates() -> None:
    class Plugin:
        @hookimpl
        def hean_register_gates(self, register: Any) -> None:
            register("no_shorts", NoShorts)

    pm = load_with(Plugin())
    check_spec(pm, "gate", "no_shorts", NoShorts, EmptyConfig)
    gate = build_component(pm, "gate", "no_shorts", make_context())
    buy, sell = signal(), signal(side="sell", stop_loss=81_000.0)
    assert gate.vote(buy, decision(buy)) is None
    v = gate.vote(sell, decision(sell))
    assert v is not None and v.code == "NO_SHORTS"


class LimitOnly(Executor):
    def execute(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        self.ctx.orders.submit(signal, decision, decision.qty, order_type="limit",
                                     price=signal.entry_price, executor=self)
        return None


def test_hook_hean_register_executors() -> None:
    class Plugin:
        @hookimpl
        def hean_register_executors(self, register: Any) -> None:
            register("limit_only", LimitOnly)

    pm = load_with(Plugin())
    check_spec(pm, "executor", "limit_only", LimitOnly, EmptyConfig)
    ctx = make_context(price=80_000.0)
    ex = build_component(pm, "executor", "limit_only", ctx)
    sig = signal()
    assert ex.execute(sig, decision(sig)) is None
    [order] = ctx.orders.orders
    assert (order.order_type, order.price, order.status) == ("limit", 80_000.0, "open")


class GridSearchConfig(ComponentConfig):
    steps: int = Field(5, ge=2)


class GridSearch(Optimizer):
    config: GridSearchConfig

    def optimize(self, problem: OptimizationProblem) -> OptimizationResult:
        (key, param), = problem.space.items()
        lo, hi = param.low, param.high
        n = self.config.steps
        grid = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
        best = max(grid, key=lambda x: problem.evaluate({key: x}))
        return OptimizationResult({key: best}, problem.evaluate({key: best}))


def test_hook_hean_register_optimizers() -> None:
    class Plugin:
        @hookimpl
        def hean_register_optimizers(self, register: Any) -> None:
            register("grid", GridSearch, config=GridSearchConfig)

    pm = load_with(Plugin())
    check_spec(pm, "optimizer", "grid", GridSearch, GridSearchConfig)
    opt = build_component(pm, "optimizer", "grid", make_context(), {"steps": 11})
    res = opt.optimize(OptimizationProblem("s", {"x": Param("x", "float", 0.0, 10.0)},
                                           lambda p: -(p["x"] - 3.0) ** 2))
    assert res.params == {"x": 3.0}
    assert res.fitness == 0.0


class ListFeedConfig(ComponentConfig):
    n: int = 3


class ListFeed(Feed):
    config: ListFeedConfig

    def events(self) -> Iterator[Bar]:
        yield from sample_bars(self.config.n)


def test_hook_hean_register_feeds() -> None:
    class Plugin:
        @hookimpl
        def hean_register_feeds(self, register: Any) -> None:
            register("listfeed", ListFeed, config=ListFeedConfig)

    pm = load_with(Plugin())
    check_spec(pm, "feed", "listfeed", ListFeed, ListFeedConfig)
    feed = build_component(pm, "feed", "listfeed", make_context(), {"n": 4})
    ts = [e.ts for e in feed.events()]
    assert len(ts) == 4 and ts == sorted(ts)
    # the data section selects it with ``feed:``; the other keys go to its model
    setup = load_setup(None, pm.registry, raw={"data": {"feed": "listfeed", "n": 2}})
    assert setup.feed is not None and setup.feed.spec.cls is ListFeed
    assert setup.feed.config.n == 2


class RejectAll(Venue):
    def submit(self, order: Order) -> Order:
        order.status = "rejected"
        return order

    def cancel(self, order_id: int, reason: str = "") -> Order | None:
        return None


def test_hook_hean_register_venues() -> None:
    class Plugin:
        @hookimpl
        def hean_register_venues(self, register: Any) -> None:
            register("reject_all", RejectAll)

    pm = load_with(Plugin())
    check_spec(pm, "venue", "reject_all", RejectAll, EmptyConfig)
    venue = build_component(pm, "venue", "reject_all", make_context())
    order = Order(1, "s", SYMBOL, "buy", 0.01, "market", None, False, False, 0)
    assert venue.submit(order).status == "rejected"
    setup = load_setup(None, pm.registry, raw={"run": {"mode": "paper"},
                                               "venue": {"name": "reject_all"}})
    assert setup.venue.spec.cls is RejectAll


def test_hook_hean_register_commands() -> None:
    @click.command("hello")
    @click.option("--name", default="world")
    def hello(name: str) -> None:
        """Say hello."""
        click.echo(f"hello {name}")

    class Plugin:
        @hookimpl
        def hean_register_commands(self, register: Any) -> None:
            register(hello)

    pm = load_with(Plugin())
    [(cmd, origin)] = [(c, o) for c, o in pm.registry.commands if o.plugin == "test_plugin"]
    assert cmd is hello
    assert (origin.distribution, origin.version) == (DIST, DIST_VERSION)
    row = next(r for r in pm.plugin_list() if r["name"] == "test_plugin")
    assert row["components"] == ["command:hello"]
    assert CliRunner().invoke(cmd, ["--name", "hean"]).output == "hello hean\n"
    # the kernel's own commands come through the same hook
    builtin = {c.name: o for c, o in pm.registry.commands if o.builtin}
    assert builtin["backtest"].plugin == "builtin.commands"


def test_hook_hean_register_sections() -> None:
    from pydantic import BaseModel, ConfigDict

    from hean_framework.errors import ConfigError, PluginError
    from hean_framework.schema import json_schema

    class AlertsSection(BaseModel):
        model_config = ConfigDict(extra="forbid")
        webhook: str = ""
        min_pnl: float = 0.0

    class Plugin:
        @hookimpl
        def hean_register_sections(self, register: Any) -> None:
            register("alerts", AlertsSection)

    pm = load_with(Plugin())
    spec = pm.registry.sections["alerts"]
    assert spec.model is AlertsSection and spec.origin.plugin == "test_plugin"
    # the kernel's own sections come through the same hook
    assert pm.registry.sections["risk"].origin.builtin
    raw = {"run": {"mode": "paper"}, "alerts": {"min_pnl": 5}}
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    assert setup.section("alerts").min_pnl == 5.0
    assert "alerts" in json_schema(pm.registry)["properties"]
    # a typo inside a registered section: its YAML path and the allowed keys, before the run
    with pytest.raises(ConfigError) as e:
        load_setup(None, pm.registry, raw={**raw, "alerts": {"min_pnll": 5}}, environ={})
    assert "alerts.min_pnll: unknown key; allowed keys: min_pnl, webhook" in str(e.value)
    # a top-level key nobody owns lists the allowed top-level keys
    with pytest.raises(ConfigError) as e:
        load_setup(None, pm.registry, raw={**raw, "alertz": {}}, environ={})
    assert "alertz: unknown key; allowed keys:" in str(e.value) and "alerts" in str(e.value)

    class Thief:
        @hookimpl
        def hean_register_sections(self, register: Any) -> None:
            register("account", AlertsSection)

    with pytest.raises(PluginError, match="'account', which the kernel owns"):
        load_with(Thief())


# ---------------------------------------------------------------------- lifecycle hooks


class Recorder:
    """Records every lifecycle hook call with its arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def hean_run_started(self, ctx: Any) -> None:
        self.calls.append(("started", {"ctx": ctx, "now": getattr(ctx, "now", None)}))

    @hookimpl
    def hean_run_finished(self, ctx: Any, report: dict[str, Any]) -> None:
        self.calls.append(("finished", {"ctx": ctx, "report": report}))

    @hookimpl
    def hean_params_updated(self, strategy_id: str, params: dict[str, Any], source: str,
                            accepted: list[str]) -> None:
        self.calls.append(("params", {"strategy_id": strategy_id, "params": params,
                                      "source": source, "accepted": accepted}))


def test_hook_hean_run_started() -> None:
    rec = Recorder()
    pm = isolated_plugins(rec, names=["recorder"])
    run = object()
    pm.run_started(run)  # type: ignore[arg-type]
    assert rec.calls == [("started", {"ctx": run, "now": None})]
    # the engine fires it once, before the first event
    rec.calls.clear()
    setup = load_setup(None, pm.registry, raw={"run": {"mode": "paper"}})
    engine = Engine(setup, pm, journal=False, progress=False)
    result = engine.run(events=list(sample_bars(5)))
    assert result.events == 5
    # with the run's context, before the first event (the clock has not moved yet)
    assert [(name, kw["ctx"], kw["now"]) for name, kw in rec.calls] == [
        ("started", engine.ctx, 0)]


def test_hook_hean_run_finished() -> None:
    rec = Recorder()
    pm = isolated_plugins(rec, names=["recorder"])
    run, report = object(), {"metrics": {"net_pnl": 1.5}}
    pm.run_finished(run, report)  # type: ignore[arg-type]
    assert rec.calls == [("finished", {"ctx": run, "report": report})]


def test_hook_hean_params_updated() -> None:
    rec = Recorder()
    pm = isolated_plugins(rec, names=["recorder"])
    strat = build_component(load_with(_StrategyPlugin()), "strategy", "breakout",
                            make_context())
    params = {"threshold": 7.0, "bogus": 1}
    accepted = strat.on_params_updated(params)
    assert accepted == ["threshold"]
    pm.params_updated("breakout", params, "optimizer:grid", accepted)
    assert rec.calls == [("params", {"strategy_id": "breakout", "params": params,
                                     "source": "optimizer:grid", "accepted": ["threshold"]})]


def test_lifecycle_hooks_call_every_implementation() -> None:
    a, b = Recorder(), Recorder()
    pm = isolated_plugins(a, b, names=["a", "b"])
    pm.params_updated("x", {}, "cli", [])
    assert len(a.calls) == len(b.calls) == 1


def test_lifecycle_hooks_without_implementations_are_noops() -> None:
    pm = isolated_plugins()
    results = (pm.run_started(object()), pm.run_finished(object(), {}),  # type: ignore[arg-type]
               pm.params_updated("x", {}, "api", []))
    assert all(not r for r in results), results  # nothing ran, nothing answered


# ---------------------------------------------------------------------- registration errors


class _StrategyPlugin:
    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("breakout", Breakout, config=CrossConfig)


def _plugin(hook: str, *args: Any, **kwargs: Any) -> Any:
    """An object implementing registration hook ``hook`` as ``register(*args, **kwargs)``."""

    def impl(register: Any) -> None:
        register(*args, **kwargs)

    impl.__name__ = hook
    return type("P", (), {hook: staticmethod(hookimpl(impl))})()


def test_wrong_base_class_is_a_plugin_error() -> None:
    with pytest.raises(PluginError) as err:
        load_with(_plugin("hean_register_strategies", "oops", MaxPrice), name="wrongbase")
    msg = str(err.value)
    assert f"plugin 'wrongbase' ({DIST} {DIST_VERSION})" in msg
    assert "not a subclass of hean_framework.components.Strategy" in msg
    assert "inherit from Strategy" in msg


def test_non_class_is_a_plugin_error() -> None:
    with pytest.raises(PluginError, match=r"not a subclass of hean_framework\.components\.Gate"):
        load_with(_plugin("hean_register_gates", "g", NoShorts(None, make_context())))


def test_duplicate_name_names_both_plugins() -> None:
    with pytest.raises(PluginError) as err:
        isolated_plugins(_StrategyPlugin(), _StrategyPlugin(), names=["alpha", "beta"])
    msg = str(err.value)
    assert "strategy name 'breakout' is registered twice" in msg
    assert "plugin 'alpha'" in msg and "plugin 'beta'" in msg
    assert "plugins.disabled" in msg


def test_duplicate_of_a_builtin_names_the_builtin() -> None:
    with pytest.raises(PluginError) as err:
        load_with(_plugin("hean_register_executors", "plain", LimitOnly), name="myexec")
    msg = str(err.value)
    assert "executor name 'plain' is registered twice" in msg
    assert f"builtin plugin 'builtin.pipeline' (hean-framework {__version__})" in msg
    assert "plugin 'myexec'" in msg


def test_same_name_in_two_kinds_is_allowed() -> None:
    class Plugin:
        @hookimpl
        def hean_register_filters(self, register: Any) -> None:
            register("guard", MaxPrice, config=MaxPriceConfig)

        @hookimpl
        def hean_register_gates(self, register: Any) -> None:
            register("guard", NoShorts)

    pm = load_with(Plugin())
    assert pm.registry.get("filter", "guard").cls is MaxPrice
    assert pm.registry.get("gate", "guard").cls is NoShorts


@pytest.mark.parametrize("bad", ["Breakout", "break-out", "1st", "", "_x", "a b"])
def test_bad_name_is_a_plugin_error(bad: str) -> None:
    with pytest.raises(PluginError) as err:
        load_with(_plugin("hean_register_strategies", bad, Breakout), name="badname")
    msg = str(err.value)
    assert f"plugin 'badname' ({DIST} {DIST_VERSION}) registered a strategy with invalid name" \
        in msg
    assert "lowercase letters, digits and '_'" in msg


def test_config_must_be_a_pydantic_model() -> None:
    with pytest.raises(PluginError, match="not a pydantic model") as err:
        load_with(_plugin("hean_register_sizers", "half", HalfSizer, config=dict))
    assert "ComponentConfig" in str(err.value)


def test_config_defaults_to_the_class_attribute() -> None:
    class Configured(Sizer):
        config_model = MaxPriceConfig

    pm = load_with(_plugin("hean_register_sizers", "configured", Configured))
    assert pm.registry.get("sizer", "configured").config_model is MaxPriceConfig


def test_misspelt_hook_name_fails_load_naming_the_plugin() -> None:
    class Typo:
        @hookimpl
        def hean_register_strategys(self, register: Any) -> None:
            register("breakout", Breakout)

    with pytest.raises(PluginError) as err:
        load_with(Typo(), name="typo_plugin")
    msg = str(err.value)
    assert f"plugin 'typo_plugin' ({DIST} {DIST_VERSION}) implements a hook that does not " \
           "exist" in msg
    assert "hean_register_strategys" in msg
    assert "optionalhook=True" in msg


def test_optional_unknown_hook_is_accepted() -> None:
    class Future:
        @hookimpl(optionalhook=True)
        def hean_register_api_routes(self, register: Any) -> None:
            raise AssertionError("never called")

    pm = load_with(Future(), name="future")
    assert any(r["name"] == "future" and r["enabled"] for r in pm.plugin_list())


def test_wrong_hook_argument_fails_at_registration() -> None:
    class BadArg:
        @hookimpl
        def hean_register_strategies(self, reg: Any) -> None:
            reg("breakout", Breakout)

    pm = HeanPluginManager(autoload=False)
    with pytest.raises(PluginError) as err:
        pm.register_plugin(BadArg(), "badarg", DIST, DIST_VERSION)
    msg = str(err.value)
    assert f"plugin 'badarg' ({DIST} {DIST_VERSION}) has an invalid hook implementation" in msg
    assert "reg" in msg


def test_plugin_raising_in_a_registration_hook_is_named() -> None:
    class Raiser:
        @hookimpl
        def hean_register_filters(self, register: Any) -> None:
            raise RuntimeError("no network at import time")

    with pytest.raises(PluginError) as err:
        load_with(Raiser(), name="raiser")
    msg = str(err.value)
    assert f"plugin 'raiser' ({DIST} {DIST_VERSION}) raised in hean_register_filters" in msg
    assert "RuntimeError: no network at import time" in msg
    assert isinstance(err.value.__cause__, RuntimeError)


def test_hookimpl_may_omit_the_register_argument() -> None:
    called: list[bool] = []

    class NoArgs:
        @hookimpl
        def hean_register_feeds(self) -> None:
            called.append(True)

    load_with(NoArgs())
    assert called == [True]


# ---------------------------------------------------------------------- builtins & disabling

BUILTINS = tuple(sorted("builtin." + m.rsplit(".", 1)[1] for m in BUILTIN_MODULES))


def test_builtins_are_registered_like_external_plugins() -> None:
    pm = load_with(_StrategyPlugin())
    rows = {r["name"]: r for r in pm.plugin_list()}
    for name in BUILTINS:
        row = rows[name]
        assert (row["distribution"], row["version"], row["builtin"], row["enabled"]) == (
            "hean-framework", __version__, True, True)
        # a pluggy plugin under its name, exactly like an external plugin
        assert pm.pm.get_plugin(name) is not None
    assert {"builtin.commands", "builtin.feeds", "builtin.pipeline", "builtin.venues"} <= set(
        BUILTINS)
    assert {"filter:passthrough", "sizer:fixed_risk", "gate:passthrough",
            "executor:plain"} <= set(rows["builtin.pipeline"]["components"])
    assert rows["test_plugin"]["builtin"] is False
    assert [r["name"] for r in pm.plugin_list()][: len(BUILTINS)] == list(BUILTINS)
    plain = pm.registry.get("executor", "plain")
    assert plain is not None and plain.origin.builtin
    assert plain.origin.describe() == f"builtin plugin 'builtin.pipeline' (hean-framework " \
                                      f"{__version__})"


def test_disabling_a_builtin_removes_its_components() -> None:
    pm = HeanPluginManager(disabled=["builtin.pipeline"], autoload=False).load()
    for kind, name in (("filter", "passthrough"), ("sizer", "fixed_risk"),
                       ("gate", "passthrough"), ("executor", "plain")):
        assert pm.registry.get(kind, name) is None
    row = next(r for r in pm.plugin_list() if r["name"] == "builtin.pipeline")
    assert (row["enabled"], row["status"], row["components"]) == (False, "disabled", [])
    assert pm.registry.get("venue", "sim") is not None  # the other builtins stay


def test_disabled_builtin_can_be_replaced() -> None:
    pm = HeanPluginManager(disabled=["builtin.pipeline"], autoload=False)
    pm.register_plugin(_plugin("hean_register_executors", "plain", LimitOnly), "myexec")
    pm.load()
    assert pm.registry.get("executor", "plain").cls is LimitOnly


def test_disabled_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEAN_DISABLED_PLUGINS", "builtin.venues, builtin.feeds")
    pm = isolated_plugins()
    assert pm.registry.names("venue") == [] and pm.registry.names("feed") == []
    status = {r["name"]: r["status"] for r in pm.plugin_list()}
    assert status["builtin.venues"] == status["builtin.feeds"] == "disabled"


def test_load_is_idempotent() -> None:
    pm = load_with(_StrategyPlugin())
    assert pm.load() is pm
    assert pm.registry.names("strategy") == ["breakout"]
