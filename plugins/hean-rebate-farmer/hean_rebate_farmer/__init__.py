"""RebateFarmer: deep passive quotes beyond the touch, for maker rebates and mean reversion."""

from .strategy import RebateFarmer, RebateFarmerConfig

__all__ = ["RebateFarmer", "RebateFarmerConfig"]
