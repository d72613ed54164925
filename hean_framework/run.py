"""The result of a finished run: everything the report and ``hean why`` need."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .models import ClosedTrade, Position


@dataclass(slots=True)
class RunResult:
    """Numbers collected by the engine during a run (no metrics computed yet).

    ``equity_curve`` holds ``(ts, equity, gross_exposure_notional)`` samples taken at every
    fill and every ``report.equity_interval_ms``; ``funnel`` is built by the pipeline (see
    :meth:`hean_framework.pipeline.Pipeline.funnel`); ``sections`` carries optional blocks added
    by components (``risk``, ``allocation``, ``small_capital_mode`` ...).
    """

    run_name: str
    mode: str
    initial_capital: float
    start_ts: int
    end_ts: int
    events: int
    equity_curve: list[tuple[int, float, float]]
    closed_trades: list[ClosedTrade]
    fills: int
    fees: float
    funding: float
    turnover: float
    final_equity: float
    final_positions: list[Position]
    per_strategy: dict[str, dict[str, Any]]
    funnel: dict[str, Any]
    rejections: dict[str, int]
    config: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    recent_decisions: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: int = 0
    elapsed_s: float = 0.0
    out_dir: Path | None = None
