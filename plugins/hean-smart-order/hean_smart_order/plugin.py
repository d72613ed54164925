"""Entry point of the ``hean`` group: registers the executor (no side effects at import)."""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterComponent

from .selector import SmartOrderConfig, SmartOrderExecutor


@hookimpl
def hean_register_executors(register: RegisterComponent) -> None:
    """Register ``smart_order``."""
    register("smart_order", SmartOrderExecutor, config=SmartOrderConfig,
             description="market, maker chase or skip by net edge; L2 slippage estimate")
