"""hean-hf-scalping: the ``hf_scalping`` strategy (tick momentum, post-only at the touch).

The rules are in :mod:`hean_hf_scalping.strategy`; the README has the parameter table.
"""

from .strategy import FAMILIES, REASONS, HFScalping, HFScalpingConfig, family_of

__all__ = ["FAMILIES", "REASONS", "HFScalping", "HFScalpingConfig", "family_of"]
