"""The quote executor on the real 2024-08-08 Binance USDⓈ-M capture (L2 diffs + trades + BBO).

Invariants (checked after every market event, before the strategy answers it):

* every open order of a quoting strategy at the venue belongs to its current quote, except
  orders whose cancel/amend is still in flight (venue latency); every order of the current
  quote that can still fill is open at the venue (``settled <= resting <= open``);
* an unchanged requote touches no order (same ids, the queue place kept); with ``amend: true``
  a moved level keeps its order id; without it the old order is cancelled ``requote``;
* an empty quote (``OrderGroup.withdraw``) and a quote the pipeline refuses leave nothing
  resting;
* the same holds over random sequences of quote changes, withdrawals and the fills the
  recorded trades cause (hypothesis).

Fills a market maker can trust (a post-only bid joined at the best bid, followed event by
event):

* at placement its ``queue_ahead`` is the L2 size resting at its price; the queue never
  grows; after every L2 update it is at most the level's size;
* an L2 update that shrinks the level by more than the trades at the price since the last
  update explain shrinks the queue by the same fraction (pro-rata cancels), checked on the
  recorded numbers;
* the order fills at its price only once the queue ahead of it is gone (``maker_trade_touch``
  with ``queue_ahead == 0``) or when a trade goes through its price;
* with ``cancel_latency_ms`` a cancelled order can still fill until the cancel arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.groups import OrderGroup
from hean_framework.models import BookUpdate, MarketEvent, Quote, Trade
from hean_framework.run import RunResult
from hean_framework.testing import isolated_plugins

BTC = "BTC/USDT:USDT"
#: the data section of the runs (the events themselves are read once per module)
FILES: list[dict[str, str]] = []
START = 1723161256000  # 2024-08-08 23:54:16 UTC, the capture's first second


def capture_files(data: Path, symbols: tuple[str, ...] = (BTC,)) -> list[dict[str, str]]:
    """The data-section rows of the 2024-08-08 capture (L2 + BBO + trades) of ``symbols``."""
    out = []
    for s in symbols:
        n = s.split("/")[0]
        out += [{"kind": "l2", "symbol": s, "path": str(
                    data / f"orderbook/binance_usdm_perp_{n}USDT_l2_20240808.csv.gz")},
                {"kind": "bbo", "symbol": s, "path": str(
                    data / f"orderbook/binance_usdm_perp_{n}USDT_bbo_20240808.csv.gz")},
                {"kind": "trades", "symbol": s, "path": str(
                    data / f"trades/binance_usdm_perp_{n}USDT_trades_20240808.csv.gz")}]
    return out


Script = Callable[["Quoter", MarketEvent], Any]


class Quoter(Strategy):
    """Checks the invariant on every event, then returns what ``script(self, event)`` says."""

    style = "quoting"
    script: ClassVar[Script] = staticmethod(lambda s, e: None)
    checks: ClassVar[list[int]] = []

    def check(self) -> None:
        router: Any = self.ctx.orders
        venue = router.venue
        live = {o.order_id for o in venue.open_orders() if o.strategy_id == self.name}
        settled = {oid for oid in live if not venue.in_flight(oid)}
        resting = router.groups.quotes.resting(self.name)
        assert settled <= resting <= live, (self.ctx.now, settled - resting, resting - live)
        type(self).checks.append(len(live))

    def _event(self, ev: MarketEvent) -> Any:
        self.check()
        return type(self).script(self, ev)

    def on_book(self, update: BookUpdate) -> Any:
        return self._event(update)

    def on_quote(self, quote: Quote) -> Any:
        return self._event(quote)

    def on_trade(self, trade: Trade) -> Any:
        return self._event(trade)

    def on_stop(self) -> None:
        self.check()


def run_quoter(events: list[MarketEvent], script: Script, tmp_path: Path,
               venue: dict[str, Any] | None = None, end: str = "") -> tuple[RunResult, Engine]:
    """Run :class:`Quoter` with ``script`` over ``events`` on a 50,000 USDT account."""
    class Q(Quoter):
        checks: ClassVar[list[int]] = []

    Q.script = staticmethod(script)  # type: ignore[assignment]

    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("quoter", Q, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["quoter_test"])
    raw = {"run": {"name": "quotes"}, "account": {"capital": 50_000},
           "venue": {"name": "sim", "exchange": "binance", **(venue or {})},
           "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
           "data": {"files": FILES},
           "strategies": {"quoter": {"symbols": [BTC]}}, "report": {"progress": False}}
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=tmp_path, journal=False, progress=False)
    res = eng.run(events)
    eng.close()
    return res, eng


def quote(s: Strategy, bid: float, ask: float, size: float = 0.002, levels: int = 1,
          tick: float = 0.1) -> OrderGroup:
    """A quote of ``levels`` per side, one tick apart, outward from ``bid``/``ask``."""
    legs = []
    for k in range(levels):
        for side, px in (("buy", bid - k * tick), ("sell", ask + k * tick)):
            legs.append(s.signal(BTC, side, 0, px, size=size, order_type="limit",
                                 limit_price=round(px, 1), prefer_maker=True))
    return OrderGroup(legs, kind="quote")


@pytest.fixture(scope="module")
def btc_events(shared_data: Path, read_events: Any) -> list[MarketEvent]:
    """The first 90 s of the BTC capture (L2, BBO, trades), as the kernel's feed reads them."""
    FILES[:] = capture_files(shared_data)
    evs = read_events(FILES)
    return [e for e in evs if e.ts < START + 90_000]


