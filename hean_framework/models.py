"""Hot-path records: market events, signals, orders, fills, decisions, positions.

Every record is a slotted dataclass built positionally: no validation per event (validation
happens once, at the edges: feeds reject bad rows, config is pydantic).  Every record carries the
id of its cause so that a fill can be traced back to its order, decision, signal and the market
event that triggered the signal:

    market event (seq) -> Signal.cause_seq -> OrderDecision.signal_id -> Order.decision_id
    -> Fill.order_id

Times are integer milliseconds since the Unix epoch (UTC).  Sides are the strings ``"buy"`` and
``"sell"``; position sides are expressed by the sign of the quantity.

Serialization: :func:`to_json` / :func:`from_json` round-trip every record through orjson.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final, Literal, TypeVar

import orjson

BUY: Final = "buy"
SELL: Final = "sell"

Side = Literal["buy", "sell"]
DecisionKind = Literal["CREATE", "SKIP", "BLOCK"]

CREATE: Final = "CREATE"
SKIP: Final = "SKIP"
BLOCK: Final = "BLOCK"
#: order statuses after which an order can no longer fill
DONE_STATUSES: Final = frozenset(("filled", "cancelled", "rejected"))


def opposite(side: str) -> str:
    """Return the other side: ``buy`` -> ``sell`` and back."""
    return SELL if side == BUY else BUY


# --------------------------------------------------------------------------------------------
# Market events.  ``seq`` is assigned by the engine when the event is dispatched (0 before).
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Bar:
    """One OHLCV candle; ``ts`` is the candle *close* time (open time + interval).

    The engine dispatches a bar at its close time, so nothing in it is from the future.
    """

    ts: int
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    interval_ms: int = 0
    seq: int = 0
    kind: ClassVar[str] = "bar"

    @property
    def price(self) -> float:
        """The price a strategy acts on: the close."""
        return self.close


@dataclass(slots=True)
class Trade:
    """One public trade; ``side`` is the taker (aggressor) side."""

    ts: int
    symbol: str
    price: float
    size: float
    side: str
    trade_id: int = 0
    seq: int = 0
    kind: ClassVar[str] = "trade"


@dataclass(slots=True)
class Quote:
    """A change of the best bid/offer (BBO)."""

    ts: int
    symbol: str
    bid: float
    bid_size: float
    ask: float
    ask_size: float
    update_id: int = 0
    seq: int = 0
    kind: ClassVar[str] = "quote"

    @property
    def price(self) -> float:
        """Mid price."""
        return (self.bid + self.ask) * 0.5


@dataclass(slots=True)
class BookUpdate:
    """One L2 message: absolute sizes per level (size 0 removes the level).

    ``snapshot`` messages replace the whole book.  ``first_id``/``last_id``/``prev_id`` carry the
    exchange update ids so that gaps can be detected (spot: first_id == previous last_id + 1;
    futures: prev_id == previous last_id).
    """

    ts: int
    symbol: str
    snapshot: bool
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    first_id: int = 0
    last_id: int = 0
    prev_id: int = 0
    seq: int = 0
    kind: ClassVar[str] = "book"


@dataclass(slots=True)
class Funding:
    """A funding settlement of a perpetual: positive rate = longs pay shorts."""

    ts: int
    symbol: str
    rate: float
    mark_price: float = 0.0
    seq: int = 0
    kind: ClassVar[str] = "funding"


@dataclass(slots=True)
class MarkPrice:
    """Mark / index price update of a derivative."""

    ts: int
    symbol: str
    mark: float
    index: float = 0.0
    seq: int = 0
    kind: ClassVar[str] = "mark"


MarketEvent = Bar | Trade | Quote | BookUpdate | Funding | MarkPrice
MARKET_EVENT_TYPES: Final = (Bar, Trade, Quote, BookUpdate, Funding, MarkPrice)


# --------------------------------------------------------------------------------------------
# Trading records
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Signal:
    """A strategy's wish to trade.  The pipeline turns it into exactly one decision.

    ``size`` is optional: normally the sizers compute it from ``stop_loss`` and the budget.
    ``edge_bps`` is the strategy's expected favourable move net of nothing (gross alpha); when
    absent, gates derive it from ``take_profit`` and ``confidence``.
    ``reduce_only`` signals (exits) skip the sizers: their quantity is the position to close.
    """

    strategy_id: str
    symbol: str
    side: str
    ts: int
    entry_price: float
    stop_loss: float | None = None
    take_profit: float | None = None
    size: float | None = None
    confidence: float = 0.5
    urgency: float = 0.5
    order_type: str = "market"
    limit_price: float | None = None
    prefer_maker: bool = False
    min_maker_edge_bps: float | None = None
    edge_bps: float | None = None
    max_hold_ms: int | None = None
    reduce_only: bool = False
    size_multiplier: float = 1.0
    tag: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    signal_id: int = 0
    cause_seq: int = 0


@dataclass(slots=True)
class OrderDecision:
    """The one recorded outcome of a signal: CREATE, SKIP or BLOCK.

    Built by the pipeline and filled in stage by stage; every stage may add numbers (the cost
    breakdown, edge, sizes).  ``qty`` is the new position's size; ``close_qty`` is the opposite
    position of the same strategy that the order closes first (a reversal), so an executor sends
    ``qty + close_qty``.  ``stage`` names the stage that decided (``filter:spread``,
    ``sizer:risk``, ``gate:trade_gate``, ``executor:plain`` or ``pipeline`` for CREATE).
    """

    decision_id: int
    signal_id: int
    strategy_id: str
    symbol: str
    side: str
    ts: int
    decision: str = CREATE
    stage: str = "pipeline"
    reason_codes: list[str] = field(default_factory=list)
    message: str = ""
    price: float = 0.0
    qty_requested: float = 0.0
    qty_raw: float = 0.0
    qty: float = 0.0
    close_qty: float = 0.0
    notional: float = 0.0
    risk_amount: float = 0.0
    risk_allowed: float = 0.0
    budget: float = 0.0
    expected_edge_bps: float | None = None
    cost_bps: float | None = None
    cost_breakdown: dict[str, float] = field(default_factory=dict)
    required_edge_bps: float | None = None
    required_multiplier: float | None = None
    edge_cost_ratio: float | None = None
    maker_or_taker: str = ""
    regime: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    cause_seq: int = 0

    @property
    def created(self) -> bool:
        """True when the decision let an order through."""
        return self.decision == CREATE


@dataclass(slots=True)
class Order:
    """An order as the venue sees it.  ``status``: new, open, partially_filled, filled,
    cancelled, rejected."""

    order_id: int
    strategy_id: str
    symbol: str
    side: str
    qty: float
    order_type: str = "market"
    price: float | None = None
    post_only: bool = False
    reduce_only: bool = False
    ts: int = 0
    status: str = "new"
    filled: float = 0.0
    avg_price: float = 0.0
    fee: float = 0.0
    signal_id: int = 0
    decision_id: int = 0
    parent_id: int = 0
    client_id: str = ""
    exchange_id: str = ""
    reason: str = ""
    tag: str = ""
    arrival_ts: int = 0
    done_ts: int = 0
    queue_ahead: float = 0.0
    expected_price: float = 0.0

    @property
    def remaining(self) -> float:
        """Quantity not yet filled."""
        return self.qty - self.filled

    @property
    def is_done(self) -> bool:
        """True once the order can no longer fill."""
        return self.status in DONE_STATUSES


@dataclass(slots=True)
class Fill:
    """One execution.  ``fee`` is in the quote currency; negative = rebate received."""

    fill_id: int
    order_id: int
    strategy_id: str
    symbol: str
    side: str
    qty: float
    price: float
    fee: float
    is_maker: bool
    ts: int
    signal_id: int = 0
    expected_price: float = 0.0
    liquidity: str = ""


@dataclass(slots=True)
class Position:
    """Net position of one strategy in one symbol; ``qty`` > 0 long, < 0 short."""

    strategy_id: str
    symbol: str
    qty: float = 0.0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0
    funding: float = 0.0
    opened_ts: int = 0
    last_price: float = 0.0
    stop_loss: float | None = None
    take_profit: float | None = None
    max_hold_ms: int | None = None
    signal_id: int = 0

    @property
    def side(self) -> str:
        """``long``, ``short`` or ``flat``."""
        return "long" if self.qty > 0 else "short" if self.qty < 0 else "flat"


@dataclass(slots=True)
class ClosedTrade:
    """A round trip of one strategy in one symbol, from flat to flat."""

    strategy_id: str
    symbol: str
    side: str
    qty: float
    entry_price: float
    exit_price: float
    opened_ts: int
    closed_ts: int
    pnl: float
    fees: float
    funding: float
    reason: str = ""
    signal_id: int = 0

    @property
    def net_pnl(self) -> float:
        """PnL after fees and funding."""
        return self.pnl - self.fees + self.funding


# --------------------------------------------------------------------------------------------
# Serialization
# --------------------------------------------------------------------------------------------

RECORD_TYPES: Final[dict[str, type]] = {
    cls.__name__: cls
    for cls in (Bar, Trade, Quote, BookUpdate, Funding, MarkPrice, Signal, OrderDecision, Order,
                Fill, Position, ClosedTrade)
}

T = TypeVar("T")


def to_dict(record: Any) -> dict[str, Any]:
    """Return the record's fields as a plain dict (no copy of nested containers)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def to_json(record: Any) -> bytes:
    """Serialize a record with orjson, tagged with its type name."""
    return orjson.dumps({"type": type(record).__name__, **to_dict(record)})


def from_json(data: bytes | str, cls: type[T] | None = None) -> T:
    """Rebuild a record serialized by :func:`to_json`.

    Book levels come back as lists; they are turned into tuples again.
    """
    obj = orjson.loads(data)
    name = obj.pop("type", None)
    target: type = cls or RECORD_TYPES[str(name)]
    if target is BookUpdate:
        obj["bids"] = [tuple(x) for x in obj["bids"]]
        obj["asks"] = [tuple(x) for x in obj["asks"]]
    return target(**obj)  # type: ignore[no-any-return,unused-ignore]
