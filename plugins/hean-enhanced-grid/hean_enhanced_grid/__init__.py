"""EnhancedGrid: a range grid of resting quotes with recycled levels, rebuilt on breakout."""

from .config import EnhancedGridConfig
from .ladder import GridPlan, Skipped, plan_grid
from .strategy import SKIP_REASONS, EnhancedGrid

__all__ = ["SKIP_REASONS", "EnhancedGrid", "EnhancedGridConfig", "GridPlan", "Skipped",
           "plan_grid"]
__version__ = "0.1.0"
