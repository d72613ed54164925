"""``data.feed: bybit`` -- the live market feed of paper and live runs (ccxt.pro).

Per symbol it subscribes (through ccxt.pro, which owns the connection, pings and
reconnects) to the public streams the config asks for and turns every raw message into the
kernel's events, in arrival order:

* ``publicTrade`` -> :class:`~hean_framework.models.Trade` (one per print);
* ``orderbook.<depth>`` -> :class:`~hean_framework.models.BookUpdate`: a snapshot replaces
  the book, a delta carries only the changed levels.  **Sequence check**: each delta's update
  id ``u`` must be the previous one + 1.  On a gap the symbol's deltas are dropped, the book is
  fetched over REST (``/v5/market/orderbook``; its ``u`` is the stream's sequence)
  and emitted as a snapshot; deltas at or below that ``u`` are skipped, the next one must
  follow it.  Gaps and resyncs are counted (``sequence_gap``, ``book_resync``);
* ``tickers`` -> :class:`~hean_framework.models.MarkPrice` (mark, index) when they change,
  and a :class:`~hean_framework.models.Funding` settlement when ``nextFundingTime`` moves on
  (the rate last published before it, marked at the mark price); with ``book: false`` also a
  :class:`~hean_framework.models.Quote` from the best bid/ask;
* **staleness**: the time of each symbol's last message is kept (:meth:`BybitFeed.stale`);
  the run reports a symbol that falls silent and, since the engine's clock keeps ticking on
  the wall clock, the kernel's ``stale_data`` filter sees it.

A malformed message is rejected and counted (``malformed``), never raised.  The feed does no
I/O of its own beyond ccxt's: :meth:`BybitFeed.attach` wires the hooks and :meth:`run`
keeps the subscriptions alive (re-subscribing after a dropped connection, counted as
``reconnect``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..components import Feed
from ..models import BookUpdate, Funding, MarketEvent, MarkPrice, Quote, Trade
from .config import LiveFeedConfig

if TYPE_CHECKING:
    from .client import HeanBybit


def wall_ms() -> int:
    """Wall-clock milliseconds."""
    return time.time_ns() // 1_000_000


class BybitFeed(Feed):
    """Live Bybit market data (see the module docstring)."""

    live = True
    config_model = LiveFeedConfig

    def __init__(self, config: LiveFeedConfig, ctx: Any, name: str = "") -> None:
        super().__init__(config, ctx, name)
        self.cfg = config
        self.ex: HeanBybit | None = None
        self.symbols: list[str] = []
        self._by_id: dict[str, str] = {}
        #: events waiting for the engine, oldest first
        self.queue: deque[MarketEvent] = deque()
        self._wake: asyncio.Event | None = None  # created in attach (inside the loop)
        self.counts: Counter[str] = Counter()
        self.last_msg: dict[str, int] = {}
        self._u: dict[str, int] = {}
        self._resync: dict[str, int] = {}  # symbol -> REST snapshot u (-1: waiting for it)
        self._mark: dict[str, tuple[float, float]] = {}
        self._funding: dict[str, tuple[int, float]] = {}
        #: wall-clock ns at which the last message was parsed (bench: receive -> decision)
        self.received_ns = 0
        self.on_event: Callable[[], None] | None = None

    # ------------------------------------------------------------------ Feed API

    def events(self) -> Iterator[MarketEvent]:
        """A live feed has no recorded events: the run pushes them as they arrive."""
        return iter(())

    def rejections(self) -> dict[str, int]:
        """Messages rejected or repaired, per reason."""
        return dict(self.counts)

    def stale(self, now_ms: int, after_ms: int) -> list[str]:
        """Symbols whose last message is older than ``after_ms``."""
        return [s for s in self.symbols if now_ms - self.last_msg.get(s, 0) > after_ms]

    # ------------------------------------------------------------------ wiring

    def attach(self, ex: HeanBybit, symbols: list[str]) -> None:
        """Hook the client's raw messages for ``symbols`` (markets must be loaded)."""
        self.ex = ex
        self.symbols = list(symbols)
        self._by_id = {ex.market(s)["id"]: s for s in symbols}
        self._wake = asyncio.Event()
        now = wall_ms()
        for s in symbols:
            self.last_msg[s] = now
        if self.cfg.trades:
            ex.on_trades = self._trades
        if self.cfg.book:
            ex.on_book = self._book
        if self.cfg.tickers:
            ex.on_ticker = self._ticker

    async def next_events(self) -> None:
        """Wait until events are queued."""
        assert self._wake is not None
        while not self.queue:
            self._wake.clear()
            await self._wake.wait()

    def _put(self, ev: MarketEvent) -> None:
        self.queue.append(ev)
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Keep every subscription alive until cancelled."""
        assert self.ex is not None
        loops = []
        for s in self.symbols:
            if self.cfg.trades:
                loops.append(self._keep(self.ex.watch_trades, s))
            if self.cfg.book:
                loops.append(self._keep(self.ex.watch_order_book, s, self.cfg.book_depth))
            if self.cfg.tickers:
                loops.append(self._keep(self.ex.watch_ticker, s))
        await asyncio.gather(*loops)

    async def _keep(self, watch: Callable[..., Any], *args: Any) -> None:
        delay = 0.05
        while True:
            try:
                await watch(*args)
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # ccxt NetworkError & co: the stream dropped
                self.counts["reconnect"] += 1
                self._journal("stream_reconnect", {"stream": watch.__name__,
                                                   "symbol": args[0], "error": str(exc)[:200]})
                self.ctx.log.warning("feed %s %s: %s", watch.__name__, args[0], exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # ------------------------------------------------------------------ messages

    def _journal(self, kind: str, payload: dict[str, Any]) -> None:
        journal = self.ctx.journal
        if journal is not None:
            journal.event(self.ctx.now, kind, payload)

    def _symbol(self, market_id: Any) -> str | None:
        sym = self._by_id.get(str(market_id))
        if sym is None:
            self.counts["unknown_symbol"] += 1
        return sym

    def _trades(self, msg: dict[str, Any]) -> None:
        try:
            for t in msg["data"]:
                sym = self._symbol(t["s"])
                if sym is None:
                    continue
                ts = int(t["T"])
                self.last_msg[sym] = wall_ms()
                self._put(Trade(ts, sym, float(t["p"]), float(t["v"]),
                                "buy" if t["S"] == "Buy" else "sell"))
        except (KeyError, TypeError, ValueError):
            self.counts["malformed"] += 1
            return
        self.received_ns = time.perf_counter_ns()

    def _book(self, msg: dict[str, Any]) -> None:
        try:
            data = msg["data"]
            sym = self._symbol(data["s"])
            if sym is None:
                return
            u = int(data["u"])
            snap = msg.get("type") == "snapshot" or u == 1
            bids = [(float(p), float(q)) for p, q in data.get("b", ())]
            asks = [(float(p), float(q)) for p, q in data.get("a", ())]
            ts = int(msg.get("ts") or wall_ms())
        except (KeyError, TypeError, ValueError):
            self.counts["malformed"] += 1
            return
        self.last_msg[sym] = wall_ms()
        self.received_ns = time.perf_counter_ns()
        if snap:
            self._resync.pop(sym, None)
            prev = self._u.get(sym, 0)
            self._u[sym] = u
            self._put(BookUpdate(ts, sym, True, bids, asks, u, u, prev))
            return
        waiting = self._resync.get(sym)
        if waiting is not None:
            if waiting < 0 or u <= waiting:
                self.counts["dropped_while_resyncing"] += 1
                return
            del self._resync[sym]
        last = self._u.get(sym)
        if last is None or u != last + 1:
            self.counts["sequence_gap"] += 1
            self._resync[sym] = -1
            self._journal("book_gap", {"symbol": sym, "after": last, "got": u})
            self.ctx.log.warning("book %s: update id %s after %s: resyncing", sym, u, last)
            asyncio.get_running_loop().create_task(self._fetch_snapshot(sym))
            return
        self._u[sym] = u
        self._put(BookUpdate(ts, sym, False, bids, asks, u, u, last))

    async def _fetch_snapshot(self, sym: str) -> None:
        assert self.ex is not None
        market = self.ex.market(sym)
        cat = "spot" if market["spot"] else "linear" if market.get("linear") else "inverse"
        for attempt in range(5):
            try:
                raw = await self.ex.publicGetV5MarketOrderbook(
                    {"category": cat, "symbol": market["id"], "limit": self.cfg.book_depth})
                ob = raw["result"]
                break
            except Exception as exc:
                self.ctx.log.warning("book %s: REST snapshot failed (%s)", sym, exc)
                await asyncio.sleep(0.1 * 2 ** attempt)
        else:
            with contextlib.suppress(Exception):  # the stream will resubscribe on its own
                await self.ex.un_watch_order_book(sym)
            return
        u = int(ob.get("u") or 0)
        self.counts["book_resync"] += 1
        self._journal("book_resync", {"symbol": sym, "update_id": u})
        prev = self._u.get(sym, 0)
        self._u[sym] = u
        self._resync[sym] = u
        ts = int(ob.get("ts") or wall_ms())
        self._put(BookUpdate(ts, sym, True, [(float(p), float(q)) for p, q in ob["b"]],
                             [(float(p), float(q)) for p, q in ob["a"]], u, u, prev))

    def _ticker(self, msg: dict[str, Any]) -> None:
        try:
            d = msg["data"]
            sym = self._symbol(d["symbol"])
            if sym is None:
                return
            ts = int(msg.get("ts") or wall_ms())
            mark = float(d.get("markPrice") or 0.0)
            index = float(d.get("indexPrice") or 0.0)
            rate = d.get("fundingRate")
            nxt = d.get("nextFundingTime")
            bid, ask = d.get("bid1Price"), d.get("ask1Price")
        except (KeyError, TypeError, ValueError):
            self.counts["malformed"] += 1
            return
        self.last_msg[sym] = wall_ms()
        if mark and self._mark.get(sym) != (mark, index):
            self._mark[sym] = (mark, index)
            self._put(MarkPrice(ts, sym, mark, index))
        if rate not in (None, "") and nxt not in (None, ""):
            settle, last_rate = self._funding.get(sym, (0, 0.0))
            if settle and int(nxt) > settle and ts >= settle:
                self._put(Funding(ts, sym, last_rate, mark))
            self._funding[sym] = (int(nxt), float(rate))
        if not self.cfg.book and bid and ask:
            self._put(Quote(ts, sym, float(bid), float(d.get("bid1Size") or 0.0), float(ask),
                            float(d.get("ask1Size") or 0.0)))
