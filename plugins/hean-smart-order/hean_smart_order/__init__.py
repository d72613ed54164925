"""Smart order selection: market, maker limit (the kernel's maker chase) or skip, by net edge,
with an L2 slippage estimator."""

from .selector import REASONS, SmartOrderConfig, SmartOrderExecutor
from .slippage import SlippageConfig, SlippageEstimate, SlippageEstimator

__all__ = ["REASONS", "SlippageConfig", "SlippageEstimate", "SlippageEstimator",
           "SmartOrderConfig", "SmartOrderExecutor"]
__version__ = "0.1.0"
