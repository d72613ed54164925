"""Simulated venue: book walking, trade-driven limit fills, queue, latency, validation."""

from __future__ import annotations

import csv
import gzip
import itertools
from pathlib import Path
from typing import Any

import pytest

from hean_framework.book import OrderBook
from hean_framework.context import RunContext
from hean_framework.execution.sim_venue import SimulatedVenue, SimVenueConfig
from hean_framework.instruments import Instruments
from hean_framework.models import Bar, BookUpdate, Fill, Order, Quote, Trade
from hean_framework.portfolio import Portfolio

SYM = "BTC/USDT:USDT"
L2 = "orderbook/binance_usdm_perp_BTCUSDT_l2_20240808.csv.gz"
TRADES = "trades/binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz"
BARS = "ohlcv/binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz"


# ------------------------------------------------------------------ helpers


class RecordingSink:
    """An execution sink that records venue callbacks and books fills in the portfolio (like
    the engine's order router)."""

    def __init__(self, portfolio: Portfolio) -> None:
        self.portfolio = portfolio
        self.fills: list[Fill] = []
        self.updates: list[tuple[int, str]] = []

    def on_fill(self, fill: Fill, order: Order) -> None:
        assert fill.order_id == order.order_id
        self.fills.append(fill)
        self.portfolio.apply_fill(fill)

    def on_order_update(self, order: Order) -> None:
        self.updates.append((order.order_id, order.status))


def make_venue(**cfg: Any) -> tuple[SimulatedVenue, RunContext, RecordingSink]:
    ctx = RunContext(config=None)
    ctx.instruments = Instruments.load("binance")
    ctx.portfolio = Portfolio(10_000.0, ctx.instruments, ctx.market)
    sink = RecordingSink(ctx.portfolio)
    ctx.sink = sink
    venue = SimulatedVenue(SimVenueConfig(**cfg), ctx)
    return venue, ctx, sink


_oid = itertools.count(1000)


def order(side: str, qty: float, price: float | None = None, **kw: Any) -> Order:
    kw.setdefault("order_type", "market" if price is None else "limit")
    return Order(next(_oid), "s1", kw.pop("symbol", SYM), side, qty, price=price,
                 expected_price=kw.pop("expected_price", 0.0), **kw)


def snapshot(shared_data: Path) -> BookUpdate:
    """The first L2 snapshot of the real Binance USD-M BTCUSDT file."""
    bids: list[tuple[float, float]] = []
    asks: list[tuple[float, float]] = []
    ts = last_id = 0
    with gzip.open(shared_data / L2, "rt") as fh:
        for row in csv.DictReader(fh):
            if row["action"] != "snapshot":
                break
            ts, last_id = int(row["timestamp"]), int(row["last_update_id"])
            (bids if row["side"] == "bid" else asks).append((float(row["price"]),
                                                             float(row["size"])))
    return BookUpdate(ts, SYM, True, bids, asks, 0, last_id)


def real_book(ctx: RunContext, shared_data: Path) -> tuple[OrderBook, BookUpdate]:
    snap = snapshot(shared_data)
    book = OrderBook(SYM)
    book.apply(snap)
    st = ctx.market[SYM]
    st.book = book
    st.bid, st.bid_size, st.ask, st.ask_size = book.bid, book.bid_size, book.ask, book.ask_size
    st.last = book.bid
    ctx.now = snap.ts
    return book, snap


def real_trades(shared_data: Path, n: int = 3000) -> list[Trade]:
    with gzip.open(shared_data / TRADES, "rt") as fh:
        return [Trade(int(r["timestamp"]), SYM, float(r["price"]), float(r["size"]), r["side"],
                      int(r["trade_id"]))
                for r in itertools.islice(csv.DictReader(fh), n)]


def feed(venue: SimulatedVenue, ctx: RunContext, event: Any) -> None:
    """What the engine does per event: clock, market state, then the venue."""
    ctx.now = max(ctx.now, event.ts)
    st = ctx.market[event.symbol]
    if isinstance(event, Trade):
        st.last = event.price
    elif isinstance(event, Bar):
        st.last = event.close
    elif isinstance(event, Quote):
        st.bid, st.bid_size, st.ask, st.ask_size = (event.bid, event.bid_size, event.ask,
                                                    event.ask_size)
    venue.on_market(event)


