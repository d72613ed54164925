"""The fake Bybit v5 exchange on loopback: REST and WebSocket endpoints as ccxt uses them.

:class:`FakeBybit` runs an aiohttp server on ``127.0.0.1`` (a free port) in a thread of its
own, so synchronous tests and a separate ``hean run`` process can both talk to it.

REST (``/v5/...``, JSON, errors as HTTP 200 with ``retCode``): market ``time``,
``instruments-info``, ``tickers``, ``orderbook``; order ``create`` / ``amend`` / ``cancel`` /
``cancel-all`` / ``realtime`` / ``history``; ``position/list``; ``account/wallet-balance`` /
``info`` / ``fee-rate``; ``execution/list``; ``asset/coin/query-info``; ``user/query-api``.
Private requests are checked like Bybit does (HMAC-SHA256 of ``timestamp + key + recvWindow
+ query or body``, the timestamp inside the receive window): a bad one gets retCode 10004
(bad signature) or 10003 (unknown key).

WebSocket: ``/v5/public/{spot,linear,inverse,option}`` (``publicTrade.*``,
``orderbook.<depth>.*``, ``tickers.*``) and ``/v5/private`` (``auth`` with the
``GET/realtime<expires>`` signature, then ``order``, ``execution``, ``position``, ``wallet``);
``ping`` is answered with ``pong``.  A new ``orderbook`` subscription gets a snapshot first.

Point ccxt at it with :meth:`FakeBybit.configure` (the URLs per API section after
``set_sandbox_mode``; rate limiting off).  Faults: :mod:`.faults`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import WSMsgType, web

from .exchange import BybitError, Exchange, now_ms
from .faults import Faults
from .script import ScriptEvent

API_KEY = "fake-key"
API_SECRET = "fake-secret"
RECV_GRACE_MS = 60_000


def _ok(result: Any) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ms()}


def _err(code: int, msg: str) -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": now_ms()}


class FakeBybit:
    """A Bybit v5 exchange on loopback (see the module docstring).

    >>> with FakeBybit() as fake:                     # doctest: +SKIP
    ...     ex = ccxt.bybit({...}); fake.configure(ex)
    """

    def __init__(self, *, balance: float = 10_000.0, api_key: str = API_KEY,
                 api_secret: str = API_SECRET, script: Iterator[ScriptEvent] | None = None,
                 ticker_every: int = 20, port: int = 0,
                 funding_interval_ms: int | None = None) -> None:
        self.exchange = Exchange(balance)
        if funding_interval_ms:
            self.exchange.funding_interval_ms = funding_interval_ms
        #: Bybit symbol ids whose public streams are silent (:meth:`silence`)
        self.silent: set[str] = set()
        self.faults = Faults()
        self.api_key = api_key
        self.api_secret = api_secret
        self.script = script
        self.ticker_every = ticker_every
        self.port = port
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._public: dict[str, list[tuple[web.WebSocketResponse, set[str]]]] = {}
        self._private: list[tuple[web.WebSocketResponse, set[str]]] = []
        self._ready = threading.Event()
        self._gap: set[str] = set()
        self._held: list[dict[str, Any]] = []
        self._silent_links: set[str] = set()
        self._conn = itertools.count(1)
        self._played = 0
        self._player: asyncio.Task[None] | None = None
        #: REST requests served: (method, path)
        self.requests: list[tuple[str, str]] = []
        #: paths nobody serves (a client calling an endpoint the fake lacks)
        self.unknown: list[str] = []
        self.published = 0
        #: stamp each public message with ``"hs"``: ``time.perf_counter_ns()`` just before it
        #: is sent (CLOCK_MONOTONIC: comparable across processes; the latency bench)
        self.stamp = False
        self.exchange.on_private = self._filter_private

    # ------------------------------------------------------------------ life cycle

    def start(self) -> FakeBybit:
        """Start the server thread; returns once it listens."""
        self._thread = threading.Thread(target=self._serve, name="fake-bybit", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake Bybit did not start")
        return self

    def _serve(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_route("*", "/v5/public/{category}", self._ws_public)
        app.router.add_route("*", "/v5/private", self._ws_private)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        """Close every connection and stop the server."""
        if self.loop is None:
            return
        loop = self.loop

        async def close_all() -> None:
            if self._player is not None:
                self._player.cancel()
            for ws, _ in self._private + [c for cs in self._public.values() for c in cs]:
                await ws.close()
        asyncio.run_coroutine_threadsafe(close_all(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self.loop = None

    def __enter__(self) -> FakeBybit:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def rest_url(self) -> str:
        """Base URL of the REST API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base URL of the WebSocket API."""
        return f"ws://127.0.0.1:{self.port}"

    def urls(self) -> dict[str, str]:
        """The URLs for the ``exchange.urls`` section of a run config."""
        return {"rest": self.rest_url, "ws": self.ws_url}

    def configure(self, ex: Any) -> Any:
        """Point a ccxt / ccxt.pro bybit instance at this fake (see :func:`point_at`)."""
        from hean_framework.live.client import point_at

        point_at(ex, self.rest_url, self.ws_url)
        return ex

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop (thread-safe) and return its result."""
        assert self.loop is not None

        async def run() -> Any:
            out = fn(*args)
            await self._flush()
            return out
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    # ------------------------------------------------------------------ market script

    def step(self, n: int = 1) -> int:
        """Publish the next ``n`` events of the market script; returns how many were."""
        return int(self.call(self._step, n))

    def warm_up(self, symbol: str = "BTCUSDT", limit: int = 20_000) -> int:
        """Step the script until ``symbol``'s book has both sides; returns the steps."""
        def run() -> int:
            n = 0
            while n < limit and not all(self.exchange.book(symbol).best()):
                if self._step(1) == 0:
                    break
                n += 1
            return n
        return int(self.call(run))

    def _step(self, n: int) -> int:
        done = 0
        ex = self.exchange
        while done < n and self.script is not None:
            ev = next(self.script, None)
            if ev is None:
                self.script = None
                break
            if ev.kind == "trade":
                ex.print_trade(ev.symbol, ev.price, ev.size, ev.side)
            else:
                gap = ev.symbol in self._gap and not ev.snapshot
                if gap:
                    self._gap.discard(ev.symbol)
                ex.apply_book(ev.symbol, ev.snapshot, ev.bids, ev.asks, skip_u=gap)
            done += 1
            self._played += 1
            if self.ticker_every and self._played % self.ticker_every == 0:
                ex.publish_ticker(ev.symbol)
        return done

    def play(self, rate: float, count: int | None = None) -> None:
        """Publish script events at ``rate`` per second (``count`` of them, or until the
        script ends) in the background."""
        assert self.loop is not None

        async def player() -> None:
            period = 1.0 / rate
            t0 = time.perf_counter()
            i = 0
            while count is None or i < count:
                if self._step(1) == 0:
                    break
                await self._flush()
                i += 1
                delay = t0 + i * period - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif i % 64 == 0:
                    await asyncio.sleep(0)

        def begin() -> None:
            self._player = self.loop.create_task(player())  # type: ignore[union-attr]
        self.loop.call_soon_threadsafe(begin)

    def playing(self) -> bool:
        """Whether :meth:`play` is still publishing."""
        return self._player is not None and not self._player.done()

    def silence(self, symbol: str, silent: bool = True) -> None:
        """Stop (or resume) publishing ``symbol``'s public messages -- trades, book, tickers --
        while the connection stays up (a stream that falls silent)."""
        (self.silent.add if silent else self.silent.discard)(symbol)

    def gap_next_book(self, symbol: str) -> None:
        """The next book delta of ``symbol`` skips one update id (a sequence gap)."""
        self._gap.add(symbol)

    def drop_streams(self, private: bool = True, public: bool = True) -> None:
        """Close the WebSocket connections (the client must reconnect and resubscribe)."""
        async def drop() -> None:
            conns = list(self._private) if private else []
            if public:
                conns += [c for cs in self._public.values() for c in cs]
            for ws, _ in conns:
                await ws.close()
        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(drop(), self.loop).result(5)

    def connections(self) -> tuple[int, int]:
        """(public, private) WebSocket connections open now."""
        return sum(len(v) for v in self._public.values()), len(self._private)

    # ------------------------------------------------------------------ publishing

    def _filter_private(self, topic: str, rows: list[dict[str, Any]]) -> bool:
        """Apply the private-stream faults; False drops the message."""
        link = rows[0].get("orderLinkId", "") if rows else ""
        if topic == "order" and rows[0].get("orderStatus") == "New" and \
                float(rows[0].get("cumExecQty", "0")) == 0 and link not in self._silent_links \
                and self.faults.take(("ack_no_ws",), "order"):
            self._silent_links.add(link)
        if link and link in self._silent_links and topic in ("order", "execution"):
            return False
        if topic == "execution":
            if self.faults.take(("ooo_exec",), "execution"):
                self._held.append({"topic": topic, "data": rows})
                return False
            if self.faults.take(("dup_exec",), "execution"):
                self.exchange.outbox.append((topic, rows))
        elif topic == "order" and self._held:
            self.exchange.outbox.append((topic, rows))
            for held in self._held:
                self.exchange.outbox.append((held["topic"], held["data"]))
            self._held.clear()
            return False
        return True

    async def _flush(self) -> None:
        ex = self.exchange
        pub, ex.public = ex.public, []
        priv, ex.outbox = ex.outbox, []
        for cat, msg in pub:
            raw = None
            topic = msg["topic"]
            if self.silent and topic.rsplit(".", 1)[-1] in self.silent:
                continue
            if self.stamp:
                msg["hs"] = time.perf_counter_ns()
            for ws, topics in list(self._public.get(cat, ())):
                if topic in topics and not ws.closed:
                    raw = raw or json.dumps(msg)
                    try:
                        await ws.send_str(raw)
                    except (ConnectionError, RuntimeError):
                        continue
            self.published += 1
        for topic, rows in priv:
            raw = json.dumps({"id": f"p-{next(self._conn)}", "topic": topic,
                              "creationTime": now_ms(), "data": rows})
            for ws, topics in list(self._private):
                if topic in topics and not ws.closed:
                    try:
                        await ws.send_str(raw)
                    except (ConnectionError, RuntimeError):
                        continue

    # ------------------------------------------------------------------ WebSocket

    async def _ws_public(self, request: web.Request) -> web.WebSocketResponse:
        cat = request.match_info["category"]
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        topics: set[str] = set()
        entry = (ws, topics)
        self._public.setdefault(cat, []).append(entry)
        conn = f"c-{next(self._conn)}"
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                op = req.get("op")
                if op == "ping":
                    await ws.send_json({"success": True, "ret_msg": "pong", "conn_id": conn,
                                        "req_id": req.get("req_id", ""), "op": "ping"})
                elif op in ("subscribe", "unsubscribe"):
                    args = [str(a) for a in req.get("args", [])]
                    (topics.update if op == "subscribe" else topics.difference_update)(args)
                    await ws.send_json({"success": True, "ret_msg": "", "conn_id": conn,
                                        "req_id": req.get("req_id", ""), "op": op})
                    if op == "subscribe":
                        for a in args:
                            if a.startswith("orderbook."):
                                sym = a.rsplit(".", 1)[1]
                                self.exchange.apply_book(sym, True, [], [], publish=False)
                                data = self.exchange.depth(sym)
                                await ws.send_json({"topic": a, "type": "snapshot",
                                                    "ts": now_ms(), "data": data,
                                                    "cts": now_ms()})
        finally:
            self._public[cat].remove(entry)
        return ws

    async def _ws_private(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        topics: set[str] = set()
        entry = (ws, topics)
        authed = False
        conn = f"c-{next(self._conn)}"
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                req = json.loads(msg.data)
                op = req.get("op")
                if op == "ping":
                    await ws.send_json({"success": True, "ret_msg": "pong", "conn_id": conn,
                                        "req_id": req.get("req_id", ""), "op": "pong"})
                elif op == "auth":
                    key, expires, sig = ([*list(req.get("args", [])), "", "", ""])[:3]
                    want = hmac.new(self.api_secret.encode(), f"GET/realtime{expires}".encode(),
                                    hashlib.sha256).hexdigest()
                    authed = key == self.api_key and hmac.compare_digest(str(sig), want)
                    await ws.send_json({"success": authed, "ret_msg": "" if authed else
                                        "error:USVC1111", "op": "auth", "conn_id": conn,
                                        "req_id": req.get("req_id", "")})
                    if authed:
                        self._private.append(entry)
                elif op == "subscribe":
                    if authed:
                        topics.update(str(a) for a in req.get("args", []))
                    await ws.send_json({"success": authed, "ret_msg": "" if authed else
                                        "Request not authorized", "conn_id": conn,
                                        "req_id": req.get("req_id", ""), "op": "subscribe"})
        finally:
            if entry in self._private:
                self._private.remove(entry)
        return ws

    # ------------------------------------------------------------------ REST

    def _check_sign(self, request: web.Request, body: str) -> dict[str, Any] | None:
        h = request.headers
        key, ts, recv = (h.get("X-BAPI-API-KEY", ""), h.get("X-BAPI-TIMESTAMP", ""),
                         h.get("X-BAPI-RECV-WINDOW", "5000"))
        if key != self.api_key:
            return _err(10003, "API key is invalid.")
        payload = ts + key + recv + (body if request.method == "POST" else request.query_string)
        want = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(h.get("X-BAPI-SIGN", ""), want):
            return _err(10004, "error sign! origin_string[" + payload + "]")
        if not ts.isdigit() or abs(now_ms() - int(ts)) > int(recv) + RECV_GRACE_MS:
            return _err(10002, "invalid request, please check your server timestamp or "
                        "recv_window param")
        return None

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body = await request.text()
        self.requests.append((request.method, path))
        fault = self.faults.take(("timeout", "http5xx", "retcode", "ratelimit", "late"), path)
        if fault is not None:
            if fault.kind == "timeout":
                await asyncio.sleep(fault.delay_s)
            elif fault.kind == "http5xx":
                return web.Response(status=fault.status, text="<html>bad gateway</html>",
                                    content_type="text/html")
            elif fault.kind == "retcode":
                return web.json_response(_err(fault.code, fault.msg))
            elif fault.kind == "ratelimit":
                return web.json_response(_err(10006, "Too many visits!"))
        private = not path.startswith("/v5/market/")
        if private:
            bad = self._check_sign(request, body)
            if bad is not None:
                return web.json_response(bad)
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and body:
            params.update(json.loads(body))
        handler = ROUTES.get((request.method, path))
        if handler is None:
            self.unknown.append(f"{request.method} {path}")
            return web.json_response(_err(10001, f"unknown path {path}"), status=404)
        try:
            out = _ok(handler(self, params))
        except BybitError as exc:
            out = _err(exc.code, exc.msg)
        await self._flush()
        if fault is not None and fault.kind == "late":
            await asyncio.sleep(fault.delay_s)
        return web.json_response(out)


# ---------------------------------------------------------------------- REST handlers


def _time(f: FakeBybit, p: dict[str, Any]) -> dict[str, Any]:
    ns = time.time_ns()
    return {"timeSecond": str(ns // 10**9), "timeNano": str(ns)}


def _instruments(f: FakeBybit, p: dict[str, Any]) -> dict[str, Any]:
    cat = p.get("category", "linear")
    rows = f.exchange.instruments.get(cat, [])
    if p.get("baseCoin"):
        rows = [r for r in rows if r.get("baseCoin") == p["baseCoin"]]
    if p.get("symbol"):
        rows = [r for r in rows if r.get("symbol") == p["symbol"]]
    return {"category": cat, "list": rows, "nextPageCursor": ""}


def _tickers(f: FakeBybit, p: dict[str, Any]) -> dict[str, Any]:
    cat = p.get("category", "linear")
    syms = [p["symbol"]] if p.get("symbol") else [
        r["symbol"] for r in f.exchange.instruments.get(cat, [])]
    return {"category": cat, "list": [f.exchange.ticker(s) for s in syms]}


def _orderbook(f: FakeBybit, p: dict[str, Any]) -> dict[str, Any]:
    f.exchange.category(p.get("symbol", ""))
    return f.exchange.depth(p["symbol"], int(p.get("limit", 50)))


def _orders(f: FakeBybit, p: dict[str, Any]) -> dict[str, Any]:
    rows = f.exchange.open_orders(p.get("symbol", ""), p.get("orderId", ""),
                                  p.get("orderLinkId", ""))
    return {"category": p.get("category", "linear"), "list": rows, "nextPageCursor": ""}


def _history(f: FakeBybit, p: dict[str, Any]) -> dict[str, Any]:
    ex = f.exchange
    if p.get("orderId") or p.get("orderLinkId"):
        o = ex.find(p.get("orderId", ""), p.get("orderLinkId", ""))
        rows = [] if o is None else [o]
    else:
        rows = [o for o in ex.orders.values()
                if o["orderStatus"] in ("Filled", "Cancelled", "Rejected")
                and (not p.get("symbol") or o["symbol"] == p["symbol"])]
    return {"category": p.get("category", "linear"), "list": rows, "nextPageCursor": ""}


def _cancel_all(f: FakeBybit, p: dict[str, Any]) -> dict[str, Any]:
    done = []
    for o in f.exchange.open_orders(p.get("symbol", "")):
        f.exchange.cancel({"orderId": o["orderId"]})
        done.append({"orderId": o["orderId"], "orderLinkId": o["orderLinkId"]})
    return {"list": done, "success": "1"}


def _positions(f: FakeBybit, p: dict[str, Any]) -> dict[str, Any]:
    ex = f.exchange
    cat = p.get("category", "linear")
    syms = [p["symbol"]] if p.get("symbol") else [
        s for s, pos in ex.positions.items() if pos.size and ex.category(s) == cat]
    return {"category": cat, "list": [ex.position_row(s) for s in syms], "nextPageCursor": ""}


def _executions(f: FakeBybit, p: dict[str, Any]) -> dict[str, Any]:
    rows = [e for e in f.exchange.executions
            if (not p.get("symbol") or e["symbol"] == p["symbol"])
            and (not p.get("orderId") or e["orderId"] == p["orderId"])
            and (not p.get("orderLinkId") or e["orderLinkId"] == p["orderLinkId"])]
    return {"category": p.get("category", "linear"), "list": rows[::-1][:int(p.get("limit", 100))],
            "nextPageCursor": ""}


ROUTES: dict[tuple[str, str], Callable[[FakeBybit, dict[str, Any]], Any]] = {
    ("GET", "/v5/market/time"): _time,
    ("GET", "/v5/market/instruments-info"): _instruments,
    ("GET", "/v5/market/tickers"): _tickers,
    ("GET", "/v5/market/orderbook"): _orderbook,
    ("POST", "/v5/order/create"): lambda f, p: f.exchange.create(p),
    ("POST", "/v5/order/amend"): lambda f, p: f.exchange.amend(p),
    ("POST", "/v5/order/cancel"): lambda f, p: f.exchange.cancel(p),
    ("POST", "/v5/order/cancel-all"): _cancel_all,
    ("GET", "/v5/order/realtime"): _orders,
    ("GET", "/v5/order/history"): _history,
    ("GET", "/v5/position/list"): _positions,
    ("GET", "/v5/account/wallet-balance"): lambda f, p: {"list": [f.exchange.wallet_row()]},
    ("GET", "/v5/account/info"): lambda f, p: {"unifiedMarginStatus": 6, "marginMode":
                                               "REGULAR_MARGIN", "isMasterTrader": False},
    ("GET", "/v5/account/fee-rate"): lambda f, p: {"list": []},
    ("GET", "/v5/execution/list"): _executions,
    ("GET", "/v5/asset/coin/query-info"): lambda f, p: {"rows": []},
    ("GET", "/v5/user/query-api"): lambda f, p: {"unified": 0, "uta": 1, "readOnly": 0},
}
