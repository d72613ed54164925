"""Donchian-channel breakout: the idiomatic worked example of ``docs/writing_plugins.md``."""

from .strategy import Breakout, BreakoutConfig

__all__ = ["Breakout", "BreakoutConfig"]
__version__ = "0.1.0"