# ------------------------------------------------------------------ market orders


def test_market_order_walks_the_real_book(shared_data: Path) -> None:
    venue, ctx, engine = make_venue()
    _, snap = real_book(ctx, shared_data)
    qty = 12.5  # deeper than the best level (2.5 BTC) on 2024-08-08
    asks = sorted(snap.asks)
    left, cost = qty, 0.0
    for p, s in asks:  # independent walk of the snapshot rows
        take = min(s, left)
        cost += take * p
        left -= take
        if left <= 0:
            break
    expected = cost / qty
    assert expected > asks[0][0]  # it really walked several levels
    o = venue.submit(order("buy", qty, expected_price=asks[0][0]))
    assert o.status == "filled" and o.filled == qty
    (f,) = engine.fills
    assert f.price == pytest.approx(expected, rel=1e-12)
    assert not f.is_maker and f.liquidity == "taker_book"
    assert f.fee == pytest.approx(qty * expected * 0.0004, rel=1e-12)  # binance taker 4 bp
    assert f.expected_price == asks[0][0] and f.ts == snap.ts
    assert engine.updates == [(o.order_id, "filled")]
    assert ctx.portfolio.net_qty(SYM) == pytest.approx(qty)
    # sell side walks the bids down
    venue.submit(order("sell", 0.5))
    assert engine.fills[-1].price == pytest.approx(max(snap.bids)[0])


def test_market_order_larger_than_the_book(shared_data: Path) -> None:
    venue, ctx, engine = make_venue()
    _, snap = real_book(ctx, shared_data)
    depth = sum(s for _, s in snap.asks)
    worst = max(p for p, _ in snap.asks)
    qty = ctx.instruments.get(SYM).round_qty(depth + 100)
    venue.submit(order("buy", qty))
    f = engine.fills[-1]
    assert f.qty == qty and f.liquidity == "taker_book_thin"
    vwap_book = sum(p * s for p, s in snap.asks) / depth
    assert f.price == pytest.approx((vwap_book * depth + worst * (qty - depth)) / qty)


def test_market_order_quote_and_last_fallbacks() -> None:
    venue, ctx, engine = make_venue(slippage_bps=2.0)
    st = ctx.market[SYM]
    o = venue.submit(order("buy", 0.01))
    assert o.status == "rejected" and o.reason.startswith("no_price:")
    st.last = 60000.0
    venue.submit(order("buy", 0.01))
    assert engine.fills[-1].price == pytest.approx(60000 * 1.0002)
    assert engine.fills[-1].liquidity == "taker_last"
    venue.submit(order("sell", 0.01))
    assert engine.fills[-1].price == pytest.approx(60000 * 0.9998)
    st.bid, st.ask, st.bid_size, st.ask_size = 59999.9, 60000.1, 1.0, 1.0
    venue.submit(order("buy", 0.01))
    assert engine.fills[-1].price == 60000.1 and engine.fills[-1].liquidity == "taker_quote"
    venue2, ctx2, _ = make_venue(market_fill="book")
    ctx2.market[SYM].last = 60000.0
    rej = venue2.submit(order("buy", 0.01))
    assert rej.reason.startswith("no_price:") and "no L2 book" in rej.reason


# ------------------------------------------------------------------ limit orders on trades


