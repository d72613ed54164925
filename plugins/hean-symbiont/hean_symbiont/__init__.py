"""Symbiont: a seeded genetic optimizer for HEAN strategies, scored by walk-forward backtests
with deflated-Sharpe and PBO checks (see the plugin's README.md)."""

from __future__ import annotations

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
    SymbiontProblem,
    make_folds,
    price_span,
    slice_events,
    symbiont_problem,
)

__all__ = [
    "Fold", "Scorecard", "SearchOutcome", "Study", "Symbiont", "SymbiontConfig",
    "SymbiontProblem", "SymbiontResult", "deflated_sharpe_ratio", "dsr_of",
    "expected_max_sharpe", "make_folds", "narrow_space", "omega", "pbo_cscv",
    "period_returns", "price_span", "scorecard", "search", "slice_events",
    "symbiont_problem", "wfa_efficiency",
]
