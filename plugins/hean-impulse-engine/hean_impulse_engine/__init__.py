"""hean-impulse-engine: momentum on short-horizon price impulses through an ordered gate
cascade (the ``impulse_engine`` strategy).  Rules and parameters: the plugin's README."""

from .facts import BRAIN, CONTEXT, ORACLE, BrainAnalysis, MarketContext, OraclePrediction
from .strategy import REASONS, ImpulseEngine, ImpulseEngineConfig

__all__ = [
    "BRAIN", "CONTEXT", "ORACLE", "REASONS", "BrainAnalysis", "ImpulseEngine",
    "ImpulseEngineConfig", "MarketContext", "OraclePrediction",
]
__version__ = "0.1.0"