def test_limit_buy_fills_only_when_a_real_trade_goes_through(shared_data: Path) -> None:
    venue, ctx, engine = make_venue()
    trades = real_trades(shared_data, 4000)
    # the first new low at least 2 ticks below every earlier trade (trade #3225, 61799.7,
    # after ~3200 trades that never went below 61799.9)
    low = trades[0].price
    j = 0
    for k, t in enumerate(trades):
        if k > 20 and t.price < low - 0.15:
            j = k
            break
        low = min(low, t.price)
    assert j, "no new low in the first trades"
    limit = ctx.instruments.get(SYM).round_price(low - 0.1)
    assert trades[j].price < limit < low
    ctx.now = trades[0].ts
    ctx.market[SYM].last = trades[0].price
    o = venue.submit(order("buy", 0.5, limit))
    assert o.status == "open" and o.queue_ahead == 0.0
    assert engine.updates == [(o.order_id, "open")]
    closest = min(t.price - limit for t in trades[:j])
    assert closest == pytest.approx(0.1)  # trades came within one tick ...
    for t in trades[:j]:
        feed(venue, ctx, t)
    assert engine.fills == [] and o.filled == 0  # ... but never through: no fill
    feed(venue, ctx, trades[j])  # the first trade through the price
    f = engine.fills[0]
    assert f.price == limit and f.is_maker and f.liquidity == "maker_trade_through"
    assert f.qty == pytest.approx(min(0.5, trades[j].size))
    assert f.fee == pytest.approx(f.qty * limit * 0.0002)  # binance maker 2 bp
    for t in trades[j + 1:]:
        feed(venue, ctx, t)
        if o.is_done:
            break
    assert o.status == "filled" and sum(x.qty for x in engine.fills) == pytest.approx(0.5)
    assert all(x.price == limit and x.is_maker for x in engine.fills)
    assert engine.updates[-1] == (o.order_id, "filled")
    assert venue.open_orders() == []


def test_queue_ahead_and_partial_fills_at_the_touch(shared_data: Path) -> None:
    venue, ctx, engine = make_venue()
    book, _ = real_book(ctx, shared_data)
    bid, bid_size = book.bid, book.bid_size  # 61800.2 x 2.909 in the real snapshot
    o = venue.submit(order("buy", 0.5, bid))
    assert o.status == "open" and o.queue_ahead == pytest.approx(bid_size)
    t0 = ctx.now
    feed(venue, ctx, Trade(t0 + 1, SYM, bid, 2.0, "sell"))  # eats 2.0 of the queue
    assert engine.fills == [] and o.queue_ahead == pytest.approx(bid_size - 2.0)
    feed(venue, ctx, Trade(t0 + 2, SYM, bid + 0.1, 5.0, "buy"))  # above the bid: nothing
    assert engine.fills == []
    feed(venue, ctx, Trade(t0 + 3, SYM, bid, 1.0, "sell"))  # rest of queue, then us
    assert o.queue_ahead == 0.0 and o.status == "partially_filled"
    first = 1.0 - (bid_size - 2.0)
    assert engine.fills[0].qty == pytest.approx(first) and engine.fills[0].price == bid
    feed(venue, ctx, Trade(t0 + 4, SYM, bid, 0.2, "sell"))
    assert engine.fills[1].qty == pytest.approx(0.2) and o.status == "partially_filled"
    feed(venue, ctx, Trade(t0 + 5, SYM, bid, 3.0, "sell"))
    assert o.status == "filled" and o.filled == pytest.approx(0.5)
    assert sum(f.qty for f in engine.fills) == pytest.approx(0.5) and len(engine.fills) == 3
    assert [s for _, s in engine.updates] == ["open", "filled"]


def test_book_update_caps_the_queue(shared_data: Path) -> None:
    venue, ctx, engine = make_venue()
    book, _ = real_book(ctx, shared_data)
    o = venue.submit(order("buy", 0.1, book.bid))
    upd = BookUpdate(ctx.now + 1, SYM, False, [(book.bid, 0.3)], [])
    book.apply(upd)
    feed(venue, ctx, upd)
    assert o.queue_ahead == pytest.approx(0.3)  # cancellations ahead of us shrink the queue
    feed(venue, ctx, Trade(ctx.now + 1, SYM, book.bid, 0.35, "sell"))
    assert engine.fills[0].qty == pytest.approx(0.05)


def test_without_partial_fills_the_order_fills_once_volume_covers_it(
        shared_data: Path) -> None:
    venue, ctx, engine = make_venue(partial_fills=False)
    book, _ = real_book(ctx, shared_data)
    price = book.bid - 1.0
    o = venue.submit(order("buy", 0.5, price))
    assert o.queue_ahead == book.size_at("bid", price)
    feed(venue, ctx, Trade(ctx.now + 1, SYM, price - 0.1, 0.2, "sell"))
    feed(venue, ctx, Trade(ctx.now + 1, SYM, price - 0.1, 0.2, "sell"))
    assert engine.fills == []
    feed(venue, ctx, Trade(ctx.now + 1, SYM, price - 0.1, 0.2, "sell"))
    assert len(engine.fills) == 1 and engine.fills[0].qty == 0.5 and o.status == "filled"


