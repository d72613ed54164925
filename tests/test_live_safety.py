"""Safety of paper and live sessions against the fake Bybit (loopback, bounded in time).

Invariants:

* **killswitch** (the governor's, tripped by real fees): every open order of the run is
  cancelled on the exchange and, with ``exchange.flatten_on_killswitch``, every strategy
  position is closed there -- two strategies on opposite sides through the reduce-only
  mapping -- while an order placed by hand and a position nobody in the run owns are **left
  alone**: reported by the start reconciliation, still on the exchange at the end;
* **staleness per symbol**: a symbol whose stream falls silent (the connection stays up) is
  reported ``market_stale`` -- that symbol only -- and the kernel's ``stale_data`` filter
  blocks its signals (``STALE_MARKET_DATA``) while the other symbol trades on;
* **funding** settles from the tickers: each settlement of the exchange while the run held a
  position becomes one funding event, and the portfolio pays what the exchange charged;
* **amend** in a live session changes the resting order in place on the exchange (same
  exchange id and client id, new price and quantity) and in the journal.

Market: real BTCUSDT (and ETHUSDT) trades and L2 replayed by the fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hean_framework.testing.fake_bybit import FakeBybit, default_script, shared_data
from hean_framework.testing.fake_bybit.exchange import fmt
from hean_framework.testing.fake_bybit.harness import events, rows, run_session

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    f = FakeBybit(script=default_script(), funding_interval_ms=600).start()
    f.warm_up()
    yield f
    f.stop()


def test_killswitch_cancels_flattens_and_leaves_foreign_alone(fake: FakeBybit,
                                                              tmp_path: Path) -> None:
    ex = fake.exchange
    bid, _ = ex.book("BTCUSDT").best()
    by_hand = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
               "qty": "0.002", "price": fmt(round(bid * 0.9, 1)), "orderLinkId": "by-hand-1"}
    fake.call(ex.create, by_hand)
    fake.call(ex.create, {"category": "linear", "symbol": "BTCUSDT", "side": "Buy",
                          "orderType": "Market", "qty": "0.003", "orderLinkId": "by-hand-2"})
    # fees of both entries (0.14 + 0.34 USDT) pass the killswitch at 0.35 USDT of 10 000
    extra = {"strategies": {
        "short_b": {"plugin": "holder", "side": "sell", "qty": 0.004, "enter_at": 15},
        "long_a": {"plugin": "holder", "side": "buy", "qty": 0.01, "enter_at": 25,
                   "target": 0.05, "rest_at": 5}},
        "gates": {"governor": {"killswitch_pct": 0.000035}},
        "report": {"equity_interval_ms": 50},
        "exchange": {"flatten_on_killswitch": True}}
    out = tmp_path / "kill"
    eng, sess = run_session(fake, out, seconds=2.5, rate=300, count=600, extra=extra)
    (kill,) = events(out, "killswitch")
    assert kill["cancelled"] == 2  # long_a's resting buy and its take-profit
    assert sorted((f["strategy"], f["qty"]) for f in kill["flattened"]) == \
        [("long_a", 0.01), ("short_b", -0.004)]
    pf = eng.ctx.portfolio
    assert pf.position_qty("long_a", BTC) == 0.0 and pf.position_qty("short_b", BTC) == 0.0
    assert ex.positions["BTCUSDT"].size == pytest.approx(0.003)  # only the unowned one
    flat = rows(out, "SELECT strategy_id, side, qty, status FROM orders WHERE tag = "
                     "'KILLSWITCH_FLATTEN' ORDER BY strategy_id")
    assert flat == [("long_a", "sell", 0.01, "filled"), ("short_b", "buy", 0.004, "filled")]
    mine = [o for o in ex.orders.values() if not o["orderLinkId"].startswith("by-hand")]
    assert all(o["orderStatus"] in ("Filled", "Cancelled") for o in mine)
    assert ex.find(link_id="by-hand-1")["orderStatus"] == "New"  # left alone
    (start, *_) = events(out, "reconcile")
    assert [o["client_id"] for o in start["foreign_orders"]] == ["by-hand-1"]
    assert [(u["symbol"], u["qty"]) for u in start["unowned_positions"]] == [(BTC, 0.003)]
    states = [e for e in events(out, "risk_state") if "killswitch" in str(e)]
    assert states, "the governor's killswitch did not fire"
    (end,) = events(out, "run_end")
    assert end["open_orders_left"] == []
    del sess


@pytest.mark.skipif(shared_data() is None, reason="needs the shared data's ETHUSDT ticks "
                    "(../shared/data)")
def test_a_silent_symbol_is_stale_and_its_signals_blocked(tmp_path: Path) -> None:
    from hean_framework.testing.fake_bybit import tick_script

    fake = FakeBybit(script=tick_script(("BTCUSDT", "ETHUSDT"))).start()
    try:
        fake.warm_up("BTCUSDT")
        fake.warm_up("ETHUSDT")
        extra = {"data": {"symbols": [BTC, ETH]},
                 "strategies": {"eth_timer": {"plugin": "timer_flip", "symbol": ETH, "qty": 0.01,
                                              "period_ms": 150}},
                 "filters": {"stale_data": {"max_age_ms": 600}},
                 "exchange": {"stale_after_ms": 400, "tick_ms": 100}}
        out = tmp_path / "stale"
        eng, sess = run_session(fake, out, mode="paper", seconds=3.0, rate=400, count=None,
                                extra=extra, during=lambda: fake.silence("ETHUSDT"),
                                during_after_s=0.8)
    finally:
        fake.stop()
    stale = events(out, "market_stale")
    assert [e["symbol"] for e in stale] == [ETH]  # BTC kept talking
    assert stale[0]["silent_ms"] > 400
    assert sess.stale == {ETH}
    decided = rows(out, "SELECT decision, reason_codes FROM decisions ORDER BY decision_id")
    first = next(i for i, d in enumerate(decided) if "STALE_MARKET_DATA" in d[1])
    assert any(d[0] == "CREATE" for d in decided[:first])  # before the silence ETH trades
    assert all(d[0] == "SKIP" for d in decided[first:])  # after it, nothing is sent
    assert sum("STALE_MARKET_DATA" in d[1] for d in decided) >= 3
    assert eng.ctx.market[BTC].ts > eng.ctx.market[ETH].ts + 1000


def test_funding_and_amend_in_a_live_session(fake: FakeBybit, tmp_path: Path) -> None:
    extra = {"strategies": {"long_a": {"plugin": "holder", "side": "buy", "qty": 0.01,
                                       "enter_at": 20, "rest_at": 5, "amend_at": 60}}}
    out = tmp_path / "fund"
    eng, sess = run_session(fake, out, seconds=2.6, rate=300, count=700, extra=extra)
    ex = fake.exchange
    # amend: one resting order, changed in place (same ids), price 4 % away, 1.5x the size
    (rest,) = [o for o in ex.orders.values() if o["orderType"] == "Limit"]
    (jrow,) = rows(out, "SELECT client_id, exchange_id, qty, price, status FROM orders "
                        "WHERE tag = 'HOLDER_REST'")
    assert (jrow[0], jrow[1]) == (rest["orderLinkId"], rest["orderId"])
    assert float(rest["qty"]) == pytest.approx(0.015) and jrow[2] == pytest.approx(0.015)
    assert float(rest["price"]) == pytest.approx(jrow[3])
    created = float(rest["lastPriceOnCreated"])
    assert float(rest["price"]) == pytest.approx(created * 0.96, rel=2e-3)
    assert rest["orderStatus"] == "Cancelled" and jrow[4] == "cancelled"  # by the stop
    # funding: the exchange's settlements while the position was open, paid as charged
    held = [f for f in ex.fundings if f["size"]]
    assert len(held) >= 2, ex.fundings
    paid = events(out, "funding")
    assert len(paid) >= len(held) - 1  # the last may land after the session's stop
    charged = sum(f["payment"] for f in held[:len(paid)])
    assert -eng.ctx.portfolio.funding == pytest.approx(charged, rel=1e-9)
    del sess
