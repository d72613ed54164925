"""Entry point of the ``hean`` group: registers the strategy (no side effects at import)."""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterComponent

from .strategy import InventoryNeutralMM, InventoryNeutralMMConfig


@hookimpl
def hean_register_strategies(register: RegisterComponent) -> None:
    """Register ``inventory_neutral_mm``."""
    register("inventory_neutral_mm", InventoryNeutralMM, config=InventoryNeutralMMConfig)
