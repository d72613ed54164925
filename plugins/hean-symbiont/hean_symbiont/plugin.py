"""Entry module of the ``hean-symbiont`` distribution: registers the ``symbiont`` optimizer,
the ``symbiont_bridge`` analyzer (online re-optimisation) and the ``hean symbiont``
command."""

from __future__ import annotations

from hean_framework import hookimpl
from hean_framework.hookspecs import RegisterCommand, RegisterComponent

from .config import SymbiontConfig
from .optimizer import Symbiont


@hookimpl
def hean_register_optimizers(register: RegisterComponent) -> None:
    """Register ``symbiont``."""
    register("symbiont", Symbiont, config=SymbiontConfig)


@hookimpl
def hean_register_analyzers(register: RegisterComponent) -> None:
    """Register ``symbiont_bridge``."""
    from .bridge import BridgeConfig, SymbiontBridge

    register("symbiont_bridge", SymbiontBridge, config=BridgeConfig)


@hookimpl
def hean_register_commands(register: RegisterCommand) -> None:
    """Register ``hean symbiont``."""
    from .cli import symbiont

    register(symbiont)
