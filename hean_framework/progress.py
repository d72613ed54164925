"""Progress of a long run: a bar on a terminal (rich), a line on stderr elsewhere.

The engine calls ``update(events, data_ts)`` every ``PROGRESS_EVERY`` events and
``update(events, data_ts, done=True)`` at the end; nothing is called when progress is off
(``report.progress: false``, ``hean backtest --no-progress``).

* On a terminal: a transient bar with the events, the data time, and -- once the data's time
  span is known -- the percentage of that span replayed and the estimated time left.
* Without a terminal (CI, pipes, ``2> log``): one line on stderr at most every
  ``LINE_EVERY_S`` (10) seconds of wall time, never per event, e.g.
  ``backtest: 41% of the data (1,245,184 events, data time 2025-03-21 04:10 UTC), 0:12
  elapsed, about 0:17 left``.  A run shorter than that prints nothing.

The span comes from :func:`data_span`: the first and last timestamp of the feed's price files
(bars, trades, BBO, L2; funding settlements beyond the prices are not counted), clipped to
``data.start``/``data.end``.  Reading the last timestamp of a ``.gz`` file means
decompressing it, so the span is computed once, in a background thread started with the
first update (on a terminal) or when the first line is due (elsewhere); until it is known the
progress shows no percentage.  The run's results never depend on it.
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

PROGRESS_EVERY = 1 << 15
#: seconds of wall time between two progress lines without a terminal
LINE_EVERY_S = 10.0
#: file kinds whose rows are prices (the run's span); funding is left out
PRICE_KINDS = frozenset({"bars", "trades", "bbo", "l2"})
#: bytes read from the end of a file for its last timestamp
TAIL_BYTES = 1 << 16

ProgressFn = Callable[..., None]
Span = tuple[int, int]

__all__ = ["LINE_EVERY_S", "PROGRESS_EVERY", "ProgressFn", "Span", "data_span", "progress_bar"]


def progress_bar(show: bool, what: str = "backtest", *,
                 span: Span | Callable[[], Span | None] | None = None,
                 stream: TextIO | None = None, every_s: float = LINE_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> ProgressFn | None:
    """``update(events, data_ts, done=False)``, or None when progress is off.

    ``span`` is the data's ``(first_ts, last_ts)`` or a function computing it (called once,
    in a background thread); ``stream`` defaults to stderr.
    """
    if not show:
        return None
    from rich.console import Console

    out = stream if stream is not None else sys.stderr
    console = Console(file=out)
    tracker = _Tracker(span, clock)
    if console.is_terminal:
        return _terminal(console, what, tracker)
    return _lines(out, what, tracker, every_s)


def _terminal(console: Any, what: str, tracker: _Tracker) -> ProgressFn:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

    prog = Progress(SpinnerColumn(), BarColumn(bar_width=10), TextColumn("{task.description}"),
                    console=console, transient=True)
    task = prog.add_task(what, total=None)
    prog.start()

    def update(n: int, ts: int, done: bool = False) -> None:
        tracker.begin()
        frac = tracker.fraction(ts)
        if frac is None:
            prog.update(task, description=tracker.short(what, n, ts, frac))
        else:
            prog.update(task, description=tracker.short(what, n, ts, frac), total=1000,
                        completed=int(frac * 1000))
        if done:
            prog.stop()

    return update


def _lines(out: TextIO, what: str, tracker: _Tracker, every_s: float) -> ProgressFn:
    state = {"next": tracker.t0 + every_s, "printed": 0}

    def update(n: int, ts: int, done: bool = False) -> None:
        now = tracker.clock()
        if done:
            if state["printed"]:
                _write(out, f"{what}: done, {n:,} events in "
                            f"{_duration(now - tracker.t0)}")
            return
        if now < state["next"]:
            return
        tracker.begin()
        state["next"] = now + every_s
        state["printed"] += 1
        _write(out, tracker.text(what, n, ts, tracker.fraction(ts), elapsed=True))

    return update


def _write(out: TextIO, line: str) -> None:
    try:
        out.write(line + "\n")
        out.flush()
    except (OSError, ValueError):  # a closed or broken stderr never stops the run
        pass


class _Tracker:
    """Wall time since the start and the data span (computed once, in the background)."""

    def __init__(self, span: Span | Callable[[], Span | None] | None,
                 clock: Callable[[], float]) -> None:
        self.clock = clock
        self.t0 = clock()
        self._source = span if callable(span) else None
        self.span: Span | None = None if callable(span) else span
        self._started = False

    def begin(self) -> None:
        """Start computing the span (once)."""
        if self._started or self._source is None:
            return
        self._started = True
        source = self._source

        def work() -> None:
            try:
                self.span = source()
            except Exception:  # the progress display must never fail the run
                self.span = None

        threading.Thread(target=work, name="hean-progress-span", daemon=True).start()

    def fraction(self, ts: int) -> float | None:
        """Share of the span replayed at data time ``ts`` (None: unknown)."""
        span = self.span
        if span is None or not ts or span[1] <= span[0]:
            return None
        return min(1.0, max(0.0, (ts - span[0]) / (span[1] - span[0])))

    def text(self, what: str, n: int, ts: int, frac: float | None,
             elapsed: bool = False) -> str:
        day = time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts / 1000)) if ts else "-"
        wall = self.clock() - self.t0
        head = f"{what}: " + (f"{frac:.0%} of the data (" if frac is not None else "")
        body = f"{n:,} events, data time {day} UTC" + (")" if frac is not None else "")
        tail = f", {_duration(wall)} elapsed" if elapsed else ""
        if frac is not None and frac > 0.0:
            tail += f", about {_duration(wall * (1.0 - frac) / frac)} left"
        return head + body + tail


    def short(self, what: str, n: int, ts: int, frac: float | None) -> str:
        """The terminal bar's text (within 80 columns beside the bar)."""
        day = time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts / 1000)) if ts else "-"
        wall = self.clock() - self.t0
        text = f"{what} " + (f"{frac:.0%} " if frac is not None else "")
        text += f"{day} UTC, {n:,} events, {_duration(wall)}"
        if frac is not None and frac > 0.0:
            text += f", ETA {_duration(wall * (1.0 - frac) / frac)}"
        return text


