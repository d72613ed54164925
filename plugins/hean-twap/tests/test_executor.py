"""The executor's rules, step by step, on the testing kit's context with a real BTC quote
(Binance USDT-M, 2024-08-08 23:54:16 UTC: bid 61,800.2, ask 61,800.3) and the kit's clock.

Invariants:

* exits (reduce-only) are one market order unless ``slice_exits``; a sliced exit that must
  abort is *accelerated* (its remaining quantity at once), never dropped;
* a stop state published by the governor (fact ``risk_state``) aborts at the next slice and
  cancels the slice orders still open; a state not in ``stop_states`` does not;
* an entry whose position was closed (its stop filled) after some slices aborts with
  ``position_exited``; a reversal still closing the old position does not;
* a slice fallen below the minimum notional when it is due is added to the next slice;
* ``on_params_updated`` clamps into the declared bounds; bad settings are refused with the
  allowed values; ``inner`` must name another executor of the run.
"""

from __future__ import annotations

from typing import Any

import pytest
from hean_twap import TwapConfig, TwapExecutor
from pydantic import ValidationError

from hean_framework.errors import ConfigError
from hean_framework.models import Fill, OrderDecision, Signal
from hean_framework.risk.governor import RISK_STATE
from hean_framework.testing import build_component, isolated_plugins, make_context

SYM = "BTC/USDT:USDT"
BID, ASK = 61800.2, 61800.3


def _setup(**cfg: Any) -> tuple[Any, TwapExecutor]:
    ctx = make_context(symbols=[SYM], bid=BID, ask=ASK, price=ASK, capital=1_000_000.0)
    fake = ctx.orders
    record = fake.on_fill

    def book(fill: Fill, order: Any) -> None:  # the kit's fake does not book fills
        ctx.portfolio.apply_fill(fill)
        record(fill, order)

    fake.on_fill = book  # type: ignore[method-assign]
    ex = build_component(isolated_plugins("hean_twap.plugin"), "executor", "twap", ctx,
                         {"jitter": 0.0, **cfg})
    assert isinstance(ex, TwapExecutor)
    return ctx, ex


def _parent(ex: TwapExecutor, qty: float, side: str = "buy", did: int = 1,
            reduce_only: bool = False, close_qty: float = 0.0) -> tuple[Any, OrderDecision]:
    sig = Signal("s", SYM, side, ex.ctx.now, ASK, signal_id=did, reduce_only=reduce_only)
    d = OrderDecision(did, did, "s", SYM, side, ex.ctx.now, price=ASK, qty=qty,
                      close_qty=close_qty)
    return ex.execute(sig, d), d


def _advance(ctx: Any, ms: int) -> None:
    ctx.clock.run_due(ctx.now + ms)


def test_slices_go_out_on_the_clock() -> None:
    ctx, ex = _setup(slices=4, duration_s=40)
    v, d = _parent(ex, 0.4)
    assert v is None and [o.qty for o in ctx.orders.orders] == [0.1]
    t0 = ctx.now
    for k in (2, 3, 4):
        _advance(ctx, 10_000)
        assert len(ctx.orders.orders) == k and ctx.orders.orders[-1].ts == t0 + 10_000 * (k - 1)
    assert all(o.decision_id == 1 for o in ctx.orders.orders)
    p = ex.recent[-1]
    assert p.status == "complete" and p.filled_slices == 4 and p.filled == pytest.approx(0.4)
    assert ex.parents == {} and ex._by_order == {}  # a finished parent leaves the tables
    assert d.details["twap"]["offsets_ms"] == [0, 10_000, 20_000, 30_000]


def test_exits_are_one_order_unless_configured() -> None:
    ctx, ex = _setup(slices=4, duration_s=40)
    v, d = _parent(ex, 0.4, side="sell", reduce_only=True)
    assert v is None and [o.qty for o in ctx.orders.orders] == [0.4]
    assert d.details["twap"]["why"] == "exit_not_sliced" and ex.counts["exits_unsliced"] == 1
    ctx, ex = _setup(slices=4, duration_s=40, slice_exits=True)
    _parent(ex, 0.4, side="sell", reduce_only=True)
    assert [o.qty for o in ctx.orders.orders] == [0.1]


def test_a_sliced_exit_is_accelerated_not_dropped() -> None:
    ctx, ex = _setup(slices=4, duration_s=40, slice_exits=True)
    _parent(ex, 0.4, side="sell", reduce_only=True)
    ctx.facts.set(RISK_STATE, "KILLSWITCH")
    _advance(ctx, 10_000)
    assert [o.qty for o in ctx.orders.orders] == [0.1, pytest.approx(0.3)]
    p = ex.recent[-1]
    assert p.status == "accelerated" and p.abort is not None
    assert p.abort["reason"] == "stop_trading" and p.abort["accelerated_qty"] == \
        pytest.approx(0.3)
    assert p.filled == pytest.approx(0.4)


