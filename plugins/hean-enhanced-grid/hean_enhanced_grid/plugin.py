"""Entry point of the ``hean`` group: registers the strategy (no side effects at import)."""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterComponent

from .config import EnhancedGridConfig
from .strategy import EnhancedGrid


@hookimpl
def hean_register_strategies(register: RegisterComponent) -> None:
    """Register ``enhanced_grid``."""
    register("enhanced_grid", EnhancedGrid, config=EnhancedGridConfig)
