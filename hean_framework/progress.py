"""Progress of a long run on the terminal (rich), refreshed every ``PROGRESS_EVERY`` events.

Nothing is shown when progress is off (``report.progress: false``) or stderr is not a
terminal (CI, pipes): the engine then gets no callback at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable

PROGRESS_EVERY = 1 << 15

ProgressFn = Callable[..., None]


def progress_bar(show: bool, what: str = "backtest") -> ProgressFn | None:
    """``update(events, data_ts, done=False)``, or None when nothing is to be shown."""
    if not show:
        return None
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    prog = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console, transient=True)
    task = prog.add_task(what, total=None)
    prog.start()

    def update(n: int, ts: int, done: bool = False) -> None:
        day = time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts / 1000)) if ts else ""
        prog.update(task, description=f"{what}: {n:,} events, data time {day} UTC")
        if done:
            prog.stop()

    return update
