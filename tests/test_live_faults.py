"""Live sessions against the fake Bybit with faults injected (loopback, bounded in time).

Invariants after every session, whatever was injected:

* **no duplicated order**: each client order id exists at most once on the exchange;
* **no lost order**: every order the run did not see refused is on the exchange, and every
  order is done or still tracked; nothing open is left behind at the stop;
* **positions reconciled**: the exchange's BTC position equals the portfolio's, and the run
  booked exactly the exchange's executions (count, quantity, fees);
* **every fault recorded**: each armed fault fired and the journal holds an event for it
  (``exchange_fault``, ``exchange_reject``, ``book_gap``/``book_resync``,
  ``stream_reconnect`` + ``reconcile``).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.live.session import LiveSession
from hean_framework.testing.fake_bybit import API_KEY, API_SECRET, FakeBybit, default_script
from hean_framework.testing.fake_bybit.demo import config, plugins

BTC = "BTC/USDT:USDT"


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    f = FakeBybit(script=default_script()).start()
    f.warm_up()
    yield f
    f.stop()


def run_session(fake: FakeBybit, out: Path, *, seconds: float = 4.0, rate: float = 600,
                count: int = 2000, during: Any = None, every: int = 8,
                exchange: dict[str, Any] | None = None) -> tuple[Engine, LiveSession]:
    cfg = config(out.parent / f"{out.name}.yaml", fake.rest_url, fake.ws_url, mode="live",
                 every=every, extra={"exchange": exchange or {}})
    pm = plugins()
    setup = load_setup(cfg, pm.registry, need_strategy=True)
    eng = Engine(setup, pm, out_dir=out, progress=False)
    sess = LiveSession(eng, setup.section("exchange"), keys=(API_KEY, API_SECRET),
                       duration_s=seconds)

    def driver() -> None:
        deadline = time.monotonic() + 10
        while fake.connections()[1] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        fake.play(rate, count)
        if during is not None:
            time.sleep(1.0)
            during()
    threading.Thread(target=driver, daemon=True).start()
    try:
        asyncio.run(sess.run())
    finally:
        eng.close()
    return eng, sess


def events(out: Path, kind: str) -> list[dict[str, Any]]:
    con = sqlite3.connect(out / "journal.sqlite")
    try:
        return [json.loads(p) for (p,) in
                con.execute("SELECT payload FROM events WHERE kind = ?", (kind,))]
    finally:
        con.close()


def check_books(fake: FakeBybit, eng: Engine, sess: LiveSession) -> None:
    """The invariants of the module docstring (faults aside)."""
    ex = fake.exchange
    links = [o["orderLinkId"] for o in ex.orders.values()]
    assert len(links) == len(set(links)), "an order was placed twice"
    venue = sess.venue
    assert venue is not None
    on_exchange = set(links)
    for cid in venue.by_cid:
        o = venue.by_cid[cid]
        if o.status == "rejected" and o.reason.startswith("reduce_only_no_position"):
            assert cid not in on_exchange  # a stale exit is never sent
        elif o.status == "rejected":
            assert o.reason.startswith(("EXCHANGE_", "STOPPING")), o.reason
        else:
            assert cid in on_exchange, f"{cid} ({o.status}) is not on the exchange"
    assert not ex.open_orders() and not venue.open_orders()
    pos = ex.positions.get("BTCUSDT")
    mine = sum(p.qty for p in eng.ctx.portfolio.positions() if p.symbol == BTC)
    assert mine == pytest.approx(pos.size if pos else 0.0, abs=1e-9)
    execs = [e for e in ex.executions]
    assert len(venue.seen_exec) == len(execs)
    assert eng.ctx.portfolio.fees == pytest.approx(sum(float(e["execFee"]) for e in execs))
    assert not fake.faults.armed, f"faults never fired: {fake.faults.armed}"


def test_rest_faults_neither_lose_nor_duplicate_orders(fake: FakeBybit, tmp_path: Path) -> None:
    f = fake.faults
    # the first order is refused; the second meets every transient fault in turn, the first
    # of which placed it (its answer came too late): the last retry is refused as a duplicate
    f.add("retcode", "/v5/order/create", code=110007, msg="ab not enough for new order")
    f.add("late", "/v5/order/create", delay_s=0.8)
    f.add("timeout", "/v5/order/create", delay_s=0.8)  # lost before it was handled
    f.add("http5xx", "/v5/order/create", count=2)
    f.add("retcode", "/v5/order/create", code=10016)
    f.add("ratelimit", "/v5/order/create", count=4)
    eng, sess = run_session(fake, tmp_path / "rest", seconds=4.0,
                            exchange={"timeout_ms": 500, "backoff_ms": 10, "retries": 10})
    check_books(fake, eng, sess)
    v = sess.venue
    assert v is not None
    assert v.counts["duplicates_refused"] >= 1 and v.counts["rate_limited"] == 4
    faults = events(tmp_path / "rest", "exchange_fault")
    errors = [x["error"] for x in faults]
    assert errors.count("RateLimitExceeded") == 4 and "RequestTimeout" in errors
    assert errors.count("ExchangeNotAvailable") == 2
    rejects = events(tmp_path / "rest", "exchange_reject")
    assert [r["code"] for r in rejects] == ["110007"]  # no 110017: see test_live_reduce_only
    con = sqlite3.connect(tmp_path / "rest" / "journal.sqlite")
    rows = con.execute("SELECT decision, stage, reason_codes FROM decisions "
                       "WHERE stage = 'exchange'").fetchall()
    con.close()
    assert rows == [("BLOCK", "exchange", '["EXCHANGE_110007"]')]


def test_stream_faults_are_repaired(fake: FakeBybit, tmp_path: Path) -> None:
    f = fake.faults
    f.add("ack_no_ws")  # only REST can tell what became of this order
    f.add("dup_exec", count=2)
    f.add("ooo_exec")

    def during() -> None:
        fake.gap_next_book("BTCUSDT")
        time.sleep(0.4)
        fake.drop_streams()

    eng, sess = run_session(fake, tmp_path / "ws", during=during, seconds=4.0,
                            exchange={"poll_ms": 300})
    check_books(fake, eng, sess)
    v = sess.venue
    assert v is not None
    assert v.counts["dup_exec"] >= 2 and v.counts["rest_fills"] >= 1
    assert sess.feed.counts["sequence_gap"] >= 1 and sess.feed.counts["book_resync"] >= 1
    out = tmp_path / "ws"
    assert events(out, "book_gap") and events(out, "book_resync")
    assert events(out, "stream_reconnect")
    whens = [r["when"] for r in events(out, "reconcile")]
    assert whens[0] == "start" and "reconnect" in whens
    book = eng.ctx.market[BTC].book
    assert book is not None
    bid, ask = fake.exchange.book("BTCUSDT").best()
    assert (book.bid, book.ask) == (bid, ask)  # the resynced book follows the exchange's
