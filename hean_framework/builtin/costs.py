"""Builtin cost-gating plugins: market filters, the trade gate, the maker chase executor and
the ``hean why`` command.  ``docs/small_capital.md`` describes them together; each rule is
stated in its module under :mod:`hean_framework.execution`.

Registered names:

* filters: ``no_tick_data``, ``stale_data``, ``missing_quote``, ``wide_spread``,
  ``invalid_spread``, ``thin_book``;
* gate: ``trade_gate``;
* executor: ``maker_chase``;
* command: ``why``.

``SmallCapitalSection`` validates the raw top-level ``small_capital:`` YAML section and
``SMALL_CAPITAL_DEFAULTS`` lists the components small-capital mode enables by default (section
name -> {instance: config}); :func:`small_capital_components` merges the two for the kernel.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .. import hookimpl
from ..execution.maker_chase import MakerChaseConfig, MakerChaseExecutor
from ..execution.market_filters import FILTERS
from ..execution.trade_gate import TradeGate, TradeGateConfig
from ..hookspecs import RegisterCommand, RegisterComponent, RegisterSection

__all__ = ["SMALL_CAPITAL_DEFAULTS", "SmallCapitalSection", "small_capital_active",
           "small_capital_components"]

#: What small-capital mode switches on when the YAML does not list these sections itself.
SMALL_CAPITAL_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "filters": {
        "no_tick_data": {},
        "stale_data": {"max_age_ms": 2_000},
        "missing_quote": {"require_quote": False},
        "wide_spread": {"max_spread_bps": 8.0},
        "invalid_spread": {"min_spread_bps": 0.1},
        "thin_book": {"depth_bps": 10.0, "depth_multiple": 3.0},
    },
    "gates": {
        "trade_gate": {"cost_edge_multiplier": 4.0, "taker_edge_multiplier": 8.0,
                       "allow_taker_if_edge_strong": False, "maker_only_default": True,
                       "min_notional_usd": 10.0},
    },
    "executors": {
        "maker_chase": {"chase_interval_ms": 2_000, "max_chases": 3, "max_chase_bps": 5.0},
    },
}


class SmallCapitalSection(BaseModel):
    """The top-level ``small_capital:`` YAML section.

    ``enabled: auto`` (default) turns small-capital mode on when ``account.capital`` is below
    ``account_below``.  ``filters``/``gates``/``executors`` override or extend
    :data:`SMALL_CAPITAL_DEFAULTS` per instance (``{instance: {...}}``; ``{enabled: false}``
    removes one).  Components listed in the run's own ``filters:``/``gates:``/``executors:``
    sections always win over these defaults.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool | Literal["auto"] = Field("auto", description="on, off, or auto (on below "
                                            "account_below)")
    account_below: float = Field(10_000.0, gt=0, description="auto: accounts smaller than "
                                 "this (quote currency) get small-capital mode")
    filters: dict[str, dict[str, Any]] = Field(default_factory=dict)
    gates: dict[str, dict[str, Any]] = Field(default_factory=dict)
    executors: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def default_components(self, config: Any) -> dict[str, dict[str, dict[str, Any]]]:
        """What small-capital mode adds to the run's component sections, listed or not (none
        when the mode is off for ``config.account.capital``).  The config loader merges it
        with the YAML's instances (:func:`hean_framework.config.section_entries`): the YAML's
        first, an instance of the same name overriding the default's settings, ``enabled:
        false`` removing one."""
        if small_capital_active(self, config.account.capital):
            return small_capital_components(self)
        return {}


def small_capital_active(section: SmallCapitalSection | dict[str, Any] | None,
                         capital: float) -> bool:
    """Whether small-capital mode applies to an account of ``capital``."""
    sec = section if isinstance(section, SmallCapitalSection) else \
        SmallCapitalSection.model_validate(section or {})
    if sec.enabled == "auto":
        return capital < sec.account_below
    return bool(sec.enabled)


def small_capital_components(section: SmallCapitalSection | dict[str, Any] | None
                             ) -> dict[str, dict[str, dict[str, Any]]]:
    """:data:`SMALL_CAPITAL_DEFAULTS` merged with the section's per-instance overrides."""
    sec = section if isinstance(section, SmallCapitalSection) else \
        SmallCapitalSection.model_validate(section or {})
    out = copy.deepcopy(SMALL_CAPITAL_DEFAULTS)
    for name in ("filters", "gates", "executors"):
        for inst, body in getattr(sec, name).items():
            if body.get("enabled") is False:
                out[name].pop(inst, None)
                continue
            out[name][inst] = {**out[name].get(inst, {}), **body}
    return out


@hookimpl
def hean_register_sections(register: RegisterSection) -> None:
    """Own the top-level ``small_capital:`` section."""
    register("small_capital", SmallCapitalSection)


@hookimpl
def hean_register_filters(register: RegisterComponent) -> None:
    """Register the market-data filters (:mod:`hean_framework.execution.market_filters`)."""
    for name, (cls, model, desc) in FILTERS.items():
        register(name, cls, config=model, description=desc)


@hookimpl
def hean_register_gates(register: RegisterComponent) -> None:
    """Register the cost gate (:mod:`hean_framework.execution.trade_gate`)."""
    register("trade_gate", TradeGate, config=TradeGateConfig,
             description="edge must cover cost x multiplier; maker-only by default")


@hookimpl
def hean_register_executors(register: RegisterComponent) -> None:
    """Register the maker limit chase executor (:mod:`hean_framework.execution.maker_chase`)."""
    register("maker_chase", MakerChaseExecutor, config=MakerChaseConfig,
             description="post-only at the touch, chase closer, give up or take")


@hookimpl
def hean_register_commands(register: RegisterCommand) -> None:
    """Register ``hean why``."""
    from ..why import why

    register(why)
