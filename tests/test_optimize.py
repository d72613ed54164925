"""Optimizers wired: ``optimizers:`` builds its component, ``make_problem`` scores candidates.

Invariants (real Binance BTC/ETH 5m candles bundled under examples/data):

* the space comes from the strategy config's ``Field`` bounds: ints, floats (open bounds moved
  in), bools and Literals as choices; unbounded fields are left out, or refused when named;
* ``evaluate(params)`` equals a fresh journal-less run of the same config with those params
  (data loaded once and replayed), and is the same every time it is asked;
* a value outside the model's bounds is a ConfigError with the YAML path, not a silent clamp;
* the problem is a ``BacktestProblem``: ``run(params, events)`` returns the whole run
  (``fitness(run(p), metric) == evaluate(p)``) on the loaded ``events`` or a slice of them;
* the builtin ``random_search`` passes the optimizer contract; ``hean optimize`` runs end to
  end and writes ``optimize.json`` (every evaluation) into ``--out``; ``optimizers:``
  instances are built by the engine;
* ``make_cli`` builds a fresh group per call: a command added to one never shows in another.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from click.testing import CliRunner
from pydantic import Field

from hean_framework import hookimpl
from hean_framework.blocks import BarBlock
from hean_framework.cli import make_cli
from hean_framework.components import ComponentConfig, Param, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.errors import ConfigError, HeanError
from hean_framework.models import Bar, Signal
from hean_framework.optimize import BacktestProblem, fitness, make_problem, space_of
from hean_framework.plugins import HeanPluginManager
from hean_framework.testing import OptimizerContract, isolated_plugins

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
BTC = "BTC/USDT:USDT"


class ChannelConfig(ComponentConfig):
    lookback: int = Field(24, ge=5, le=60)
    stop_pct: float = Field(0.01, gt=0.0, lt=0.1)
    sides: Literal["both", "long"] = "both"
    trail: bool = False
    note: str = ""
    unbounded: float = 1.0


class Channel(Strategy):
    """Channel breakout with a stop and a 2R target."""

    config: ChannelConfig

    def on_start(self) -> None:
        self.closes: list[float] = []

    def on_bar(self, bar: Bar) -> Signal | None:
        cfg = self.config
        h = self.closes
        h.append(bar.close)
        if len(h) <= cfg.lookback:
            return None
        del h[:-cfg.lookback - 1]
        if bar.close > max(h[:-1]):
            return self.signal(bar.symbol, "buy", bar.ts, bar.close,
                               stop_loss=bar.close * (1 - cfg.stop_pct),
                               take_profit=bar.close * (1 + 2 * cfg.stop_pct))
        if cfg.sides == "both" and bar.close < min(h[:-1]):
            return self.signal(bar.symbol, "sell", bar.ts, bar.close,
                               stop_loss=bar.close * (1 + cfg.stop_pct),
                               take_profit=bar.close * (1 - 2 * cfg.stop_pct))
        return None


class _Plugin:
    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("channel", Channel, config=ChannelConfig)


def _pm() -> HeanPluginManager:
    return isolated_plugins(_Plugin(), names=["channel_test"])


RAW: dict[str, Any] = {
    "run": {"name": "opt", "seed": 11}, "account": {"capital": 10_000},
    "small_capital": {"enabled": False},
    "data": {"files": [{"kind": "bars", "symbol": BTC, "path": str(
        DATA / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz")}], "end": "2025-03-16"},
    "strategies": {"channel": {}}, "optimizers": {"random_search": {"trials": 4}},
    "report": {"progress": False},
}


def test_space_from_field_bounds() -> None:
    space = space_of(ChannelConfig)
    assert space["lookback"] == Param("lookback", "int", 5, 60)
    assert space["stop_pct"].kind == "float" and 0.0 < space["stop_pct"].low < 1e-300
    assert space["stop_pct"].high < 0.1
    assert space["sides"].choices == ("both", "long") and space["trail"].choices == (False,
                                                                                     True)
    assert "note" not in space and "unbounded" not in space
    with pytest.raises(ConfigError, match="unbounded: needs both bounds"):
        space_of(ChannelConfig, ["lookback", "unbounded"])
    with pytest.raises(ConfigError, match="nope: not a parameter"):
        space_of(ChannelConfig, ["nope"])


def test_evaluate_equals_a_fresh_run_and_is_repeatable() -> None:
    pm = _pm()
    setup = load_setup(None, pm.registry, raw=RAW, environ={})
    problem = make_problem(setup, pm, "channel", "net_pnl", params=["lookback", "stop_pct"])
    assert problem.incumbent == {"lookback": 24, "stop_pct": 0.01} and problem.seed == 11
    cand = {"lookback": 40, "stop_pct": 0.02}
    first = problem.evaluate(cand)
    assert problem.evaluate(cand) == first
    raw = {**RAW, "strategies": {"channel": cand}}
    fresh = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, journal=False,
                   progress=False).run()
    assert fresh.fills > 0 and first == fitness(fresh, "net_pnl")
    assert problem.evaluate({"lookback": 24, "stop_pct": 0.01}) != first
    with pytest.raises(ConfigError, match=r"strategies\.channel\.lookback"):
        problem.evaluate({"lookback": 500})


def test_backtest_problem_exposes_its_runs_and_events() -> None:
    pm = _pm()
    setup = load_setup(None, pm.registry, raw=RAW, environ={})
    problem = make_problem(setup, pm, "channel", "net_pnl", params=["lookback", "stop_pct"])
    assert isinstance(problem, BacktestProblem) and problem.events
    assert problem.setup is setup and problem.plugins is pm and problem.metric == "net_pnl"
    cand = {"lookback": 40, "stop_pct": 0.02}
    whole = problem.run(cand)
    assert fitness(whole, "net_pnl") == problem.evaluate(cand) and whole.fills > 0
    first = problem.events[0]
    assert isinstance(first, BarBlock)
    half = problem.run(cand, [dataclasses.replace(first, stop=(first.start + first.stop) // 2)])
    assert 0 < half.events < whole.events
    with pytest.raises(ConfigError, match=r"strategies\.channel\.lookback"):
        problem.run({"lookback": 500})


def test_make_cli_builds_a_fresh_group_per_call() -> None:
    import click

    from hean_framework.cli import cli

    a, b = make_cli(), make_cli()
    assert a is not b and "optimize" in a.commands and "optimize" in b.commands
    a.add_command(click.Command("only_in_a"))
    assert "only_in_a" not in b.commands and "only_in_a" not in cli.commands
    assert "optimize" not in cli.commands     # plugin commands never land on the base group


def test_bad_problem_requests_are_clear_errors() -> None:
    pm = _pm()
    setup = load_setup(None, pm.registry, raw=RAW, environ={})
    with pytest.raises(HeanError, match="no strategy 'nope'"):
        make_problem(setup, pm, "nope")
    with pytest.raises(HeanError, match="unknown metric 'alpha'"):
        make_problem(setup, pm, "channel", "alpha")


def test_optimizers_section_builds_its_component() -> None:
    pm = _pm()
    eng = Engine(load_setup(None, pm.registry, raw=RAW, environ={}), pm, journal=False,
                 progress=False).build()
    (name, opt), = eng.parts.optimizers.items()
    assert name == "random_search" and opt.config.trials == 4 and opt.ctx is eng.ctx


def test_hean_optimize_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hean_framework.session as session

    monkeypatch.setattr(session, "load_plugins", lambda disabled=(): _pm())
    cfg = tmp_path / "opt.yaml"
    cfg.write_text(orjson.dumps(RAW).decode())  # JSON is YAML
    r = CliRunner().invoke(make_cli(), ["optimize", str(cfg), "--strategy", "channel",
                                        "--metric", "net_pnl", "--params",
                                        "lookback,stop_pct", "--json", "--out",
                                        str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    out = orjson.loads(r.output)
    assert out["optimizer"] == "random_search" and out["evaluations"] == 5
    assert out["best_fitness"] >= out["incumbent_fitness"]
    doc = orjson.loads((tmp_path / "out" / "optimize.json").read_bytes())
    assert doc["best"] == out["best"] and len(doc["history"]) == 5 and doc["seed"] == 11
    assert doc["history"][0]["params"] == out["incumbent"]


class TestRandomSearchContract(OptimizerContract):
    plugin_name = "random_search"
    config = {"trials": 400}
