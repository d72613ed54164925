"""Checkpoints of a search: ``symbiont.checkpoint`` in the output folder, one per generation.

After every generation the optimizer writes the whole state of the search (the finished
walk-forward folds, the current fold's population, random generator state, scores and
scorecards) to ``<folder>/symbiont.checkpoint`` -- a pickle, written to a temporary file and
renamed over the previous one, so an interruption at any moment leaves the last complete
checkpoint.  ``--resume`` reads it back and the search continues where it stopped; the result
is exactly the uninterrupted one's (tested).

The checkpoint carries a fingerprint of what was searched (strategy, metric, seed, space,
incumbent, the search settings that change results, the events' count and span); resuming
with anything else is refused with the differences, not silently mixed.  The backend and the
number of workers are not part of it: a search may continue on another backend.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from hean_framework.errors import HeanError

NAME = "symbiont.checkpoint"
#: settings that do not change the result (where and how fast backtests run)
NEUTRAL = frozenset({"backend", "workers", "dask"})


def fingerprint(problem: Any, space: dict[str, Any], cfg: Any) -> dict[str, Any]:
    """What a checkpoint must match to be continued."""
    events = getattr(problem, "events", [])
    return {
        "strategy": problem.strategy, "metric": getattr(problem, "metric", None),
        "seed": problem.seed, "incumbent": repr(sorted(problem.incumbent.items())),
        "space": repr([(k, p.kind, p.low, p.high, p.choices) for k, p in space.items()]),
        "settings": repr(sorted((k, v) for k, v in cfg.model_dump().items()
                                if k not in NEUTRAL)),
        "events": len(events),
    }


class Checkpoint:
    """Reads and writes the checkpoint of one search in ``folder``."""

    def __init__(self, folder: Path, fp: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.path = self.folder / NAME
        self.fp = fp
        self.saves = 0

    def save(self, state: Any) -> None:
        """Write ``state`` atomically (module docstring)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump({"fingerprint": self.fp, "state": state}, fh,
                        protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)
        self.saves += 1

    def load(self) -> Any:
        """The saved state; a missing or foreign checkpoint is a clear error."""
        if not self.path.is_file():
            raise HeanError(f"--resume: no checkpoint in {self.folder} ({NAME} is missing)",
                            "run without --resume to start a new search in that folder")
        try:
            with open(self.path, "rb") as fh:
                data = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
            raise HeanError(f"--resume: cannot read {self.path}: {exc}",
                            "delete it and run without --resume") from exc
        old = data.get("fingerprint", {})
        diff = sorted(k for k in set(old) | set(self.fp) if old.get(k) != self.fp.get(k))
        if diff:
            raise HeanError(f"--resume: the checkpoint in {self.folder} is of another search "
                            f"(differs in: {', '.join(diff)})",
                            "resume with the same config, strategy, metric, parameters and "
                            "seed, or use another --out folder")
        return data["state"]
