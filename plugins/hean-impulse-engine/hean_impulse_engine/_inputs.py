"""The market analyzers' facts, when ``hean-market-analyzers`` is installed.

The impulse engine reads the regime from the kernel's ``REGIME`` key and, when the analyzers
plugin is importable, its OFI, price-anomaly, execution-edge, multi-factor and
edge-confirmation facts.  When it is not installed, :data:`ANALYZERS` is None and every gate
that reads those facts is skipped (passes), exactly as when the plugin is installed but no
analyzer publishes: the facts' neutral defaults let every gate pass.

Invariant: importing this module never fails and has no side effect beyond what importing
``hean_market_analyzers.facts`` does (declaring its fact keys).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["ANALYZERS"]


def _load() -> ModuleType | None:
    try:
        return importlib.import_module("hean_market_analyzers.facts")
    except ImportError:  # the optional dependency is not installed: neutral inputs
        return None


#: ``hean_market_analyzers.facts``, or None when that plugin is not installed
ANALYZERS: ModuleType | None = _load()
