"""Maker chase executor: closer-only re-quotes, max_chases, abort, taker fallback, rejects."""

from __future__ import annotations

from typing import Any

from hean_framework.execution.maker_chase import MakerChaseExecutor
from hean_framework.models import Fill, OrderDecision, Signal
from hean_framework.testing import SAMPLE_SYMBOL, build_component, isolated_plugins, make_context

SYM = SAMPLE_SYMBOL


def _setup(**cfg: Any) -> tuple[Any, MakerChaseExecutor]:
    ctx = make_context(bid=60000.0, ask=60000.1, price=60000.0)
    ex = build_component(isolated_plugins(), "executor", "maker_chase", ctx, cfg)
    assert isinstance(ex, MakerChaseExecutor)
    return ctx, ex


def _go(ctx: Any, ex: MakerChaseExecutor, side: str = "buy", edge: float = 50.0,
        urgency: float = 0.6) -> OrderDecision:
    sig = Signal("s", SYM, side, ctx.now, 60000.0, stop_loss=59000.0 if side == "buy" else
                 61000.0, edge_bps=edge, urgency=urgency, prefer_maker=True, signal_id=1)
    d = OrderDecision(1, 1, "s", SYM, side, ctx.now, price=60000.0, qty=0.01)
    assert ex.execute(sig, d) is None
    return d


def _tick(ctx: Any, bid: float, ask: float | None = None) -> None:
    st = ctx.market[SYM]
    st.bid, st.ask = bid, ask if ask is not None else bid + 0.1
    ctx.now += 2000
    ctx.clock.run_due(ctx.now)


def _open(ctx: Any) -> list[Any]:
    return [o for o in ctx.orders.orders if o.status == "open"]


def test_posts_at_touch_and_requotes_only_closer() -> None:
    ctx, ex = _setup()
    d = _go(ctx, ex)
    assert d.maker_or_taker == "maker"
    first = ctx.orders.orders[0]
    assert first.post_only and first.price == 60000.0 and first.order_type == "limit"
    _tick(ctx, 59990.0)  # touch moved toward us: keep resting
    assert _open(ctx) == [first]
    _tick(ctx, 60003.0)  # moved away: cancel/replace at the new touch
    assert first.status == "cancelled" and first.reason == "chase_requote"
    (second,) = _open(ctx)
    assert second.price == 60003.0
    _tick(ctx, 60001.0)  # back below our price: never re-quoted farther
    assert _open(ctx) == [second]
    prices = [o.price for o in ctx.orders.orders]
    assert prices == sorted(prices)


def test_sell_side_mirrors() -> None:
    ctx, ex = _setup()
    _go(ctx, ex, side="sell")
    assert ctx.orders.orders[0].price == 60000.1
    _tick(ctx, 59995.0, 59995.1)
    assert _open(ctx)[0].price == 59995.1


def test_gives_up_after_max_chases_without_fallback() -> None:
    ctx, ex = _setup(max_chases=3, max_chase_bps=50)
    _go(ctx, ex)
    for px in (60001.0, 60002.0, 60003.0):
        _tick(ctx, px)
    assert len(ctx.orders.orders) == 4 and ex.counts["requotes"] == 3
    _tick(ctx, 60004.0)
    assert _open(ctx) == []
    assert ctx.orders.orders[-1].reason == "chase_exhausted"
    assert ex.counts["exhausted"] == 1 and ex.counts["taker_fallbacks"] == 0
    assert all(o.order_type == "limit" for o in ctx.orders.orders)


def test_abort_when_price_runs_beyond_max_chase_bps() -> None:
    ctx, ex = _setup(max_chase_bps=5)
    _go(ctx, ex)
    _tick(ctx, 60000.0 * 1.0006)  # 6 bps away
    assert _open(ctx) == [] and ex.counts["exhausted"] == 1 and ex.counts["requotes"] == 0


def test_taker_fallback_rule() -> None:
    # alpha 50 - 6 bps moved - (4 fee + ~0 half spread + 1.5) >= 2 and urgency 0.6 -> taker
    ctx, ex = _setup(allow_taker_fallback=True, max_chase_bps=5)
    _go(ctx, ex, edge=50.0, urgency=0.6)
    _tick(ctx, 60000.0 * 1.0006)
    market = [o for o in ctx.orders.orders if o.order_type == "market"]
    assert len(market) == 1 and market[0].qty == 0.01 and ex.counts["taker_fallbacks"] == 1
    # urgency too low
    ctx, ex = _setup(allow_taker_fallback=True)
    _go(ctx, ex, edge=50.0, urgency=0.4)
    _tick(ctx, 60000.0 * 1.0006)
    assert not [o for o in ctx.orders.orders if o.order_type == "market"]
    # alpha too small after costs: 12 - 6 - 5.5 < 2
    ctx, ex = _setup(allow_taker_fallback=True)
    _go(ctx, ex, edge=12.0, urgency=0.9)
    _tick(ctx, 60000.0 * 1.0006)
    assert not [o for o in ctx.orders.orders if o.order_type == "market"]
    assert ex.counts["exhausted"] == 1


def test_post_only_rejection_requotes_one_tick_behind() -> None:
    ctx, ex = _setup()
    _go(ctx, ex)
    o = ctx.orders.orders[0]
    o.status, o.reason = "rejected", "post_only_would_cross: buy 60000 >= ask"
    ex.on_order_update(o)
    new = ctx.orders.orders[-1]
    assert new.price == 60000.0 - 0.1 and new.post_only
    assert ex.counts["post_only_rejects"] == 1


def test_partial_fills_aggregate_and_fill_rate() -> None:
    ctx, ex = _setup()
    _go(ctx, ex)
    o = ctx.orders.orders[0]
    ex.on_fill(Fill(99, o.order_id, "s", SYM, "buy", 0.004, 60000.0, 0.0, True, ctx.now, 1))
    _tick(ctx, 60002.0)  # re-quote only the remaining 0.006
    (second,) = _open(ctx)
    assert abs(second.qty - 0.006) < 1e-12
    ex.on_fill(Fill(100, second.order_id, "s", SYM, "buy", 0.006, 60002.0, 0.0, True,
                    ctx.now, 1))
    assert ex.counts["completed"] == 1
    assert ex.maker_fill_rate() == 1.0
    assert ex.stats()["maker_posted"] == 2


def test_reduce_only_goes_market() -> None:
    ctx, ex = _setup()
    sig = Signal("s", SYM, "sell", ctx.now, 60000.0, reduce_only=True)
    d = OrderDecision(1, 1, "s", SYM, "sell", ctx.now, price=60000.0, qty=0.01)
    ex.execute(sig, d)
    assert ctx.orders.orders[0].order_type == "market"
