"""Fixtures of the enhanced_grid tests; the helpers are in ``grid_runs.py``.

The tests import ``grid_runs`` by name: pytest runs with ``--import-mode=importlib``, which
does not put a test folder on ``sys.path``, so this conftest (loaded first) does it for its
own folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from grid_runs import btc_1m, btc_run  # noqa: E402  (needs the path above)

__all__ = ["btc_1m", "btc_run"]
