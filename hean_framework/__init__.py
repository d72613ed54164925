"""HEAN: a plugin-based crypto trading framework for small accounts.

Public API for plugin authors::

    from hean_framework import hookimpl, Strategy, ComponentConfig, Signal
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

#: Marker for hook implementations: ``@hookimpl def hean_register_strategies(register): ...``
hookimpl = pluggy.HookimplMarker("hean")

from .components import (  # noqa: E402
    Analyzer,
    ComponentConfig,
    EmptyConfig,
    Executor,
    Feed,
    Filter,
    Gate,
    Optimizer,
    Sizer,
    Strategy,
    Venue,
    Verdict,
    block,
    skip,
)
from .models import (  # noqa: E402
    BLOCK,
    BUY,
    CREATE,
    SELL,
    SKIP,
    Bar,
    BookUpdate,
    Fill,
    Funding,
    Order,
    OrderDecision,
    Quote,
    Signal,
    Trade,
)

__all__ = [
    "BLOCK", "BUY", "CREATE", "SELL", "SKIP", "Analyzer", "Bar", "BookUpdate", "ComponentConfig",
    "EmptyConfig", "Executor", "Feed", "Fill", "Filter", "Funding", "Gate", "Optimizer", "Order",
    "OrderDecision", "Quote", "Signal", "Sizer", "Strategy", "Trade", "Venue", "Verdict",
    "__version__", "block", "hookimpl", "skip",
]
