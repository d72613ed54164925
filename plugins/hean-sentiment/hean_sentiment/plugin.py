"""Entry point of the ``hean`` group (``sentiment``): registers the sentiment source (an
analyzer) and the sentiment strategy.

No side effects at import: importing :mod:`.facts` declares the ``sentiment`` fact (a pure
registration of its name, type and neutral default); no file is opened before ``on_start``.
"""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterComponent

from .source import SentimentSource, SentimentSourceConfig
from .strategy import SentimentStrategy, SentimentStrategyConfig


@hookimpl
def hean_register_analyzers(register: RegisterComponent) -> None:
    """Register ``sentiment_source``."""
    register("sentiment_source", SentimentSource, config=SentimentSourceConfig)


@hookimpl
def hean_register_strategies(register: RegisterComponent) -> None:
    """Register ``sentiment_strategy``."""
    register("sentiment_strategy", SentimentStrategy, config=SentimentStrategyConfig)
