"""Backends, checkpoints and resume, on the kernel's real BTC 5m candles.

Invariants:

* the search's result (params, fitness, history, extra) is the same in this process, on a
  pool of two forked processes and on a Dask ``LocalCluster`` (threads), for the same seed;
* the Dask backend scatters the worker data once (one scatter per search, not per task);
* a worker that dies mid-evaluation loses only that evaluation: the local pool is restarted
  and the Dask scheduler reruns it; the result equals the undisturbed one;
* a search interrupted after generation k and resumed from its folder writes an
  ``optimize.json`` byte-identical to the uninterrupted one's; a checkpoint of another search
  is refused with what differs; ``--resume`` without a checkpoint is a clear error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hean_symbiont import checkpoint as ckpt_mod
from hean_symbiont.backends import DaskBackend, ProcessBackend

from hean_framework.components import OptimizationResult
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.errors import HeanError
from hean_framework.optimize import BacktestProblem, make_problem, write_result
from hean_framework.plugins import HeanPluginManager
from hean_framework.testing import isolated_plugins

KIT: list[SimpleNamespace] = []


@pytest.fixture(scope="module")
def pm(kit: SimpleNamespace) -> HeanPluginManager:
    KIT[:] = [kit]
    return isolated_plugins(kit.plugin(), "hean_symbiont.plugin",
                            names=["channel_test", "symbiont"])


def run(pm: HeanPluginManager, folder: Path | None = None, resume: bool = False,
        strategy_cfg: dict[str, Any] | None = None,
        **symbiont: Any) -> tuple[BacktestProblem, OptimizationResult]:
    kit = KIT[0]
    cfg = kit.raw(**symbiont)
    if strategy_cfg:
        cfg["strategies"] = {"channel": strategy_cfg}
    setup = load_setup(None, pm.registry, raw=cfg, environ={})
    opt = Engine(setup, pm, journal=False, progress=False).build().parts.optimizers["symbiont"]
    problem = make_problem(setup, pm, "channel", "sharpe", params=kit.params)
    problem.folder, problem.resume = folder, resume
    return problem, opt.optimize(problem)


def same(a: OptimizationResult, b: OptimizationResult) -> bool:
    return (a.params, a.fitness, a.history, a.extra) == (b.params, b.fitness, b.history,
                                                         b.extra)


@pytest.fixture(scope="module")
def serial(pm: HeanPluginManager) -> OptimizationResult:
    return run(pm)[1]


def test_process_pool_gives_the_serial_result(pm: HeanPluginManager,
                                              serial: OptimizationResult) -> None:
    assert serial.extra["evaluations"] > 12
    assert same(run(pm, workers=2)[1], serial)


def test_dask_local_cluster_gives_the_local_result(pm: HeanPluginManager,
                                                   serial: OptimizationResult,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    scatters: list[int] = []
    maps: list[int] = []
    init, dmap = DaskBackend.__init__, DaskBackend.map

    def counting_init(self: DaskBackend, *a: Any) -> None:
        init(self, *a)
        scatters.append(1)

    def counting_map(self: DaskBackend, tasks: Any) -> Any:
        maps.append(len(tasks))
        return dmap(self, tasks)

    monkeypatch.setattr(DaskBackend, "__init__", counting_init)
    monkeypatch.setattr(DaskBackend, "map", counting_map)
    _, res = run(pm, backend="dask", dask={"n_workers": 2, "processes": False})
    assert same(res, serial)
    in_sample = sum(f["evaluations"] for f in serial.extra["folds"])
    assert scatters == [1] and len(maps) >= 4 and sum(maps) >= in_sample


@pytest.mark.slow
def test_a_dying_local_worker_loses_only_its_evaluation(
        pm: HeanPluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    restarts: list[int] = []
    close = ProcessBackend.close

    def record(self: ProcessBackend) -> None:
        restarts.append(self.restarts)
        close(self)

    monkeypatch.setattr(ProcessBackend, "close", record)
    marker = tmp_path / "crashed"
    kw = {"strategy_cfg": {"crash_marker": str(marker)}, "generations": 2}
    calm = tmp_path / "calm"
    calm.write_text("")   # the marker exists: nobody crashes
    _, undisturbed = run(pm, strategy_cfg={"crash_marker": str(calm)}, generations=2)
    _, res = run(pm, workers=2, **kw)
    assert marker.exists() and restarts == [1]
    assert same(res, undisturbed)


@pytest.mark.slow
def test_a_dying_dask_worker_loses_only_its_evaluation(pm: HeanPluginManager,
                                                       tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    import dask

    marker = tmp_path / "crashed"
    calm = tmp_path / "calm"
    calm.write_text("")
    _, undisturbed = run(pm, strategy_cfg={"crash_marker": str(calm)}, generations=1,
                         folds=1)
    # forked worker processes know the test's strategy class without importing the test kit
    with dask.config.set({"distributed.worker.multiprocessing-method": "fork"}):
        _, res = run(pm, strategy_cfg={"crash_marker": str(marker)}, generations=1, folds=1,
                     backend="dask", dask={"n_workers": 2, "processes": True})
    assert marker.exists()
    assert same(res, undisturbed)


@pytest.mark.slow
def test_interrupted_then_resumed_writes_the_same_optimize_json(
        pm: HeanPluginManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    problem, res = run(pm, whole)
    write_result(problem, "symbiont", problem.evaluate(problem.incumbent), res)
    assert (whole / "optimize.html").is_file() and (whole / ckpt_mod.NAME).is_file()

    save = ckpt_mod.Checkpoint.save
    k = 4   # fold 0 has 3 generations at most: this stops inside fold 1

    def interrupting(self: ckpt_mod.Checkpoint, state: Any) -> None:
        save(self, state)
        if self.saves == k:
            raise KeyboardInterrupt

    monkeypatch.setattr(ckpt_mod.Checkpoint, "save", interrupting)
    with pytest.raises(KeyboardInterrupt):
        run(pm, cut)
    assert not (cut / "optimize.json").exists()
    state = ckpt_mod.Checkpoint(cut, {}).path.read_bytes()
    assert state
    monkeypatch.setattr(ckpt_mod.Checkpoint, "save", save)
    problem2, res2 = run(pm, cut, resume=True, workers=2)    # another backend is fine
    write_result(problem2, "symbiont", problem2.evaluate(problem2.incumbent), res2)
    assert (cut / "optimize.json").read_bytes() == (whole / "optimize.json").read_bytes()


def test_resume_refuses_a_missing_or_foreign_checkpoint(pm: HeanPluginManager,
                                                        tmp_path: Path) -> None:
    with pytest.raises(HeanError, match="no checkpoint"):
        run(pm, tmp_path / "empty", resume=True)
    folder = tmp_path / "f"
    run(pm, folder, generations=1, folds=1)
    with pytest.raises(HeanError, match=r"another search.*settings"):
        run(pm, folder, resume=True, generations=2, folds=1)
    problem, _ = run(pm, folder, resume=True, generations=1, folds=1)
    assert dataclasses.is_dataclass(problem)