def _duration(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:05``."""
    s = int(max(0.0, seconds) + 0.5)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# ---------------------------------------------------------------------------- the data span


def data_span(feed: Any) -> Span | None:
    """``(first_ts, last_ts)`` of the price data ``feed`` replays (data time, ms), or None.

    The CSV feed's files are read at their first rows and their last 64 KiB (a ``.gz`` file
    is decompressed to its end); the memory feed's columns are already in memory.  Bars count
    at their close (open + interval), as the engine sees them.  ``data.start``/``data.end``
    clip the result.
    """
    if feed is None:
        return None
    lo: int | None = None
    hi: int | None = None
    for first, last in _spans(feed):
        lo = first if lo is None else min(lo, first)
        hi = last if hi is None else max(hi, last)
    if lo is None or hi is None:
        return None
    start, end = getattr(feed, "start", None), getattr(feed, "end", None)
    if isinstance(start, int):
        lo = max(lo, start)
    if isinstance(end, int):
        hi = min(hi, end)
    return (lo, hi) if hi > lo else None


def _spans(feed: Any) -> list[Span]:
    out: list[Span] = []
    for src in getattr(feed, "_sources", None) or ():  # CsvFeed: one Source per file
        if getattr(src, "kind", None) not in PRICE_KINDS:
            continue
        got = file_span(Path(src.path), int(src.cols["timestamp"]))
        if got is not None:
            shift = int(getattr(src, "interval_ms", 0) or 0)
            out.append((got[0] + shift, got[1] + shift))
    store = getattr(feed, "_store", None)  # MemoryFeed: columns, ts first
    if store is not None:
        for col in (store.bars.ts, store.trades[0], store.quotes[0]):
            if len(col):
                out.append((int(col[0]), int(col[-1])))
    return out


def file_span(path: Path, ts_col: int = 0) -> Span | None:
    """The first and last readable timestamps of a CSV (plain or gzip) file, or None."""
    from .feeds.rows import open_text

    first = None
    with open_text(path) as fh:
        next(fh, None)  # header
        for _, line in zip(range(200), fh, strict=False):
            first = _ts(line, ts_col)
            if first is not None:
                break
    if first is None:
        return None
    with path.open("rb") as raw:
        gz = raw.read(2) == b"\x1f\x8b"
        if not gz:
            raw.seek(0, 2)
            raw.seek(max(0, raw.tell() - TAIL_BYTES))
            tail = raw.read()
    if gz:
        tail = b""
        with gzip.open(path, "rb") as z:
            while chunk := z.read1(1 << 20):
                tail = (tail + chunk)[-TAIL_BYTES:]
    for line in reversed(tail.decode("utf-8", "replace").splitlines()[1:]):
        last = _ts(line, ts_col)
        if last is not None:
            return first, max(first, last)
    return first, first


def _ts(line: str, col: int) -> int | None:
    from .feeds.rows import to_ms

    try:
        return to_ms(line.split(",")[col].strip())
    except (ValueError, IndexError, OverflowError):
        return None
