"""LiquiditySweep: fades stop runs through round-number and session levels."""

from .levels import Sessions, round_interval, round_levels_between
from .strategy import FAMILIES, SKIP_REASONS, LiquiditySweep, LiquiditySweepConfig

__all__ = ["FAMILIES", "SKIP_REASONS", "LiquiditySweep", "LiquiditySweepConfig", "Sessions",
           "round_interval", "round_levels_between"]
__version__ = "0.1.0"
