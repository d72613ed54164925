"""Progress of a search: generation, best fitness and the estimated time left.

On a terminal a rich progress bar (transient) shows ``fold 2/3 gen 5/25 best 0.812`` with the
share of generations done and the time left; elsewhere one line per generation goes to stderr
at most every ``every_s`` seconds.  The time left is the mean wall time of the generations run
so far times the generations left; a fold that stops early (stagnation) takes its remaining
generations off the total.  Progress never changes a result.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 \
        else f"{s // 60}:{s % 60:02d}"


class SearchProgress:
    """Shows the progress of ``folds`` x ``generations`` generations."""

    def __init__(self, folds: int, generations: int, *, stream: TextIO | None = None,
                 every_s: float = 10.0) -> None:
        from rich.console import Console

        self.folds = folds
        self.generations = generations
        self.total = folds * generations
        self.done = 0
        self.t0 = time.monotonic()
        self.every_s = every_s
        self._next = self.t0 + every_s
        self.out = stream if stream is not None else sys.stderr
        console = Console(file=self.out)
        self._bar: Any = None
        if console.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("symbiont {task.description}"), BarColumn(),
                                 TimeRemainingColumn(), console=console, transient=True)
            self._task = self._bar.add_task("", total=self.total)
            self._bar.start()

    def left_s(self) -> float | None:
        """Estimated seconds left (None before the first generation)."""
        if not self.done:
            return None
        per = (time.monotonic() - self.t0) / self.done
        return per * max(self.total - self.done, 0)

    def text(self, fold: int, gen: int, best: float) -> str:
        """``fold 2/3 gen 5/25 best 0.812, 40% done, about 1:23 left``."""
        left = self.left_s()
        return (f"fold {fold + 1}/{self.folds} gen {gen + 1}/{self.generations} best "
                f"{best:.4g}, {self.done / max(self.total, 1):.0%} done"
                + ("" if left is None else f", about {_clock(left)} left"))

    def generation(self, fold: int, gen: int, best: float, finished: bool) -> None:
        """Generation ``gen`` (0-based) of ``fold`` is scored; ``finished``: the fold's
        search ended after it."""
        self.done += 1
        if finished:
            self.total -= self.generations - gen - 1
        line = self.text(fold, gen, best)
        if self._bar is not None:
            self._bar.update(self._task, description=line, total=self.total,
                             completed=self.done)
            return
        now = time.monotonic()
        if now >= self._next or (finished and fold == self.folds - 1):
            self._next = now + self.every_s
            try:
                self.out.write(f"symbiont: {line}\n")
                self.out.flush()
            except (OSError, ValueError):
                pass

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
