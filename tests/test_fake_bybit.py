"""The fake Bybit v5 exchange speaks what ccxt and ccxt.pro expect (loopback only).

Invariants:

* ccxt's own ``load_markets`` parses the fake's instruments (the raw records of ccxt's Bybit
  fixture) to the same precision and limits as the fixture's parsed markets;
* private requests are signed as Bybit checks them: a wrong secret is refused (retCode 10004,
  ccxt ``AuthenticationError``);
* the trading endpoints follow Bybit: sparse create answers, a duplicate client order id is
  refused (110072), amend/cancel by id, a market order walks the real book (partial
  executions, fees in ``cumFeeDetail`` and ``execFee``), positions and balance follow;
* faults fire as armed (5xx -> ``ExchangeNotAvailable``, 10006 -> ``RateLimitExceeded``);
* the public and private streams reach ccxt.pro (trades, book snapshot then deltas with
  consecutive update ids, order updates).

The market is real: Binance USDⓈ-M BTCUSDT trades and L2 of 2024-08-08 (the shared data), or
the bundled BTC candles when that folder is absent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import ccxt
import pytest

from hean_framework.live.client import make_exchange
from hean_framework.live.config import ExchangeSection
from hean_framework.testing.fake_bybit import API_KEY, API_SECRET, FakeBybit, default_script

FIXTURE = Path("/work/shared/fixtures/ccxt/markets/bybit.json")
BTC = "BTC/USDT:USDT"


@pytest.fixture
def fake() -> Any:
    f = FakeBybit(script=default_script()).start()
    f.warm_up()
    yield f
    f.stop()


def _client(fake: FakeBybit, secret: str = API_SECRET) -> Any:
    sec = ExchangeSection(urls={"rest": fake.rest_url, "ws": fake.ws_url}, rate_limit=False,
                          timeout_ms=3000)
    return make_exchange(sec, keys=(API_KEY, secret))


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 15))


def test_markets_parse_like_the_fixture(fake: FakeBybit) -> None:
    async def go() -> dict[str, Any]:
        ex = _client(fake)
        try:
            return await ex.load_markets()
        finally:
            await ex.close()
    markets = _run(go())
    assert fake.unknown == []
    if FIXTURE.is_file():
        fixture = json.loads(FIXTURE.read_text())
        for sym in ("BTC/USDT:USDT", "ETH/USDT:USDT", "XRP/USDT:USDT"):
            assert markets[sym]["precision"] == fixture[sym]["precision"]
            assert markets[sym]["limits"]["amount"] == fixture[sym]["limits"]["amount"]
    assert markets[BTC]["precision"] == {"amount": 0.001, "price": 0.1}


def test_bad_signature_is_refused(fake: FakeBybit) -> None:
    async def go() -> None:
        ex = _client(fake, secret="wrong")
        try:
            await ex.load_markets()
            await ex.fetch_balance()
        finally:
            await ex.close()
    with pytest.raises(ccxt.AuthenticationError, match="10004"):
        _run(go())


def test_trading_endpoints(fake: FakeBybit) -> None:
    async def go() -> dict[str, Any]:
        ex = _client(fake)
        out: dict[str, Any] = {}
        try:
            await ex.load_markets()
            book = await ex.fetch_order_book(BTC)
            bid, ask = book["bids"][0][0], book["asks"][0][0]
            o = await ex.create_order(BTC, "limit", "buy", 0.01, bid - 100,
                                      {"clientOrderId": "t-1"})
            out["sparse"] = (o["status"], o["amount"], o["clientOrderId"])
            with pytest.raises(ccxt.InvalidOrder, match="110072"):
                await ex.create_order(BTC, "limit", "buy", 0.01, bid - 100,
                                      {"clientOrderId": "t-1"})
            await ex.edit_order(o["id"], BTC, "limit", "buy", 0.02, bid - 50)
            opened = await ex.fetch_open_orders(BTC)
            out["amended"] = [(x["amount"], x["price"]) for x in opened]
            await ex.cancel_order(o["id"], BTC)
            out["open_after_cancel"] = len(await ex.fetch_open_orders(BTC))
            size = sum(q for _, q in book["asks"][:3]) - 1e-3  # walks three real levels
            size = float(ex.amount_to_precision(BTC, size))
            m = await ex.create_order(BTC, "market", "buy", size, None, {"clientOrderId": "t-2"})
            trades = await ex.fetch_my_trades(BTC, params={"orderId": m["id"]})
            out["execs"] = [(t["amount"], t["price"], t["fee"]["cost"]) for t in trades]
            full = (await ex.fetch_open_orders(BTC, params={"orderLinkId": "t-2"}))[0]
            out["order"] = full["info"]
            pos = await ex.fetch_positions([BTC])
            out["pos"] = (pos[0]["contracts"], pos[0]["side"])
            out["ask"] = ask
            out["balance"] = (await ex.fetch_balance())["USDT"]["total"]
        finally:
            await ex.close()
        return out
    out = _run(go())
    assert out["sparse"] == (None, None, "t-1")  # create answers are sparse, as on Bybit
    assert out["amended"] == [(0.02, pytest.approx(out["ask"] - 0.1 - 50, abs=50))]
    assert out["open_after_cancel"] == 0
    execs = out["execs"]
    assert len(execs) >= 2 and execs[0][1] == out["ask"]  # partial executions, best level first
    info = out["order"]
    cum_fee = sum(f for _, _, f in execs)
    assert float(info["cumFeeDetail"]["USDT"]) == pytest.approx(cum_fee)
    assert float(info["cumExecQty"]) == pytest.approx(sum(q for q, _, _ in execs))
    assert info["orderStatus"] == "Filled"
    assert out["pos"][1] == "long" and out["pos"][0] == pytest.approx(float(info["qty"]))
    assert out["balance"] == pytest.approx(10_000 - cum_fee, abs=1e-6)


def test_faults_reach_ccxt_as_its_errors(fake: FakeBybit) -> None:
    fake.faults.add("http5xx", "/v5/account/wallet-balance")
    fake.faults.add("ratelimit", "/v5/account/wallet-balance")
    fake.faults.add("retcode", "/v5/account/wallet-balance", code=10016)

    async def go() -> list[str]:
        ex = _client(fake)
        seen = []
        try:
            await ex.load_markets()
            for _ in range(4):
                try:
                    await ex.fetch_balance()
                    seen.append("ok")
                except ccxt.BaseError as exc:
                    seen.append(type(exc).__name__)
        finally:
            await ex.close()
        return seen
    assert _run(go()) == ["ExchangeNotAvailable", "RateLimitExceeded", "ExchangeError", "ok"]
    assert [k for k, _ in fake.faults.fired] == ["http5xx", "ratelimit", "retcode"]


def test_streams_reach_ccxt_pro(fake: FakeBybit) -> None:
    async def go() -> dict[str, Any]:
        ex = _client(fake)
        books: list[tuple[str, int]] = []
        ex.on_book = lambda m: books.append((m["type"], int(m["data"]["u"])))
        got: dict[str, Any] = {"trades": 0}
        try:
            await ex.load_markets()

            async def trades() -> None:
                while True:
                    got["trades"] += len(await ex.watch_trades(BTC))

            async def book() -> None:
                while True:
                    await ex.watch_order_book(BTC)

            async def orders() -> None:
                got["orders"] = await ex.watch_orders()

            tasks = [asyncio.create_task(f()) for f in (trades, book, orders)]
            await asyncio.sleep(0.5)
            await asyncio.to_thread(fake.step, 300)
            await ex.create_order(BTC, "limit", "buy", 0.01, 50_000, {"clientOrderId": "s-1"})
            await asyncio.sleep(0.5)
            for t in tasks:
                t.cancel()
        finally:
            await ex.close()
        got["books"] = books
        return got
    got = _run(go())
    assert got["trades"] > 0
    kinds = [k for k, _ in got["books"]]
    assert kinds[0] == "snapshot" and kinds.count("delta") > 10
    ids = [u for _, u in got["books"]]
    assert all(b == a + 1 for a, b in itertools.pairwise(ids[1:]))  # consecutive update ids
    assert [o["clientOrderId"] for o in got["orders"]] == ["s-1"]
