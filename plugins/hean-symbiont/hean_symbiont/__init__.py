"""Symbiont: a seeded genetic optimizer for HEAN strategies, scored by walk-forward backtests
with deflated-Sharpe and PBO checks (see the plugin's README.md)."""

from __future__ import annotations

from .backends import DaskBackend, ProcessBackend, SerialBackend, make_backend
from .checkpoint import Checkpoint
from .config import SymbiontConfig
from .fitness import Scorecard, period_returns, scorecard
from .ga import SearchOutcome, narrow_space, search
from .optimizer import Symbiont, SymbiontResult
from .stats import (
    deflated_sharpe_ratio,
    dsr_of,
    expected_max_sharpe,
    omega,
    pbo_cscv,
    wfa_efficiency,
)
from .walkforward import (
    Fold,
    Study,
    make_folds,
    price_span,
    slice_events,
)

__all__ = [
    "Checkpoint", "DaskBackend", "Fold", "ProcessBackend", "Scorecard", "SearchOutcome",
    "SerialBackend", "Study", "Symbiont", "SymbiontConfig", "SymbiontResult",
    "deflated_sharpe_ratio", "dsr_of", "expected_max_sharpe", "make_backend", "make_folds",
    "narrow_space", "omega", "pbo_cscv", "period_returns", "price_span", "scorecard",
    "search", "slice_events", "wfa_efficiency",
]
