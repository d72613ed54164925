"""Typed shared facts: what one component publishes for the others to read.

A fact is declared once by its owner as a :class:`FactKey` (name, type, owner, neutral
default)::

    REGIME = declare("regime", str, owner="analyzers", default="",
                     doc="market regime of a symbol (NORMAL, IMPULSE, RANGE, ...)")

and read or written through the run's :class:`Facts` registry (``ctx.facts``), per symbol
(``"*"`` = the whole market)::

    ctx.facts.set(REGIME, "IMPULSE", "BTC/USDT:USDT")     # an analyzer
    regime = ctx.facts.get(REGIME, "BTC/USDT:USDT")        # a strategy, a gate, the pipeline

Rules the registry keeps:

* reading a fact nobody published returns the key's neutral default (never ``KeyError``);
* writing checks the value against the key's declared type (``TypeError`` naming the fact and
  its owner) -- a wrong type is a bug in the writer, found where it happens, not later in a
  reader;
* a name is declared once per process; declaring it again with another type or owner is a
  :class:`~hean_framework.errors.PluginError` naming both owners (two plugins must not publish
  different things under one name).

Keys are compared by identity (the declared object), so ``get``/``set`` cost a dict lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar, cast

from .errors import PluginError

T = TypeVar("T")

#: the symbol under which market-wide facts live
MARKET = "*"


@dataclass(frozen=True, eq=False, slots=True)
class FactKey(Generic[T]):
    """One declared fact: its name, runtime type(s), owner and neutral default."""

    name: str
    type: type | tuple[type, ...]
    owner: str
    default: T
    doc: str = ""

    def __repr__(self) -> str:
        return f"FactKey({self.name!r}, owner={self.owner!r})"


_DECLARED: dict[str, FactKey[Any]] = {}


def declare(name: str, type_: type | tuple[type, ...], *, owner: str, default: T,
            doc: str = "") -> FactKey[T]:
    """Declare a fact (once per process; the same declaration again returns the same key)."""
    old = _DECLARED.get(name)
    if old is not None:
        if old.type == type_ and old.owner == owner:
            return cast(FactKey[T], old)
        raise PluginError(
            f"fact {name!r} is declared twice: by {old.owner!r} as {_type_name(old.type)} and "
            f"by {owner!r} as {_type_name(type_)}",
            "use the key its owner declared (import it) or choose another name")
    key = FactKey(name, type_, owner, default, doc)
    _DECLARED[name] = key
    return key


def declared() -> list[FactKey[Any]]:
    """Every fact declared in this process, by name (docs/plugin_api.md lists them)."""
    return [_DECLARED[n] for n in sorted(_DECLARED)]


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " | ".join(x.__name__ for x in t)
    return t.__name__


class Facts:
    """The run's fact registry: ``get(key, symbol)``, ``set(key, value, symbol)``."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: dict[FactKey[Any], dict[str, Any]] = {}

    def get(self, key: FactKey[T], symbol: str = MARKET) -> T:
        """The value published for ``symbol``, else the key's neutral default."""
        d = self._data.get(key)
        if d is None:
            return key.default
        return cast(T, d.get(symbol, key.default))

    def set(self, key: FactKey[T], value: T, symbol: str = MARKET) -> None:
        """Publish ``value`` for ``symbol``; raises :class:`TypeError` on a wrong type."""
        if not isinstance(value, key.type):
            raise TypeError(f"fact {key.name!r} (owner {key.owner!r}) takes "
                            f"{_type_name(key.type)}, got {type(value).__name__}: {value!r}")
        d = self._data.get(key)
        if d is None:
            d = self._data[key] = {}
        d[symbol] = value

    def has(self, key: FactKey[Any], symbol: str = MARKET) -> bool:
        """Whether someone published ``key`` for ``symbol``."""
        d = self._data.get(key)
        return d is not None and symbol in d

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """``{fact name: {symbol: value}}`` of everything published (a copy)."""
        return {k.name: dict(v) for k, v in self._data.items()}


EMPTY: Mapping[Any, Any] = MappingProxyType({})

# ---------------------------------------------------------------------- kernel-wide facts

REGIME: FactKey[str] = declare(
    "regime", str, owner="analyzers", default="",
    doc="market regime of a symbol as a regime analyzer names it (NORMAL, IMPULSE, RANGE, "
        "...); '' when no analyzer publishes one")
REGIME_CONFIDENCE: FactKey[float] = declare(
    "regime_confidence", (float, int), owner="analyzers", default=1.0,
    doc="confidence of the published regime, 0..1")
PHASE: FactKey[str] = declare(
    "phase", str, owner="analyzers", default="",
    doc="market phase of a symbol (accumulation, markup, distribution, markdown, ...)")
PHASE_CONFIDENCE: FactKey[float] = declare(
    "phase_confidence", (float, int), owner="analyzers", default=1.0,
    doc="confidence of the published phase, 0..1")
BUDGETS: FactKey[Mapping[str, float]] = declare(
    "budgets", Mapping, owner="builtin.risk:allocator", default=EMPTY,
    doc="strategy instance -> capital its sizers may risk from (quote currency); without it "
        "the engine splits equity by the strategies' weight keys")
MAKER_FILL_RATE: FactKey[float] = declare(
    "maker_fill_rate", float, owner="executors", default=-1.0,
    doc="maker orders that (partly) filled / maker orders posted, published by a maker "
        "executor (maker_chase); -1 before any post")
