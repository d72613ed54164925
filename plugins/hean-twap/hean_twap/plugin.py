"""Entry point of the ``hean`` group: registers the executor (no side effects at import)."""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterComponent

from .executor import TwapConfig, TwapExecutor


@hookimpl
def hean_register_executors(register: RegisterComponent) -> None:
    """Register ``twap``."""
    register("twap", TwapExecutor, config=TwapConfig,
             description="large parents cut into seeded, jittered market slices over time")
