"""``data.feed: recorded`` -- a paper or live session's event stream replayed exactly.

A session records (:class:`~hean_framework.live.recorder.Recorder`) every event the engine
was pushed, **in the order it was pushed** -- trades, book messages, quotes, funding and
mark/index updates interleaved as they arrived, whatever their kinds and timestamps -- and
every wall-clock tick that moved the engine's clock, to ``recorded/events.csv``.  One line
per record, ``kind,ts,symbol,...``:

==========  ====================================================================
``trade``   ``price,size,side``
``quote``   ``update_id,bid,bid_size,ask,ask_size``
``book``    ``snapshot(0/1),first_id,last_id,prev_id,bids,asks`` -- levels as
            ``price:size`` separated by spaces
``funding`` ``rate,mark_price``
``mark``    ``mark,index``
``clock``   (no symbol) the engine's clock was advanced to ``ts``
==========  ====================================================================

Numbers are written with ``repr`` (they read back bit for bit); timestamps are the ones the
engine saw (raised to its clock when the exchange's were older).

:class:`RecordedFeed` yields the events in that order and, at a ``clock`` line, advances the
run's clock exactly as the session's tick did (the timers due by then fire, then the clock
moves; :meth:`~hean_framework.engine.Engine.advance`) -- between the same two events as in
the session.  So the replay makes the same decisions as the session, timers and mark-price
callbacks included: decisions are a pure function of the event sequence, the clock
advances and the config.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from ..components import ComponentConfig, Feed
from ..errors import DataError
from ..models import BookUpdate, Funding, MarketEvent, MarkPrice, Quote, Trade

EVENTS_FILE = "events.csv"
HEADER = "kind,ts,symbol,fields..."


class RecordedFeedConfig(ComponentConfig):
    """``data: {feed: recorded, ...}``."""

    path: str = Field(EVENTS_FILE, description="the session's recorded/events.csv (relative "
                      "to the run config's directory)")
    symbols: list[str] = Field(default_factory=list, description="the session's symbols "
                               "(the run's instruments)")


def _levels(text: str) -> list[tuple[float, float]]:
    out = []
    for item in text.split():
        p, q = item.split(":")
        out.append((float(p), float(q)))
    return out


def levels_text(rows: list[tuple[float, float]]) -> str:
    """``price:size`` pairs separated by spaces (``repr`` numbers)."""
    return " ".join([f"{p!r}:{q!r}" for p, q in rows])


def parse(line: str) -> MarketEvent | int:
    """One record: the event, or the ``ts`` of a clock line."""
    f = line.rstrip("\n").split(",")
    kind, ts = f[0], int(f[1])
    if kind == "trade":
        return Trade(ts, f[2], float(f[3]), float(f[4]), f[5])
    if kind == "book":
        return BookUpdate(ts, f[2], f[3] == "1", _levels(f[7]), _levels(f[8]), int(f[4]),
                          int(f[5]), int(f[6]))
    if kind == "mark":
        return MarkPrice(ts, f[2], float(f[3]), float(f[4]))
    if kind == "quote":
        return Quote(ts, f[2], float(f[4]), float(f[5]), float(f[6]), float(f[7]), int(f[3]))
    if kind == "funding":
        return Funding(ts, f[2], float(f[3]), float(f[4]))
    if kind == "clock":
        return ts
    raise ValueError(f"unknown record kind {kind!r}")


def format_event(ev: Any) -> str | None:
    """The record line of an engine event (None for kinds the stream does not hold)."""
    t = type(ev)
    if t is Trade:
        return f"trade,{ev.ts},{ev.symbol},{ev.price!r},{ev.size!r},{ev.side}\n"
    if t is BookUpdate:
        return (f"book,{ev.ts},{ev.symbol},{int(ev.snapshot)},{ev.first_id},{ev.last_id},"
                f"{ev.prev_id},{levels_text(ev.bids)},{levels_text(ev.asks)}\n")
    if t is MarkPrice:
        return f"mark,{ev.ts},{ev.symbol},{ev.mark!r},{ev.index!r}\n"
    if t is Quote:
        return (f"quote,{ev.ts},{ev.symbol},{ev.update_id},{ev.bid!r},{ev.bid_size!r},"
                f"{ev.ask!r},{ev.ask_size!r}\n")
    if t is Funding:
        return f"funding,{ev.ts},{ev.symbol},{ev.rate!r},{ev.mark_price!r}\n"
    return None


class RecordedFeed(Feed):
    """Replays a session's ``events.csv`` (see the module docstring)."""

    config_model = RecordedFeedConfig
    config: RecordedFeedConfig

    def __init__(self, config: RecordedFeedConfig, ctx: Any, name: str = "") -> None:
        super().__init__(config, ctx, name)
        from ..config import resolve_path

        base = getattr(getattr(ctx, "config", None), "base_dir", None) or Path.cwd()
        self.path = resolve_path(config.path, base)
        if not self.path.is_file():
            raise DataError(f"data.path: no recorded session at {self.path}",
                            hint="point data.path at a session's recorded/events.csv")
        self.clock_moves = 0

    def events(self) -> Iterator[MarketEvent]:
        """The recorded events in order; clock lines advance the run's clock."""
        ctx = self.ctx
        with open(self.path, encoding="utf-8") as fh:
            next(fh, None)  # header
            for n, line in enumerate(fh, 2):
                try:
                    rec = parse(line)
                except (ValueError, IndexError) as exc:
                    raise DataError(f"{self.path}:{n}: bad record ({exc}): {line[:120]!r}",
                                    hint="the file is a session's recorded/events.csv; "
                                    "do not edit it") from exc
                if type(rec) is int:
                    if rec > ctx.now:  # Engine.advance: the timers due, then the clock
                        ctx.clock.run_due(rec)
                        ctx.now = rec
                        self.clock_moves += 1
                    continue
                yield rec  # type: ignore[misc]
