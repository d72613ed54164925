"""Entry point of the ``hean`` group (``market_analyzers``): registers the six analyzers.

No side effects at import: the facts are declared when :mod:`.facts` is imported (a pure
registration of names, types and defaults), nothing is opened or started.
"""

from __future__ import annotations

from hean_framework import Analyzer, ComponentConfig, hookimpl
from hean_framework.hookspecs import RegisterComponent

from .confirmation import MultiFactorConfig, MultiFactorConfirmation
from .edge_confirmation import EdgeConfirmationConfig, EdgeConfirmationLoop
from .execution_edge import ExecutionEdgeConfig, ExecutionEdgeEstimator
from .ofi import OfiMonitor, OfiMonitorConfig
from .price_anomaly import PriceAnomalyConfig, PriceAnomalyDetector
from .regime import RegimeDetector, RegimeDetectorConfig

#: component name -> (class, config model), in the order a run should list them
ANALYZERS: dict[str, tuple[type[Analyzer], type[ComponentConfig]]] = {
    "regime_detector": (RegimeDetector, RegimeDetectorConfig),
    "ofi_monitor": (OfiMonitor, OfiMonitorConfig),
    "price_anomaly": (PriceAnomalyDetector, PriceAnomalyConfig),
    "execution_edge": (ExecutionEdgeEstimator, ExecutionEdgeConfig),
    "multi_factor": (MultiFactorConfirmation, MultiFactorConfig),
    "edge_confirmation": (EdgeConfirmationLoop, EdgeConfirmationConfig),
}


@hookimpl
def hean_register_analyzers(register: RegisterComponent) -> None:
    """Register ``regime_detector``, ``ofi_monitor``, ``price_anomaly``, ``execution_edge``,
    ``multi_factor`` and ``edge_confirmation``."""
    for name, (cls, model) in ANALYZERS.items():
        register(name, cls, config=model)
