"""HEAN's per-strategy reduce-only on Bybit's account-wide flag (live venue vs the fake).

Invariants (see :mod:`hean_framework.live.reduce_only`):

* two strategies holding opposite sides of one symbol each close their **whole** position:
  the exit the account's net position does not cover goes out as a plain order (the exchange
  would refuse its flag with 110017, or cut it to the net), the one it covers goes out with
  the flag; both end flat in the portfolio and on the exchange, nothing is refused;
* the mapping's decision, by hand: the flag only where the account covers the order, as
  booked and with the market orders in flight; a stale exit (the owner's position is gone,
  a reversal in flight) is never sent; an exit larger than the owner's position is clipped;
* a flagged resting exit the exchange cancels because the *account* lost the position (Bybit's
  ``CancelByReduceOnly``) while its owner still holds it is re-placed plain.

The demo strategy's live runs (``test_live_cli``, ``test_live_faults``) check that no exit is
refused 110017.  Market: real BTCUSDT trades and L2 replayed by the fake on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hean_framework.live import reduce_only
from hean_framework.models import Fill, Order
from hean_framework.testing.fake_bybit import FakeBybit, default_script
from hean_framework.testing.fake_bybit.harness import events, rows, run_session

BTC = "BTC/USDT:USDT"


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    f = FakeBybit(script=default_script()).start()
    f.warm_up()
    yield f
    f.stop()


def holders(first_exit: str) -> dict[str, Any]:
    """A long of 0.010 and a short of 0.006 on BTC; ``first_exit`` closes first."""
    late, early = 260, 160
    return {"strategies": {
        "long_a": {"plugin": "holder", "side": "buy", "qty": 0.01, "enter_at": 20,
                   "exit_at": early if first_exit == "long_a" else late},
        "short_b": {"plugin": "holder", "side": "sell", "qty": 0.006, "enter_at": 60,
                    "exit_at": early if first_exit == "short_b" else late}}}


@pytest.mark.parametrize("first_exit", ["long_a", "short_b"])
def test_opposite_strategies_each_close_their_whole_position(fake: FakeBybit, tmp_path: Path,
                                                             first_exit: str) -> None:
    out = tmp_path / "two"
    eng, sess = run_session(fake, out, seconds=2.2, rate=400, count=600,
                            extra=holders(first_exit))
    pf = eng.ctx.portfolio
    assert pf.position_qty("long_a", BTC) == 0.0 and pf.position_qty("short_b", BTC) == 0.0
    pos = fake.exchange.positions.get("BTCUSDT")
    assert pos is not None and pos.size == pytest.approx(0.0, abs=1e-12)
    # the exchange saw: two entries, then the first exit plain (the net did not cover it),
    # the second with the flag (by then the net was exactly the second's position)
    sent = [(o["side"], float(o["qty"]), o["reduceOnly"], float(o["cumExecQty"]))
            for o in sorted(fake.exchange.orders.values(), key=lambda o: o["createdTime"])]
    first, second = (("Sell", 0.01), ("Buy", 0.006)) if first_exit == "long_a" else \
        (("Buy", 0.006), ("Sell", 0.01))
    assert sent == [("Buy", 0.01, False, 0.01), ("Sell", 0.006, False, 0.006),
                    (*first, False, first[1]), (*second, True, second[1])]
    assert events(out, "exchange_reject") == []
    closed = rows(out, "SELECT strategy_id, side, qty, status FROM orders WHERE "
                       "reduce_only = 1 ORDER BY order_id")
    assert sorted(closed) == [("long_a", "sell", 0.01, "filled"),
                              ("short_b", "buy", 0.006, "filled")]
    v = sess.venue
    assert v is not None
    assert v.counts["reduce_only_plain"] == 1 and v.counts["reduce_only_flagged"] == 1


# ---------------------------------------------------------------------------- by hand


class _Venue:
    """The parts of the live venue the mapping reads."""

    def __init__(self, ctx: Any) -> None:
        from collections import Counter

        self.ctx = ctx
        self.orders: dict[int, Order] = {}
        self._sent: set[int] = set()
        self.unowned: dict[str, float] = {}
        self.counts: Counter[str] = Counter()
        self.finished: list[tuple[int, str, str]] = []

    def _finish(self, order: Order, status: str, reason: str) -> None:
        order.status, order.reason = status, reason
        self.finished.append((order.order_id, status, reason))


def _ctx() -> Any:
    from hean_framework.testing import make_context

    return make_context(symbols=[BTC])


def _fill(ctx: Any, strategy: str, side: str, qty: float) -> None:
    ctx.portfolio.apply_fill(Fill(ctx.next_id(), 0, strategy, BTC, side, qty, 60_000.0, 0.0,
                                  False, 1, 0, 60_000.0, "test"))


def _order(ctx: Any, strategy: str, side: str, qty: float, *, reduce: bool = True,
           otype: str = "market") -> Order:
    return Order(ctx.next_id(), strategy, BTC, side, qty, otype, None, False, reduce, 1)


def test_plan_by_hand() -> None:
    ctx = _ctx()
    v: Any = _Venue(ctx)
    _fill(ctx, "a", "buy", 1.0)
    _fill(ctx, "b", "sell", 0.5)  # the account is long 0.5
    exit_a = _order(ctx, "a", "sell", 1.0)
    assert reduce_only.plan(v, exit_a) is False  # net 0.5 does not cover 1.0: plain
    exit_b = _order(ctx, "b", "buy", 0.5)
    assert reduce_only.plan(v, exit_b) is False  # a buy against a long account: plain
    part_a = _order(ctx, "a", "sell", 0.5)
    assert reduce_only.plan(v, part_a) is True  # covered: the flag
    too_big = _order(ctx, "b", "buy", 0.8)
    assert reduce_only.plan(v, too_big) is False and too_big.qty == 0.5  # clipped to b's
    assert too_big.reason.startswith("reduce_only_clipped")
    # a reversal of a in flight (sent, not yet booked): a's exit is stale, never sent
    rev = _order(ctx, "a", "sell", 2.0, reduce=False)
    v.orders[rev.order_id] = rev
    v._sent.add(rev.order_id)
    stale = _order(ctx, "a", "sell", 1.0)
    assert reduce_only.plan(v, stale) is None
    assert v.finished == [(stale.order_id, "rejected", stale.reason)]
    assert stale.reason.startswith("reduce_only_no_position")
    # ... and the in-flight sell takes the account short: b's buy exit gets the flag now
    assert reduce_only.plan(v, _order(ctx, "b", "buy", 0.5)) is False  # booked net: long
    v.unowned[BTC] = -2.0  # reconciliation found 2 short nobody owns
    assert reduce_only.plan(v, _order(ctx, "b", "buy", 0.5)) is True
    assert reduce_only.plan(v, _order(ctx, "b", "buy", 0.5), plain=True) is False


def test_exchange_cancel_for_the_account_is_replaced_plain(fake: FakeBybit,
                                                           tmp_path: Path) -> None:
    # long_a's take-profit rests with the flag (the account is long by long_a's position
    # alone); short_b then sells more: the account goes short, the exchange cancels the
    # take-profit (CancelByReduceOnly) though long_a still holds its long -> re-placed plain
    out = tmp_path / "cancel"
    extra = {"strategies": {
        "long_a": {"plugin": "holder", "side": "buy", "qty": 0.004, "enter_at": 20,
                   "target": 0.05},
        "short_b": {"plugin": "holder", "side": "sell", "qty": 0.01, "enter_at": 120}}}
    eng, sess = run_session(fake, out, seconds=2.0, rate=400, count=500, extra=extra)
    ex = fake.exchange
    tps = sorted((o for o in ex.orders.values() if o["orderType"] == "Limit"),
                 key=lambda o: o["createdTime"])
    assert [(o["side"], o["qty"], o["reduceOnly"], o["orderStatus"], o["cancelType"])
            for o in tps] == [("Sell", "0.004", True, "Cancelled", "CancelByReduceOnly"),
                              ("Sell", "0.004", False, "Cancelled", "CancelByUser")]
    (moved,) = events(out, "reduce_only_replaced")
    assert (moved["old_client_id"], moved["client_id"]) == (tps[0]["orderLinkId"],
                                                            tps[1]["orderLinkId"])
    assert tps[1]["price"] == tps[0]["price"]  # the same exit, only without the flag
    assert eng.ctx.portfolio.position_qty("long_a", BTC) == pytest.approx(0.004)
    assert ex.positions["BTCUSDT"].size == pytest.approx(-0.006)
    v = sess.venue
    assert v is not None and v.counts["reduce_only_replaced"] == 1
    # the stop cancelled the re-placed exit (run_end lists nothing open)
    (end,) = events(out, "run_end")
    assert end["open_orders_left"] == [] and not ex.open_orders()
