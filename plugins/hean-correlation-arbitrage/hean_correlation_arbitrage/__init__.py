"""CorrelationArbitrage: a pairs trade on the residual of a rolling OLS of two log prices."""

from .rolling import RollingPair
from .strategy import CorrelationArbitrage, CorrelationArbitrageConfig, Sample

__all__ = ["CorrelationArbitrage", "CorrelationArbitrageConfig", "RollingPair", "Sample"]
__version__ = "0.1.0"
