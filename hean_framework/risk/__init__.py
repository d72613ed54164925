"""The risk and capital core: sizer, allocator, in-flight tracker, governor, limits and the
capital plan.

Each module's docstring states its rules and defaults; ``docs/risk.md`` describes them together
(with the configuration keys) and notes where they deliberately differ from the original HEAN
risk layer.

Components (registered by :mod:`hean_framework.builtin.risk`):

==========  ================  =====================================================
kind        name              class
==========  ================  =====================================================
sizer       ``risk``          :class:`~hean_framework.risk.sizer.RiskSizer`
analyzer    ``allocator``     :class:`~hean_framework.risk.allocator.CapitalAllocator`
gate        ``inflight``      :class:`~hean_framework.risk.inflight.InFlightTracker`
gate        ``governor``      :class:`~hean_framework.risk.governor.RiskGovernor`
gate        ``risk_limits``   :class:`~hean_framework.risk.limits.RiskLimits`
command     ``capital-plan``  :func:`~hean_framework.risk.capital_plan.capital_plan`
==========  ================  =====================================================

Importing this package has no side effects.
"""

from __future__ import annotations

from .allocator import (
    PHASE_AFFINITY,
    AllocatorConfig,
    CapitalAllocator,
    initial_weights,
    project_capped_simplex,
    sortino,
)
from .governor import GovernorConfig, RiskGovernor
from .inflight import InFlightConfig, InFlightTracker
from .limits import RiskLimits, RiskLimitsConfig
from .sizer import RiskSizer, RiskSizerConfig

__all__ = [
    "PHASE_AFFINITY", "AllocatorConfig", "CapitalAllocator", "GovernorConfig",
    "InFlightConfig", "InFlightTracker", "RiskGovernor", "RiskLimits", "RiskLimitsConfig",
    "RiskSizer", "RiskSizerConfig", "initial_weights", "project_capped_simplex", "sortino",
]
