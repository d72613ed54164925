"""Strategy styles: which generic risk rules a kind of strategy is exempt from, declared.

A strategy class declares what kind of trading it does with the class attribute
:attr:`~hean_framework.components.Strategy.style`; the kernel reads the exemptions of that
style from :data:`EXEMPTIONS` (one table, no special case elsewhere):

============  ==============================================================================
style         exempt from
============  ==============================================================================
directional   nothing: every rule applies (the default)
quoting       ``reward_risk`` (a resting quote has no take-profit/stop), ``one_position``
              (a market maker quotes a symbol another strategy holds), ``position_open`` (it
              quotes both sides whatever its inventory), ``daily_attempts`` (a requote is not
              an attempt), ``max_open_positions`` (inventory is limited by the strategy's own
              notional limit instead)
carry         ``reward_risk``: legs held for carry or convergence have no per-leg
              take-profit/stop; the group's own exit rule closes them
============  ==============================================================================

Everything else (validation, viability, cooldown after losses, the sizer's risk budget, the
exchange's minimums, the cost gate, margin) applies to every style.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

StrategyStyle = Literal["directional", "quoting", "carry"]
Rule = Literal["reward_risk", "one_position", "position_open", "daily_attempts",
               "max_open_positions"]

STYLES: Final[tuple[str, ...]] = get_args(StrategyStyle)
RULES: Final[tuple[str, ...]] = get_args(Rule)

EXEMPTIONS: Final[dict[str, frozenset[str]]] = {
    "directional": frozenset(),
    "quoting": frozenset({"reward_risk", "one_position", "position_open", "daily_attempts",
                          "max_open_positions"}),
    "carry": frozenset({"reward_risk"}),
}


def exempt(style: str, rule: Rule) -> bool:
    """True when strategies of ``style`` are exempt from ``rule``."""
    return rule in EXEMPTIONS.get(style, frozenset())
