"""The component kinds, described once.

Every other module reads :data:`KINDS`: the registry (base class, registration hook), the
config loader (YAML section, the kernel's common keys as a pydantic model), ``hean config
schema``, the scaffold and ``hean plugins new --kind`` (template, contract suite), the engine
(what to build from which section).

Common keys are the keys of a component's YAML section that the kernel reads itself
(``plugin``, ``enabled``, a strategy's ``symbols``/``executor``/``weight``/``min_rr``).  They are
models, so their bounds are checked by pydantic and appear in the JSON schema; a plugin whose
config model has a field named like one of them is refused at registration (the kernel would
take the value and the plugin would never see it).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from .components import (
    Analyzer,
    Component,
    Executor,
    Feed,
    Filter,
    Gate,
    Optimizer,
    Sizer,
    Strategy,
    Venue,
)


class CommonKeys(BaseModel):
    """Kernel keys of every component section."""

    model_config = ConfigDict(extra="ignore", strict=True)

    plugin: str | None = Field(None, description="registered component name (default: the "
                               "instance name)")
    enabled: bool = Field(True, description="false: the instance is not built")


class ListenerKeys(CommonKeys):
    """Kernel keys of a market listener (strategy, analyzer) section."""

    symbols: list[str] | None = Field(None, description="symbols this instance listens to "
                                      "(default: every symbol of the data section)")


class StrategyKeys(ListenerKeys):
    """Kernel keys of a strategy section."""

    executor: str | None = Field(None, description="executor instance for this strategy's "
                                 "orders (default: the first configured)")
    weight: float = Field(1.0, ge=0, description="share of capital without an allocator "
                          "(normalised over the strategies)")
    min_rr: float | None = Field(None, gt=0, description="minimum reward:risk the risk_limits "
                                 "gate requires of this strategy's signals")


@dataclass(frozen=True, slots=True)
class Kind:
    """One component kind."""

    name: str
    base: type[Component]
    hook: str
    #: top-level YAML section (None: the kind has its own place, e.g. ``venue:``, ``data:``)
    section: str | None
    common: type[CommonKeys]
    #: contract suite in :mod:`hean_framework.testing.contracts` (None: none yet)
    contract: str | None = None
    #: ``hean plugins new --kind`` can scaffold it
    scaffold: bool = False

    @property
    def reserved(self) -> frozenset[str]:
        """Keys the kernel takes out of this kind's sections."""
        return frozenset(self.common.model_fields)


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("strategy", Strategy, "hean_register_strategies", "strategies", StrategyKeys,
         "StrategyContract", True),
    Kind("analyzer", Analyzer, "hean_register_analyzers", "analyzers", ListenerKeys),
    Kind("filter", Filter, "hean_register_filters", "filters", CommonKeys, "FilterContract",
         True),
    Kind("sizer", Sizer, "hean_register_sizers", "sizers", CommonKeys, "SizerContract", True),
    Kind("gate", Gate, "hean_register_gates", "gates", CommonKeys, "GateContract", True),
    Kind("executor", Executor, "hean_register_executors", "executors", CommonKeys,
         "ExecutorContract", True),
    Kind("optimizer", Optimizer, "hean_register_optimizers", "optimizers", CommonKeys,
         "OptimizerContract", True),
    Kind("feed", Feed, "hean_register_feeds", None, CommonKeys),
    Kind("venue", Venue, "hean_register_venues", None, CommonKeys),
)}

#: YAML section -> kind, for the kinds listed in their own top-level section
SECTION_KINDS: dict[str, str] = {k.section: k.name for k in KINDS.values() if k.section}
#: registration hook -> kind
HOOK_KINDS: dict[str, str] = {k.hook: k.name for k in KINDS.values()}
#: kinds ``hean plugins new`` scaffolds
SCAFFOLD_KINDS: tuple[str, ...] = tuple(k.name for k in KINDS.values() if k.scaffold)
