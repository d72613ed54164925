"""Where the backtests of a generation run: in this process, a local process pool, or Dask.

A backend scores a batch of :data:`Task` s -- ``(params, start_ms, end_ms)``: the strategy
with ``params`` on the study's events with ``start_ms <= ts < end_ms`` (``None``, ``None``:
every event) -- and returns one :data:`Result` per task, **in the order of the tasks**
(a :class:`~hean_symbiont.fitness.Scorecard`, or the reason the strategy's model refused
the set).  Backtests are deterministic, so every backend returns the same results; the
search's result does not depend on the backend or the number of workers (tested).

* ``local`` with ``workers: 1`` -- one after the other in the calling process;
* ``local`` with ``workers: N > 1`` (``0``: one per CPU core) -- a pool of N processes
  **forked** from the calling one, so each worker starts with the study (run, plugins, loaded
  events) already in memory: nothing is pickled but the tasks and the scorecards.  A worker
  that dies (killed, out of memory) breaks the pool: the pool is restarted and only the
  unfinished tasks are sent again (``retries`` times at most);
* ``dask`` -- a ``distributed`` client on ``dask.address`` (``tcp://host:8786``), or on a
  ``LocalCluster`` of ``dask.n_workers`` started for the search and closed after it.  The
  worker data (the validated run, the strategy name, the fitness settings and the loaded
  events) is **scattered once to every worker** (``broadcast``); each task names it, so no
  evaluation carries the events.  A worker builds its :class:`Study` from that data once
  (loading the installed plugins by their entry points, without the ones the run disables)
  and keeps it for every later task.  A worker that dies loses only the tasks it was running:
  the scheduler runs them again elsewhere; a task that raises is retried ``dask.retries``
  times.  Workers need this plugin and the strategy's plugin installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from hean_framework.errors import ConfigError, HeanError

from .config import SymbiontConfig
from .fitness import Scorecard, scorecard

if TYPE_CHECKING:
    from .walkforward import Study

Task = tuple[dict[str, Any], int | None, int | None]
Result = Scorecard | str


class Backend(Protocol):
    """Scores batches of tasks (module docstring)."""

    workers: int

    def map(self, tasks: Sequence[Task]) -> list[Result]:
        """One result per task, in the tasks' order."""
        ...

    def close(self) -> None:
        """Release the workers."""
        ...


def run_task(study: Study, cfg: SymbiontConfig, task: Task) -> Result:
    """One backtest of ``task`` scored, or why the model refused its parameters."""
    params, start, end = task
    events = study.events if start is None or end is None else study.window(start, end)
    try:
        return scorecard(study.run(params, events), cfg)
    except ConfigError as exc:
        return "; ".join(p.strip() for p in exc.problems)
    except ValidationError as exc:
        return "; ".join(str(e.get("msg", "")) for e in exc.errors())


# --------------------------------------------------------------------------------------------
# in this process
# --------------------------------------------------------------------------------------------


class SerialBackend:
    """Every task in the calling process, one after the other."""

    workers = 1

    def __init__(self, study: Study, cfg: SymbiontConfig) -> None:
        self.study = study
        self.cfg = cfg

    def map(self, tasks: Sequence[Task]) -> list[Result]:
        return [run_task(self.study, self.cfg, t) for t in tasks]

    def close(self) -> None:
        return None


# --------------------------------------------------------------------------------------------
# a local process pool (fork)
# --------------------------------------------------------------------------------------------

#: the study and settings a forked worker inherits (set by the parent before the fork)
_FORKED: dict[str, tuple[Study, SymbiontConfig]] = {}


def _forked_task(token: str, task: Task) -> Result:
    study, cfg = _FORKED[token]
    return run_task(study, cfg, task)


