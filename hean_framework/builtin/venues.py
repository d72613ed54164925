"""Builtin plugin: the venues shipped with the kernel (registered like any external plugin)."""

from __future__ import annotations

from typing import Any

from hean_framework import hookimpl
from hean_framework.execution.sim_venue import SimulatedVenue, SimVenueConfig
from hean_framework.live.config import LiveVenueConfig
from hean_framework.live.venue import BybitVenue


@hookimpl
def hean_register_venues(register: Any) -> None:
    """Register the simulated matching engine as venue ``sim`` and the live Bybit venue
    ``bybit``."""
    register("sim", SimulatedVenue, config=SimVenueConfig,
             description="simulated matching engine: latency, maker/taker fees, L2 book walk, "
                         "queue position and partial fills against recorded trades, "
                         "initial margin, liquidation and exchange size limits")
    register("bybit", BybitVenue, config=LiveVenueConfig,
             description="real orders on Bybit v5 through ccxt: idempotent client order ids, "
                         "private-stream updates with REST fallback, backoff on rate limits, "
                         "reconciliation and crash recovery (live runs; docs/live.md)")
