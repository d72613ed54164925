"""Builtin market-data feeds: CSV replay and in-memory replay."""

from __future__ import annotations

from .csv_replay import (
    KIND_ORDER,
    REJECTION_REASONS,
    BarColumns,
    CsvFeed,
    CsvFeedConfig,
    DataFile,
    MemoryFeed,
    MemoryFeedConfig,
    load_bar_columns,
    parse_interval,
    parse_time,
)

__all__ = [
    "KIND_ORDER", "REJECTION_REASONS", "BarColumns", "CsvFeed", "CsvFeedConfig", "DataFile",
    "MemoryFeed", "MemoryFeedConfig", "load_bar_columns", "parse_interval", "parse_time",
]
