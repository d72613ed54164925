"""hean-market-analyzers: shared market analyses for HEAN strategies, published as typed facts.

=====================  ==========================  ==========================================
component              class                       facts (per symbol unless noted)
=====================  ==========================  ==========================================
``regime_detector``    :class:`RegimeDetector`     kernel ``REGIME``, ``REGIME_CONFIDENCE``
``ofi_monitor``        :class:`OfiMonitor`         ``OFI``, ``OFI_SOURCE``
``price_anomaly``      :class:`PriceAnomalyDetector` ``ANOMALY``, ``ANOMALY_SCORE``,
                                                   ``ANOMALY_BLOCKED_UNTIL``,
                                                   ``ANOMALY_SIZE_MULTIPLIER``
``execution_edge``     :class:`ExecutionEdgeEstimator` ``EXECUTION_EDGE``
``multi_factor``       :class:`MultiFactorConfirmation` ``CONFIRMATION``
``edge_confirmation``  :class:`EdgeConfirmationLoop`  ``EDGE_CONFIRMATION`` (market-wide desk),
                                                   ``EDGE_CANDIDATES``
=====================  ==========================  ==========================================

The keys and their value types are in :mod:`hean_market_analyzers.facts`; the README has the
formulas, parameters and data each analyzer needs.
"""

from .confirmation import MultiFactorConfig, MultiFactorConfirmation
from .edge_confirmation import CandidateView, EdgeConfirmationConfig, EdgeConfirmationLoop
from .execution_edge import ExecutionEdgeConfig, ExecutionEdgeEstimator
from .facts import (
    ANOMALY,
    ANOMALY_BLOCKED_UNTIL,
    ANOMALY_SCORE,
    ANOMALY_SIZE_MULTIPLIER,
    CANDIDATE,
    CONFIRMATION,
    CONFIRMED,
    EDGE_CANDIDATES,
    EDGE_CONFIRMATION,
    EXECUTION_EDGE,
    FAMILIES,
    OFI,
    OFI_SOURCE,
    PASS_THROUGH,
    PENDING,
    Confirmation,
    EdgeConfirmationDesk,
    EdgeEstimate,
    family_of,
    regime_score,
)
from .ofi import OfiMonitor, OfiMonitorConfig, aggression, ofi_trend, predict_next_ticks
from .price_anomaly import PriceAnomalyConfig, PriceAnomalyDetector, is_blocked, size_multiplier
from .regime import RegimeDetector, RegimeDetectorConfig, RegimeFeatures

__all__ = [
    "ANOMALY", "ANOMALY_BLOCKED_UNTIL", "ANOMALY_SCORE", "ANOMALY_SIZE_MULTIPLIER", "CANDIDATE",
    "CONFIRMATION", "CONFIRMED", "EDGE_CANDIDATES", "EDGE_CONFIRMATION", "EXECUTION_EDGE",
    "FAMILIES", "OFI", "OFI_SOURCE", "PASS_THROUGH", "PENDING", "CandidateView", "Confirmation",
    "EdgeConfirmationConfig", "EdgeConfirmationDesk", "EdgeConfirmationLoop", "EdgeEstimate",
    "ExecutionEdgeConfig", "ExecutionEdgeEstimator", "MultiFactorConfig",
    "MultiFactorConfirmation", "OfiMonitor", "OfiMonitorConfig", "PriceAnomalyConfig",
    "PriceAnomalyDetector", "RegimeDetector", "RegimeDetectorConfig", "RegimeFeatures",
    "aggression", "family_of", "is_blocked", "ofi_trend", "predict_next_ticks",
    "regime_score", "size_multiplier",
]
