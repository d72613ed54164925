"""Where the real market data lives.

The ``sample_data`` and ``shared_data`` fixtures come from the kernel's testing kit (the
``hean`` pytest plugin, :mod:`hean_framework.testing.pytest_plugin`); these constants are for
test modules that name the files at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
EXAMPLES = ROOT / "examples"
SAMPLE_DATA = EXAMPLES / "data"

# the fake Bybit exchange (an installed package in tox, far from this checkout) replays the
# shared ticks: tell it, and the child processes of the live tests, where they are
if SHARED_DATA.is_dir():
    os.environ.setdefault("HEAN_SHARED_DATA", str(SHARED_DATA))