def test_stop_state_aborts_and_cancels_open_slices() -> None:
    ctx, ex = _setup(slices=4, duration_s=40, stop_states=["HARD_STOP"])
    _parent(ex, 0.4)
    resting = ctx.orders.submit(Signal("s", SYM, "buy", ctx.now, ASK), ex.parents[1].decision,
                                0.1, order_type="limit", price=BID, executor=ex)
    ex.parents[1].open_orders.add(resting.order_id)  # a slice still working
    ex._by_order[resting.order_id] = ex.parents[1]
    ctx.facts.set(RISK_STATE, "QUARANTINE")  # not a stop state here
    _advance(ctx, 10_000)
    assert len([o for o in ctx.orders.orders if o.order_type == "market"]) == 2
    ctx.facts.set(RISK_STATE, "HARD_STOP")
    _advance(ctx, 10_000)
    p = ex.recent[-1]
    assert p.status == "aborted" and p.abort is not None
    assert p.abort == {"reason": "stop_trading", "ts": ctx.now, "slices_left": 2,
                       "qty_left": pytest.approx(0.2), "risk_state": "HARD_STOP"}
    assert resting.order_id in ctx.orders.cancelled
    assert resting.reason == "twap_abort: stop_trading"
    row = p.as_dict(ctx.market[SYM])
    assert (row["slices_sent"], row["slices_aborted"]) == (2, 2)


def test_position_exited_aborts_an_entry_but_not_a_reversal() -> None:
    ctx, ex = _setup(slices=4, duration_s=40)
    _parent(ex, 0.4)
    _advance(ctx, 10_000)  # 0.2 bought
    stop = Fill(ctx.next_id(), 999, "s", SYM, "sell", 0.2, BID - 50.0, 0.0, False, ctx.now, 0)
    ctx.portfolio.apply_fill(stop)  # the protective stop closed the position
    _advance(ctx, 10_000)
    p = ex.recent[-1]
    assert p.status == "aborted" and p.abort is not None
    assert p.abort["reason"] == "position_exited" and p.abort["position_qty"] == 0.0
    # a reversal: short 0.3 first, then buy 0.3 + 0.1 in four slices
    ctx, ex = _setup(slices=4, duration_s=40)
    ctx.portfolio.apply_fill(Fill(ctx.next_id(), 998, "s", SYM, "sell", 0.3, BID, 0.0, False,
                                  ctx.now, 0))
    _parent(ex, 0.1, close_qty=0.3)
    for _ in range(3):
        _advance(ctx, 10_000)
    assert ex.recent[-1].status == "complete"
    assert ctx.portfolio.position_qty("s", SYM) == pytest.approx(0.1)


def test_slice_below_the_minimum_when_due_joins_the_next() -> None:
    """Planned at 61,800 (0.001 BTC = 61.8 USDT); if the minimum notional were 100 USDT by
    the time slice 1 is due, it would be below it: its quantity moves to slice 2."""
    ctx, ex = _setup(slices=3, duration_s=30, threshold_notional=100)
    inst = ctx.instruments.get(SYM)
    _parent(ex, 0.003)
    assert len(ctx.orders.orders) == 1
    object.__setattr__(inst, "min_notional", 100.0)
    _advance(ctx, 10_000)
    assert len(ctx.orders.orders) == 1 and ex.parents[1].merges_at_send[0]["index"] == 1
    _advance(ctx, 10_000)  # the last slice is sent with what was carried
    assert [o.qty for o in ctx.orders.orders] == [0.001, 0.002]
    assert ex.recent[-1].status == "complete"


def test_params_are_clamped_and_bad_settings_refused() -> None:
    _, ex = _setup()
    assert ex.on_params_updated({"slices": 1_000, "jitter": -1.0, "abort_adverse_bps": 1e9,
                                 "unknown": 1}) == ["jitter", "slices"]
    assert ex.config.slices == 200 and ex.config.jitter == 0.0
    assert ex.on_params_updated({"duration_s": 0.1}) == ["duration_s"]
    assert ex.config.duration_s == 1.0
    with pytest.raises(ValidationError, match="jitter"):
        TwapConfig(jitter=0.9)
    with pytest.raises(ValidationError, match="allowed: NORMAL, SOFT_BRAKE"):
        TwapConfig(stop_states=["PANIC"])


def test_inner_must_be_another_executor_of_the_run() -> None:
    with pytest.raises(ConfigError, match=r"executors\.twap\.inner: 'smart_order' is not"):
        _setup(inner="smart_order")