def test_cancel(shared_data: Path) -> None:
    venue, ctx, engine = make_venue()
    book, _ = real_book(ctx, shared_data)
    o = venue.submit(order("sell", 0.01, book.ask + 5))
    assert venue.open_orders(SYM) == [o] and venue.open_orders("ETH/USDT:USDT") == []
    assert venue.cancel(o.order_id, "ttl") is o
    assert o.status == "cancelled" and o.reason == "ttl" and o.done_ts == ctx.now
    assert engine.updates[-1] == (o.order_id, "cancelled")
    feed(venue, ctx, Trade(ctx.now + 1, SYM, book.ask + 50, 10.0, "buy"))
    assert engine.fills == []
    assert venue.cancel(o.order_id) is None and venue.cancel(123456) is None
    assert venue.open_orders() == [] and venue.stats()["cancelled"] == 1


# ------------------------------------------------------------------ validation


def test_reduce_only_clipping_and_rejection(shared_data: Path) -> None:
    venue, ctx, engine = make_venue()
    real_book(ctx, shared_data)
    r = venue.submit(order("sell", 0.01, reduce_only=True))
    assert r.status == "rejected" and r.reason.startswith("reduce_only_no_position:")
    venue.submit(order("buy", 0.02))
    assert ctx.portfolio.net_qty(SYM) == pytest.approx(0.02)
    r2 = venue.submit(order("buy", 0.01, reduce_only=True))
    assert r2.reason.startswith("reduce_only_no_position")  # same side: nothing to reduce
    c = venue.submit(order("sell", 0.05, reduce_only=True))
    assert c.status == "filled" and c.qty == pytest.approx(0.02)
    assert engine.fills[-1].qty == pytest.approx(0.02)
    assert ctx.portfolio.net_qty(SYM) == 0.0
    # a reduce-only order below the exchange minimum is still accepted (closing dust)
    venue.submit(order("buy", 0.001))
    dust = venue.submit(order("sell", 0.001, reduce_only=True, symbol=SYM))
    assert dust.status == "filled"
    # a resting reduce-only order whose position disappears is cancelled, not filled
    venue.submit(order("buy", 0.01))
    rest = venue.submit(order("sell", 0.01, ctx.market[SYM].ask + 10, reduce_only=True))
    assert rest.status == "open"
    venue.submit(order("sell", 0.01))  # the position is closed by another order
    feed(venue, ctx, Trade(ctx.now + 1, SYM, ctx.market[SYM].ask + 20, 1.0, "buy"))
    assert rest.status == "cancelled" and rest.reason.startswith("reduce_only_no_position")


def test_reduce_only_is_per_strategy_when_strategies_share_the_account(
        shared_data: Path) -> None:
    """One strategy long 0.03, another short 0.02: the account nets to 0.01, yet each closes
    its whole position reduce-only (an account-level clip would stop the first at 0.01)."""
    venue, ctx, _ = make_venue()
    real_book(ctx, shared_data)
    venue.submit(order("buy", 0.03))
    short = order("sell", 0.02)
    short.strategy_id = "s2"
    venue.submit(short)
    assert ctx.portfolio.net_qty(SYM) == pytest.approx(0.01)
    close_long = venue.submit(order("sell", 0.03, reduce_only=True))
    assert close_long.status == "filled" and close_long.qty == pytest.approx(0.03)
    close_short = order("buy", 0.05, reduce_only=True)
    close_short.strategy_id = "s2"
    venue.submit(close_short)
    assert close_short.status == "filled" and close_short.qty == pytest.approx(0.02)
    assert ctx.portfolio.position_qty("s1", SYM) == ctx.portfolio.position_qty("s2", SYM) == 0
    assert ctx.portfolio.net_qty(SYM) == pytest.approx(0.0, abs=1e-12)
    # the rejection names the strategy whose position is missing
    wrong = venue.submit(order("sell", 0.01, reduce_only=True))
    assert wrong.reason.startswith("reduce_only_no_position: s1 has no long position")


