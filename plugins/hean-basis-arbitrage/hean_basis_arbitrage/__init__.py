"""hean-basis-arbitrage: a two-leg spot/perpetual cash-and-carry (see README.md)."""

from .config import BasisArbitrageConfig
from .strategy import BasisArbitrage

__all__ = ["BasisArbitrage", "BasisArbitrageConfig"]
