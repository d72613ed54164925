"""The kernel's strategy contract suite (registration, config model, determinism, unknown
parameters) in both modes.  The contract replays the kernel's bundled perpetual candles
alone: without the spot leg no pair forms, so no signal is expected there (the real-data tests
trade)."""

from __future__ import annotations

from typing import ClassVar

from hean_framework.testing import StrategyContract


class TestCashAndCarryContract(StrategyContract):
    plugin_name = "basis_arbitrage"
    plugin_module = "hean_basis_arbitrage.plugin"
    expects_signals = False


class TestPremiumContract(StrategyContract):
    plugin_name = "basis_arbitrage"
    plugin_module = "hean_basis_arbitrage.plugin"
    config: ClassVar[dict[str, object]] = {"mode": "premium"}
    expects_signals = False
