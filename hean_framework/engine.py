"""The deterministic event loop shared by backtest, paper and live runs.

Per market event, in this order (ties in time are ordered by the feed, DESIGN §6):

1. due timers fire (executors' re-quotes, time stops);
2. market state is updated (``ctx.market[symbol]``: last, bid/ask, L2 book, funding);
3. the venue sees the event (the simulator matches resting orders against it);
4. funding settles on open positions (funding events);
5. analyzers, then strategies, get the event -- by *direct method calls* from a dispatch table
   built once per run (no pluggy call per event);
6. each returned signal runs through the pipeline and ends in exactly one decision.

Decisions are a pure function of the event sequence and the config: the same events give the
same journal (tested by hash).
"""

from __future__ import annotations

import gc
import hashlib
import platform
import sys
import time
import traceback
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from . import __version__
from .blocks import BarBlock, TradeBlock
from .components import (
    Analyzer,
    Component,
    Executor,
    Feed,
    MarketListener,
    Strategy,
    Venue,
    as_signals,
)
from .config import ResolvedComponent, RunSetup, resolve_path
from .context import RunContext
from .errors import HeanError
from .models import (
    DONE_STATUSES,
    Bar,
    BookUpdate,
    ClosedTrade,
    Fill,
    Funding,
    MarketEvent,
    MarkPrice,
    Order,
    OrderDecision,
    Quote,
    Signal,
    Trade,
)
from .pipeline import Pipeline
from .plugins import HeanPluginManager
from .run import RunResult

_BLOCKS = (BarBlock, TradeBlock)
CALLBACK_OF = {Bar: "on_bar", Trade: "on_trade", Quote: "on_quote", BookUpdate: "on_book",
               Funding: "on_funding", MarkPrice: "on_mark"}
PROGRESS_EVERY = 1 << 15
#: young-generation GC threshold while the loop runs (CPython's default is 700)
GC_GEN0_THRESHOLD = 50_000


@dataclass(slots=True)
class ExitPlan:
    """Protective orders of one strategy position: stop, target and time stop."""

    strategy_id: str
    symbol: str
    stop_loss: float | None
    take_profit: float | None
    deadline: int | None
    signal_id: int
    order_ids: list[int]


def _overrides(obj: object, base: type, method: str) -> bool:
    return getattr(type(obj), method, None) is not getattr(base, method, None)


