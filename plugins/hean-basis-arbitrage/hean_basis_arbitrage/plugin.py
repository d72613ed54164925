"""Entry point of the ``hean`` group: registers the strategy (no side effects at import)."""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterComponent

from .config import BasisArbitrageConfig
from .strategy import BasisArbitrage


@hookimpl
def hean_register_strategies(register: RegisterComponent) -> None:
    """Register ``basis_arbitrage``."""
    register("basis_arbitrage", BasisArbitrage, config=BasisArbitrageConfig)