def test_post_only_and_crossing_limits(shared_data: Path) -> None:
    venue, ctx, engine = make_venue()
    book, snap = real_book(ctx, shared_data)
    po = venue.submit(order("buy", 0.01, book.ask, post_only=True))
    assert po.status == "rejected" and po.reason.startswith("post_only_would_cross:")
    assert str(book.ask) in po.reason
    ok = venue.submit(order("buy", 0.01, book.bid, post_only=True))
    assert ok.status == "open"
    # a plain limit through the ask takes the levels within its price, the rest rests
    asks = sorted(snap.asks)
    limit = asks[2][0]
    within = sum(s for p, s in asks if p <= limit)
    qty = ctx.instruments.get(SYM).round_qty(within + 1.0)
    x = venue.submit(order("buy", qty, limit))
    taker = engine.fills[-1]
    assert not taker.is_maker and taker.liquidity == "taker_cross_book"
    assert taker.qty == pytest.approx(within) and taker.price <= limit
    assert taker.price == pytest.approx(sum(p * s for p, s in asks[:3]) / within)
    assert x.status == "partially_filled" and x in venue.open_orders()
    assert x.remaining == pytest.approx(1.0)


def test_latency_delays_the_fill_to_a_later_event(shared_data: Path) -> None:
    venue, ctx, engine = make_venue(latency_ms=100)
    real_book(ctx, shared_data)
    t0 = ctx.now
    o = venue.submit(order("buy", 0.01))
    assert o.status == "new" and o.arrival_ts == t0 + 100 and engine.fills == []
    assert venue.open_orders() == [o]
    feed(venue, ctx, Quote(t0 + 50, SYM, 61800.2, 1.0, 61800.3, 1.0))
    assert engine.fills == []
    # the market moved before arrival: the book now offers 61810 only
    moved = BookUpdate(t0 + 120, SYM, True, [(61809.9, 1.0)], [(61810.0, 1.0)])
    ctx.market[SYM].book.apply(moved)  # type: ignore[union-attr]
    feed(venue, ctx, moved)
    (f,) = engine.fills
    assert f.ts == t0 + 120 and f.price == 61810.0 and o.status == "filled"
    # a cancelled in-flight order never arrives
    p = venue.submit(order("buy", 0.01))
    assert venue.cancel(p.order_id) is p
    feed(venue, ctx, Trade(t0 + 500, SYM, 61810.0, 1.0, "buy"))
    assert len(engine.fills) == 1 and p.status == "cancelled"


def test_minimum_notional_rejection_names_the_exchange_minimum(shared_data: Path) -> None:
    venue, ctx, engine = make_venue()
    trades = real_trades(shared_data, 1)
    ctx.market["BTC/USDT"].last = trades[0].price  # ~61800
    o = venue.submit(order("buy", 0.00005, symbol="BTC/USDT"))  # ~3.1 USDT < 5 USDT
    assert o.status == "rejected"
    code, details = o.reason.split(":", 1)
    assert code == "below_exchange_minimum"
    assert "Binance BTC/USDT minimum" in details and "5 USDT notional" in details
    assert "9e-05 BTC" in details  # the smallest order that would pass
    assert engine.updates == [(o.order_id, "rejected")]
    lim = venue.submit(order("buy", 0.00005, 60000.0, symbol="BTC/USDT"))
    assert lim.reason.startswith("below_exchange_minimum")
    ok = venue.submit(order("buy", 0.0001, symbol="BTC/USDT"))
    assert ok.status == "filled"
    off = make_venue(enforce_minimums=False)[0]
    off.ctx.market["BTC/USDT"].last = trades[0].price
    assert off.submit(order("buy", 0.00005, symbol="BTC/USDT")).status == "filled"
    assert venue.stats()["rejections"] == {"below_exchange_minimum": 2}


