"""The kernel's strategy contract suite on ``funding_harvester`` (real BTC 5m sample bars):
registration and config model, well-formed and deterministic signals, unknown parameters
ignored.  The sample has no funding settlements, so no signal is expected from bars alone."""

from __future__ import annotations

from typing import ClassVar

from hean_framework.testing import StrategyContract


class TestFundingHarvesterContract(StrategyContract):
    plugin_name = "funding_harvester"
    plugin_module = "hean_funding_harvester.plugin"
    symbols: ClassVar[list[str]] = ["BTC/USDT:USDT"]
    expects_signals = False
