"""hean-sentiment: sentiment as typed facts, and a strategy that trades them.

==========================  ========  ===============================================
component                   kind      what it does
==========================  ========  ===============================================
``sentiment_source``        analyzer  reads recorded scored items (and, opt-in, a market
                                      proxy) and publishes :data:`SENTIMENT` per symbol
``sentiment_strategy``      strategy  trades fresh, confident readings of :data:`SENTIMENT`
==========================  ========  ===============================================

The plugin's README has the rules, the formulas and the parameter tables.
"""

from .aggregate import Aggregate, SourceSummary, SourceWindow, Thresholds, aggregate
from .facts import (
    BUY,
    HOLD,
    NEUTRAL_SENTIMENT,
    SELL,
    SENTIMENT,
    SentimentReading,
    asset_of,
)
from .items import Item, load_items
from .proxy import MarketProxy
from .source import SentimentSource, SentimentSourceConfig
from .strategy import SentimentStrategy, SentimentStrategyConfig

__all__ = [
    "BUY",
    "HOLD",
    "NEUTRAL_SENTIMENT",
    "SELL",
    "SENTIMENT",
    "Aggregate",
    "Item",
    "MarketProxy",
    "SentimentReading",
    "SentimentSource",
    "SentimentSourceConfig",
    "SentimentStrategy",
    "SentimentStrategyConfig",
    "SourceSummary",
    "SourceWindow",
    "Thresholds",
    "aggregate",
    "asset_of",
    "load_items",
]
__version__ = "0.1.0"
