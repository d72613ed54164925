"""Entry point of the ``hean`` group: registers the strategy (no side effects at import)."""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterComponent

from .strategy import CorrelationArbitrage, CorrelationArbitrageConfig


@hookimpl
def hean_register_strategies(register: RegisterComponent) -> None:
    """Register ``correlation_arb``."""
    register("correlation_arb", CorrelationArbitrage, config=CorrelationArbitrageConfig)
