"""The journal tables of the run's records: their layouts (from the model classes), the DDL of
a new journal file, and the record -> row functions the :class:`~hean_framework.journal.Journal`
buffers with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any, Final

import orjson

from .journal_schema import INDEXES, JSON_OPTS, STATIC_DDL, dumps_text, json_default
from .models import ClosedTrade, Fill, Order, OrderDecision, Position


def json_or_empty(value: Any, _dumps: Callable[..., bytes] = orjson.dumps) -> str:
    """:func:`dumps_text` with a fast path for empty containers (the common case)."""
    if not value:
        return "[]" if isinstance(value, list) else "{}" if isinstance(value, dict) else (
            dumps_text(value))
    try:
        return _dumps(value, default=json_default, option=JSON_OPTS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return dumps_text(value)


# --------------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------------


def _sql_type(annotation: Any) -> tuple[str, bool]:
    """(SQLite column type, is_json) for a dataclass field annotation (a string here)."""
    text = str(annotation).replace(" ", "")
    if text.startswith(("list", "dict", "tuple", "set")):
        return "TEXT", True
    if text.startswith(("int", "bool")):
        return "INTEGER", False
    if text.startswith("float"):
        return "REAL", False
    return "TEXT", False


def _tuple_getter(names: Sequence[str]) -> Callable[[Any], tuple[Any, ...]]:
    """``attrgetter`` that always returns a tuple (also for a single name)."""
    if len(names) == 1:
        single = attrgetter(names[0])
        return lambda obj: (single(obj),)
    return attrgetter(*names)


class Layout:
    """Column layout of one record table (derived from the record's dataclass, so a new model
    field gets a column) and the function turning a record into a row."""

    __slots__ = ("columns", "ddl", "getter", "insert_sql", "json_getter", "json_names",
                 "scalar_names")

    def __init__(self, table: str, record: type, key: Sequence[str] = (), *,
                 extra: Sequence[tuple[str, str]] = (), auto_id: bool = False) -> None:
        scalar: list[tuple[str, str]] = []
        js: list[str] = []
        for f in fields(record):
            sql_type, is_json = _sql_type(f.type)
            if is_json:
                js.append(f.name)
            else:
                scalar.append((f.name, sql_type))
        self.scalar_names = [n for n, _ in scalar]
        self.json_names = js
        cols = [*scalar, *extra, *((n, "TEXT") for n in js)]
        self.columns = [n for n, _ in cols]
        self.getter: Callable[[Any], tuple[Any, ...]] = _tuple_getter(self.scalar_names)
        self.json_getter: Callable[[Any], tuple[Any, ...]] | None = (
            _tuple_getter(js) if js else None)
        # Keyed tables replace on a repeated key; auto-id tables append (id assigned by SQLite).
        verb = "INSERT" if auto_id else "INSERT OR REPLACE"
        self.insert_sql = (f"{verb} INTO {table} ({', '.join(self.columns)}) "
                           f"VALUES ({', '.join('?' * len(self.columns))})")
        body = ", ".join(f"{n} {t}" for n, t in cols)
        if auto_id:
            self.ddl = f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, {body})"
        else:
            self.ddl = (f"CREATE TABLE IF NOT EXISTS {table} ({body}, "
                        f"PRIMARY KEY ({', '.join(key)}))")

    def json_part(self, record: Any) -> tuple[str, ...]:
        """The JSON text columns of ``record``."""
        if self.json_getter is None:
            return ()
        return tuple(map(json_or_empty, self.json_getter(record)))

    def row(self, record: Any) -> tuple[Any, ...]:
        """The full row of ``record``: scalar columns, then JSON columns."""
        if self.json_getter is None:
            return self.getter(record)
        return (*self.getter(record), *map(json_or_empty, self.json_getter(record)))


# --------------------------------------------------------------------------------------------
# The record tables
# --------------------------------------------------------------------------------------------


DECISIONS: Final = Layout("decisions", OrderDecision, ("decision_id",))
ORDERS: Final = Layout("orders", Order, ("order_id",))
FILLS: Final = Layout("fills", Fill, ("fill_id",))
POSITIONS: Final = Layout("positions", Position, ("ts", "strategy_id", "symbol"),
                          extra=(("ts", "INTEGER"),))
CLOSED: Final = Layout("closed_trades", ClosedTrade, extra=(("net_pnl", "REAL"),),
                       auto_id=True)

#: Every statement creating a journal's tables and indexes.  The secondary indexes exist from
#: the start: kept up per row by the writer (another core once the writer process runs) instead
#: of built at close, where the run waits for them.
DDL: Final = (*STATIC_DDL, DECISIONS.ddl, ORDERS.ddl, FILLS.ddl, POSITIONS.ddl, CLOSED.ddl,
              *INDEXES)

#: JSON text columns per table (decoded by the reader).
JSON_COLUMNS: Final[dict[str, frozenset[str]]] = {
    "decisions": frozenset(DECISIONS.json_names), "orders": frozenset(ORDERS.json_names),
    "fills": frozenset(FILLS.json_names), "positions": frozenset(POSITIONS.json_names),
    "closed_trades": frozenset(CLOSED.json_names), "events": frozenset({"payload"}),
    "manifest": frozenset({"value"}),
}


def _decision_row_fast(d: OrderDecision) -> tuple[Any, ...]:
    """Row of a decision with the JSON fields spelled out (the hottest journal call)."""
    return (*DECISIONS.getter(d), json_or_empty(d.reason_codes),
            json_or_empty(d.cost_breakdown), json_or_empty(d.details))


# Use the spelled-out version only while it matches the model's field order.
decision_row: Final = (
    _decision_row_fast
    if DECISIONS.json_names == ["reason_codes", "cost_breakdown", "details"]
    else DECISIONS.row)
