"""The deterministic event loop shared by backtest, paper and live runs.

Per market event, in this order (ties in time are ordered by the feed):

1. due timers fire (executors' re-quotes, time stops, order-group deadlines);
2. market state is updated (``ctx.market[symbol]``: last, bid/ask, L2 book, funding);
3. the venue sees the event (the simulator matches resting orders against it);
4. funding settles on open positions (funding events);
5. analyzers, then strategies, get the event -- by *direct method calls* from a dispatch table
   built once per run (no pluggy call per event);
6. each returned signal (or order group) runs through the pipeline and ends in exactly one
   decision (one per leg).

The loop can be **pulled** (:meth:`Engine.run`: a recorded feed's events and column blocks)
or **pushed** (:meth:`Engine.start`, :meth:`Engine.push` per event, :meth:`Engine.advance`
for clock ticks without an event, :meth:`Engine.finish`; :meth:`Engine.run_async` drives them
from an async source with anyio and fires timers on a wall clock).  Both run the same code per
event, so recorded events pushed give the same journal as the pull path (tested by digest).
Decisions are a pure function of the event sequence and the config.

Assembly is in :mod:`hean_framework.assembly`, fault isolation in :mod:`hean_framework.faults`,
orders and executions in :mod:`hean_framework.router`, exits in :mod:`hean_framework.exits`,
the manifest and result in :mod:`hean_framework.manifest`.
"""

from __future__ import annotations

import contextlib
import gc
import time
from bisect import bisect_left
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .assembly import Assembly, assemble, data_symbols
from .blocks import BarBlock, TradeBlock
from .components import Component, Feed, Strategy, Venue
from .config import RunSetup
from .context import RunContext
from .errors import HeanError
from .models import Bar, BookUpdate, Funding, MarketEvent, MarkPrice, Quote, Trade
from .plugins import HeanPluginManager
from .progress import PROGRESS_EVERY, ProgressFn, data_span, progress_bar
from .router import overrides
from .run import RunResult

if TYPE_CHECKING:
    from .journal import Journal
    from .pipeline import Pipeline

_BLOCKS = (BarBlock, TradeBlock)
#: young-generation GC threshold while the loop runs (CPython's default is 700)
GC_GEN0_THRESHOLD = 50_000
#: oldest price a funding settlement of tick data may be marked at (bars: two bar intervals)
FUNDING_PRICE_AGE_MS = 3_600_000


def _silenced(event: Any) -> None:
    """Stands in for a disabled strategy's market callback."""


def wall_clock_ms() -> int:
    """Milliseconds since the epoch, from the system clock."""
    return time.time_ns() // 1_000_000


