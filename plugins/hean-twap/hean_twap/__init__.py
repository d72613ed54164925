"""TWAP executor: large parent orders cut into seeded, jittered time slices, linked to the
parent decision, aborted on a stop-trading state or an adverse move, with a per-parent report
(VWAP, participation, implementation shortfall)."""

from .executor import TwapConfig, TwapExecutor
from .parent import TwapParent
from .schedule import Merge, parent_rng, slice_offsets, slice_quantities

__all__ = ["Merge", "TwapConfig", "TwapExecutor", "TwapParent", "parent_rng", "slice_offsets",
           "slice_quantities"]
__version__ = "0.1.0"
