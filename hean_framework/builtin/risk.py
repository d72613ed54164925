"""Builtin risk plugins: the ``risk`` sizer, the ``allocator`` analyzer, the ``inflight``,
``governor`` and ``risk_limits`` gates and the ``capital-plan`` command.

Registered through the same hooks as external plugins (disable with
``plugins.disabled: [builtin.risk]``).  Importing this module has no side effects.
"""

from __future__ import annotations

from .. import hookimpl
from ..hookspecs import RegisterCommand, RegisterComponent, RegisterSection
from ..risk.allocator import AllocatorConfig, CapitalAllocator
from ..risk.capital_plan import RiskSection, capital_plan
from ..risk.governor import GovernorConfig, RiskGovernor
from ..risk.inflight import InFlightConfig, InFlightTracker
from ..risk.limits import RiskLimits, RiskLimitsConfig
from ..risk.sizer import RiskSizer, RiskSizerConfig


@hookimpl
def hean_register_sections(register: RegisterSection) -> None:
    """Own the top-level ``risk:`` section."""
    register("risk", RiskSection)


@hookimpl
def hean_register_sizers(register: RegisterComponent) -> None:
    """Register the ``risk`` position sizer."""
    register("risk", RiskSizer, config=RiskSizerConfig,
             description="risk_pct of the strategy budget per stop distance, bounded "
                         "multipliers and caps; never up-sizes")


@hookimpl
def hean_register_gates(register: RegisterComponent) -> None:
    """Register the ``inflight``, ``governor`` and ``risk_limits`` gates."""
    register("inflight", InFlightTracker, config=InFlightConfig,
             description="in-flight reservations with TTL and fair slot access")
    register("governor", RiskGovernor, config=GovernorConfig,
             description="drawdown states NORMAL/SOFT_BRAKE/QUARANTINE/HARD_STOP, killswitch, "
                         "symbol quarantine, error rate")
    register("risk_limits", RiskLimits, config=RiskLimitsConfig,
             description="open positions, one per symbol, daily attempts, loss lockout, R:R")


@hookimpl
def hean_register_analyzers(register: RegisterComponent) -> None:
    """Register the ``allocator`` capital allocator."""
    register("allocator", CapitalAllocator, config=AllocatorConfig,
             description="strategy budgets: reserve, bounds, hybrid performance/phase "
                         "rebalancing")


@hookimpl
def hean_register_commands(register: RegisterCommand) -> None:
    """Register ``hean capital-plan``."""
    register(capital_plan)