class Engine:
    """Builds the parts of a run and drives events through them."""

    def __init__(self, setup: RunSetup, plugins: HeanPluginManager, *,
                 out_dir: str | Path | None = None, journal: bool | None = None,
                 progress: bool | None = None, metrics_only: bool = False) -> None:
        self.setup = setup
        self.config = cfg = setup.config
        self.plugins = plugins
        self.out_dir = Path(out_dir) if out_dir is not None else (
            Path(cfg.run.out) if cfg.run.out else Path("runs") / cfg.run.name)
        self.use_journal = cfg.journal.enabled if journal is None else journal
        self.show_progress = cfg.report.progress if progress is None else progress
        #: an optimizer's candidate run (:func:`hean_framework.optimize.run_with`): the result
        #: feeds metrics only, so the observers that only feed report sections (markouts,
        #: transaction-cost analysis) are not built -- every decision, order, fill and equity
        #: sample is the same, ``result.sections`` lacks ``markouts`` and ``tca``
        self.metrics_only = metrics_only
        self.ctx = RunContext(cfg, seed=cfg.run.seed)
        self.parts: Assembly = None  # type: ignore[assignment]  # set by build()
        self.events = 0
        self.start_ts = 0
        self.end_ts = 0
        #: rows handed to strategies through on_bars/on_trades (the batch fast path)
        self.batched_rows = 0
        #: funding settlements outside their symbol's prices (not applied)
        self.outside_window = 0
        self._next_sample: int | None = None
        self._progress_fn: ProgressFn | None = None
        self._venue_sees = False
        self._t0 = 0.0
        self._running = False
        self._failure: BaseException | None = None

    # ================================================================= building

    def build(self) -> Engine:
        """Assemble the run (instruments, portfolio, venue, journal, feed, components)."""
        if self.parts is None:
            self.parts = assemble(self.setup, self.plugins, self.ctx, out_dir=self.out_dir,
                                  use_journal=self.use_journal,
                                  sample_equity=self.sample_equity,
                                  report=not self.metrics_only)
            self.parts.faults.on_disable = self._unhook
            self._venue_sees = overrides(self.parts.venue, Venue, "on_market")
        return self

    # read-only views of the assembled run (tests, report, commands)
    @property
    def strategies(self) -> dict[str, Strategy]:
        """Strategy instances by name."""
        return self.build().parts.strategies

    @property
    def components(self) -> dict[str, list[Component]]:
        """Every component by kind."""
        return self.build().parts.components

    @property
    def pipeline(self) -> Pipeline:
        """The decision pipeline."""
        return self.build().parts.pipeline

    @property
    def feed(self) -> Feed | None:
        """The feed of the data section (None without one)."""
        return self.build().parts.feed

    @property
    def journal(self) -> Journal | None:
        """The run's journal (None when journaling is off or after :meth:`close`)."""
        return self.ctx.journal

    @property
    def dead_letters(self) -> int:
        """Component failures so far."""
        return self.build().parts.faults.dead_letters

    @property
    def instruments_info(self) -> dict[str, Any]:
        """The exchange rules of the run (for the manifests)."""
        return self.build().parts.instruments_info

    def data_symbols(self) -> list[str]:
        """Symbols named in the data section, in order of first appearance."""
        return data_symbols(self.setup)

    def sample_equity(self, ts: int) -> None:
        """Record an equity sample and tell observers (``on_equity``)."""
        pf = self.ctx.portfolio
        pf.sample(ts)
        faults = self.parts.faults
        if faults.observers["on_equity"]:
            faults.notify("on_equity", ts, pf.equity_curve[-1][1])

    # ================================================================= pull

    def run(self, events: Iterable[MarketEvent | BarBlock | TradeBlock] | None = None
            ) -> RunResult:
        """Process every event of the feed (or ``events``: events and column blocks) and
        return the run's numbers."""
        self.build()
        if events is None:
            if self.parts.feed is None:
                raise HeanError("no data to run on", "add a data section to the config")
            events = self.parts.feed.blocks()
        self.start()
        # The loop allocates many short-lived objects and few cycles: park what exists in the
        # permanent generation and collect the young one less often while it runs.
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], GC_GEN0_THRESHOLD), *thresholds[1:])
        try:
            self._loop(iter(events))
        except BaseException as exc:
            self._failure = exc  # close() marks the journal failed / interrupted
            self._stop_components()  # components still hear the end of a failed run
            raise
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
        if not self.events:
            self._stop_components()
            self._failure = HeanError(
                "the run had no market event: nothing to trade on"
                + (f" ({self.outside_window} funding settlements without prices)"
                   if self.outside_window else ""),
                "check data.start / data.end against the files' time spans and that "
                "data.files holds price data (bars, trades, bbo or l2)")
            raise self._failure
        return self.finish()

    # ================================================================= push

    def start(self) -> None:
        """Begin a run: journal the manifest, start every component, fire the started hook."""
        from .manifest import manifest

        self.build()
        if self._running:
            return
        self._running = True
        self._t0 = time.perf_counter()
        self._progress_fn = progress_bar(self.show_progress, self.config.run.mode,
                                         span=lambda: data_span(self.parts.feed))
        self._next_sample = None
        if self.ctx.journal is not None:
            self.ctx.journal.write_manifest(manifest(self))
        faults = self.parts.faults
        for group in self.parts.components.values():
            for c in group:
                try:
                    c.on_start()
                except Exception as exc:
                    if c.kind in ("venue", "feed"):
                        origin = getattr(c, "_origin", None)
                        raise HeanError(
                            f"{c.kind} {c.name!r} from "
                            f"{origin.describe() if origin else 'an unknown plugin'} failed to "
                            f"start: {type(exc).__name__}: {exc}",
                            "fix or replace it (venue.name / data.feed)") from exc
                    faults.dead_letter(c, exc, "on_start")
                    if isinstance(c, Strategy):
                        faults.disable(c, f"on_start raised {type(exc).__name__}: {exc}")
        self.plugins.run_started(self.ctx)

    def push(self, event: MarketEvent | BarBlock | TradeBlock) -> None:
        """Process one market event (or column block) now -- the same code as the pull
        path.  Events must arrive in non-decreasing time."""
        if not self._running:
            raise HeanError("push() before start()", "call engine.start() first")
        self._loop(iter((event,)))

    def advance(self, now: int) -> None:
        """Move the clock to ``now`` without a market event: fire the timers due by then
        (a live run's wall-clock tick).  Never moves the clock back."""
        ctx = self.ctx
        if now <= ctx.now:
            return
        ctx.clock.run_due(now)
        ctx.now = now

    def finish(self) -> RunResult:
        """Stop every component and return the run's numbers."""
        from .manifest import build_result

        self._stop_components()
        if self._progress_fn is not None:
            self._progress_fn(self.events, self.end_ts, done=True)
        elapsed = time.perf_counter() - self._t0
        self.ctx.portfolio.sample(self.end_ts or self.ctx.now)
        return build_result(self, elapsed)

    def _unhook(self, name: str) -> None:
        """A disabled strategy's market callbacks become no-ops in place (the loop may be
        iterating the lists) and its batch fast path is removed."""
        parts = self.parts
        for table in parts.dispatch.values():
            for handlers in table.values():
                for i, h in enumerate(handlers):
                    if getattr(getattr(h, "__self__", None), "name", None) == name:
                        handlers[i] = _silenced
        for key in [k for k, (owner, _) in parts.batch.items() if owner.name == name]:
            del parts.batch[key]

    def _stop_components(self) -> None:
        """``on_stop`` of every component, isolated; the run is no longer running."""
        faults = self.parts.faults
        for group in self.parts.components.values():
            for c in group:
                try:
                    c.on_stop()
                except Exception as exc:
                    faults.dead_letter(c, exc, None)
        self._running = False

    async def run_async(self, source: AsyncIterable[MarketEvent], *,
                        tick_ms: int | None = None,
                        clock: Callable[[], int] = wall_clock_ms) -> RunResult:
        """Drive the run from an async source (a live feed): each event is pushed as it
        arrives; with ``tick_ms`` a task advances the clock to ``clock()`` every ``tick_ms``
        so timers fire on time between events.  Returns when the source ends."""
        import anyio

        self.start()

        async def ticker() -> None:
            while True:
                await anyio.sleep(tick_ms / 1000.0 if tick_ms else 1.0)
                self.advance(clock())

        async with anyio.create_task_group() as tg:
            if tick_ms:
                tg.start_soon(ticker)
            async for ev in source:
                self.push(ev)
            tg.cancel_scope.cancel()
        return self.finish()

    # ================================================================= the loop

    def _loop(self, events: Iterator[Any]) -> None:
        """Drive events (and column blocks, see :meth:`_block`) through the run.

        Re-entrant: the loop position (event count, next equity sample, last time) lives on
        the engine between calls, so a block can replay some of its rows through here.
        """
        ctx = self.ctx
        market = ctx.market
        venue = self.parts.venue
        venue_sees = self._venue_sees
        venue_on_market = venue.on_market
        timers = ctx.clock.heap
        run_timers = ctx.clock.run_due
        process_signals = self.parts.router.route
        bar_t = self.parts.dispatch[Bar]
        trade_t = self.parts.dispatch[Trade]
        interval = self.config.report.equity_interval_ms
        progress = self._progress_fn
        dead_letter = self.parts.faults.dead_letter
        keep_bars = market.keep_bars
        ev: Any = next(events, None)
        while ev is not None and type(ev) is Funding and self._outside(ev):
            ev = next(events, None)
        if ev is None:
            return
        if self._next_sample is None:
            first = ev.ts[ev.start] if type(ev) in _BLOCKS else ev.ts
            self.start_ts = self.end_ts = self._next_sample = first
        seq = self.events
        next_sample = self._next_sample
        last_ts = self.end_ts
        last_sym = None
        st: Any = None
        bar_h: Any = None
        trade_h: Any = None
        while ev is not None:
            et = type(ev)
            if et in _BLOCKS:
                self.events, self._next_sample, self.end_ts = seq, next_sample, last_ts
                self._block(ev)
                seq, next_sample, last_ts = self.events, self._next_sample, self.end_ts
                last_sym = None
                ev = next(events, None)
                continue
            if et is Funding and self._outside(ev):
                ev = next(events, None)
                continue
            ts = ev.ts
            if timers and timers[0][0] <= ts:
                run_timers(ts)
            ctx.now = ts
            seq += 1
            ev.seq = seq
            sym = ev.symbol
            if sym != last_sym:
                st = market[sym]
                bar_h = bar_t.get(sym)
                trade_h = trade_t.get(sym)
                last_sym = sym
            if et is Bar:
                px = ev.close
                if not st.bar_ms:
                    st.bar_ms = ev.interval_ms
                st.ts = ts
                st.last = px
                st.prices.append(px)
                if keep_bars:
                    st.bars.append((ev.high, ev.low, ev.volume))
                if venue_sees and not venue.idle:
                    venue_on_market(ev)
                handlers = bar_h
            elif et is Trade:
                px = ev.price
                st.ts = ts
                st.last = px
                st.trade_volume += ev.size
                st.prices.append(px)
                if venue_sees and not venue.idle:
                    venue_on_market(ev)
                handlers = trade_h
            else:
                handlers = self._other_event(ev, st, venue_sees)
            if handlers:
                for h in handlers:
                    try:
                        out = h(ev)
                    except Exception as exc:
                        dead_letter(getattr(h, "__self__", h), exc, ev)
                        continue
                    if out is not None:
                        process_signals(out, seq, h)
            if ts >= next_sample:
                self.sample_equity(ts)
                next_sample = ts + interval
            if progress is not None and not seq & (PROGRESS_EVERY - 1):
                progress(seq, ts)
            last_ts = ts
            ev = next(events, None)
        self.events, self._next_sample, self.end_ts = seq, next_sample, last_ts

    def _block(self, blk: BarBlock | TradeBlock) -> None:
        """One column block: batch fast path where possible, else row by row.

        The fast path hands rows to the symbol's only listener (a strategy overriding
        ``on_bars``/``on_trades``) while the venue has nothing open or in flight and no timer
        is due; it stops at the first row with a signal, at the next equity sample and before
        the next timer, updates the market state to the row reached and handles the signal as
        the row-by-row path would.  Anything else (several listeners, open orders, due timers)
        replays the rows as events through :meth:`_loop`.
        """
        ctx = self.ctx
        sym = blk.symbol
        st = ctx.market[sym]
        is_bar = type(blk) is BarBlock
        if is_bar:
            assert isinstance(blk, BarBlock)
            px_col: Sequence[float] = blk.close
            row: Callable[[int], Any] = blk.bar
            found = self.parts.batch.get((Bar, sym))
            if not st.bar_ms:
                st.bar_ms = blk.interval_ms
            bh, bl, bv, bars = blk.high, blk.low, blk.volume, st.bars
        else:
            assert isinstance(blk, TradeBlock)
            px_col = blk.price
            row = blk.trade
            found = self.parts.batch.get((Trade, sym))
        i, stop = blk.start, blk.stop
        if found is None:
            self._loop(map(row, range(i, stop)))
            return
        ts_col = blk.ts
        keep_bars = ctx.market.keep_bars
        venue = self.parts.venue
        venue_sees = self._venue_sees
        timers = ctx.clock.heap
        interval = self.config.report.equity_interval_ms
        progress = self._progress_fn
        prices = st.prices
        window = prices.maxlen or 0
        owner, batch = found
        seq = self.events
        next_sample = self._next_sample
        last_ts = self.end_ts
        assert next_sample is not None
        batched = 0
        # first row at or after the next equity sample time (stop: none in this block); found
        # once per sample time, not once per cut (the rows before it were all below it)
        sample_for = -1
        sample_row = stop

        def row_by_row(j: int) -> bool:
            # row j must be seen by more than the strategy: open/in-flight orders, a due timer
            return (venue_sees and not venue.idle) or bool(timers and timers[0][0] <= ts_col[j])

        def slow_rows(pos: list[int]) -> Iterator[Any]:
            # rows as events until the fast path is possible again; pos[0] = next row
            j = pos[0]
            while j < stop:
                yield row(j)
                j += 1
                pos[0] = j
                if j < stop and not row_by_row(j):
                    return

        disabled = self.parts.faults.disabled
        while i < stop:
            if owner.name in disabled:  # disabled mid-block: the rest row by row (silenced)
                self.events, self._next_sample, self.end_ts = seq, next_sample, last_ts
                self._loop(map(row, range(i, stop)))
                seq, next_sample, last_ts = self.events, self._next_sample, self.end_ts
                break
            if row_by_row(i):
                self.events, self._next_sample, self.end_ts = seq, next_sample, last_ts
                pos = [i]
                self._loop(slow_rows(pos))
                i = pos[0]
                seq, next_sample, last_ts = self.events, self._next_sample, self.end_ts
                assert next_sample is not None
                continue
            end = stop
            if timers and timers[0][0] <= ts_col[stop - 1]:
                end = bisect_left(ts_col, timers[0][0], i, stop)
            if next_sample != sample_for:
                sample_for = next_sample
                sample_row = bisect_left(ts_col, next_sample, i, stop)
            if sample_row < end:
                end = sample_row + 1
            try:
                res = batch(blk, i, end)
            except Exception as exc:
                self.parts.faults.dead_letter(owner, exc,
                                              f"{sym} rows {i}..{end - 1} of a column block")
                res = None
            if res is None:
                last, out = end - 1, None
            else:
                last, out = res
                if not i <= last < end:
                    raise HeanError(f"{owner.name}.on_{'bars' if is_bar else 'trades'} returned "
                                    f"row {last}, "
                                    f"outside the rows {i}..{end - 1} it was given",
                                    "return the index of the row that produced the signal")
            before = seq
            seq += last - i + 1
            batched += last - i + 1
            ts = last_ts = ts_col[last]
            ctx.now = ts
            st.ts = ts
            st.last = px_col[last]
            lo = max(i, last + 1 - window)
            prices.extend(px_col[lo:last + 1])
            if not is_bar:
                st.trade_volume += sum(blk.size[i:last + 1])  # type: ignore[union-attr]
            elif keep_bars:  # the same rows' (high, low, volume) the per-bar path appends
                bars.extend(zip(bh[lo:last + 1], bl[lo:last + 1], bv[lo:last + 1]))
            if out is not None:
                self.parts.router.route(out, seq, owner)
            if ts >= next_sample:
                self.sample_equity(ts)
                next_sample = ts + interval
            if progress is not None and before // PROGRESS_EVERY != seq // PROGRESS_EVERY:
                progress(seq, ts)
            i = last + 1
        self.events, self._next_sample, self.end_ts = seq, next_sample, last_ts
        self.batched_rows += batched

    def _outside(self, ev: Funding) -> bool:
        """A funding settlement outside its symbol's prices (before the first, or more than
        two bars -- one hour for tick data -- after the last): not applied, not dispatched,
        counted as ``funding_outside_prices`` (a run's window is where its prices are)."""
        st = self.ctx.market[ev.symbol]
        limit = 2 * st.bar_ms if st.bar_ms else FUNDING_PRICE_AGE_MS
        if st.ts and ev.ts - st.ts <= limit:
            return False
        self.outside_window += 1
        return True

    def _other_event(self, ev: Any, st: Any, venue_sees: bool) -> list[Callable[[Any], Any]] | None:
        et = type(ev)
        ts = ev.ts
        if et is Quote:
            st.ts = ts
            st.bid = ev.bid
            st.ask = ev.ask
            st.bid_size = ev.bid_size
            st.ask_size = ev.ask_size
            if not st.last:
                st.prices.append((ev.bid + ev.ask) * 0.5)
        elif et is BookUpdate:
            book = st.book
            if book is None:
                from .book import OrderBook
                book = st.book = OrderBook(ev.symbol)
            book.apply(ev)
            st.ts = ts
            st.bid = book.bid
            st.ask = book.ask
            st.bid_size = book.bid_size
            st.ask_size = book.ask_size
        elif et is Funding:
            st.funding_rate = ev.rate
            st.last_funding_ts = ts
            if ev.mark_price:
                st.mark = ev.mark_price
        elif et is MarkPrice:
            st.mark = ev.mark
            st.index = ev.index
        venue = self.parts.venue
        if venue_sees and not venue.idle:
            venue.on_market(ev)
        if et is Funding:
            paid = self.ctx.portfolio.apply_funding(ev)
            journal = self.ctx.journal
            if paid and journal is not None:
                journal.event(ts, "funding", {"symbol": ev.symbol, "rate": ev.rate,
                                              "amount": paid,
                                              "positions": self.ctx.portfolio.funding_detail()})
        return self.parts.dispatch[et].get(ev.symbol)

    # ================================================================= end

    def close(self) -> None:
        """Flush and close the journal: ``complete``, or ``failed`` / ``interrupted`` when
        :meth:`run` raised (the journal then reads as cut short, never as a finished run)."""
        journal = self.ctx.journal
        if journal is None:
            return
        self.ctx.journal = None
        exc = self._failure
        if exc is None:
            journal.close()
            return
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        with contextlib.suppress(Exception):  # the run's own exception is the one to report
            journal.close(status, " ".join(what.split())[:500])
