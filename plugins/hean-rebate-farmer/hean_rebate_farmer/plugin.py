"""Entry point of the ``hean`` group: registers the strategy (no side effects at import)."""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterComponent

from .strategy import RebateFarmer, RebateFarmerConfig


@hookimpl
def hean_register_strategies(register: RegisterComponent) -> None:
    """Register ``rebate_farmer``."""
    register("rebate_farmer", RebateFarmer, config=RebateFarmerConfig)