def test_static_validation() -> None:
    venue, ctx, _ = make_venue()
    ctx.market[SYM].last = 60000.0
    cases = {
        "unknown_symbol": order("buy", 1.0, symbol="SOL/USDT:USDT"),
        "invalid_qty": order("buy", 0.0015),
        "invalid_price": order("buy", 0.01, 60000.05),
        "invalid_order_type": order("buy", 0.01, post_only=True),
    }
    for code, o in cases.items():
        venue.submit(o)
        assert o.status == "rejected" and o.reason.split(":")[0] == code, o.reason
    assert "binance" in cases["unknown_symbol"].reason
    assert venue.submit(order("buy", 0.0)).reason.startswith("invalid_qty")


# ------------------------------------------------------------------ bar / quote data


def _bars(shared_data: Path, n: int) -> list[Bar]:
    with gzip.open(shared_data / BARS, "rt") as fh:
        return [Bar(int(r["timestamp"]) + 60_000, SYM, float(r["open"]), float(r["high"]),
                    float(r["low"]), float(r["close"]), float(r["volume"]), 60_000)
                for r in itertools.islice(csv.DictReader(fh), n)]


@pytest.mark.parametrize("touch", [False, True])
def test_limit_fills_on_real_bars(shared_data: Path, touch: bool) -> None:
    venue, ctx, engine = make_venue(bar_touch_fills=touch)
    bars = _bars(shared_data, 200)
    feed(venue, ctx, bars[0])
    # a buy limit exactly at a later bar's low that no bar in between goes below
    k = next(i for i in range(2, len(bars))
             if bars[i].low < bars[0].close
             and all(b.low > bars[i].low for b in bars[1:i]))
    limit = bars[k].low
    o = venue.submit(order("buy", 0.01, limit))
    assert o.status == "open"
    for b in bars[1:k + 1]:
        feed(venue, ctx, b)
    if touch:
        assert o.status == "filled" and engine.fills[0].ts == bars[k].ts
        assert engine.fills[0].price == limit and engine.fills[0].liquidity == "maker_bar"
    else:
        assert o.status == "open"  # touching is not enough
        nxt = next(b for b in bars[k + 1:] if b.low < limit)
        for b in bars[k + 1:]:
            feed(venue, ctx, b)
            if b is nxt:
                break
        assert o.status == "filled" and engine.fills[0].ts == nxt.ts


def test_bar_that_started_before_arrival_cannot_fill() -> None:
    venue, ctx, engine = make_venue(latency_ms=1000)
    ctx.market[SYM].last = 60000.0
    ctx.now = 60_000
    o = venue.submit(order("buy", 0.01, 59000.0))
    feed(venue, ctx, Bar(120_000, SYM, 60000, 60000, 58000, 59500, 10, 60_000))
    assert o.status == "open" and engine.fills == []  # arrived at 61 000, bar opened at 60 000
    feed(venue, ctx, Bar(180_000, SYM, 59500, 59600, 58500, 59000, 10, 60_000))
    assert o.status == "filled"


def test_quote_only_rule_is_conservative() -> None:
    venue, ctx, engine = make_venue()
    q = Quote(1, SYM, 60000.0, 2.0, 60000.1, 2.0)
    feed(venue, ctx, q)
    o = venue.submit(order("buy", 0.5, 60000.0))
    assert o.queue_ahead == 2.0  # price == best bid: the bid size is ahead of us
    feed(venue, ctx, Quote(2, SYM, 59999.9, 1.0, 60000.0, 0.3))  # ask touches: no fill
    assert engine.fills == [] and o.queue_ahead == 0.0  # the bid level at 60000 is gone
    feed(venue, ctx, Quote(3, SYM, 59999.0, 1.0, 59999.5, 0.3))  # ask through our bid
    assert engine.fills[0].qty == 0.3 and engine.fills[0].price == 60000.0
    assert engine.fills[0].liquidity == "maker_quote" and o.status == "partially_filled"
    # once the symbol has trades, quotes no longer fill
    feed(venue, ctx, Trade(4, SYM, 60001.0, 0.1, "buy"))
    feed(venue, ctx, Quote(5, SYM, 59998.0, 1.0, 59998.5, 5.0))
    assert len(engine.fills) == 1


# ------------------------------------------------------------------ speed & registration


def test_idle_on_market_is_a_no_op() -> None:
    venue, _, engine = make_venue()
    t = Trade(1, SYM, 60000.0, 1.0, "buy")
    for _ in range(1000):
        venue.on_market(t)
    assert engine.fills == [] and engine.updates == []


