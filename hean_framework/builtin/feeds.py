"""Builtin feeds: ``csv`` (streamed replay of recorded CSV files) and ``memory`` (the same files
loaded once into compact columns and replayed from memory, for optimizers and benchmarks).

Registered through the same hook as external plugins; importing this module has no side
effects.
"""

from __future__ import annotations

from .. import hookimpl
from ..feeds import CsvFeed, CsvFeedConfig, MemoryFeed, MemoryFeedConfig
from ..hookspecs import RegisterComponent


@hookimpl
def hean_register_feeds(register: RegisterComponent) -> None:
    """Register the ``csv`` and ``memory`` feeds.

    :param register: the registry's callback.
    """
    register("csv", CsvFeed, config=CsvFeedConfig,
             description="replay CSV/CSV.gz bars, trades, BBO, L2 and funding files merged by "
                         "time (streamed; bad rows rejected and counted)")
    register("memory", MemoryFeed, config=MemoryFeedConfig,
             description="like csv, but loaded once into compact columns and replayed from "
                         "memory (fast repeated replays)")
