"""One paper or live session: the engine pushed by the exchange, orders carried to it.

:class:`LiveSession` runs on one asyncio loop (the engine core stays synchronous: every
engine call happens between awaits, so nothing interleaves inside it):

1. **Connect**: the ccxt.pro client (:func:`~hean_framework.live.client.make_exchange`),
   ``load_markets`` and the **instrument check**: each symbol's tick, lot, minimum quantity
   and minimum notional from the exchange against the cached metadata the backtest uses
   (``exchange.check_metadata``: ``warn`` journals and prints differences, ``refuse`` stops).
2. **Start**: the engine starts (manifest, components); live: a new session in the order
   ledger, then **reconciliation** (:mod:`hean_framework.live.reconcile`) before the first
   event.
3. **Run** (tasks): the feed's subscriptions; the consumer that pushes each event into the
   engine (a timestamp older than the engine's clock is raised to it, counted as
   ``ts_clamped``) and records it; the clock ticker (``exchange.tick_ms``: fires timers and
   records each move of the clock, so the replay advances it between the same events,
   flushes the journal -- a killed session loses at most one tick of journal records, the
   ledger nothing -- reports stale symbols, watches the governor's killswitch); live: the
   venue's request worker, its REST poller and the private streams (orders, executions),
   which reconcile again after every reconnect.
4. **Stop** (SIGINT/SIGTERM, ``--duration``, ``--max-events``, the end of the feed): new
   orders are refused (``STOPPING``), the run's own open orders are cancelled
   (``exchange.cancel_on_stop``) and confirmed, the engine finishes, and a ``run_end`` event
   says how the run ended (``reason``, orders cancelled, orders still open).

**Killswitch**: when the governor's ``risk_state`` fact becomes ``KILLSWITCH`` every open
order of the run is cancelled and, with ``exchange.flatten_on_killswitch``, every position of
the run's strategies is closed with reduce-only market orders (tag ``KILLSWITCH_FLATTEN``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine import GC_GEN0_THRESHOLD
from ..errors import HeanError
from ..models import OrderDecision, Signal, opposite
from .config import ExchangeSection
from .feed import BybitFeed, wall_ms
from .ledger import Ledger, run_prefix
from .recorder import Recorder
from .venue import BybitVenue

if TYPE_CHECKING:
    from ..engine import Engine
    from ..run import RunResult


def instrument_diffs(ex: Any, engine: Engine, symbols: list[str]) -> list[str]:
    """Differences between the exchange's markets and the run's cached instruments."""
    out = []
    for sym in symbols:
        if sym not in ex.markets:
            out.append(f"{sym}: the exchange does not list it")
            continue
        m = ex.markets[sym]
        inst = engine.ctx.instruments.get(sym)
        info = m.get("info") or {}
        lot_filter = info.get("lotSizeFilter") or {}
        ex_vals = {"tick_size": (m.get("precision") or {}).get("price"),
                   "lot_size": (m.get("precision") or {}).get("amount"),
                   "min_qty": ((m.get("limits") or {}).get("amount") or {}).get("min"),
                   "min_notional": lot_filter.get("minNotionalValue")
                   or ((m.get("limits") or {}).get("cost") or {}).get("min")}
        for key, val in ex_vals.items():
            if val is None:
                continue
            mine = getattr(inst, key)
            if abs(float(val) - mine) > 1e-12 * max(1.0, abs(mine)):
                out.append(f"{sym}.{key}: exchange {float(val):g}, cached {mine:g}")
    return out


class LiveSession:
    """A paper or live session (see the module docstring)."""

    def __init__(self, engine: Engine, section: ExchangeSection, *,
                 keys: tuple[str, str] = ("", ""), duration_s: float | None = None,
                 max_events: int | None = None,
                 say: Callable[[str], None] = lambda s: None) -> None:
        self.engine = engine.build()
        self.section = section
        self.keys = keys
        self.duration_s = duration_s
        self.max_events = max_events
        self.say = say
        self.mode = engine.config.run.mode
        feed = engine.feed
        if not isinstance(feed, BybitFeed):
            raise HeanError("a paper or live run needs the live feed",
                            "set data: {feed: bybit} in the config")
        self.feed = feed
        venue = engine.parts.venue
        self.venue = venue if isinstance(venue, BybitVenue) else None
        if self.mode == "live" and self.venue is None:
            raise HeanError("a live run needs the live venue", "set venue: {name: bybit}")
        self.symbols: list[str] = []
        for sym in [*engine.data_symbols(),
                    *(x for info in engine.ctx.run.strategies.values() for x in info.symbols)]:
            if sym not in self.symbols:
                self.symbols.append(sym)
        if not self.symbols:
            raise HeanError("the run names no symbol to trade",
                            "list them in data.symbols (or a strategy's symbols)")
        self.recorder = (Recorder(engine.out_dir / "recorded", csv=feed.cfg.record_csv)
                         if feed.cfg.record else None)
        if self.recorder is not None:
            self.recorder.symbols = self.symbols
        self.ledger: Ledger | None = None
        self.ex: Any = None
        self.reason = ""
        self.events = 0
        self.clamped = 0
        self.reconciles: list[dict[str, Any]] = []
        self.stale: set[str] = set()
        self.killed = False
        #: engine time per pushed event, ns (the bench reads it)
        self.push_ns: list[int] = []
        self.measure = False
        self._stop = asyncio.Event()

    def stop(self, reason: str) -> None:
        """Ask the session to stop (thread-unsafe: call on the loop)."""
        if not self.reason:
            self.reason = reason
        self._stop.set()

    # ------------------------------------------------------------------ run

    async def run(self) -> RunResult:
        """Connect, start, run until stopped, stop cleanly; returns the run's numbers."""
        from .client import make_exchange

        eng = self.engine
        ctx = eng.ctx
        live = self.mode == "live"
        self.ex = ex = make_exchange(self.section, keys=self.keys, private=live)
        try:
            await ex.load_markets()
        except Exception as exc:
            await ex.close()
            raise HeanError(f"could not load the exchange's markets: {type(exc).__name__}: "
                            f"{exc}"[:400], "check exchange.testnet/demo/urls and the "
                            "network") from exc
        diffs = instrument_diffs(ex, eng, self.symbols)
        missing = [d for d in diffs if "does not list" in d]
        if missing or (diffs and self.section.check_metadata == "refuse"):
            await ex.close()
            raise HeanError("instruments differ from the exchange: " + "; ".join(diffs),
                            "refresh the cached metadata (venue.markets_file) or set "
                            "exchange.check_metadata: warn")
        for d in diffs if self.section.check_metadata == "warn" else ():
            self.say(f"warning: instrument metadata differs: {d}")
        self.feed.attach(ex, self.symbols)
        if live:
            assert self.venue is not None
            self.ledger = Ledger(eng.out_dir)
            session = self.ledger.begin_session(wall_ms())
            self.venue.attach(ex, self.section, self.ledger, run_prefix(eng.config.run.name),
                              session)
            eng.parts.faults.watch([self.venue])
        eng.start()
        self._advance(wall_ms())
        if ctx.journal is not None:
            ctx.journal.event(ctx.now, "session_start", {
                "mode": self.mode, "symbols": self.symbols, "instrument_diffs": diffs,
                "session": self.venue.session if self.venue is not None else 0})
        tasks: list[asyncio.Task[Any]] = []
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop, signal.Signals(sig).name)
        # as Engine.run: what exists now (markets, instruments, components) leaves the
        # collector's generations, and the young generation is collected less often
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], GC_GEN0_THRESHOLD), *thresholds[1:])
        try:
            if live:
                assert self.venue is not None
                tasks.append(asyncio.create_task(self.venue.worker()))
                self.reconciles.append(await self._reconcile(on_start=True))
                tasks.append(asyncio.create_task(self.venue.poller()))
                tasks.append(asyncio.create_task(self._private(ex.watch_orders)))
                tasks.append(asyncio.create_task(self._private(ex.watch_my_trades)))
            tasks.append(asyncio.create_task(self.feed.run()))
            tasks.append(asyncio.create_task(self._consume()))
            tasks.append(asyncio.create_task(self._tick()))
            waiter = asyncio.create_task(self._stop.wait())
            timeout = self.duration_s
            done, _ = await asyncio.wait([waiter, *tasks], timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done:
                self.stop("duration")
            for t in done:
                if t is not waiter and t.exception() is not None:
                    self.stop(f"failed: {type(t.exception()).__name__}: {t.exception()}")
            waiter.cancel()
            return await self._shutdown(tasks)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await ex.close()
            if self.ledger is not None:
                self.ledger.close()
            if self.recorder is not None:
                self.recorder.close()

    def _advance(self, now: int) -> None:
        """Move the engine's clock to ``now`` (timers fire), recorded for the replay."""
        if now > self.engine.ctx.now:
            if self.recorder is not None:
                self.recorder.clock(now)
            self.engine.advance(now)

    async def _reconcile(self, on_start: bool) -> dict[str, Any]:
        from .reconcile import reconcile

        assert self.venue is not None and self.ledger is not None
        summary = await reconcile(self.venue, self.symbols, self.ledger, on_start=on_start)
        for what in ("foreign_orders", "unowned_positions"):
            for item in summary[what]:
                self.say(f"reconcile: left alone ({what.replace('_', ' ')}): {item}")
        return summary

    async def _private(self, watch: Callable[..., Any]) -> None:
        delay = 0.05
        while True:
            try:
                await watch()
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the private stream dropped: reconnect, then reconcile
                ctx = self.engine.ctx
                ctx.log.warning("private stream %s: %s", watch.__name__, exc)
                if ctx.journal is not None:
                    ctx.journal.event(ctx.now, "stream_reconnect", {
                        "stream": watch.__name__, "error": str(exc)[:200]})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                if watch.__name__ == "watch_orders":
                    self.reconciles.append(await self._reconcile(on_start=False))

    async def _consume(self) -> None:
        eng = self.engine
        ctx = eng.ctx
        feed = self.feed
        queue = feed.queue
        rec = self.recorder
        push = eng.push
        perf = time.perf_counter_ns
        while True:
            await feed.next_events()
            while queue:
                ev = queue.popleft()
                if ev.ts < ctx.now:
                    ev.ts = ctx.now
                    self.clamped += 1
                if self.measure:
                    t0 = perf()
                    push(ev)
                    self.push_ns.append(perf() - t0)
                else:
                    push(ev)
                if rec is not None:
                    rec.write(ev)
                self.events += 1
                if self.max_events and self.events >= self.max_events:
                    self.stop("max_events")
                    return
            await asyncio.sleep(0)

    async def _tick(self) -> None:
        from ..risk.governor import RISK_STATE

        eng = self.engine
        ctx = eng.ctx
        period = (self.section.tick_ms or 1000) / 1000.0
        while True:
            await asyncio.sleep(period)
            now = wall_ms()
            if self.section.tick_ms:
                self._advance(now)
            if ctx.journal is not None:
                ctx.journal.flush()  # a killed session loses at most one tick of records
            stale = set(self.feed.stale(now, self.section.stale_after_ms))
            for sym in sorted(stale ^ self.stale):
                what = "stale" if sym in stale else "fresh"
                self.say(f"{sym}: market data {what}")
                if ctx.journal is not None:
                    ctx.journal.event(ctx.now, f"market_{what}", {
                        "symbol": sym, "silent_ms": now - self.feed.last_msg.get(sym, 0)})
            self.stale = stale
            if not self.killed and ctx.facts.get(RISK_STATE) == "KILLSWITCH":
                self.killed = True
                await self.killswitch()

    async def killswitch(self) -> None:
        """Cancel every open order of the run; flatten its positions when configured."""
        ctx = self.engine.ctx
        cancelled = await self._cancel_open()
        flattened = []
        if self.section.flatten_on_killswitch:
            for p in ctx.portfolio.positions():
                if abs(p.qty) < 1e-12:
                    continue
                side = opposite("buy" if p.qty > 0 else "sell")
                px = ctx.market[p.symbol].last or p.avg_price
                sig = Signal(p.strategy_id, p.symbol, side, ctx.now, px, reduce_only=True,
                             tag="KILLSWITCH_FLATTEN")
                d = OrderDecision(0, 0, p.strategy_id, p.symbol, side, ctx.now, price=px)
                ctx.orders.submit(sig, d, abs(p.qty), reduce_only=True, tag="KILLSWITCH_FLATTEN")
                flattened.append({"strategy": p.strategy_id, "symbol": p.symbol, "qty": p.qty})
        self.say(f"killswitch: cancelled {cancelled} open orders, flattening {len(flattened)} "
                 "positions")
        if ctx.journal is not None:
            ctx.journal.event(ctx.now, "killswitch", {"cancelled": cancelled,
                                                      "flattened": flattened})

    async def _cancel_open(self) -> int:
        if self.venue is not None:
            return await self.venue.cancel_all()
        orders = self.engine.ctx.orders
        live = orders.open_orders()
        for o in live:
            orders.cancel(o.order_id, "stop")
        return len(live)

    async def _shutdown(self, tasks: list[asyncio.Task[Any]]) -> RunResult:
        eng = self.engine
        ctx = eng.ctx
        if self.venue is not None:
            self.venue.accepting = False
        feed_tasks = tasks[-3:]  # feed, consumer, ticker: no new events, no new signals
        for t in feed_tasks:
            t.cancel()
        await asyncio.gather(*feed_tasks, return_exceptions=True)
        cancelled = await self._cancel_open() if self.section.cancel_on_stop else 0
        still = [o.client_id or str(o.order_id) for o in ctx.orders.open_orders()]
        if self.venue is not None:
            still += [o.client_id for o in self.venue.open_orders()
                      if o.client_id not in still]
        end = {"reason": self.reason or "ended", "events": self.events,
               "cancelled_orders": cancelled, "open_orders_left": still,
               "ts_clamped": self.clamped, "feed": self.feed.rejections(),
               "venue": self.venue.stats() if self.venue is not None else {}}
        if ctx.journal is not None:
            ctx.journal.event(max(ctx.now, wall_ms()), "run_end", end)
        result = eng.finish()
        result.sections["live"] = end
        if self.recorder is not None:
            self.recorder.write_replay(eng.setup.raw, eng.config.run.name)
        return result


def out_files(out: Path) -> list[str]:
    """Every file under a run folder, relative (for the CLI's summary and the key grep)."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
