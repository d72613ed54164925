"""``strategies.enhanced_grid``: the config model (bounds = validation and optimizer space).

Every number carries ``ge``/``le`` bounds: the YAML is refused outside them (with the YAML path
and the bound) and the optimizer searches exactly these ranges (``spacing_pct``
[0.0008, 0.003] and ``levels_per_side`` [5, 15] are the grid's intended search ranges).
``min_range_pct`` must stay below ``max_range_pct``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from hean_framework import ComponentConfig


class EnhancedGridConfig(ComponentConfig):
    """``strategies.enhanced_grid``."""

    range_bars: int = Field(100, ge=20, le=2000,
                            description="bars whose highest high and lowest low make the range "
                                        "(the bar that just closed included)")
    min_range_pct: float = Field(0.005, ge=0.001, le=0.02,
                                 description="build only when (high - low) / mid is at least "
                                             "this")
    max_range_pct: float = Field(0.03, ge=0.01, le=0.2,
                                 description="build only when (high - low) / mid is at most this")
    levels_per_side: int = Field(10, ge=5, le=15,
                                 description="levels wanted below and above the centre (levels "
                                             "outside the range or under the exchange minimum "
                                             "are not placed)")
    spacing_pct: float = Field(0.0012, ge=0.0008, le=0.003,
                               description="smallest distance between levels, as a fraction of "
                                           "the centre")
    max_inventory_pct: float = Field(0.5, ge=0.05, le=3.0,
                                     description="notional of one side's levels together (the "
                                                 "largest inventory the grid can hold), as a "
                                                 "fraction of the strategy budget per symbol")
    min_level_notional: float = Field(10.0, ge=0.0, le=100_000.0,
                                      description="smallest order value of a level besides the "
                                                  "exchange minimum (10: the small-capital "
                                                  "trade gate's minimum)")
    rebuild_wait_bars: int = Field(5, ge=0, le=1000,
                                   description="bars after a breakout before a new grid may be "
                                               "built")
    retry_bars: int = Field(10, ge=1, le=1000,
                            description="bars before a quote the pipeline refused is proposed "
                                        "again (and before a range whose levels all fall "
                                        "under the minimum is checked again)")
    confidence: float = Field(0.5, ge=0.05, le=1.0,
                              description="confidence carried by the quote legs")

    @model_validator(mode="after")
    def _range_order(self) -> EnhancedGridConfig:
        if self.min_range_pct >= self.max_range_pct:
            raise ValueError(f"min_range_pct ({self.min_range_pct}) must be below "
                             f"max_range_pct ({self.max_range_pct})")
        return self
