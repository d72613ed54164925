"""Entry point of the ``hean`` group (``physics``): registers the ``physics`` analyzer, filter
and sizer.

No side effects at import: the fact is declared when :mod:`.facts` is imported (a pure
registration of its name, type and default), nothing is opened or started.
"""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterComponent

from .analyzer import PhysicsAnalyzer, PhysicsConfig
from .filter import PhysicsFilter, PhysicsFilterConfig
from .sizer import PhysicsSizer, PhysicsSizerConfig


@hookimpl
def hean_register_analyzers(register: RegisterComponent) -> None:
    """Register the ``physics`` analyzer."""
    register("physics", PhysicsAnalyzer, config=PhysicsConfig)


@hookimpl
def hean_register_filters(register: RegisterComponent) -> None:
    """Register the ``physics`` signal filter."""
    register("physics", PhysicsFilter, config=PhysicsFilterConfig)


@hookimpl
def hean_register_sizers(register: RegisterComponent) -> None:
    """Register the ``physics`` sizer."""
    register("physics", PhysicsSizer, config=PhysicsSizerConfig)
