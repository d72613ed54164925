"""The ``hean`` pytest plugin (entry point ``pytest11``): fixtures for plugin authors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ..context import RunContext
from ..plugins import HeanPluginManager


@pytest.fixture
def hean_plugins() -> HeanPluginManager:
    """A plugin manager with autoload off: only the kernel's builtin plugins."""
    from . import isolated_plugins

    return isolated_plugins()


@pytest.fixture
def hean_register() -> Iterator[Callable[..., HeanPluginManager]]:
    """Register plugin modules/objects for one test: ``pm = hean_register(my_module)``."""
    from . import isolated_plugins

    def register(*modules: Any, names: list[str] | None = None) -> HeanPluginManager:
        return isolated_plugins(*modules, names=names)

    yield register


@pytest.fixture
def hean_ctx() -> RunContext:
    """A RunContext with real Binance instruments, a portfolio and a fake engine; BTC at
    80,000 with a 0.2 USDT spread."""
    from . import make_context

    return make_context(price=80_000.0, bid=79_999.9, ask=80_000.1)
