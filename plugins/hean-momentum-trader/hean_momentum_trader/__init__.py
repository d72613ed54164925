"""MomentumTrader: trend following with a fast z-score and slow-trend agreement."""

from .strategy import MomentumTrader, MomentumTraderConfig

__all__ = ["MomentumTrader", "MomentumTraderConfig"]
__version__ = "0.1.0"
