"""HEAN physics plugin: scale-free temperature, entropy and phase per symbol (the ``physics``
analyzer), the physics signal filter and the physics sizer.  See the README."""

from .analyzer import PhysicsAnalyzer, PhysicsConfig
from .facts import (
    ICE,
    NEUTRAL_PHYSICS,
    PHASES,
    PHYSICS,
    VAPOR,
    WATER,
    WATER_BEAR,
    WATER_BULL,
    PhysicsState,
)
from .filter import PhysicsFilter, PhysicsFilterConfig
from .sizer import PhysicsSizer, PhysicsSizerConfig

__all__ = [
    "ICE",
    "NEUTRAL_PHYSICS",
    "PHASES",
    "PHYSICS",
    "VAPOR",
    "WATER",
    "WATER_BEAR",
    "WATER_BULL",
    "PhysicsAnalyzer",
    "PhysicsConfig",
    "PhysicsFilter",
    "PhysicsFilterConfig",
    "PhysicsSizer",
    "PhysicsSizerConfig",
    "PhysicsState",
]
