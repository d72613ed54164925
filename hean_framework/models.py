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

    ts: int  #: candle close time, ms (the time the engine dispatches it)
    symbol: str  #: unified symbol, e.g. ``BTC/USDT:USDT`` (perpetual) or ``BTC/USDT`` (spot)
    open: float  #: first price of the candle
    high: float  #: highest price of the candle
    low: float  #: lowest price of the candle
    close: float  #: last price of the candle; what ``ctx.market[symbol].last`` becomes
    volume: float  #: traded volume of the candle, in the units of the data source
    interval_ms: int = 0  #: candle length, ms (0 when the feed does not know it)
    #: run-wide sequence number, set by the engine when it dispatches the event (0 before);
    #: the ``cause_seq`` of the signals this event triggers
    seq: int = 0
    kind: ClassVar[str] = "bar"  #: event kind (a class constant, not a constructor argument)

    @property
    def price(self) -> float:
        """The price a strategy acts on: the close."""
        return self.close


@dataclass(slots=True)
class Trade:
    """One public trade; ``side`` is the taker (aggressor) side."""

    ts: int  #: exchange time of the trade, ms
    symbol: str  #: unified symbol
    price: float  #: trade price; what ``ctx.market[symbol].last`` becomes
    size: float  #: traded quantity (instrument units); added to ``SymbolState.trade_volume``
    side: str  #: taker side, ``buy`` or ``sell``
    trade_id: int = 0  #: exchange trade id (0 when the data has none)
    seq: int = 0  #: run-wide sequence number, set by the engine at dispatch (0 before)
    kind: ClassVar[str] = "trade"  #: event kind (a class constant, not a constructor argument)


@dataclass(slots=True)
class Quote:
    """A change of the best bid/offer (BBO)."""

    ts: int  #: exchange time of the change, ms
    symbol: str  #: unified symbol
    bid: float  #: best bid price
    bid_size: float  #: quantity resting at the best bid
    ask: float  #: best ask (offer) price
    ask_size: float  #: quantity resting at the best ask
    update_id: int = 0  #: exchange update id (0 when the data has none)
    seq: int = 0  #: run-wide sequence number, set by the engine at dispatch (0 before)
    kind: ClassVar[str] = "quote"  #: event kind (a class constant, not a constructor argument)

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

    ts: int  #: exchange time of the message, ms
    symbol: str  #: unified symbol
    snapshot: bool  #: True: the levels replace the whole book; False: a diff of levels
    bids: list[tuple[float, float]]  #: ``(price, size)`` bid levels; size 0 removes the level
    asks: list[tuple[float, float]]  #: ``(price, size)`` ask levels; size 0 removes the level
    first_id: int = 0  #: first exchange update id in this message (gap detection)
    last_id: int = 0  #: last exchange update id in this message (gap detection)
    prev_id: int = 0  #: futures: ``last_id`` of the previous message (gap detection)
    seq: int = 0  #: run-wide sequence number, set by the engine at dispatch (0 before)
    kind: ClassVar[str] = "book"  #: event kind (a class constant, not a constructor argument)


@dataclass(slots=True)
class Funding:
    """A funding settlement of a perpetual: positive rate = longs pay shorts."""

    ts: int  #: settlement time, ms
    symbol: str  #: unified symbol of the perpetual
    #: funding rate of the period (0.0001 = 1 bp); positive: longs pay shorts.  Becomes
    #: ``SymbolState.funding_rate``; the portfolio settles it on every open position
    rate: float
    mark_price: float = 0.0  #: mark price at settlement (0: unknown; else it sets ``mark``)
    seq: int = 0  #: run-wide sequence number, set by the engine at dispatch (0 before)
    kind: ClassVar[str] = "funding"  #: event kind (a class constant, not a constructor argument)


