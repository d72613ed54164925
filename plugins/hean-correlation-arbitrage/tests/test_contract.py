"""The kernel's strategy contract suite on ``correlation_arb`` (real BTC 5m sample bars):
registration and config model, well-formed and deterministic output, unknown parameters
ignored.  The sample has one symbol, so no pair sample (and no signal) is expected."""

from __future__ import annotations

from typing import ClassVar

from hean_framework.testing import StrategyContract


class TestCorrelationArbContract(StrategyContract):
    plugin_name = "correlation_arb"
    plugin_module = "hean_correlation_arbitrage.plugin"
    symbols: ClassVar[list[str]] = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    expects_signals = False
