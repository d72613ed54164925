"""Builtin feeds: ``csv`` (streamed replay of recorded CSV files), ``memory`` (the same files
loaded once into compact columns and replayed from memory, for optimizers and benchmarks),
``bybit`` (live Bybit market data for paper and live runs, :mod:`hean_framework.live.feed`)
and ``recorded`` (a paper or live session's events replayed exactly,
:mod:`hean_framework.live.replay`).

Registered through the same hook as external plugins; importing this module has no side
effects.
"""

from __future__ import annotations

from .. import hookimpl
from ..feeds import CsvFeed, CsvFeedConfig, MemoryFeed, MemoryFeedConfig
from ..hookspecs import RegisterComponent
from ..live.config import LiveFeedConfig
from ..live.feed import BybitFeed
from ..live.replay import RecordedFeed, RecordedFeedConfig


@hookimpl
def hean_register_feeds(register: RegisterComponent) -> None:
    """Register the ``csv`` and ``memory`` feeds, the live ``bybit`` feed and ``recorded``.

    :param register: the registry's callback.
    """
    register("csv", CsvFeed, config=CsvFeedConfig,
             description="replay CSV/CSV.gz bars, trades, BBO, L2 and funding files merged by "
                         "time (streamed; bad rows rejected and counted)")
    register("memory", MemoryFeed, config=MemoryFeedConfig,
             description="like csv, but loaded once into compact columns and replayed from "
                         "memory (fast repeated replays)")
    register("recorded", RecordedFeed, config=RecordedFeedConfig,
             description="replay a paper/live session's recorded/events.csv in the order the "
                         "engine got it, clock ticks included (the same decisions; "
                         "docs/live.md)")
    register("bybit", BybitFeed, config=LiveFeedConfig,
             description="live Bybit v5 market data through ccxt.pro: trades, L2 book with "
                         "sequence checks and resync, tickers (mark/index/funding), "
                         "staleness per symbol (paper and live runs; docs/live.md)")