def mid_mover(every: int = 1) -> Script:
    """Requote on mid moves: best bid/ask pushed k ticks out, k and the ladder depth cycling;
    every 40th requote withdraws instead."""
    state = {"mid": 0.0, "n": 0}

    def script(s: Strategy, ev: MarketEvent) -> Any:
        st = s.ctx.market[BTC]
        if not st.has_quote or type(ev) is not Quote:
            return None
        mid = (st.bid + st.ask) / 2
        if mid == state["mid"]:
            return None
        state["mid"] = mid
        n = state["n"] = state["n"] + 1
        if n % every:
            return None
        if n % 40 == 0:
            return OrderGroup.withdraw(s.name, BTC)
        k = n % 3
        return quote(s, st.bid - 0.1 * k, st.ask + 0.1 * k, levels=1 + (n // 7) % 3)
    return script


@pytest.mark.parametrize("venue", [{}, {"amend": True},
                                   {"amend": True, "latency_ms": 30, "cancel_latency_ms": 30}],
                         ids=["cancel_replace", "amend", "amend_latency"])
def test_open_orders_equal_the_current_quote_on_real_data(
        btc_events: list[MarketEvent], tmp_path: Path, venue: dict[str, Any]) -> None:
    res, eng = run_quoter(btc_events, mid_mover(), tmp_path, venue)
    counts = res.sections["quotes"]["quoter"]
    assert counts["quotes"] > 100 and counts["placed"] > 0 and counts["withdrawn"] > 0
    assert counts["kept"] > 0  # levels unchanged by a mid move stay put
    if venue.get("amend"):
        assert counts["amended"] > 0
    else:
        assert counts["amended"] == 0 and counts["cancelled"] > 0
    assert res.fills > 0  # the recorded trades reached some quotes
    checks = type(eng.parts.strategies["quoter"]).checks  # type: ignore[attr-defined]
    assert len(checks) == res.events + 1 and max(checks) > 0


def test_an_unchanged_requote_keeps_its_orders_and_queue(btc_events: list[MarketEvent],
                                                          tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def script(s: Strategy, ev: MarketEvent) -> Any:
        st = s.ctx.market[BTC]
        if type(ev) is not Quote or not st.has_quote or "first" in seen:
            return None
        far_bid, far_ask = round(st.bid - 20, 1), round(st.ask + 20, 1)
        orders = s.ctx.orders
        orders.propose(quote(s, far_bid, far_ask))
        first = sorted(o.order_id for o in orders.open_orders(BTC))
        queues = [o.queue_ahead for o in orders.open_orders(BTC)]
        orders.propose(quote(s, far_bid, far_ask))  # the same quote again
        seen["first"], seen["queues"] = first, queues
        seen["again"] = sorted(o.order_id for o in orders.open_orders(BTC))
        orders.propose(quote(s, far_bid, far_ask, size=0.003))  # a new size: cancel + place
        seen["resized"] = sorted(o.order_id for o in orders.open_orders(BTC))
        orders.propose(OrderGroup.withdraw(s.name, BTC))
        seen["withdrawn"] = orders.open_orders(BTC)
        return None

    res, _ = run_quoter(btc_events[:5000], script, tmp_path)
    assert len(seen["first"]) == 2 and seen["again"] == seen["first"]
    assert not set(seen["resized"]) & set(seen["first"]) and len(seen["resized"]) == 2
    assert seen["withdrawn"] == []
    counts = res.sections["quotes"]["quoter"]
    assert counts["kept"] == 2 and counts["placed"] == 4 and counts["cancelled"] == 4


def test_amend_keeps_the_order_id_and_requeues_a_new_price(btc_events: list[MarketEvent],
                                                           tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def script(s: Strategy, ev: MarketEvent) -> Any:
        st = s.ctx.market[BTC]
        if type(ev) is not Quote or not st.has_quote or "ids" in seen:
            return None
        orders = s.ctx.orders
        orders.propose(quote(s, st.bid, st.ask))
        at_touch = {o.side: (o.order_id, o.queue_ahead) for o in orders.open_orders(BTC)}
        orders.propose(quote(s, st.bid - 5, st.ask + 5))  # both levels move away
        moved = {o.side: (o.order_id, o.queue_ahead, o.price)
                 for o in orders.open_orders(BTC)}
        seen["ids"], seen["touch"], seen["moved"] = at_touch, at_touch, moved
        seen["bid"], seen["ask"] = st.bid, st.ask
        return None

    run_quoter(btc_events[:5000], script, tmp_path, {"amend": True})
    for side in ("buy", "sell"):
        assert seen["moved"][side][0] == seen["touch"][side][0]  # same order, amended
        assert seen["touch"][side][1] > 0.0  # joined a real queue at the touch
        assert seen["moved"][side][1] == 0.0  # 5 USDT away: a level nobody rests at
    assert seen["moved"]["buy"][2] == round(seen["bid"] - 5, 1)


def test_a_refused_requote_withdraws_the_previous_one(btc_events: list[MarketEvent],
                                                      tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def script(s: Strategy, ev: MarketEvent) -> Any:
        st = s.ctx.market[BTC]
        if type(ev) is not Quote or not st.has_quote or "after" in seen:
            return None
        orders = s.ctx.orders
        orders.propose(quote(s, st.bid - 10, st.ask + 10))
        seen["before"] = len(orders.open_orders(BTC))
        # 0.00001 BTC rounds below the exchange minimum: the pipeline stops the requote
        ds = orders.propose(quote(s, st.bid - 10, st.ask + 10, size=0.00001))
        seen["codes"] = [d.reason_codes[0] for d in ds]
        seen["after"] = orders.open_orders(BTC)
        return None

    res, _ = run_quoter(btc_events[:5000], script, tmp_path)
    assert seen["before"] == 2
    assert seen["codes"] == ["POSITION_SIZER_ZERO", "POSITION_SIZER_ZERO"]
    assert seen["after"] == []
    assert res.sections["quotes"]["quoter"]["blocked"] == 1


ACTION = hs.one_of(
    hs.tuples(hs.just("quote"), hs.integers(-1, 3), hs.integers(-1, 3), hs.integers(1, 3),
              hs.sampled_from([0.002, 0.003])),
    hs.tuples(hs.just("withdraw")), hs.tuples(hs.just("wait")))


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(actions=hs.lists(ACTION, min_size=5, max_size=40),
       venue=hs.sampled_from([{}, {"amend": True},
                              {"amend": True, "latency_ms": 50, "cancel_latency_ms": 20}]))
def test_random_quote_sequences_leave_no_orphan(btc_events: list[MarketEvent],
                                               tmp_path: Path, actions: list[Any],
                                               venue: dict[str, Any]) -> None:
    """Random requotes (one side or both, ladders, sizes; -1 ticks = one side left out),
    withdrawals and the fills real trades cause: the invariant holds after every event."""
    todo = list(actions)

    def script(s: Strategy, ev: MarketEvent) -> Any:
        st = s.ctx.market[BTC]
        if type(ev) is not Trade or not st.has_quote or not todo:
            return None
        act = todo.pop(0)
        if act[0] == "withdraw":
            return OrderGroup.withdraw(s.name, BTC)
        if act[0] == "wait":
            return None
        _, kb, ka, levels, size = act
        g = quote(s, st.bid - 0.1 * max(kb, 0), st.ask + 0.1 * max(ka, 0), size, levels)
        legs = [x for x in g.legs if (x.side == "buy" and kb >= 0)
                or (x.side == "sell" and ka >= 0)]
        return OrderGroup(legs, kind="quote") if legs else OrderGroup.withdraw(s.name, BTC)

    run_quoter(btc_events[:20000], script, tmp_path, venue)


# ------------------------------------------------------------------ the queue model


def follow_one_bid(events: list[MarketEvent], tmp_path: Path,
                   venue: dict[str, Any] | None = None) -> dict[str, Any]:
    """Join the best bid once (0.002 BTC) and record, per event, the order's queue, the L2
    level at its price and the trades at its price."""
    rec: dict[str, Any] = {"rows": [], "fills": []}

    def script(s: Any, ev: MarketEvent) -> Any:
        st = s.ctx.market[BTC]
        orders = s.ctx.orders
        if "oid" not in rec:
            if type(ev) is Quote and st.book is not None and st.has_quote \
                    and st.book.bid == st.bid:
                orders.propose(quote(s, st.bid, st.ask + 50))
                bid = next(o for o in orders.open_orders(BTC) if o.side == "buy")
                rec.update(oid=bid.order_id, price=bid.price, q0=bid.queue_ahead,
                           level0=st.book.size_at("bid", bid.price))
            return None
        o = orders.get(rec["oid"])
        traded = ev.size if type(ev) is Trade and ev.price == rec["price"] else 0.0
        level = st.book.size_at("bid", rec["price"]) if st.book is not None else 0.0
        rec["rows"].append((type(ev).__name__, o.queue_ahead if o else None, level, traded))
        return None

    rec["result"], _ = run_quoter(events, script, tmp_path, venue)
    return rec


def test_queue_starts_at_the_level_and_shrinks_pro_rata(btc_events: list[MarketEvent],
                                                        tmp_path: Path) -> None:
    rec = follow_one_bid(btc_events, tmp_path)
    assert rec["q0"] == rec["level0"] > 0.0  # joined behind the whole recorded level
    rows = [r for r in rec["rows"] if r[1] is not None]
    assert len(rows) > 20
    prev_q, seen, traded, pro_rata = rec["q0"], rec["level0"], 0.0, 0
    for kind, q, level, t in rows:
        assert q <= prev_q + 1e-12  # never grows
        traded += t
        if kind == "BookUpdate":
            assert q <= level + 1e-12
            expected = seen - traded
            if expected > level and q > 0.0 and prev_q > 0.0 and t == 0.0:
                # cancels ahead, pro rata: the queue shrinks with the level
                assert q == pytest.approx(min(prev_q * level / expected, level), rel=1e-9)
                pro_rata += 1
            seen, traded = level, 0.0
        prev_q = q
    assert pro_rata > 0  # the recorded book did shrink by cancels while we waited


def test_a_bid_fills_only_after_its_queue_or_through_its_price(btc_events: list[MarketEvent],
                                                               tmp_path: Path) -> None:
    from hean_framework.router import OrderRouter

    fills: list[Any] = []
    orig = OrderRouter.on_fill

    def spy(self: OrderRouter, fill: Any, order: Any) -> None:
        fills.append((fill.liquidity, order.queue_ahead, fill.price, order.price))
        orig(self, fill, order)

    OrderRouter.on_fill = spy  # type: ignore[method-assign]
    try:
        follow_one_bid(btc_events, tmp_path)
    finally:
        OrderRouter.on_fill = orig  # type: ignore[method-assign]
    assert fills, "the 120 s capture should reach a bid joined at the touch"
    for liquidity, queue, price, limit in fills:
        assert price == limit  # a maker fill is at the limit price
        if liquidity == "maker_trade_touch":
            assert queue == 0.0
        else:
            assert liquidity == "maker_trade_through"


def test_a_cancel_in_flight_can_still_fill(btc_events: list[MarketEvent], tmp_path: Path) -> None:
    """A bid joined at the best bid is cancelled at once: with a 30 s cancel latency the
    recorded trades fill it meanwhile, without latency nothing can."""
    def make(latency: int) -> Any:
        done: dict[str, Any] = {}

        def script(s: Any, ev: MarketEvent) -> Any:
            st = s.ctx.market[BTC]
            if "oid" in done or type(ev) is not Trade or ev.side != "sell" \
                    or not st.has_quote:
                return None
            # a seller just hit the bid: join it, then cancel at once
            orders = s.ctx.orders
            orders.propose(quote(s, ev.price, st.ask + 50))
            bid = next(o for o in orders.open_orders(BTC) if o.side == "buy")
            done["oid"] = bid.order_id
            orders.propose(OrderGroup.withdraw(s.name, BTC))
            return None
        return script

    slow, _ = run_quoter(btc_events, make(30_000), tmp_path, {"cancel_latency_ms": 30_000})
    fast, _ = run_quoter(btc_events, make(0), tmp_path)
    assert fast.fills == 0
    assert slow.fills >= 1