class ProcessBackend:
    """A pool of ``workers`` processes forked from this one (module docstring)."""

    def __init__(self, study: Study, cfg: SymbiontConfig, workers: int,
                 retries: int = 2) -> None:
        if "fork" not in multiprocessing.get_all_start_methods():
            raise HeanError("the local process pool needs the 'fork' start method, which "
                            "this platform lacks",
                            "set optimizers.symbiont.workers: 1, or backend: dask")
        self.workers = workers
        self.retries = retries
        self.token = uuid.uuid4().hex
        _FORKED[self.token] = (study, cfg)
        self._pool: cf.ProcessPoolExecutor | None = None
        self.restarts = 0

    def _executor(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(self.workers,
                                                mp_context=multiprocessing.get_context("fork"))
        return self._pool

    def map(self, tasks: Sequence[Task]) -> list[Result]:
        results: dict[int, Result] = {}
        todo = list(range(len(tasks)))
        for attempt in range(self.retries + 1):
            pool = self._executor()
            futures = {pool.submit(_forked_task, self.token, tasks[i]): i for i in todo}
            broken = False
            for fut in cf.as_completed(futures):
                try:
                    results[futures[fut]] = fut.result()
                except cf.process.BrokenProcessPool:
                    broken = True
            todo = [i for i in todo if i not in results]
            if not broken and not todo:
                break
            self._pool.shutdown(wait=False, cancel_futures=True)  # type: ignore[union-attr]
            self._pool = None
            self.restarts += 1
            if attempt == self.retries:
                raise HeanError(f"{len(todo)} backtest(s) lost: a worker process died "
                                f"{self.retries + 1} times",
                                "check memory and the strategy; or set workers: 1 to see "
                                "the error in this process")
        return [results[i] for i in range(len(tasks))]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        _FORKED.pop(self.token, None)


# --------------------------------------------------------------------------------------------
# Dask distributed
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class WorkerData:
    """What every Dask worker receives once: enough to build the study there."""

    token: str
    setup: Any
    strategy: str
    cfg: SymbiontConfig
    events: list[Any] = field(repr=False)


#: studies built (or handed over, in this process) per token; a worker builds one per token
_STUDIES: dict[str, Study] = {}
_STUDIES_LOCK = threading.Lock()


def _worker_study(data: WorkerData) -> Study:
    study = _STUDIES.get(data.token)
    if study is not None:
        return study
    with _STUDIES_LOCK:
        study = _STUDIES.get(data.token)
        if study is None:
            from hean_framework.plugins import load_plugins

            from .walkforward import Study

            disabled = getattr(getattr(data.setup.config, "plugins", None), "disabled", ())
            study = Study(data.setup, load_plugins(disabled), data.strategy, data.events)
            _STUDIES[data.token] = study
    return study


def _dask_task(data: WorkerData, task: Task) -> Result:
    return run_task(_worker_study(data), data.cfg, task)


class DaskBackend:
    """Tasks on a Dask ``distributed`` cluster (module docstring)."""

    def __init__(self, study: Study, cfg: SymbiontConfig) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask is a dependency of the plugin
            raise HeanError("optimizers.symbiont.backend: dask needs dask[distributed]",
                            "pip install 'dask[distributed]'") from exc
        d = cfg.dask
        self._cluster: Any = None
        if d.address:
            try:
                self.client = Client(d.address, timeout=d.connect_timeout_s)
            except OSError as exc:
                raise HeanError(f"optimizers.symbiont.dask.address: cannot reach the Dask "
                                f"scheduler at {d.address!r} ({exc})",
                                "start it (dask scheduler) or leave address empty to start "
                                "a LocalCluster") from exc
        else:
            self._cluster = LocalCluster(n_workers=d.n_workers, threads_per_worker=1,
                                         processes=d.processes, dashboard_address=None)
            self.client = Client(self._cluster)
        self.retries = d.retries
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        token = uuid.uuid4().hex
        # in this process (a LocalCluster of threads) the worker uses the caller's study
        _STUDIES[token] = study
        self.token = token
        data = WorkerData(token, study.setup, study.strategy, cfg, study.events)
        self._data = self.client.scatter(data, broadcast=True, hash=False)

    def map(self, tasks: Sequence[Task]) -> list[Result]:
        futures = [self.client.submit(_dask_task, self._data, t, pure=False,
                                      retries=self.retries) for t in tasks]
        out: list[Result] = self.client.gather(futures)
        return out

    def close(self) -> None:
        _STUDIES.pop(self.token, None)
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def make_backend(study: Study, cfg: SymbiontConfig) -> Backend:
    """The configured backend for ``study``."""
    if cfg.backend == "dask":
        return DaskBackend(study, cfg)
    workers = cfg.workers or os.cpu_count() or 1
    if workers <= 1:
        return SerialBackend(study, cfg)
    return ProcessBackend(study, cfg, workers)
