"""InventoryNeutralMM: two-sided quotes while order flow is neutral, skewed by inventory."""

from .strategy import InventoryNeutralMM, InventoryNeutralMMConfig

__all__ = ["InventoryNeutralMM", "InventoryNeutralMMConfig"]
