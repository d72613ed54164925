"""The ccxt.pro Bybit client of a paper or live run, and how it is pointed at an endpoint.

:func:`make_exchange` builds one :class:`HeanBybit` (a ``ccxt.pro.bybit``) from the
``exchange:`` section: ``testnet`` -> ``set_sandbox_mode(True)``, ``demo`` ->
``enable_demo_trading(True)``, ``urls`` -> every REST and WebSocket URL replaced (the fake
exchange in tests; set after the sandbox switch, as ccxt requires); the account is taken as a
unified trading account (no ``query-api`` probe); keys come only from the environment
(:func:`api_keys`) and are never logged.

:class:`HeanBybit` lets ccxt.pro own the connections (subscribe, authenticate, ping,
reconnect) and hands every raw public and private message to the run *before* ccxt merges it
into its caches, so no message is collapsed: the feed sees each book delta with its update id
(sequence checks) and each trade; the venue sees each order update and execution.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ccxt.pro as ccxtpro

if TYPE_CHECKING:
    from .config import ExchangeSection

KEY_ENV = "HEAN_API_KEY"
SECRET_ENV = "HEAN_API_SECRET"

Hook = Callable[[dict[str, Any]], None]


def api_keys(environ: dict[str, str] | None = None) -> tuple[str, str]:
    """(key, secret) from ``HEAN_API_KEY`` / ``HEAN_API_SECRET`` ('' when unset)."""
    env = os.environ if environ is None else environ
    return env.get(KEY_ENV, ""), env.get(SECRET_ENV, "")


def point_at(ex: Any, rest: str, ws: str) -> None:
    """Replace every REST and WebSocket URL of a ccxt(.pro) bybit instance.

    ``rest`` is the base (``http://127.0.0.1:8123``), ``ws`` the WebSocket base
    (``ws://127.0.0.1:8123``): public streams go to ``<ws>/v5/public/<category>``, private
    ones to ``<ws>/v5/private``.
    """
    rest = rest.rstrip("/")
    ws = ws.rstrip("/")
    api = dict(ex.urls.get("api") or {})
    for section in ("spot", "futures", "v2", "public", "private"):
        api[section] = rest
    wsd = api.get("ws")
    if isinstance(wsd, dict):
        public = {c: f"{ws}/v5/public/{c}" for c in ("spot", "linear", "inverse", "option")}
        private = {"spot": {"unified": f"{ws}/v5/private", "nonUnified": f"{ws}/v5/private"},
                   "contract": f"{ws}/v5/private", "usdc": f"{ws}/v5/private",
                   "trade": f"{ws}/v5/trade"}
        api["ws"] = {"public": public, "private": private}
    ex.urls["api"] = api


class HeanBybit(ccxtpro.bybit):
    """ccxt.pro's bybit with raw-message hooks (see the module docstring).

    A public message (book, trades, ticker) that has a hook goes **only** to the hook unless
    :attr:`public_cache` is set: the feed keeps its own book and state, and ccxt.pro's merge
    of every message into its caches (the book sorted level by level, trades and tickers
    parsed into unified dicts) cost more than the rest of the message path
    (``bench/bench_live.py``).  The subscriptions live on; the ``watch_*`` call that made one
    then waits until the connection drops (it raises, the feed subscribes again).
    """

    #: also merge hooked public messages into ccxt.pro's caches (``watch_*`` return values)
    public_cache = False

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config or {})
        self.on_book: Hook | None = None
        self.on_trades: Hook | None = None
        self.on_ticker: Hook | None = None
        self.on_orders: Hook | None = None
        self.on_executions: Hook | None = None

    def handle_order_book(self, client: Any, message: dict[str, Any]) -> None:
        if self.on_book is not None:
            self.on_book(message)
            if not self.public_cache:
                return
        super().handle_order_book(client, message)

    def handle_trades(self, client: Any, message: dict[str, Any]) -> None:
        if self.on_trades is not None:
            self.on_trades(message)
            if not self.public_cache:
                return
        super().handle_trades(client, message)

    def handle_ticker(self, client: Any, message: dict[str, Any]) -> None:
        if self.on_ticker is not None:
            self.on_ticker(message)
            if not self.public_cache:
                return
        super().handle_ticker(client, message)

    def handle_order(self, client: Any, message: dict[str, Any]) -> None:
        if self.on_orders is not None:
            self.on_orders(message)
        super().handle_order(client, message)

    def handle_my_trades(self, client: Any, message: dict[str, Any]) -> None:
        if self.on_executions is not None:
            self.on_executions(message)
        super().handle_my_trades(client, message)


def make_exchange(section: ExchangeSection, *, keys: tuple[str, str] = ("", ""),
                  private: bool = True) -> HeanBybit:
    """A configured client (see the module docstring); ``private=False`` for paper runs."""
    cfg: dict[str, Any] = {
        "enableRateLimit": section.rate_limit,
        "timeout": section.timeout_ms,
        "options": {"defaultType": "swap", "enableUnifiedAccount": True,
                    "enableUnifiedMargin": False, "unifiedMarginStatus": 6,
                    "recvWindow": section.recv_window_ms,
                    "fetchMarkets": {"types": list(section.market_types)}},
    }
    if private:
        cfg["apiKey"], cfg["secret"] = keys
    ex = HeanBybit(cfg)
    if section.testnet:
        ex.set_sandbox_mode(True)
    elif section.demo:
        ex.enable_demo_trading(True)
    if section.urls is not None:
        point_at(ex, section.urls.rest, section.urls.ws)
    return ex


def endpoint(section: ExchangeSection) -> str:
    """Where the run trades, for people: mainnet, testnet, demo or the given URL."""
    if section.urls is not None:
        return f"custom endpoint {section.urls.rest}"
    if section.testnet:
        return "Bybit testnet (api-testnet.bybit.com)"
    if section.demo:
        return "Bybit demo trading (api-demo.bybit.com)"
    return "Bybit MAINNET (api.bybit.com) -- real money"
