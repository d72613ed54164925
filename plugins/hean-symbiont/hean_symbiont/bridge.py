"""``analyzers.symbiont_bridge``: re-optimise running strategies on recent data, promote the
winner only when it beats the incumbent out of sample, roll it back when it disappoints.

The bridge listens to no market event (it does not slow the replay); it wakes on a timer every
``check_minutes`` of the run's clock (the data's clock in a backtest, the wall clock live):

1. **Start a cycle** for a strategy when no cycle of it is running, ``interval_hours`` have
   passed since its last cycle, it closed at least ``min_closed_trades`` trades since then, and
   its last promotion is at least ``cooldown_hours`` old.  The cycle runs **in a background
   thread** (the run's loop goes on): on the last ``lookback_days`` of market data before now
   -- in a backtest the run's own data files cut at the current time (nothing after it is
   seen), live the events the bridge recorded -- the first ``1 - oos_fraction`` of that window
   is in-sample, the rest out-of-sample.  A small genetic search (``search``: Symbiont's
   settings, default population 8, 4 generations) maximises the composite fitness in-sample;
   the winner and the incumbent (the strategy's current parameters) are then backtested
   out-of-sample.
2. **Apply the result at a later wake-up**: live, at the first one after the thread finished
   (never waiting); in a backtest at the first one at or after ``apply_after_minutes`` of data
   time from the start -- waiting for the thread there if needed, so a replay gives the same
   decisions whatever the machine's speed.  The winner is **promoted** only if it differs
   from the incumbent, its out-of-sample fitness beats the incumbent's by ``min_improvement``
   (strictly above, and at least ``(1 + min_improvement)`` x when the incumbent's is
   positive), and no promotion of that strategy happened in the last ``cooldown_hours`` (24 h
   by default, by the run's clock).  Promoted values are **clamped** into the searched space
   and only keys the strategy's config model knows are sent, through
   ``ctx.run.update_params`` (the strategy's ``on_params_updated``, then the
   ``hean_params_updated`` hook, source ``optimizer:<instance>``).
3. **Watch a promotion**: once the strategy closed ``rollback_trades`` trades after it, their
   profit factor is compared with the winner's out-of-sample (backtest) profit factor; below
   ``rollback_pf_fraction`` x that, the previous parameters are restored (``ROLLBACK``).

Every decision -- ``PROMOTED``, ``REFUSED`` (with the reason), ``ROLLBACK``, ``KEPT`` (the
watch ended well) -- is journaled as a ``symbiont_bridge`` event (before / after parameters,
both fitnesses, the reason) when the run has a journal, and listed in the report's
``symbiont_bridge`` section.  Backtests inside a cycle run without a journal and without the
bridge itself.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import math
import random
import threading
from collections import deque
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from hean_framework.blocks import BarBlock, TradeBlock
from hean_framework.components import Analyzer, ComponentConfig, Param
from hean_framework.config import RunSetup
from hean_framework.errors import HeanError
from hean_framework.models import Bar, BookUpdate, ClosedTrade, Quote, Trade
from hean_framework.optimize import space_of

from .config import SymbiontConfig
from .fitness import Scorecard, scorecard
from .ga import Params, search
from .walkforward import Study, slice_events

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
DAY_MS = 24 * HOUR_MS


class BridgeConfig(ComponentConfig):
    """``analyzers.symbiont_bridge`` (table in the plugin's README.md)."""

    strategies: list[str] = Field(default_factory=list,
                                  description="strategy instances to re-optimise (empty: all)")
    params: list[str] = Field(default_factory=list,
                              description="parameters searched (empty: every bounded one)")
    check_minutes: float = Field(15.0, gt=0.0, le=1440.0,
                                 description="minutes of the run's clock between wake-ups")
    interval_hours: float = Field(1.0, gt=0.0, le=720.0,
                                  description="hours between two cycles of a strategy")
    min_closed_trades: int = Field(5, ge=0, le=10_000,
                                   description="closed trades since the last cycle needed to "
                                               "start one")
    lookback_days: float = Field(7.0, gt=0.0, le=365.0,
                                 description="days of recent data a cycle searches on")
    oos_fraction: float = Field(0.3, gt=0.0, lt=1.0,
                                description="the last part of that window, scored "
                                            "out-of-sample")
    apply_after_minutes: float = Field(60.0, ge=0.0, le=10_080.0,
                                       description="backtest: data minutes after a cycle's "
                                                   "start when its result is applied")
    min_improvement: float = Field(0.10, ge=0.0, le=10.0,
                                   description="the winner's out-of-sample fitness must beat "
                                               "the incumbent's by this fraction")
    cooldown_hours: float = Field(24.0, ge=0.0, le=720.0,
                                  description="at most one promotion per strategy in this "
                                              "many hours")
    rollback_trades: int = Field(20, ge=1, le=10_000,
                                 description="closed trades after a promotion before its "
                                             "profit factor is judged")
    rollback_pf_fraction: float = Field(0.8, ge=0.0, le=100.0,
                                        description="roll back when that profit factor is "
                                                    "below this fraction of the backtest's")
    search: dict[str, Any] = Field(
        default_factory=lambda: {"population": 8, "generations": 4, "patience": 2},
        description="Symbiont settings of a cycle's genetic search (optimizers.symbiont keys)")


@dataclasses.dataclass(slots=True)
class _Cycle:
    """One running re-optimisation."""

    strategy: str
    started: int
    apply_at: int
    incumbent: Params
    future: cf.Future[dict[str, Any]]


@dataclasses.dataclass(slots=True)
class _Watch:
    """A promotion under watch for rollback."""

    strategy: str
    since: int
    before: Params
    after: Params
    backtest_pf: float
    trades_seen: int


def profit_factor(pnls: Sequence[float]) -> float:
    """Sum of wins / |sum of losses| (losses floored at 0.01)."""
    wins = sum(p for p in pnls if p > 0)
    losses = -sum(p for p in pnls if p < 0)
    return wins / max(losses, 0.01)


def clamp(params: Params, space: dict[str, Param]) -> Params:
    """The known keys of ``params``, each brought into its searched range."""
    return {k: space[k].clip(v) for k, v in params.items() if k in space}


class SymbiontBridge(Analyzer):
    """Background re-optimisation with promotion and rollback (module docstring)."""

    config: BridgeConfig

    def __new__(cls, config: BridgeConfig, ctx: Any, **kw: Any) -> SymbiontBridge:
        # live and paper runs record the market events they search on; a backtest reads its
        # own files and leaves the replay's dispatch untouched
        if cls is SymbiontBridge and getattr(ctx.run, "mode", "backtest") != "backtest":
            return super().__new__(RecordingBridge)
        return super().__new__(cls)

    def on_start(self) -> None:
        ctx = self.ctx
        setup = ctx.run.setup
        if setup is None:
            raise HeanError("symbiont_bridge needs a run (ctx.run.setup is empty)",
                            "add it under analyzers: of a run config")
        names = [rc.instance for rc in setup.components["strategy"]]
        chosen = self.config.strategies or names
        unknown = [s for s in chosen if s not in names]
        if unknown:
            raise HeanError(f"analyzers.{self.name}.strategies: unknown {unknown}",
                            f"strategies of the run: {', '.join(names)}")
        self.search_cfg = SymbiontConfig.model_validate(
            {**self.config.search, "walk_forward": "off", "backend": "local", "workers": 1})
        self.spaces: dict[str, dict[str, Param]] = {}
        for rc in setup.components["strategy"]:
            if rc.instance in chosen:
                self.spaces[rc.instance] = space_of(rc.spec.config_model,
                                                    self.config.params or None)
        self.setup = _without_bridges(setup)
        self.live = ctx.run.mode != "backtest"
        self.pool = cf.ThreadPoolExecutor(1, thread_name_prefix="symbiont-bridge")
        self.cycles: dict[str, _Cycle] = {}
        self.last_cycle: dict[str, int] = {}
        self.trades_at_cycle: dict[str, int] = {}
        self.last_promotion: dict[str, int] = {}
        self.watches: dict[str, _Watch] = {}
        self.decisions: list[dict[str, Any]] = []
        self.threads: set[int] = set()
        self._events: list[Any] | None = None
        self._events_lock = threading.Lock()
        self._configs: dict[str, Any] = {}
        self._started_at: int | None = None
        ctx.add_section("symbiont_bridge", lambda: list(self.decisions))
        self._step = int(self.config.check_minutes * MINUTE_MS)
        self._arm(ctx.now)

    def on_stop(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------- the timer

    def _arm(self, now: int) -> None:
        # before the first event the run's time is unknown (0): wake at the next event, when
        # ctx.now holds the data's time
        self.ctx.clock.schedule(now + self._step if now > 1 else now + 1, self._wake)

    def _wake(self, ts: int) -> None:
        now = max(ts, self.ctx.now)
        if now <= 1:
            self._arm(now)
            return
        if self._started_at is None:
            self._started_at = now
        self._apply_finished(now)
        self._watch(now)
        self._start_cycles(now)
        self.ctx.clock.schedule(now + self._step, self._wake)

    # ------------------------------------------------------------------------- cycles

    def _closed(self, strategy: str) -> list[ClosedTrade]:
        return [t for t in self.ctx.portfolio.closed_trades if t.strategy_id == strategy]

    def _start_cycles(self, ts: int) -> None:
        cfg = self.config
        for sid in self.spaces:
            if sid in self.cycles:
                continue
            start = self.last_cycle.get(sid, self._started_at or ts)
            if ts - start < cfg.interval_hours * HOUR_MS:
                continue
            n = len(self._closed(sid))
            if n - self.trades_at_cycle.get(sid, 0) < cfg.min_closed_trades:
                continue
            last = self.last_promotion.get(sid)
            if last is not None and ts - last < cfg.cooldown_hours * HOUR_MS:
                continue
            self.last_cycle[sid] = ts
            self.trades_at_cycle[sid] = n
            incumbent = self._current(sid)
            window = (ts - int(cfg.lookback_days * DAY_MS), ts)
            fut = self.pool.submit(self._cycle, sid, incumbent, window, self._setup_for(sid))
            self.cycles[sid] = _Cycle(sid, ts, ts + int(cfg.apply_after_minutes * MINUTE_MS),
                                      incumbent, fut)

    def _current(self, sid: str) -> Params:
        cfg = self.strategy_config(sid)
        return {k: getattr(cfg, k) for k in self.spaces[sid]}

    def strategy_config(self, sid: str) -> Any:
        """The strategy's current config (the promoted one after a promotion)."""
        rc = next(rc for rc in self.setup.components["strategy"] if rc.instance == sid)
        return self._configs.get(sid, rc.config)

    def _cycle(self, sid: str, incumbent: Params, window: tuple[int, int],
               setup: RunSetup) -> dict[str, Any]:
        """The background search of one cycle (module docstring, 1)."""
        self.threads.add(threading.get_ident())
        events = slice_events(self.recent_events(), *window)
        if not events:
            return {"error": "no market data in the window"}
        first = _first_ts(events)
        cut = window[1] - int((window[1] - max(first, window[0])) * self.config.oos_fraction)
        is_ev = slice_events(events, window[0], cut)
        oos_ev = slice_events(events, cut, window[1])
        study = Study(setup, _kernel_plugins(), sid, is_ev)
        cards: dict[tuple[Any, ...], Scorecard] = {}
        space = self.spaces[sid]

        def score(p: Params) -> float:
            card = scorecard(study.run(p, is_ev), self.search_cfg)
            cards[tuple(p[k] for k in space)] = card
            return card.fitness

        seed = f"bridge:{self.ctx.config.run.seed}:{sid}:{window[1]}"
        out = search(space, score, incumbent, self.search_cfg, random.Random(seed))
        win = dict(out.best)
        win_oos = scorecard(study.run(win, oos_ev), self.search_cfg)
        inc_oos = win_oos if win == incumbent else scorecard(study.run(incumbent, oos_ev),
                                                             self.search_cfg)
        pnls = [t.net_pnl for t in study.run(win, oos_ev).closed_trades]
        return {"winner": win, "winner_oos": win_oos.summary(), "incumbent_oos":
                inc_oos.summary(), "winner_is_fitness": out.fitness,
                "evaluations": len(out.evaluations), "backtest_pf": profit_factor(pnls),
                "window": {"start_ms": window[0], "cut_ms": cut, "end_ms": window[1]}}

    def _setup_for(self, sid: str) -> RunSetup:
        """The run without bridges, ``sid`` with its current config."""
        setup = self.setup
        current = self._configs.get(sid)
        if current is None:
            return setup
        comps = {**setup.components, "strategy": [
            dataclasses.replace(rc, config=current) if rc.instance == sid else rc
            for rc in setup.components["strategy"]]}
        return dataclasses.replace(setup, components=comps)

    def _apply_finished(self, ts: int) -> None:
        for sid, cyc in list(self.cycles.items()):
            if self.live:
                if not cyc.future.done():
                    continue
            elif ts < cyc.apply_at:
                continue
            del self.cycles[sid]
            try:
                res = cyc.future.result()
            except Exception as exc:   # a cycle that fails never stops the run
                self._decide(ts, sid, "FAILED", cyc.incumbent, cyc.incumbent, None, None,
                             f"{type(exc).__name__}: {exc}", cyc)
                continue
            self._promote_or_refuse(ts, sid, cyc, res)

    def _promote_or_refuse(self, ts: int, sid: str, cyc: _Cycle, res: dict[str, Any]) -> None:
        cfg = self.config
        if "error" in res:
            self._decide(ts, sid, "REFUSED", cyc.incumbent, cyc.incumbent, None, None,
                         res["error"], cyc)
            return
        win, cand, inc = res["winner"], res["winner_oos"]["fitness"], \
            res["incumbent_oos"]["fitness"]
        need = inc * (1.0 + cfg.min_improvement) if inc > 0 else inc
        last = self.last_promotion.get(sid)
        if win == cyc.incumbent:
            why = "the search found nothing better than the incumbent in-sample"
        elif not (cand > inc and cand >= need):
            why = (f"out-of-sample fitness {cand:.4g} does not beat the incumbent's {inc:.4g} "
                   f"by {cfg.min_improvement:.0%}")
        elif last is not None and ts - last < cfg.cooldown_hours * HOUR_MS:
            why = f"a promotion of {sid} {(ts - last) / HOUR_MS:.1f} h ago (at most one per " \
                  f"{cfg.cooldown_hours:g} h)"
        else:
            after = clamp(win, self.spaces[sid])
            accepted = self._update(sid, after)
            self.last_promotion[sid] = ts
            self.watches[sid] = _Watch(sid, ts, dict(cyc.incumbent), after,
                                       float(res["backtest_pf"]), 0)
            self._decide(ts, sid, "PROMOTED", cyc.incumbent, after, cand, inc,
                         f"out-of-sample fitness {cand:.4g} beats {inc:.4g} by at least "
                         f"{cfg.min_improvement:.0%}; accepted {accepted}", cyc, res)
            return
        self._decide(ts, sid, "REFUSED", cyc.incumbent, win, cand, inc, why, cyc, res)

    def _update(self, sid: str, params: Params) -> list[str]:
        update = self.ctx.run.update_params
        if update is None:
            raise HeanError("this run cannot update strategy parameters",
                            "run the bridge inside an engine run")
        accepted = update(sid, params, f"optimizer:{self.name}")
        rc = next(rc for rc in self.setup.components["strategy"] if rc.instance == sid)
        base = self._configs.get(sid, rc.config)
        self._configs[sid] = type(base).model_validate(
            {**base.model_dump(), **{k: params[k] for k in accepted}})
        return accepted

    # ------------------------------------------------------------------------- rollback

    def _watch(self, ts: int) -> None:
        cfg = self.config
        for sid, w in list(self.watches.items()):
            after = [t for t in self._closed(sid) if t.closed_ts > w.since]
            if len(after) < cfg.rollback_trades:
                continue
            del self.watches[sid]
            live_pf = profit_factor([t.net_pnl for t in after[:cfg.rollback_trades]])
            floor = cfg.rollback_pf_fraction * w.backtest_pf
            if live_pf < floor:
                self._update(sid, w.before)
                self._decide(ts, sid, "ROLLBACK", w.after, w.before, live_pf, w.backtest_pf,
                             f"profit factor {live_pf:.3g} over the {cfg.rollback_trades} "
                             f"trades after the promotion < {cfg.rollback_pf_fraction:g} x the "
                             f"backtest's {w.backtest_pf:.3g}")
            else:
                self._decide(ts, sid, "KEPT", w.after, w.after, live_pf, w.backtest_pf,
                             f"profit factor {live_pf:.3g} over {cfg.rollback_trades} trades "
                             f">= {floor:.3g}")

    # ------------------------------------------------------------------------- records

    def _decide(self, ts: int, sid: str, what: str, before: Params, after: Params,
                fit_after: float | None, fit_before: float | None, reason: str,
                cyc: _Cycle | None = None, res: dict[str, Any] | None = None) -> None:
        rec = {"ts": ts, "strategy": sid, "decision": what, "before": dict(before),
               "after": dict(after), "fitness": _num(fit_after),
               "incumbent_fitness": _num(fit_before), "reason": reason}
        if cyc is not None:
            rec["cycle_started"] = cyc.started
        if res is not None:
            rec["window"] = res.get("window")
            rec["evaluations"] = res.get("evaluations")
        self.decisions.append(rec)
        if self.ctx.journal is not None:
            self.ctx.journal.event(ts, "symbiont_bridge", rec)
        self.ctx.log.info("symbiont_bridge %s %s: %s", sid, what, reason)

    # ------------------------------------------------------------------------- data

    def recent_events(self) -> list[Any]:
        """The market events a cycle may search on: the run's data files (backtest)."""
        with self._events_lock:
            if self._events is None:
                from hean_framework.engine import Engine

                loader = Engine(self.setup, _kernel_plugins(), journal=False,
                                progress=False).build()
                self._events = list(loader.feed.blocks()) if loader.feed is not None else []
            return self._events


class RecordingBridge(SymbiontBridge):
    """The bridge of a paper or live run: records the market events it searches on (the last
    ``lookback_days``)."""

    def on_start(self) -> None:
        super().on_start()
        self._buffer: deque[Any] = deque()

    def _record(self, ev: Any) -> None:
        buf = self._buffer
        buf.append(ev)
        horizon = ev.ts - int(self.config.lookback_days * DAY_MS)
        while buf and buf[0].ts < horizon:
            buf.popleft()

    def on_bar(self, bar: Bar) -> None:
        self._record(bar)

    def on_trade(self, trade: Trade) -> None:
        self._record(trade)

    def on_quote(self, quote: Quote) -> None:
        self._record(quote)

    def on_book(self, book: BookUpdate) -> None:
        self._record(book)

    def recent_events(self) -> list[Any]:
        return list(self._buffer)


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _first_ts(events: Sequence[Any]) -> int:
    ev = events[0]
    if isinstance(ev, (BarBlock, TradeBlock)):
        return int(ev.ts[ev.start])
    return int(ev.ts)


def _without_bridges(setup: RunSetup) -> RunSetup:
    """The run without any symbiont bridge (the backtests of a cycle do not re-optimise)."""
    comps = {**setup.components, "analyzer": [
        rc for rc in setup.components["analyzer"]
        if not (isinstance(rc.spec.cls, type) and issubclass(rc.spec.cls, SymbiontBridge))]}
    return dataclasses.replace(setup, components=comps)


_PM: list[Any] = []


def _kernel_plugins() -> Any:
    """A plugin manager with the kernel's builtins only (a cycle's backtests take the
    strategy classes from the run's resolved config)."""
    if not _PM:
        from hean_framework.plugins import load_plugins

        _PM.append(load_plugins(autoload=False))
    return _PM[0]