@dataclass(slots=True)
class MarkPrice:
    """Mark / index price update of a derivative."""

    ts: int  #: exchange time of the update, ms
    symbol: str  #: unified symbol of the derivative
    mark: float  #: mark price (becomes ``SymbolState.mark``)
    index: float = 0.0  #: index price (becomes ``SymbolState.index``; 0 when unknown)
    seq: int = 0  #: run-wide sequence number, set by the engine at dispatch (0 before)
    kind: ClassVar[str] = "mark"  #: event kind (a class constant, not a constructor argument)


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
    absent, the trade gate estimates it from ``take_profit`` and the spread (its default
    ``edge_source: signal_or_estimator``) and the ``maker_chase`` executor from
    ``take_profit`` x ``confidence``.
    ``reduce_only`` signals (exits) skip filters, sizers and gates: their quantity is the
    position to close.
    """

    strategy_id: str  #: the strategy instance (its YAML section name) that owns the signal
    symbol: str  #: unified symbol; the instruments must know it
    side: str  #: ``buy`` or ``sell``
    ts: int  #: when the strategy decided, ms; 0: the engine sets ``ctx.now``
    #: the price the strategy acts on (0: the market's current price); becomes the
    #: decision's ``price``, against which stops, sizes and costs are computed
    entry_price: float
    #: protective stop price (on the loss side of the entry); the risk sizers size from its
    #: distance; after the entry fills a reduce-only ``stop_market`` order rests there
    stop_loss: float | None = None
    #: target price; after the entry fills a reduce-only ``limit`` rests there; the trade
    #: gate's edge estimator and ``risk_limits``' reward:risk are computed from it
    take_profit: float | None = None
    #: explicit quantity in instrument units (> 0); None: the sizers compute it
    size: float | None = None
    #: how sure the strategy is, 0..1 (the strategy contract checks the range)
    confidence: float = 0.5
    #: 0..1: how much waiting for a maker fill costs the strategy; an exhausted
    #: ``maker_chase`` falls back to a taker order only at ``urgency >= min_urgency``
    urgency: float = 0.5
    order_type: str = "market"  #: ``market`` or ``limit`` (a limit needs ``limit_price``)
    limit_price: float | None = None  #: price of a ``limit`` order (also of quote legs)
    #: ask for a post-only (maker) entry; the trade gate sets it when it converts a taker
    #: request to maker
    prefer_maker: bool = False
    #: the least edge, bps, at which the strategy wants a maker entry; carried with the
    #: signal for plugin gates and executors (no built-in component reads it)
    min_maker_edge_bps: float | None = None
    #: expected favourable move, bps of the entry, before costs; the trade gate compares it
    #: with the round-trip cost (None: estimated, see above)
    edge_bps: float | None = None
    #: time stop, ms after the entry's first fill (an int > 0); also the holding time the
    #: cost engine charges funding for
    max_hold_ms: int | None = None
    #: an exit: closes (part of) the strategy's position, skips filters, sizers and gates
    reduce_only: bool = False
    #: scales the size the sizers compute (>= 0; the built-in sizers cap it, at 2.5 by
    #: default)
    size_multiplier: float = 1.0
    tag: str = ""  #: free label, copied to the signal's orders (``Order.tag``)
    #: free data for the strategy's own components; the kernel does not read it
    metadata: dict[str, Any] = field(default_factory=dict)
    signal_id: int = 0  #: set by the pipeline when it numbers the signal (leave 0)
    #: ``seq`` of the market event that triggered the signal (the engine sets it, leave 0)
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

    decision_id: int  #: id of this decision (run-wide, increasing)
    signal_id: int  #: the signal decided (0: what the strategy returned was not a signal)
    strategy_id: str  #: the strategy instance of the signal
    symbol: str  #: the signal's symbol
    side: str  #: the signal's side, ``buy`` or ``sell``
    ts: int  #: when it was decided (``ctx.now``), ms
    decision: str = CREATE  #: ``CREATE``, ``SKIP`` (not now) or ``BLOCK`` (refused)
    #: the stage that decided: ``validation``, ``filter:<name>``, ``sizer:<name>``,
    #: ``sizer:exchange`` (lot rounding / minimums), ``gate:<name>``, ``executor:<name>``,
    #: ``group`` (another leg was stopped), ``exit``
    stage: str = "pipeline"
    #: reason codes of the deciding stage (``ACCEPTED`` for a CREATE; every blocking gate's
    #: code when several gates vote)
    reason_codes: list[str] = field(default_factory=list)
    message: str = ""  #: the deciding stage's explanation, for people
    price: float = 0.0  #: reference price: the signal's ``entry_price``, else the market's
    qty_requested: float = 0.0  #: the signal's explicit ``size`` (0: none)
    qty_raw: float = 0.0  #: the sizers' quantity before lot rounding
    qty: float = 0.0  #: the new position's quantity, rounded down to the lot size
    #: the strategy's opposite position the order closes first (a reversal); an executor
    #: sends ``qty + close_qty``
    close_qty: float = 0.0
    notional: float = 0.0  #: ``qty`` x contract size x ``price``, quote currency
    #: what the rounded ``qty`` loses at the stop (``qty`` x contract size x stop distance)
    risk_amount: float = 0.0
    risk_allowed: float = 0.0  #: what the sizer allowed the trade to lose, quote currency
    budget: float = 0.0  #: the strategy's capital the sizer sized from (``ctx.budgets``)
    #: the edge the trade gate used, bps (the signal's ``edge_bps`` or the estimate)
    expected_edge_bps: float | None = None
    cost_bps: float | None = None  #: estimated round-trip cost, bps (trade gate)
    #: the cost by component (fee, spread, slippage, funding ...), bps (trade gate)
    cost_breakdown: dict[str, float] = field(default_factory=dict)
    required_edge_bps: float | None = None  #: ``cost_bps`` x ``required_multiplier``
    #: the cost multiple the edge had to reach (maker or taker multiplier, plus any boost)
    required_multiplier: float | None = None
    edge_cost_ratio: float | None = None  #: ``expected_edge_bps / cost_bps``
    #: how the entry was gated or sent: ``maker`` or ``taker`` ('' before the gate/executor)
    maker_or_taker: str = ""
    regime: str = ""  #: the symbol's ``regime`` fact when the signal was decided
    #: stage-specific numbers: the verdict's details, ``group_id``, ``orders`` sent,
    #: ``edge_source``, ``gate_reason_codes`` ...
    details: dict[str, Any] = field(default_factory=dict)
    cause_seq: int = 0  #: the signal's ``cause_seq``

    @property
    def created(self) -> bool:
        """True when the decision let an order through."""
        return self.decision == CREATE


@dataclass(slots=True)
class Order:
    """An order as the venue sees it.  ``status``: new, open, partially_filled, filled,
    cancelled, rejected."""

    order_id: int  #: id of the order (run-wide)
    strategy_id: str  #: the strategy instance whose position the order changes
    symbol: str  #: unified symbol
    side: str  #: ``buy`` or ``sell``
    qty: float  #: quantity, instrument units
    order_type: str = "market"  #: ``market``, ``limit`` or ``stop_market``
    price: float | None = None  #: limit / trigger price (None for a market order)
    post_only: bool = False  #: maker only: rejected (``post_only_would_cross``) if it crosses
    reduce_only: bool = False  #: may only reduce the position (exits, protective orders)
    ts: int = 0  #: when it was submitted, ms
    #: ``new``, ``open`` (resting), ``partially_filled``, ``filled``, ``cancelled``,
    #: ``rejected``
    status: str = "new"
    filled: float = 0.0  #: quantity filled so far
    avg_price: float = 0.0  #: average fill price (0 before the first fill)
    fee: float = 0.0  #: fees paid so far, quote currency (negative = rebate)
    signal_id: int = 0  #: the signal it executes (protective orders: the entry's signal)
    decision_id: int = 0  #: the decision it executes (0 for protective stop/target orders)
    parent_id: int = 0  #: the order it replaces (cancel-and-replace amend, re-quote) or 0
    client_id: str = ""  #: client order id sent to the exchange (``hean-<order_id>``)
    exchange_id: str = ""  #: the exchange's order id (live venues; '' in a backtest)
    #: why it was rejected or cancelled, ``"<code>: <details>"`` (e.g. ``requote``, ``oco``)
    reason: str = ""
    #: label: the signal's ``tag``, or the exit's (``SL_HIT``, ``TP_HIT``, ``TIMEOUT_TTL``)
    tag: str = ""
    arrival_ts: int = 0  #: when it reaches the venue (simulated latency), ms
    done_ts: int = 0  #: when it was filled, cancelled or rejected, ms (0 while live)
    #: simulated venue: quantity resting ahead of this limit order at its price
    queue_ahead: float = 0.0
    #: the price the decision expected (limit price or decision price); realized slippage
    #: is measured against it
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

    fill_id: int  #: id of the execution (run-wide)
    order_id: int  #: the order that filled
    strategy_id: str  #: the strategy instance whose position it changes
    symbol: str  #: unified symbol
    side: str  #: ``buy`` or ``sell``
    qty: float  #: quantity executed (> 0), instrument units
    price: float  #: execution price
    fee: float  #: fee, quote currency (negative = rebate received)
    is_maker: bool  #: True: the order rested (maker fee); False: it crossed (taker fee)
    ts: int  #: execution time, ms
    signal_id: int = 0  #: the signal of the order
    expected_price: float = 0.0  #: the order's ``expected_price`` (slippage reference)
    #: how the simulated venue filled it (``taker_book``, ``taker_quote``, ``taker_last``,
    #: ``taker_book_thin``, ``maker_trade_touch`` ...; '' when unknown)
    liquidity: str = ""


@dataclass(slots=True)
class Position:
    """Net position of one strategy in one symbol; ``qty`` > 0 long, < 0 short."""

    strategy_id: str  #: the strategy instance
    symbol: str  #: unified symbol
    qty: float = 0.0  #: signed quantity: > 0 long, < 0 short, 0 flat
    avg_price: float = 0.0  #: average entry price of the open quantity
    #: PnL realized by reductions of this round trip, before fees and funding
    realized_pnl: float = 0.0
    fees: float = 0.0  #: fees paid in this round trip, quote currency
    funding: float = 0.0  #: funding received in this round trip (negative = paid)
    opened_ts: int = 0  #: time of the fill that opened it, ms
    last_price: float = 0.0  #: price of the last fill
    stop_loss: float | None = None  #: the resting protective stop (from the entry signal)
    take_profit: float | None = None  #: the resting target (from the entry signal)
    max_hold_ms: int | None = None  #: the time stop (from the entry signal)
    signal_id: int = 0  #: the signal whose fill opened it

    @property
    def side(self) -> str:
        """``long``, ``short`` or ``flat``."""
        return "long" if self.qty > 0 else "short" if self.qty < 0 else "flat"


@dataclass(slots=True)
class ClosedTrade:
    """A round trip of one strategy in one symbol, from flat to flat."""

    strategy_id: str  #: the strategy instance
    symbol: str  #: unified symbol
    side: str  #: ``long`` or ``short`` (the position's side, not an order side)
    qty: float  #: quantity closed, instrument units
    entry_price: float  #: average entry price
    exit_price: float  #: average exit price
    opened_ts: int  #: time of the opening fill, ms
    closed_ts: int  #: time of the fill that made it flat, ms
    pnl: float  #: realized PnL before fees and funding, quote currency
    fees: float  #: fees paid, quote currency (negative = rebates)
    funding: float  #: funding received (negative = paid)
    #: ``flip`` when one fill reversed the position, else '' (the closing order's ``tag``
    #: says which exit it was)
    reason: str = ""
    signal_id: int = 0  #: the signal that opened the round trip

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