class Engine:
    """Builds the components of a run and drives events through them."""

    def __init__(self, setup: RunSetup, plugins: HeanPluginManager, *,
                 out_dir: str | Path | None = None, journal: bool | None = None,
                 progress: bool | None = None) -> None:
        self.setup = setup
        self.config = setup.config
        self.plugins = plugins
        cfg = setup.config
        self.out_dir = Path(out_dir) if out_dir is not None else (
            Path(cfg.run.out) if cfg.run.out else Path("runs") / cfg.run.name)
        self.use_journal = cfg.journal.enabled if journal is None else journal
        self.show_progress = cfg.report.progress if progress is None else progress
        self.ctx = ctx = RunContext(cfg, seed=cfg.run.seed)
        ctx.engine = self
        self.components: dict[str, list[Component]] = {}
        self.strategies: dict[str, Strategy] = {}
        self.analyzers: list[Analyzer] = []
        self.exit_plans: dict[tuple[str, str], ExitPlan] = {}
        self._order_owner: dict[int, Executor] = {}
        self._orders: dict[int, Order] = {}
        self._order_signal: dict[int, Signal] = {}
        self._dispatch: dict[type, dict[str, list[Callable[[Any], Any]]]] = {}
        self._errors: dict[str, int] = {}
        self._telling_error = False  # set while on_error observers run (see _notify_error)
        self._disabled: set[str] = set()
        self.dead_letters = 0
        self.retried_fills = 0
        self.events = 0
        self.start_ts = 0
        self.end_ts = 0
        self._built = False
        #: the exchange rules of the run, for the manifests (set by build; fixed for the run)
        self.instruments_info: dict[str, Any] = {}
        self.feed: Feed | None = None
        self.journal: Any = None
        self._progress_fn: Callable[..., None] | None = None
        #: rows handed to strategies through on_bars/on_trades (the batch fast path)
        self.batched_rows = 0
        self._next_sample: int | None = None

    # ================================================================= building

    def _make(self, rc: ResolvedComponent, **extra: Any) -> Any:
        obj: Any = rc.spec.cls(rc.config, self.ctx, name=rc.instance, **extra)
        obj._origin = rc.spec.origin
        return obj

    def _data_files(self) -> list[Any]:
        """The ``data.files`` entries of the feed's config (none without a feed)."""
        return getattr(self.setup.feed.config, "files", []) if self.setup.feed else []

    def data_symbols(self) -> list[str]:
        """Symbols named in the data section, in order of first appearance."""
        files = self._data_files()
        out: list[str] = []
        for f in files:
            if f.symbol not in out:
                out.append(f.symbol)
        return out

    def build(self) -> Engine:
        """Instantiate instruments, portfolio, venue, journal, feed and components."""
        if self._built:
            return self
        from .instruments import IDEAL, Instruments
        from .portfolio import Portfolio

        cfg, ctx, setup = self.config, self.ctx, self.setup
        vsec = setup.venue_section
        symbols = self.data_symbols()
        for rc in setup.components["strategy"]:
            for s in rc.common.get("symbols") or ():
                if s not in symbols:
                    symbols.append(s)
        vcfg = setup.venue.config
        overrides = {k: getattr(vcfg, k + "_fee") for k in ("maker", "taker")
                     if getattr(vcfg, k + "_fee", None) is not None}
        ctx.instruments = Instruments.load(
            vsec.exchange, symbols or None, markets_file=self._path(vsec.markets_file),
            fee_overrides=overrides or None,
            specs={s: spec.model_dump(exclude_none=True)
                   for s, spec in vsec.instruments.items()} or None)
        inst = ctx.instruments
        self.instruments_info = {
            "exchange": inst.exchange, "source": inst.source,
            "symbols": {s: inst.get(s).to_dict() for s in inst.symbols()}}
        if inst.exchange == IDEAL:
            ctx.log.warning("venue.exchange 'ideal': no exchange rules (steps 1e-8, no "
                            "minimums) -- results a real exchange would not allow")
        ctx.portfolio = Portfolio(cfg.account.capital, ctx.instruments, ctx.market)
        ctx.venue = self._make(setup.venue)
        if setup.feed is not None:
            self.feed = self._make(setup.feed)
        if self.use_journal:
            from .journal import Journal
            self.out_dir.mkdir(parents=True, exist_ok=True)
            jpath = self.out_dir / "journal.sqlite"
            for suffix in ("", "-wal", "-shm"):
                p = Path(str(jpath) + suffix)
                if p.exists():
                    p.unlink()
            self.journal = ctx.journal = Journal(jpath, batch_size=cfg.journal.batch_size,
                                                 writer=cfg.journal.writer)
            self.journal.follow_equity(ctx.portfolio.equity_curve)
        # components
        comps = setup.components
        default_syms = symbols
        for rc in comps["analyzer"]:
            a = self._make(rc, symbols=rc.common.get("symbols") or default_syms)
            self.analyzers.append(a)
        for rc in comps["strategy"]:
            s = self._make(rc, symbols=rc.common.get("symbols") or default_syms)
            self.strategies[rc.instance] = s
        filters = [self._make(rc) for rc in comps["filter"]]
        sizers = [self._make(rc) for rc in comps["sizer"]]
        gates = [self._make(rc) for rc in comps["gate"]]
        executors = {rc.instance: self._make(rc) for rc in comps["executor"]}
        if "plain" not in executors:
            spec = self.plugins.registry.get("executor", "plain")
            if spec is not None:
                executors["plain"] = spec.cls(spec.config_model(), ctx, name="plain")
        if not executors:
            raise HeanError("no executor available", "install/enable the builtin 'plain' "
                            "executor or list one under executors:")
        default_ex = next(iter(comps["executor"])).instance if comps["executor"] else "plain"
        strat_ex = {}
        for rc in comps["strategy"]:
            ex = rc.common.get("executor")
            if ex is not None:
                if ex not in executors:
                    raise HeanError(f"strategies.{rc.instance}.executor: unknown executor "
                                    f"{ex!r}; configured: {', '.join(executors)}")
                strat_ex[rc.instance] = ex
        self.pipeline = Pipeline(
            ctx, filters=filters, sizers=sizers, gates=gates, executors=executors,
            default_executor=default_ex, strategy_executor=strat_ex,
            require_stop_loss=cfg.pipeline.require_stop_loss,
            allow_pyramiding=cfg.pipeline.allow_pyramiding,
            allow_reversal=cfg.pipeline.allow_reversal,
            on_decision=self._on_decision, on_error=self._pipeline_error)
        weights = {rc.instance: float(rc.common.get("weight", 1.0)) for rc in comps["strategy"]}
        total = sum(weights.values()) or 1.0
        self.weights = {k: v / total for k, v in weights.items()}
        self.components = {
            "analyzer": list(self.analyzers), "strategy": list(self.strategies.values()),
            "filter": filters, "sizer": sizers, "gate": gates,
            "executor": list(executors.values()), "venue": [ctx.venue],
        }
        self._venue_sees = _overrides(ctx.venue, Venue, "on_market")
        #: configured executors that do not override on_fill / on_order_update: those are
        #: not called (the base ones do nothing); an executor the engine did not build gets both
        self._quiet_fill = frozenset(ex.name for ex in executors.values()
                                     if not _overrides(ex, Executor, "on_fill"))
        self._quiet_update = frozenset(ex.name for ex in executors.values()
                                       if not _overrides(ex, Executor, "on_order_update"))
        self._build_dispatch()
        self._build_observers(filters, sizers, gates, list(executors.values()))
        self._built = True
        return self

    def _path(self, p: str | None) -> str | None:
        if not p:
            return None
        return str(resolve_path(p, self.config.base_dir))

    def _build_dispatch(self) -> None:
        """One list of bound methods per (event type, symbol): analyzers first."""
        listeners: list[MarketListener] = [*self.analyzers, *self.strategies.values()]
        for etype, meth in CALLBACK_OF.items():
            table: dict[str, list[Callable[[Any], Any]]] = {}
            for obj in listeners:
                base = Analyzer if isinstance(obj, Analyzer) else Strategy
                if not _overrides(obj, base, meth):
                    continue
                for sym in obj.symbols:
                    table.setdefault(sym, []).append(getattr(obj, meth))
            self._dispatch[etype] = table
        #: strategy -> the order/fill/decision callbacks it overrides (others are not called)
        self._callbacks: dict[str, frozenset[str]] = {
            name: frozenset(m for m in ("on_fill", "on_order_update", "on_position_closed",
                                        "on_decision") if _overrides(s, Strategy, m))
            for name, s in self.strategies.items()}
        #: callbacks at least one strategy overrides
        self._any_callback = frozenset(m for ms in self._callbacks.values() for m in ms)
        # batch fast path: the symbol's only bar (trade) listener is a strategy with on_bars
        self._batch: dict[tuple[type, str], tuple[Strategy, Callable[..., Any]]] = {}
        for etype, meth in ((Bar, "on_bars"), (Trade, "on_trades")):
            for sym, handlers in self._dispatch[etype].items():
                owner = getattr(handlers[0], "__self__", None)
                if len(handlers) == 1 and isinstance(owner, Strategy) \
                        and _overrides(owner, Strategy, meth):
                    self._batch[etype, sym] = (owner, getattr(owner, meth))

    def _build_observers(self, *groups: list[Any]) -> None:
        """Pipeline components that override an observer method get it called."""
        from .components import Observer

        self.observers: dict[str, list[Callable[..., Any]]] = {
            m: [] for m in Observer.OBSERVER_METHODS}
        seen: set[int] = set()
        for obj in [c for g in groups for c in g] + list(self.analyzers):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            for m in Observer.OBSERVER_METHODS:
                fn = getattr(obj, m, None)
                base = getattr(Executor, m, None) if isinstance(obj, Executor) else None
                if fn is None or (base is not None and getattr(type(obj), m) is base):
                    continue
                if isinstance(obj, Executor) and m in ("on_fill", "on_order_update"):
                    continue  # executors get their own orders' updates already
                self.observers[m].append(fn)

    def _notify(self, method: str, *args: Any) -> None:
        for fn in self.observers[method]:
            comp = getattr(fn, "__self__", fn)
            if method == "on_fill":
                self._guard_fill(comp, fn, args[0])
                continue
            try:
                fn(*args)
            except Exception as exc:
                self._dead_letter(comp, exc, args)

    # ----------------------------------------------------------------- dead-letter retries

    #: retries of a failed fill handler (SPEC 8.4 [PROPOSED]: that handler only, with backoff)
    FILL_RETRIES = 3
    RETRY_BASE_MS = 10_000

    def _guard_fill(self, comp: Any, fn: Callable[[Any], Any], fill: Fill) -> Any:
        """Call a fill handler; on failure dead-letter it and retry *that handler only*."""
        try:
            return fn(fill)
        except Exception as exc:
            self._dead_letter(comp, exc, fill)
            self._schedule_retry(comp, fn, fill, 1)
            return None

    def _schedule_retry(self, comp: Any, fn: Callable[[Any], Any], fill: Fill,
                        attempt: int) -> None:
        name = getattr(comp, "name", type(comp).__name__)
        if attempt > self.FILL_RETRIES:
            if self.journal is not None:
                self.journal.event(self.ctx.now, "dead_letter_exhausted",
                                   {"component": name, "fill_id": fill.fill_id})
            return
        due = self.ctx.now + self.RETRY_BASE_MS * 2 ** (attempt - 1)
        self.ctx.schedule(due, partial(self._retry_fill, comp, fn, fill, attempt))

    def _retry_fill(self, comp: Any, fn: Callable[[Any], Any], fill: Fill, attempt: int,
                    now: int) -> None:
        name = getattr(comp, "name", type(comp).__name__)
        if isinstance(comp, Strategy) and name in self._disabled:
            if self.journal is not None:  # disabled since: no more calls, retries included
                self.journal.event(now, "dead_letter_dropped",
                                   {"component": name, "fill_id": fill.fill_id,
                                    "attempt": attempt, "reason": "strategy disabled"})
            return
        try:
            out = fn(fill)
        except Exception as exc:
            self._dead_letter(comp, exc, fill)
            self._schedule_retry(comp, fn, fill, attempt + 1)
            return
        self.retried_fills += 1
        if self.journal is not None:
            self.journal.event(now, "dead_letter_retried", {"component": name,
                                                            "fill_id": fill.fill_id,
                                                            "attempt": attempt})
        if isinstance(comp, Strategy):
            self._signals(out, 0)

    def sample_equity(self, ts: int) -> None:
        """Record an equity sample and tell observers (``on_equity``)."""
        pf = self.ctx.portfolio
        pf.sample(ts)
        if self.observers["on_equity"]:
            self._notify("on_equity", ts, pf.equity_curve[-1][1])

    # ================================================================= budgets

    def budget(self, strategy_id: str) -> float:
        """Capital the sizers may risk from for this strategy.

        An allocator (issue: risk core) publishes ``ctx.state["*"]["budgets"]``; without one the
        equity is split by the strategies' ``weight`` keys (equal by default).
        """
        budgets = self.ctx.state.get("*", "budgets")
        if budgets is not None and strategy_id in budgets:
            return float(budgets[strategy_id])
        return self.ctx.portfolio.equity() * self.weights.get(strategy_id, 1.0)

    # ================================================================= orders (executors call)

    def submit_order(self, signal: Signal, decision: OrderDecision, qty: float, *,
                     order_type: str = "market", price: float | None = None,
                     post_only: bool = False, reduce_only: bool | None = None,
                     executor: Executor | None = None, tag: str = "",
                     parent_id: int = 0) -> Order:
        """Create an order for ``decision`` and send it to the venue."""
        ctx = self.ctx
        oid = ctx.next_id()
        if price is not None and order_type != "market":
            price = ctx.instruments.get(signal.symbol).round_price(price, signal.side)
        # positional: Order's field order (models.Order)
        order = Order(oid, signal.strategy_id, signal.symbol, signal.side, qty, order_type,
                      price, post_only, signal.reduce_only if reduce_only is None else reduce_only,
                      ctx.now, "new", 0.0, 0.0, 0.0, signal.signal_id, decision.decision_id,
                      parent_id, f"hean-{oid}", "", "", tag or signal.tag, 0, 0, 0.0,
                      price if price is not None else decision.price)
        self._orders[oid] = order
        if not signal.reduce_only and (signal.stop_loss is not None
                                       or signal.take_profit is not None
                                       or signal.max_hold_ms is not None):
            self._order_signal[oid] = signal  # an entry with exits (see _update_exits)
        if executor is not None:
            self._order_owner[oid] = executor
        self.pipeline.orders += 1
        return ctx.venue.submit(order)

    def cancel_order(self, order_id: int, reason: str = "") -> Order | None:
        """Cancel an order at the venue."""
        return self.ctx.venue.cancel(order_id, reason)

    # ================================================================= venue callbacks

    def on_fill(self, fill: Fill, order: Order) -> None:
        """The venue reports an execution (called synchronously by the venue)."""
        pf = self.ctx.portfolio
        self.pipeline.fills += 1
        closed = pf.apply_fill(fill)
        if self.journal is not None:
            self.journal.fill(fill)
        self.sample_equity(fill.ts)
        if self.exit_plans or order.order_id in self._order_signal:
            self._update_exits(order, fill)
        if self.observers["on_fill"]:
            self._notify("on_fill", fill)
        owner = self._order_owner.get(order.order_id)
        if owner is not None and owner.name not in self._quiet_fill:
            self._guard_fill(owner, owner.on_fill, fill)
        if "on_fill" in self._any_callback:
            strat = self._live_strategy(fill.strategy_id, "on_fill")
            if strat is not None:
                self._signals(self._guard_fill(strat, strat.on_fill, fill), 0)
        if closed is not None:
            self._on_closed(closed)

    def on_order_update(self, order: Order) -> None:
        """The venue reports a status change (open, cancelled, rejected, filled)."""
        oid = order.order_id
        if order.status in DONE_STATUSES:
            # done orders leave the engine's tables (they can no longer fill)
            self._orders.pop(oid, None)
            self._order_signal.pop(oid, None)
            owner = self._order_owner.pop(oid, None)
            if self.journal is not None:
                self.journal.order(order)
            if order.status == "rejected" and self.observers["on_error"]:
                self._notify_error(order.symbol, "order_rejected", order.reason)
        else:
            owner = self._order_owner.get(oid)
        if owner is not None and owner.name not in self._quiet_update:
            self._guard(owner, owner.on_order_update, order)
        self._tell("on_order_update", order)

    def _on_closed(self, closed: ClosedTrade) -> None:
        if self.journal is not None:
            self.journal.closed_trade(closed)
        self._tell("on_position_closed", closed)

    def _tell(self, callback: str, record: Order | ClosedTrade) -> None:
        """Tell the observers of ``callback``, then the record's strategy when it overrides
        it (what the strategy returns is sent through the pipeline)."""
        if self.observers[callback]:
            self._notify(callback, record)
        if callback in self._any_callback:
            strat = self._live_strategy(record.strategy_id, callback)
            if strat is not None:
                self._signals(self._guard(strat, getattr(strat, callback), record), 0)

    def _live_strategy(self, strategy_id: str, callback: str) -> Strategy | None:
        """The strategy owning a record when it overrides ``callback`` and was not disabled
        after errors (the base class callbacks do nothing: they are not called)."""
        if strategy_id in self._disabled or callback not in self._callbacks.get(strategy_id, ()):
            return None
        return self.strategies.get(strategy_id)

    # ================================================================= exits (TP / SL / time)

    def _update_exits(self, order: Order, fill: Fill) -> None:
        """Keep protective orders in step with the position after every fill.

        An entry fill (re)places the stop and target of its signal for the whole position; an
        exit fill shrinks them; a flat position cancels what is left (one-cancels-other).
        """
        key = (fill.strategy_id, fill.symbol)
        pos = self.ctx.portfolio.position(*key)
        plan = self.exit_plans.get(key)
        if pos.qty == 0.0:
            if plan is not None:
                self._drop_plan(key, plan)
            return
        sig = self._order_signal.get(order.order_id)
        is_entry = (not order.reduce_only and sig is not None and not sig.reduce_only
                    and (sig.stop_loss is not None or sig.take_profit is not None
                         or sig.max_hold_ms is not None))
        if not is_entry:
            if plan is not None:
                self._resize_plan(plan, abs(pos.qty))
            return
        assert sig is not None
        if plan is not None:
            self._drop_plan(key, plan)
        deadline = None
        if sig.max_hold_ms:
            deadline = plan.deadline if plan is not None and plan.signal_id == sig.signal_id \
                else fill.ts + sig.max_hold_ms
        new = ExitPlan(fill.strategy_id, fill.symbol, sig.stop_loss, sig.take_profit,
                       deadline, sig.signal_id, [])
        self.exit_plans[key] = new
        pos.stop_loss, pos.take_profit, pos.max_hold_ms = (sig.stop_loss, sig.take_profit,
                                                           sig.max_hold_ms)
        self._place_exit_orders(new, pos.qty)
        if deadline is not None and (plan is None or plan.deadline != deadline):
            self.ctx.schedule(deadline, partial(self._time_stop_cb, key, sig.signal_id))

    def _place_exit_orders(self, plan: ExitPlan, pos_qty: float) -> None:
        side = "sell" if pos_qty > 0 else "buy"
        qty = abs(pos_qty)
        stub = Signal(plan.strategy_id, plan.symbol, side, self.ctx.now, 0.0, reduce_only=True,
                      signal_id=plan.signal_id)
        d = OrderDecision(0, plan.signal_id, plan.strategy_id, plan.symbol, side, self.ctx.now)
        for typ, px, tag in (("stop_market", plan.stop_loss, "SL_HIT"),
                             ("limit", plan.take_profit, "TP_HIT")):
            if px is None:
                continue
            o = self.submit_order(stub, d, qty, order_type=typ, price=px, reduce_only=True,
                                  tag=tag)
            self.pipeline.orders -= 1  # protective orders are not pipeline orders
            if not o.is_done:
                plan.order_ids.append(o.order_id)

    def _resize_plan(self, plan: ExitPlan, qty: float) -> None:
        for oid in list(plan.order_ids):
            o = self._orders.get(oid)
            if o is not None and not o.is_done and o.remaining > qty + 1e-12:
                o.qty = o.filled + qty

    def _drop_plan(self, key: tuple[str, str], plan: ExitPlan) -> None:
        if self.exit_plans.get(key) is plan:
            del self.exit_plans[key]
        for oid in plan.order_ids:
            o = self._orders.get(oid)
            if o is not None and not o.is_done:
                self.cancel_order(oid, "oco")

    def _time_stop_cb(self, key: tuple[str, str], signal_id: int, now: int) -> None:
        self._time_stop(key, signal_id)

    def _time_stop(self, key: tuple[str, str], signal_id: int) -> None:
        plan = self.exit_plans.get(key)
        if plan is None or plan.signal_id != signal_id:
            return
        pos = self.ctx.portfolio.position(*key)
        if pos.qty == 0.0:
            return
        for oid in plan.order_ids:
            o = self._orders.get(oid)
            if o is not None and not o.is_done:
                self.cancel_order(oid, "time_stop")
        plan.order_ids.clear()
        side = "sell" if pos.qty > 0 else "buy"
        sig = Signal(key[0], key[1], side, self.ctx.now, self.ctx.market[key[1]].price,
                     reduce_only=True, tag="TIMEOUT_TTL")
        self.pipeline.process(sig)

    # ================================================================= errors

    def _origin(self, comp: Any) -> Any:
        return getattr(comp, "_origin", None)

    def _dead_letter(self, comp: Any, exc: BaseException, payload: Any) -> None:
        self.dead_letters += 1
        origin = self._origin(comp)
        name = getattr(comp, "name", type(comp).__name__)
        self._errors[name] = self._errors.get(name, 0) + 1
        error = f"{type(exc).__name__}: {exc}"
        if self.journal is not None:
            self.journal.dead_letter(
                self.ctx.now, name, origin.plugin if origin else "",
                origin.distribution if origin else "", origin.version if origin else "",
                repr(payload)[:500], error, traceback.format_exc(limit=5))
        if self.observers["on_error"]:
            self._notify_error(name, "handler", error)
        if isinstance(comp, Strategy) and \
                self._errors[name] >= self.config.pipeline.max_component_errors:
            self._disabled.add(name)
            where = origin.describe() if origin else name
            self.ctx.log.error("strategy %r from %s disabled after %d errors (last: %s)",
                               name, where, self._errors[name], exc)

    def _notify_error(self, source: str, kind: str, message: str) -> None:
        """Tell the ``on_error`` observers -- except about an error raised by one of them."""
        if self._telling_error:
            return
        self._telling_error = True
        try:
            self._notify("on_error", self.ctx.now, source, kind, message)
        finally:
            self._telling_error = False

    def _guard(self, comp: Any, fn: Callable[[Any], Any], arg: Any) -> Any:
        try:
            return fn(arg)
        except Exception as exc:
            self._dead_letter(comp, exc, arg)
            return None

    def _pipeline_error(self, name: str, exc: Exception, signal: Any) -> None:
        comp = next((c for cs in self.components.values() for c in cs if c.name == name), name)
        self._dead_letter(comp, exc, signal)

    # ================================================================= signals & decisions

    def _signals(self, out: Any, cause_seq: int) -> None:
        if out is None:
            return
        for sig in ((out,) if type(out) is Signal else as_signals(out)):
            if sig.strategy_id in self._disabled:
                continue
            if not sig.ts:
                sig.ts = self.ctx.now
            sig.cause_seq = sig.cause_seq or cause_seq
            self.pipeline.process(sig)

    def _on_decision(self, d: OrderDecision) -> None:
        if self.journal is not None:
            self.journal.decision(d)
        if self.observers["on_decision"]:
            self._notify("on_decision", d)
        strat = self._live_strategy(d.strategy_id, "on_decision")
        if strat is not None:
            self._guard(strat, strat.on_decision, d)

    # ================================================================= the loop

    def run(self, events: Iterable[MarketEvent | BarBlock | TradeBlock] | None = None
            ) -> RunResult:
        """Process every event of the feed (or ``events``: events and column blocks) and
        return the run's numbers."""
        self.build()
        ctx = self.ctx
        if events is None:
            if self.feed is None:
                raise HeanError("no data to run on", "add a data section to the config")
            events = self.feed.blocks()
        t0 = time.perf_counter()
        self._start()
        self._progress_fn = self._progress()
        self._next_sample = None
        # The loop allocates many short-lived objects and few cycles: park what exists in the
        # permanent generation and collect the young one less often while it runs.
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], GC_GEN0_THRESHOLD), *thresholds[1:])
        try:
            self._loop(iter(events))
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            self._stop()
        if self._progress_fn is not None:
            self._progress_fn(self.events, self.end_ts, done=True)
        elapsed = time.perf_counter() - t0
        ctx.portfolio.sample(self.end_ts or ctx.now)
        return self._result(elapsed)

    def _start(self) -> None:
        if self.journal is not None:
            self.journal.write_manifest(self.manifest())
        for group in self.components.values():
            for c in group:
                c.on_start()
        self.plugins.run_started(self)

    def _stop(self) -> None:
        for group in self.components.values():
            for c in group:
                try:
                    c.on_stop()
                except Exception as exc:
                    self._dead_letter(c, exc, None)

    def _loop(self, events: Iterator[Any]) -> None:
        """Drive events (and column blocks, see :meth:`_block`) through the run.

        Re-entrant: the loop position (event count, next equity sample, last time) lives on
        the engine between calls, so a block can replay some of its rows through here.
        """
        ctx = self.ctx
        market = ctx.market
        venue = ctx.venue
        venue_sees = self._venue_sees
        venue_on_market = venue.on_market
        timers = ctx._timers
        run_timers = ctx.run_timers
        process_signals = self._signals
        bar_t = self._dispatch[Bar]
        trade_t = self._dispatch[Trade]
        interval = self.config.report.equity_interval_ms
        progress = self._progress_fn
        ev: Any = next(events, None)
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
                        self._dead_letter(getattr(h, "__self__", h), exc, ev)
                        continue
                    if out is not None:
                        process_signals(out, seq)
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
            found = self._batch.get((Bar, sym))
            if not st.bar_ms:
                st.bar_ms = blk.interval_ms
        else:
            assert isinstance(blk, TradeBlock)
            px_col = blk.price
            row = blk.trade
            found = self._batch.get((Trade, sym))
        i, stop = blk.start, blk.stop
        if found is None:
            self._loop(map(row, range(i, stop)))
            return
        ts_col = blk.ts
        venue = ctx.venue
        venue_sees = self._venue_sees
        timers = ctx._timers
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

        while i < stop:
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
                self._dead_letter(owner, exc, f"{sym} rows {i}..{end - 1} of a column block")
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
            prices.extend(px_col[max(i, last + 1 - window):last + 1])
            if not is_bar:
                st.trade_volume += sum(blk.size[i:last + 1])  # type: ignore[union-attr]
            if out is not None:
                self._signals(out, seq)
            if ts >= next_sample:
                self.sample_equity(ts)
                next_sample = ts + interval
            if progress is not None and before // PROGRESS_EVERY != seq // PROGRESS_EVERY:
                progress(seq, ts)
            i = last + 1
        self.events, self._next_sample, self.end_ts = seq, next_sample, last_ts
        self.batched_rows += batched

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
        if venue_sees and not self.ctx.venue.idle:
            self.ctx.venue.on_market(ev)
        if et is Funding:
            paid = self.ctx.portfolio.apply_funding(ev)
            if paid and self.journal is not None:
                self.journal.event(ts, "funding", {"symbol": ev.symbol, "rate": ev.rate,
                                                   "amount": paid})
        return self._dispatch[et].get(ev.symbol)

    def _progress(self) -> Callable[..., None] | None:
        if not self.show_progress:
            return None
        from rich.console import Console
        console = Console(stderr=True)
        if not console.is_terminal:
            return None
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
        prog = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=console, transient=True)
        task = prog.add_task("backtest", total=None)
        prog.start()

        def update(n: int, ts: int, done: bool = False) -> None:
            day = time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts / 1000)) if ts else ""
            prog.update(task, description=f"backtest: {n:,} events, data time {day} UTC")
            if done:
                prog.stop()

        return update

    # ================================================================= results

    def manifest(self) -> dict[str, Any]:
        """What produced this run: config, plugins with versions, data file hashes."""
        files = self._data_files()
        hashes = {}
        for f in files:
            p = Path(self._path(f.path) or f.path)
            if p.is_file():
                h = hashlib.sha256()
                with p.open("rb") as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
                hashes[f.path] = h.hexdigest()
        return {
            "hean_version": __version__,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "config": self.config.model_dump(mode="json", exclude={"base_dir"}),
            "plugins": [{k: p[k] for k in ("name", "distribution", "version", "enabled")}
                        for p in self.plugins.plugin_list()],
            "data_sha256": hashes,
            "instruments": self.instruments_info,
            "seed": self.config.run.seed,
        }

    def _result(self, elapsed: float) -> RunResult:
        ctx, pf = self.ctx, self.ctx.portfolio
        open_orders = [o for o in self._orders.values() if not o.is_done]
        if self.journal is not None:
            for o in open_orders:
                self.journal.order(o)
            for p in pf.positions():
                self.journal.position(p, self.end_ts)
        per = pf.strategy_summary()
        for name in self.strategies:
            per.setdefault(name, {})
            counts = self.pipeline.by_strategy.get(name)
            per[name]["signals"] = counts["signals"] if counts else 0
            per[name].update(self.strategies[name].stats())
            if name in self._disabled:
                per[name]["disabled_after_errors"] = self._errors.get(name, 0)
        sections: dict[str, Any] = {}
        for group in self.components.values():
            for c in group:
                if c.kind == "strategy":
                    continue
                st = c.stats()
                if st:
                    sections.setdefault("components", {})[f"{c.kind}:{c.name}"] = st
        for name, fn in ctx.sections.items():
            sections[name] = fn()
        rejections = self.feed.rejections() if self.feed is not None else {}
        return RunResult(
            run_name=self.config.run.name, mode=self.config.run.mode,
            initial_capital=self.config.account.capital, start_ts=self.start_ts,
            end_ts=self.end_ts, events=self.events, equity_curve=list(pf.equity_curve),
            closed_trades=list(pf.closed_trades), fills=self.pipeline.fills, fees=pf.fees,
            funding=pf.funding, turnover=pf.turnover, final_equity=pf.equity(),
            final_positions=pf.positions(), per_strategy=per, funnel=self.pipeline.funnel(),
            rejections=dict(rejections), config=self.config.model_dump(mode="json"),
            manifest={"plugins": self.plugins.plugin_list(),
                      "instruments": self.instruments_info}, sections=sections,
            recent_decisions=self.pipeline.recent_dicts(), dead_letters=self.dead_letters,
            elapsed_s=elapsed, out_dir=self.out_dir if self.use_journal else None)

    def close(self) -> None:
        """Flush and close the journal."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None
