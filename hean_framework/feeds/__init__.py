"""Builtin market-data feeds: CSV replay and in-memory replay.

Modules: :mod:`.config` (the ``data:`` section, file entries, interval and time notations),
:mod:`.rows` (file formats, row validation, time order, rejection counting), :mod:`.l2` (L2
messages and the shadow book), :mod:`.source` (one data file: columns, bar interval, checks
before the run - units, order, completeness - and its record stream),
:mod:`.csv_feed` (the ``csv`` feed: files merged by time, column blocks) and :mod:`.memory`
(the ``memory`` feed and bar columns).
"""

from __future__ import annotations

from .config import (
    KIND_ORDER,
    CsvFeedConfig,
    DataFile,
    MemoryFeedConfig,
    parse_interval,
    parse_time,
)
from .csv_feed import CsvFeed
from .memory import BarColumns, MemoryFeed, load_bar_columns
from .rows import REJECTION_REASONS

__all__ = [
    "KIND_ORDER", "REJECTION_REASONS", "BarColumns", "CsvFeed", "CsvFeedConfig", "DataFile",
    "MemoryFeed", "MemoryFeedConfig", "load_bar_columns", "parse_interval", "parse_time",
]