def test_builtin_registration() -> None:
    from hean_framework.builtin import venues

    seen: list[tuple[str, type, Any, str]] = []

    def register(name: str, cls: type, *, config: Any = None, description: str = "") -> None:
        seen.append((name, cls, config, description))

    venues.hean_register_venues(register)
    assert seen[0][:3] == ("sim", SimulatedVenue, SimVenueConfig) and seen[0][3]
    with pytest.raises(ValueError):
        SimVenueConfig(latency_ms=-1)
    with pytest.raises(ValueError):
        SimVenueConfig(market_fill="mid")  # type: ignore[arg-type]


# ------------------------------------------------------------------ real replay


def _replay_events(shared_data: Path, n_rows: int = 40_000) -> list[Any]:
    """The real snapshot, the following L2 messages and the trades of that window, in time
    order (book before trade on equal timestamps)."""
    msgs: list[BookUpdate] = []
    cur: BookUpdate | None = None
    with gzip.open(shared_data / L2, "rt") as fh:
        for row in itertools.islice(csv.DictReader(fh), n_rows):
            ts, uid = int(row["timestamp"]), int(row["last_update_id"])
            snap = row["action"] == "snapshot"
            if cur is None or cur.ts != ts or cur.last_id != uid or cur.snapshot != snap:
                cur = BookUpdate(ts, SYM, snap, [], [], 0, uid)
                msgs.append(cur)
            (cur.bids if row["side"] == "bid" else cur.asks).append(
                (float(row["price"]), float(row["size"])))
    end = msgs[-1].ts
    trades = [t for t in real_trades(shared_data, 20_000) if msgs[0].ts < t.ts <= end]
    return sorted([*msgs, *trades], key=lambda e: (e.ts, 0 if isinstance(e, BookUpdate) else 1))


def _run_replay(shared_data: Path) -> tuple[list[Fill], dict[int, Order], RunContext]:
    venue, ctx, engine = make_venue(latency_ms=25)
    submitted: dict[int, Order] = {}
    events = _replay_events(shared_data)
    st = ctx.market[SYM]
    st.book = OrderBook(SYM)
    placed = False
    for ev in events:
        ctx.now = ev.ts
        if isinstance(ev, BookUpdate):
            st.book.apply(ev)
            st.bid, st.bid_size, st.ask, st.ask_size = (st.book.bid, st.book.bid_size,
                                                        st.book.ask, st.book.ask_size)
        else:
            st.last = ev.price
        venue.on_market(ev)
        if not placed and st.last:
            placed = True  # a maker quote on both sides, at the touch
            for o in (order("buy", 0.05, st.bid, post_only=True),
                      order("sell", 0.05, st.ask, post_only=True)):
                submitted[o.order_id] = venue.submit(o)
        if placed and not venue.open_orders() and ctx.portfolio.net_qty(SYM) == 0.0:
            break
    return engine.fills, submitted, ctx


def test_real_replay_maker_fills_are_deterministic_and_accounted(shared_data: Path) -> None:
    fills, orders, ctx = _run_replay(shared_data)
    assert fills, "the resting quotes should be reached in the replay window"
    assert all(f.is_maker and f.liquidity.startswith("maker_trade") for f in fills)
    for f in fills:
        o = orders[f.order_id]
        assert f.price == o.price and f.side == o.side and f.ts >= o.arrival_ts
        assert f.fee == pytest.approx(f.qty * f.price * 0.0002)
    assert all(o.status == "filled" for o in orders.values())  # both sides of the quote
    pf = ctx.portfolio
    ctx.market[SYM].last = ctx.market[SYM].last or fills[-1].price
    eq = pf.equity()
    assert eq == pytest.approx(pf.initial_cash + pf.realized - pf.fees + pf.funding
                               + pf.unrealized(), rel=1e-9, abs=1e-9 * pf.initial_cash)
    again, _, _ = _run_replay(shared_data)
    assert [(f.order_id - fills[0].order_id, f.qty, f.price, f.ts) for f in fills] == \
        [(f.order_id - again[0].order_id, f.qty, f.price, f.ts) for f in again]
