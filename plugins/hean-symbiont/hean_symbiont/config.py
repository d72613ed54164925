"""``optimizers.symbiont``: the settings of the genetic search, the fitness, the walk-forward
and the promotion rule (the table in the plugin's README lists them with their meaning)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from hean_framework import ComponentConfig


class DaskSettings(ComponentConfig):
    """``optimizers.symbiont.dask``: where the Dask backend runs."""

    address: str | None = Field(None, description="scheduler address (tcp://host:8786); "
                                                  "empty: start a LocalCluster")
    n_workers: int = Field(2, ge=1, le=256, description="workers of the LocalCluster started "
                                                        "when address is empty")
    processes: bool = Field(True, description="LocalCluster workers are processes (false: "
                                              "threads of this process)")
    retries: int = Field(2, ge=0, le=10, description="times a task that raised is run again")
    connect_timeout_s: float = Field(10.0, gt=0.0, le=600.0,
                                     description="seconds to wait for the scheduler")


class SymbiontConfig(ComponentConfig):
    """``optimizers.symbiont``: keys and defaults (table in the plugin's README.md)."""

    # ---------------------------------------------------------------- the genetic algorithm
    population: int = Field(30, ge=4, le=1000, description="individuals per generation")
    generations: int = Field(25, ge=1, le=1000,
                             description="generations at most, the first (random) one included")
    tournament_k: int = Field(3, ge=2, le=50,
                              description="individuals drawn per tournament; the fittest "
                                          "becomes a parent")
    elitism: int = Field(2, ge=0, le=100,
                         description="best individuals copied unchanged into the next "
                                     "generation")
    crossover_p: float = Field(0.5, ge=0.0, le=1.0,
                               description="uniform crossover: probability that a gene comes "
                                           "from the second parent")
    mutation_p: float = Field(0.15, ge=0.0, le=1.0,
                              description="probability that a gene mutates")
    mutation_sigma: float = Field(0.10, gt=0.0, le=1.0,
                                  description="Gaussian mutation: standard deviation as a "
                                              "fraction of the gene's range")
    patience: int = Field(5, ge=1, le=1000,
                          description="stop after this many generations without a better "
                                      "best")
    bounds: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description="narrower [low, high] for numeric parameters (inside the strategy "
                    "model's own bounds)")

    # ---------------------------------------------------------------- where backtests run
    backend: Literal["local", "dask"] = Field(
        "local", description="local: a process pool on this machine; dask: a Dask "
                             "distributed cluster (dask.address or a LocalCluster)")
    workers: int = Field(0, ge=0, le=256,
                         description="local processes (0: one per CPU core; 1: in the calling "
                                     "process)")
    dask: DaskSettings = Field(default_factory=DaskSettings,
                               description="the Dask backend's settings")

    # ---------------------------------------------------------------- walk-forward
    walk_forward: Literal["anchored", "rolling", "off"] = Field(
        "anchored", description="folds over the data's time span; off: the genetic search "
                                "maximises the problem's own evaluate (no folds, no "
                                "composite fitness)")
    folds: int = Field(3, ge=1, le=20, description="walk-forward folds (out-of-sample "
                                                   "segments)")
    in_sample_segments: int = Field(2, ge=1, le=50,
                                    description="segments in the first fold's in-sample "
                                                "window (the span is cut into folds + this "
                                                "many equal segments)")

    # ---------------------------------------------------------------- the composite fitness
    period_minutes: int = Field(60, ge=1, le=1440,
                                description="grid of the per-period returns (Omega, Sortino, "
                                            "walk-forward efficiency, DSR, PBO)")
    wfa_min_periods: int = Field(60, ge=2, le=100_000,
                                 description="walk-forward efficiency: periods in the first "
                                             "in-sample part")
    wfa_oos_periods: int = Field(30, ge=2, le=100_000,
                                 description="walk-forward efficiency: periods per "
                                             "out-of-sample part")
    min_trades_per_week: float = Field(20.0, ge=0.0, le=1_000_000.0,
                                       description="fitness 0 with fewer closed trades per "
                                                   "7 days of the window")
    max_drawdown: float = Field(0.15, gt=0.0, le=1.0,
                                description="fitness 0 with a deeper drawdown (fraction of "
                                            "the peak)")
    w_wfa: float = Field(0.4, ge=0.0, le=10.0, description="weight of the walk-forward "
                                                           "efficiency")
    w_calmar: float = Field(0.2, ge=0.0, le=10.0, description="weight of min(Calmar / 3, 1)")
    w_omega: float = Field(0.2, ge=0.0, le=10.0, description="weight of min((Omega - 1) / 4, "
                                                             "1)")
    w_sortino: float = Field(0.2, ge=0.0, le=10.0, description="weight of min(Sortino / 3, "
                                                               "1)")

    # ---------------------------------------------------------------- promotion
    dsr_min: float = Field(0.95, ge=0.0, le=1.0,
                           description="refuse a candidate whose deflated Sharpe ratio is "
                                       "lower")
    pbo_max: float = Field(0.5, ge=0.0, le=1.0,
                           description="refuse a candidate whose probability of backtest "
                                       "overfitting is higher")
    pbo_blocks: int = Field(8, ge=2, le=20,
                            description="CSCV: even number of time blocks the returns are "
                                        "cut into")
    min_improvement: float = Field(0.10, ge=0.0, le=10.0,
                                   description="the candidate's out-of-sample fitness must "
                                               "beat the incumbent's by this fraction")

    @model_validator(mode="after")
    def _check(self) -> SymbiontConfig:
        if self.elitism >= self.population:
            raise ValueError(f"elitism ({self.elitism}) must be below population "
                             f"({self.population})")
        if self.pbo_blocks % 2:
            raise ValueError(f"pbo_blocks ({self.pbo_blocks}) must be even")
        if self.w_wfa + self.w_calmar + self.w_omega + self.w_sortino <= 0.0:
            raise ValueError("at least one fitness weight (w_wfa, w_calmar, w_omega, "
                             "w_sortino) must be positive")
        for name, (low, high) in self.bounds.items():
            if not (math.isfinite(low) and math.isfinite(high)) or low > high:
                raise ValueError(f"bounds.{name}: [{low}, {high}] is not a finite range "
                                 "with low <= high")
        return self
