"""symbiont on real candles: a tiny walk-forward genetic search through the kernel's problem.

Data: the real Binance BTC/USDT:USDT 5m candles packaged with the kernel (14 days of them).
The strategy is defined here (a channel break, followed or faded: bounded ``lookback`` and
``stop_pct`` and a ``mode`` choice) and registered with ``isolated_plugins``, as the kernel's own
optimizer tests do.

Invariants:

* the study read from the kernel's ``make_problem`` replays exactly the kernel's backtest:
  ``fitness(study.run(p), metric) == problem.evaluate(p)``;
* a population of 6 for 2 generations, 2 anchored folds: the same seed gives the same result,
  history and report; ``result.fitness == problem.evaluate(result.params)``; the result is
  the promoted candidate or, refused, the incumbent, with the reasons; every fold reports
  in-sample and out-of-sample scorecards of the winner and of the incumbent, a DSR and a PBO;
  the winner's in-sample fitness is at least the incumbent's; a history entry equals a fresh
  backtest of its window;
* the search on one worker, on a pool of two forked processes and on a Dask LocalCluster of
  threads gives the same result (test_backends.py: processes, a dying worker, resume);
  rolling folds move the in-sample start; ``walk_forward: off`` searches ``evaluate`` itself;
* ``hean optimize`` runs the config's symbiont instance end to end; ``hean symbiont`` prints
  the per-fold report.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from click.testing import CliRunner
from hean_symbiont import Study, SymbiontResult, scorecard, slice_events
from pydantic import Field

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, OptimizationProblem, Strategy
from hean_framework.config import RunSetup, load_setup
from hean_framework.engine import Engine
from hean_framework.models import Bar, Signal
from hean_framework.optimize import fitness, make_problem
from hean_framework.plugins import HeanPluginManager
from hean_framework.testing import SAMPLE_FILE, SAMPLE_SYMBOL, isolated_plugins

SAMPLE = Path(str(resources.files("hean_framework") / "data" / "sample" / SAMPLE_FILE))
PARAMS = ["lookback", "stop_pct", "mode"]


class ChannelConfig(ComponentConfig):
    lookback: int = Field(24, ge=5, le=60)
    stop_pct: float = Field(0.01, ge=0.002, le=0.05)
    mode: Literal["follow", "fade"] = "follow"


class Channel(Strategy):
    """A close outside the channel of the last ``lookback`` closes: follow it (buy above,
    sell below) or fade it; stop ``stop_pct`` away, target twice as far."""

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
        up, down = bar.close > max(h[:-1]), bar.close < min(h[:-1])
        if not (up or down):
            return None
        sign = 1.0 if up == (cfg.mode == "follow") else -1.0
        return self.signal(bar.symbol, "buy" if sign > 0 else "sell", bar.ts, bar.close,
                           stop_loss=bar.close * (1 - sign * cfg.stop_pct),
                           take_profit=bar.close * (1 + 2 * sign * cfg.stop_pct))


class _Plugin:
    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("channel", Channel, config=ChannelConfig)


SYMBIONT = {"population": 6, "generations": 2, "folds": 2, "in_sample_segments": 2,
            "pbo_blocks": 4, "wfa_min_periods": 24, "wfa_oos_periods": 12, "workers": 2}
RAW: dict[str, Any] = {
    "run": {"name": "symbiont_test", "seed": 11}, "account": {"capital": 10_000},
    "small_capital": {"enabled": False},
    "data": {"files": [{"kind": "bars", "symbol": SAMPLE_SYMBOL, "path": str(SAMPLE)}],
             "end": "2025-03-20"},
    "strategies": {"channel": {}}, "optimizers": {"symbiont": SYMBIONT},
    "report": {"progress": False},
}


def _pm() -> HeanPluginManager:
    return isolated_plugins(_Plugin(), "hean_symbiont.plugin",
                            names=["channel_test", "symbiont"])


@pytest.fixture(scope="module")
def pm() -> HeanPluginManager:
    return _pm()


def _setup(pm: HeanPluginManager, **symbiont: Any) -> RunSetup:
    raw = {**RAW, "optimizers": {"symbiont": {**SYMBIONT, **symbiont}}}
    return load_setup(None, pm.registry, raw=raw, environ={})


def _optimize(pm: HeanPluginManager, problem: OptimizationProblem | None = None,
              **symbiont: Any) -> tuple[OptimizationProblem, SymbiontResult]:
    setup = _setup(pm, **symbiont)
    opt = Engine(setup, pm, journal=False, progress=False).build().parts.optimizers["symbiont"]
    if problem is None:
        problem = make_problem(setup, pm, "channel", "sharpe", params=PARAMS)
    res = opt.optimize(problem)
    assert isinstance(res, SymbiontResult)
    return problem, res


@pytest.fixture(scope="module")
def anchored(pm: HeanPluginManager) -> tuple[OptimizationProblem, SymbiontResult]:
    return _optimize(pm)


def test_study_replays_the_kernels_backtest(pm: HeanPluginManager) -> None:
    problem = make_problem(_setup(pm), pm, "channel", "sharpe", params=PARAMS)
    study = Study.from_problem(problem)
    assert study is not None and study.strategy == "channel"
    for p in (problem.incumbent, {"lookback": 40, "stop_pct": 0.02, "mode": "fade"}):
        assert fitness(study.run(p), "sharpe") == problem.evaluate(p)


def test_tiny_walk_forward_search_is_deterministic_and_consistent(
        pm: HeanPluginManager, anchored: tuple[OptimizationProblem, SymbiontResult]) -> None:
    problem, res = anchored
    _, again = _optimize(pm)
    assert (again.params, again.fitness, again.history, again.extra) == \
        (res.params, res.fitness, res.history, res.extra)
    assert res.fitness == problem.evaluate(res.params)
    extra = res.extra
    assert extra["mode"] == "walk_forward" and len(extra["folds"]) == 2
    promo = extra["promotion"]
    assert promo["promoted"] == (not promo["reasons"])
    assert res.params == (extra["candidate"] if promo["promoted"] else problem.incumbent)
    if promo["dsr"] is not None and promo["dsr"] < 0.95:
        assert any("deflated Sharpe" in r for r in promo["reasons"])
    if promo["pbo"] is not None and promo["pbo"] > 0.5:
        assert any("overfitting" in r for r in promo["reasons"])
    f0, f1 = extra["folds"]
    assert f0["in_sample"]["start_ms"] == f1["in_sample"]["start_ms"]          # anchored
    assert f0["out_of_sample"]["end_ms"] == f1["out_of_sample"]["start_ms"] \
        == f1["in_sample"]["end_ms"]
    for f in (f0, f1):
        assert f["evaluations"] <= 6 + (6 - 2) and f["generations"] <= 2
        assert f["winner_in_sample"]["fitness"] >= f["incumbent_in_sample"]["fitness"]
        for key in ("winner_in_sample", "winner_out_of_sample", "incumbent_in_sample",
                    "incumbent_out_of_sample"):
            assert f[key]["periods"] > 0 and f[key]["trades"] > 0
        assert 0.0 <= f["dsr"]["dsr"] <= 1.0 and 0.0 <= f["pbo"]["pbo"] <= 1.0
        assert f["pbo"]["trials"] == f["evaluations"] - f["invalid"]
        windows = {(h["window"], h.get("role")) for h in res.history if h["fold"] == f["fold"]}
        assert windows == {("in_sample", None), ("out_of_sample", "winner"),
                           ("out_of_sample", "incumbent")}
    assert extra["evaluations"] == len(res.history)


def test_history_entry_is_a_fresh_backtest_of_its_window(
        pm: HeanPluginManager, anchored: tuple[OptimizationProblem, SymbiontResult]) -> None:
    problem, res = anchored
    study = Study.from_problem(problem)
    assert study is not None
    fold = res.extra["folds"][1]
    entry = [h for h in res.history if h["fold"] == 1 and h["window"] == "in_sample"][-1]
    events = slice_events(study.events, fold["in_sample"]["start_ms"],
                          fold["in_sample"]["end_ms"])
    cfg = Engine(_setup(pm), pm, journal=False, progress=False).build() \
        .parts.optimizers["symbiont"].config
    card = scorecard(study.run(entry["params"], events), cfg)
    assert card.fitness == entry["fitness"] and card.summary() == entry["score"]


def test_same_result_in_process_and_on_a_process_pool(
        pm: HeanPluginManager, anchored: tuple[OptimizationProblem, SymbiontResult]) -> None:
    _, serial = _optimize(pm, workers=1)
    assert (serial.params, serial.fitness, serial.history, serial.extra) == \
        (anchored[1].params, anchored[1].fitness, anchored[1].history, anchored[1].extra)


def test_rolling_folds_and_plain_mode(pm: HeanPluginManager) -> None:
    _, rolling = _optimize(pm, walk_forward="rolling", population=4, elitism=1)
    f0, f1 = rolling.extra["folds"]
    assert f1["in_sample"]["start_ms"] > f0["in_sample"]["start_ms"]
    problem, plain = _optimize(pm, walk_forward="off")
    assert plain.extra["mode"] == "plain" and plain.fitness == problem.evaluate(plain.params)
    assert plain.fitness >= problem.evaluate(problem.incumbent)


def test_hean_optimize_and_hean_symbiont_commands(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import hean_framework.cli as cli
    import hean_framework.session as session
    from hean_framework.cli import make_cli

    monkeypatch.setattr(session, "load_plugins", lambda disabled=(): _pm())
    monkeypatch.setattr(cli, "load_plugins", lambda *a, **k: _pm())
    cfg = tmp_path / "symbiont.yaml"
    cfg.write_text(orjson.dumps({**RAW, "optimizers": {"symbiont": {
        **SYMBIONT, "population": 4, "elitism": 1, "folds": 1}}}).decode())  # JSON is YAML
    out_dir = tmp_path / "opt"
    r = CliRunner().invoke(make_cli(), ["optimize", str(cfg), "--strategy", "channel",
                                        "--params", ",".join(PARAMS), "--json", "--out",
                                        str(out_dir)])
    assert r.exit_code == 0, r.output
    out = orjson.loads(r.stdout)
    assert out["optimizer"] == "symbiont" and 0 < out["evaluations"] <= 4 + 3 + 2
    doc = orjson.loads((out_dir / "optimize.json").read_bytes())
    assert doc["best"] == out["best"] and len(doc["history"]) == out["evaluations"]
    assert doc["extra"]["folds"][0]["dsr"]["dsr"] is not None
    page = (out_dir / "optimize.html").read_text()
    for title in ("Fitness per generation", "In-sample vs out-of-sample", "Top genomes",
                  "Parameter distributions"):
        assert title in page
    assert page.count("data:image/png;base64,") == 4 and "not drawn" not in page
    r = CliRunner().invoke(make_cli(), ["symbiont", str(cfg), "--strategy", "channel",
                                        "--params", ",".join(PARAMS), "--out",
                                        str(tmp_path / "sym"), "--generations", "1"])
    assert r.exit_code == 0, r.output
    assert "anchored walk-forward" in r.output and ("PROMOTED" in r.output
                                                    or "REFUSED" in r.output)
