"""``strategies.basis_arbitrage``: the parameters (table with meanings in README.md).

Every number has both bounds declared, so the optimizer can search it
(:func:`hean_framework.optimize.space_of`) and the kernel's
:func:`hean_framework.params.apply_clamped` brings an update into range instead of refusing it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hean_framework import ComponentConfig
from hean_framework.execution.costs import CostConfig


def _cost() -> CostConfig:
    return CostConfig(include_funding=False)


class BasisArbitrageConfig(ComponentConfig):
    """Keys and defaults of ``strategies.basis_arbitrage`` (README.md has the table)."""

    mode: Literal["cash_and_carry", "premium"] = Field(
        "cash_and_carry", description="cash_and_carry: long spot + short perp as one order "
        "group; premium: the perpetual alone against its index (accounts without spot)")
    basis_window: int = Field(288, ge=12, le=8640, description="bars in the rolling mean of "
                              "the basis (the level it is expected to return to)")
    entry_annual: float = Field(0.20, ge=0.0, le=10.0, description="annualised net return "
                                "(after both legs' round-trip costs) needed to enter")
    expected_hold_h: float = Field(24.0, ge=1.0, le=720.0, description="hours the trade is "
                                   "expected to last: the funding counted and the annualisation")
    exit_bps: float = Field(1.0, ge=-50.0, le=50.0, description="converged: the basis is within "
                            "this many bp of its mean (on the entry's side)")
    max_hold_h: float = Field(72.0, ge=1.0, le=2160.0, description="exit both legs after this "
                              "many hours whatever the basis")
    funding_halflife: int = Field(3, ge=1, le=90, description="settlements: half-life of the "
                                  "EWMA of observed funding rates (the expected rate)")
    allow_reverse: bool = Field(False, description="also short spot + long perp when the perp "
                                "is cheap (needs venue.spot_margin: true; pays borrow)")
    borrow_rate_daily: float = Field(0.0002, ge=0.0, le=0.01, description="spot borrow rate "
                                     "per day counted for the reverse trade (as the venue's "
                                     "spot_borrow_rate)")
    notional_usdt: float = Field(300.0, ge=10.0, le=1_000_000.0, description="notional of "
                                 "each leg, quote currency")
    max_equity_fraction: float = Field(0.45, ge=0.01, le=1.0, description="cap of one leg's "
                                       "notional as a fraction of equity (the spot leg is "
                                       "paid in cash)")
    cooldown_h: float = Field(2.0, ge=0.0, le=48.0, description="hours between entries of one "
                              "base")
    max_entries_per_day: int = Field(4, ge=1, le=100, description="entries per UTC day, "
                                     "strategy-wide")
    premium_z_entry: float = Field(2.5, ge=0.5, le=10.0, description="premium mode: |z| of the "
                                   "premium needed to enter")
    premium_min: float = Field(0.002, ge=0.0, le=0.05, description="premium mode: |premium| "
                               "needed to enter (0.002 = 0.2 %)")
    premium_z_exit: float = Field(0.5, ge=0.0, le=5.0, description="premium mode: exit when "
                                  "|z| falls below this")
    premium_halflife_min: float = Field(60.0, ge=5.0, le=1440.0, description="premium mode: "
                                        "half-life of the EWMA mean and variance, minutes")
    premium_max_hold_h: float = Field(4.0, ge=0.1, le=72.0, description="premium mode: time "
                                      "stop, hours")
    premium_stop: float = Field(0.01, ge=0.001, le=0.1, description="premium mode: stop loss "
                                "distance (0.01 = 1 %)")
    cost: CostConfig = Field(default_factory=_cost, description="the kernel cost model used "
                             "for both legs' round trip (funding excluded: it is income here)")

    @model_validator(mode="after")
    def _check(self) -> BasisArbitrageConfig:
        if self.max_hold_h < 1.0:
            raise ValueError("max_hold_h must be at least 1 hour")
        if self.premium_z_exit >= self.premium_z_entry:
            raise ValueError(f"premium_z_exit ({self.premium_z_exit}) must be below "
                             f"premium_z_entry ({self.premium_z_entry})")
        return self
