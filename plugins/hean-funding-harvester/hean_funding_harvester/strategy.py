"""FundingHarvester: hold the side of a perpetual that *receives* funding through settlements.

A re-implementation of the original with its defects fixed (the README's "Differences from the
original"); the README has the parameter table.

* **Timer, not only funding events.**  Every ``eval_interval_s`` (on a UTC grid of that
  step) the strategy evaluates each of its perpetuals; funding events only feed the history of
  settled rates.  The next settlement is computed on the UTC grid of ``funding_interval_h``
  (``funding_offset_h``), never from local time.
* **Entry** (per perpetual, in this order; the first failing rule is counted in ``stats()``):
  not already holding or entering it; a settled rate is known; the next settlement is
  ``min_hours_before``..``max_hours_before`` away; ``|last rate| >= min_abs_rate``;
  the **carry rule**: the funding the position expects to receive over
  ``settlements_to_hold`` settlements, ``sgn(last)·pred·1e4·k`` bps of the notional (``pred``
  from :func:`~hean_funding_harvester.predict.predict`), must be at least ``carry_margin`` ×
  the round-trip cost of every leg (the kernel's cost engine, funding excluded -- here funding
  is the income); per-symbol cooldown; signals per UTC day; at most ``max_positions`` carry
  trades at once, the best ``score`` first (the original's ranking:
  ``|rate| × (1 if rate·pred0 > 0 else 0.5) × (1.5 in the optimal window)``).
* **Side**: last rate > 0 → sell the perpetual (shorts receive), < 0 → buy it.
* **Held through the settlement**: the time stop is the time to the ``settlements_to_hold``-th
  settlement plus ``exit_margin_s``, so the position is open at each stamp (the original's
  global 900 s stop closed it before any funding was paid) and leaves shortly after.  The
  stop loss is ``sl_vol_mult`` × the expected price move over the hold (σ of the bar log
  returns × √bars held), clamped to ``sl_min_pct``..``sl_max_pct``.  No price target: the
  strategy's ``style`` is ``carry`` (exempt from the reward:risk rule).
* **Own positions** are read from the portfolio (``ctx.portfolio``) plus entries in flight
  (cleared by their decision, their first fill or after ``pending_ttl_s``): nothing is
  counted up that is not counted down (the original's counter was never decremented and the
  strategy stopped after two trades).
* **Delta-neutral mode** (``mode: delta_neutral``): the perpetual leg and an opposite spot
  leg of the same base (``BTC/USDT:USDT`` → ``BTC/USDT``), the same quantity, sent as one
  all-or-none :class:`~hean_framework.groups.OrderGroup`; both legs are closed together by the
  strategy's exit timer.  A negative rate needs a short spot leg: refused unless
  ``allow_spot_short`` (the account then needs a spot margin mode).

Size: ``notional_pct`` × the strategy's budget per carry trade (an explicit size; the
``fixed_risk`` sizer still caps it at its ``max_leverage``).
"""

from __future__ import annotations

import math
from collections import deque
from functools import partial
from typing import Any, Literal

from pydantic import Field, model_validator

from hean_framework import ComponentConfig, Strategy
from hean_framework.execution.costs import CostConfig, CostEngine
from hean_framework.groups import LegPolicy, OrderGroup
from hean_framework.models import Bar, ClosedTrade, Fill, Funding, OrderDecision, Signal
from hean_framework.params import apply_clamped

from .predict import next_settlement, on_grid, predict

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
TAG = "FUNDING_CARRY"
EXIT_TAG = "FUNDING_EXIT"


class FundingHarvesterConfig(ComponentConfig):
    """``strategies.funding_harvester``: keys and defaults (table in the plugin's README)."""

    mode: Literal["perp", "delta_neutral"] = Field(
        "perp", description="perp: the perpetual alone; delta_neutral: perpetual + opposite "
        "spot leg of the same base as one order group")
    min_abs_rate: float = Field(0.0001, ge=0.0, le=0.01,
                                description="least |last settled rate| to act on (1 bp)")
    history: int = Field(56, ge=3, le=1000, description="settled rates kept per symbol")
    eval_interval_s: int = Field(300, ge=10, le=3600, description="seconds between "
                                 "evaluations (a timer on the UTC grid of this step)")
    min_hours_before: float = Field(0.5, ge=0.0, le=24.0, description="earliest entry: hours "
                                    "before the next settlement (lower bound)")
    max_hours_before: float = Field(4.0, gt=0.0, le=24.0, description="hours before the next "
                                    "settlement the entry window opens")
    optimal_hours: tuple[float, float] = Field(
        (1.0, 2.0), description="hours before the settlement that score x1.5")
    funding_interval_h: float = Field(8.0, gt=0.0, le=24.0, description="hours between "
                                      "settlements (Binance USDⓈ-M: 8)")
    funding_offset_h: float = Field(0.0, ge=0.0, lt=24.0, description="first settlement of "
                                    "the UTC day, hours after 00:00")
    settlements_to_hold: int = Field(1, ge=1, le=90, description="settlements the position "
                                     "is held through")
    exit_margin_s: int = Field(300, ge=0, le=3600, description="seconds after the last held "
                               "settlement the time stop closes the position")
    carry_margin: float = Field(1.5, ge=1.0, le=20.0, description="expected funding must be "
                                ">= this x the round-trip cost")
    maker: bool = Field(False, description="cost the round trip at maker fees and ask for "
                        "maker entries (prefer_maker)")
    max_positions: int = Field(2, ge=1, le=50, description="carry trades open at once")
    cooldown_s: int = Field(14_400, ge=0, le=7 * 86_400, description="seconds between "
                            "entries of one symbol")
    max_signals_per_day: int = Field(6, ge=1, le=1000, description="entries per UTC day")
    notional_pct: float = Field(0.5, gt=0.0, le=3.0, description="notional per carry trade "
                                "as a share of the strategy's budget")
    sl_vol_mult: float = Field(3.0, gt=0.0, le=20.0, description="stop = this x the expected "
                               "move over the hold (perp mode)")
    sl_min_pct: float = Field(0.005, gt=0.0, le=0.5, description="least stop distance")
    sl_max_pct: float = Field(0.05, gt=0.0, le=0.5, description="largest stop distance")
    vol_window: int = Field(288, ge=10, le=20_000, description="bars in the volatility "
                            "estimate of the stop")
    allow_spot_short: bool = Field(False, description="delta_neutral with a negative rate: "
                                   "sell spot (needs a spot margin mode)")
    leg_timeout_ms: int = Field(5_000, gt=0, le=600_000, description="delta_neutral: a leg "
                                "filled alone after this long is unwound")
    pending_ttl_s: int = Field(60, ge=1, le=3600, description="an entry without a decision or "
                               "fill is forgotten after this long")

    @model_validator(mode="after")
    def _check(self) -> FundingHarvesterConfig:
        if self.max_hours_before <= self.min_hours_before:
            raise ValueError(f"max_hours_before ({self.max_hours_before}) must be greater "
                             f"than min_hours_before ({self.min_hours_before})")
        if self.sl_max_pct < self.sl_min_pct:
            raise ValueError(f"sl_max_pct ({self.sl_max_pct}) must be >= sl_min_pct "
                             f"({self.sl_min_pct})")
        lo, hi = self.optimal_hours
        if not 0.0 <= lo <= hi:
            raise ValueError(f"optimal_hours must be [low, high] with 0 <= low <= high, got "
                             f"{list(self.optimal_hours)}")
        if self.max_hours_before > self.funding_interval_h:
            raise ValueError(f"max_hours_before ({self.max_hours_before}) must not exceed "
                             f"funding_interval_h ({self.funding_interval_h})")
        return self


def spot_of(perp: str) -> str:
    """The spot symbol of a linear perpetual's base: ``BTC/USDT:USDT`` → ``BTC/USDT``."""
    return perp.split(":", 1)[0]


class _Vol:
    """Rolling population variance of bar log returns (running sums, O(1) per bar)."""

    __slots__ = ("n", "prev", "rets", "s", "ss", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.rets: deque[float] = deque(maxlen=window)
        self.prev = 0.0
        self.s = self.ss = 0.0
        self.n = 0

    def add(self, price: float) -> None:
        if self.prev > 0.0 and price > 0.0:
            r = math.log(price / self.prev)
            rets = self.rets
            if len(rets) == self.window:
                old = rets[0]
                self.s -= old
                self.ss -= old * old
            rets.append(r)
            self.s += r
            self.ss += r * r
            self.n += 1
            if self.n % self.window == 0:  # refresh the sums: no drift over long runs
                self.s = sum(rets)
                self.ss = sum(x * x for x in rets)
        self.prev = price

    def std(self) -> float:
        k = len(self.rets)
        if k < 2:
            return 0.0
        m = self.s / k
        return math.sqrt(max(self.ss / k - m * m, 0.0))


class FundingHarvester(Strategy):
    """Funding carry on perpetuals (rules in the module docstring)."""

    style = "carry"
    config: FundingHarvesterConfig

    # ------------------------------------------------------------------ lifecycle

    def on_start(self) -> None:
        cfg = self.config
        self._rates: dict[str, deque[float]] = {s: deque(maxlen=cfg.history)
                                                for s in self.perps()}
        self._last_stamp: dict[str, int] = {}
        self._vol: dict[str, _Vol] = {s: _Vol(cfg.vol_window) for s in self.perps()}
        self._bar_ms: dict[str, int] = {}
        self._pending: dict[str, int] = {}
        self._last_entry: dict[str, int] = {}
        self._day = -1
        self._day_count = 0
        self._timer = 0
        self._exit_timers: dict[str, int] = {}
        self._groups: dict[str, OrderGroup] = {}
        self._costs = CostEngine(CostConfig(include_funding=False))
        self.counts: dict[str, int] = {
            "evaluations": 0, "entries": 0, "closed": 0, "in_position": 0,
            "no_funding_data": 0, "no_price": 0, "outside_window": 0, "rate_too_small": 0,
            "carry_below_cost": 0, "cooldown": 0, "daily_cap": 0, "max_positions": 0,
            "needs_spot_short": 0, "exits_sent": 0}
        #: every entry considered: (ts, symbol, expected_bps, cost_bps, entered)
        self.carry_checks: list[tuple[int, str, float, float, bool]] = []

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply the known keys, numbers clamped into their declared bounds; a combination
        the model refuses (``min_hours_before`` above ``max_hours_before`` ...) changes nothing.
        History, positions and timers are kept."""
        accepted = apply_clamped(self, params)
        if accepted:
            hist = self.config.history
            self._rates = {s: deque(r, maxlen=hist) for s, r in self._rates.items()}
            vw = self.config.vol_window
            for s, v in list(self._vol.items()):
                if v.window != vw:
                    fresh = self._vol[s] = _Vol(vw)
                    fresh.prev = v.prev
        return accepted

    def perps(self) -> list[str]:
        """The perpetuals this instance harvests (its ``symbols`` that are swaps)."""
        return [s for s in self.symbols if ":" in s]

    # ------------------------------------------------------------------ market input

    def on_bar(self, bar: Bar) -> None:
        vol = self._vol.get(bar.symbol)
        if vol is not None:
            vol.add(bar.close)
            if bar.interval_ms:
                self._bar_ms[bar.symbol] = bar.interval_ms
        self._arm(bar.ts)

    def on_funding(self, funding: Funding) -> None:
        rates = self._rates.get(funding.symbol)
        if rates is not None:
            iv = self._interval_ms()
            stamp = on_grid(funding.ts, iv, self._offset_ms())
            if self._last_stamp.get(funding.symbol) != stamp:
                rates.append(funding.rate)
                self._last_stamp[funding.symbol] = stamp
        self._arm(funding.ts)

    def _arm(self, now: int) -> None:
        """Start the evaluation timer at the first event (the clock is the data's)."""
        if not self._timer:
            step = self.config.eval_interval_s * 1000
            self._timer = self.ctx.clock.schedule((now // step + 1) * step, self._tick)

    def _tick(self, ts: int) -> None:
        step = self.config.eval_interval_s * 1000
        self._timer = self.ctx.clock.schedule(ts + step, self._tick)
        for item in self.evaluate(ts):
            self.ctx.orders.propose(item)

    # ------------------------------------------------------------------ own positions

    def holding(self, symbol: str) -> bool:
        """The strategy holds the perpetual (or, delta-neutral, its spot leg)."""
        pf = self.ctx.portfolio
        if pf.position_qty(self.name, symbol) != 0.0:
            return True
        return self.config.mode == "delta_neutral" and \
            pf.position_qty(self.name, spot_of(symbol)) != 0.0

    def occupied(self, now: int) -> set[str]:
        """Perpetuals held or being entered (in-flight entries expire after
        ``pending_ttl_s``)."""
        ttl = self.config.pending_ttl_s * 1000
        for s, t in list(self._pending.items()):
            if now - t > ttl:
                del self._pending[s]
        return {s for s in self.perps() if self.holding(s)} | set(self._pending)

    def on_decision(self, decision: OrderDecision) -> None:
        if not decision.created and decision.stage != "exit":
            self._pending.pop(self._perp_of(decision.symbol), None)

    def on_fill(self, fill: Fill) -> None:
        self._pending.pop(self._perp_of(fill.symbol), None)

    def on_position_closed(self, trade: ClosedTrade) -> None:
        if ":" in trade.symbol:
            self.counts["closed"] += 1

    def _perp_of(self, symbol: str) -> str:
        if ":" in symbol:
            return symbol
        return next((p for p in self.perps() if spot_of(p) == symbol), symbol)

    # ------------------------------------------------------------------ the rule

    def _interval_ms(self) -> int:
        return int(self.config.funding_interval_h * HOUR_MS)

    def _offset_ms(self) -> int:
        return int(self.config.funding_offset_h * HOUR_MS)

    def evaluate(self, now: int) -> list[Signal | OrderGroup]:
        """Entries due at ``now`` (what the timer proposes)."""
        cfg = self.config
        day = now // DAY_MS
        if day != self._day:
            self._day, self._day_count = day, 0
        iv, off = self._interval_ms(), self._offset_ms()
        nxt = next_settlement(now, iv, off)
        hours = (nxt - now) / HOUR_MS
        busy = self.occupied(now)
        candidates: list[tuple[float, str, Any]] = []
        for symbol in self.perps():
            self.counts["evaluations"] += 1
            if symbol in busy:
                self.counts["in_position"] += 1
                continue
            rates = self._rates[symbol]
            if not rates:
                self.counts["no_funding_data"] += 1
                continue
            st = self.ctx.market[symbol]
            price = st.price
            if price <= 0.0:
                self.counts["no_price"] += 1
                continue
            if not cfg.min_hours_before <= hours <= cfg.max_hours_before:
                self.counts["outside_window"] += 1
                continue
            last = rates[-1]
            if abs(last) < cfg.min_abs_rate or last == 0.0:
                self.counts["rate_too_small"] += 1
                continue
            p = predict(list(rates))
            sgn = 1.0 if last > 0.0 else -1.0
            expected_bps = sgn * p.pred * 1e4 * cfg.settlements_to_hold
            side = "sell" if last > 0.0 else "buy"
            if cfg.mode == "delta_neutral" and side == "buy" and not cfg.allow_spot_short:
                self.counts["needs_spot_short"] += 1
                continue
            notional = self.ctx.budgets.budget(self.name) * cfg.notional_pct
            qty = notional / price
            cost_bps = self._cost_bps(symbol, side, qty, now)
            ok = expected_bps >= cfg.carry_margin * cost_bps
            self.carry_checks.append((now, symbol, expected_bps, cost_bps, ok))
            if not ok:
                self.counts["carry_below_cost"] += 1
                continue
            if now - self._last_entry.get(symbol, -(1 << 62)) < cfg.cooldown_s * 1000:
                self.counts["cooldown"] += 1
                continue
            lo, hi = cfg.optimal_hours
            optimal = lo <= hours <= hi
            score = abs(last) * (1.0 if last * p.pred0 > 0 else 0.5) * (1.5 if optimal else 1.0)
            candidates.append((score, symbol, (side, price, qty, p, expected_bps, cost_bps,
                                               nxt, optimal)))
        out: list[Signal | OrderGroup] = []
        candidates.sort(key=lambda c: (-c[0], c[1]))
        for _score, symbol, args in candidates:
            if len(busy) >= cfg.max_positions:
                self.counts["max_positions"] += 1
                continue
            if self._day_count >= cfg.max_signals_per_day:
                self.counts["daily_cap"] += 1
                continue
            out.append(self._entry(symbol, now, *args))
            busy.add(symbol)
            self._pending[symbol] = now
            self._last_entry[symbol] = now
            self._day_count += 1
            self.counts["entries"] += 1
        return out

    def _cost_bps(self, symbol: str, side: str, qty: float, now: int) -> float:
        """Round-trip cost of every leg, bps of the notional (funding excluded)."""
        maker = self.config.maker
        legs = [(symbol, side)]
        if self.config.mode == "delta_neutral":
            legs.append((spot_of(symbol), "buy" if side == "sell" else "sell"))
        total = 0.0
        for sym, sd in legs:
            inst = self.ctx.instruments.find(sym)
            est = self._costs.estimate(symbol=sym, side=sd, maker=maker,
                                       st=self.ctx.market[sym], inst=inst, qty=qty, now=now,
                                       hold_ms=0)
            total += est.total_bps
        return total

    def hold_ms(self, now: int, nxt: int) -> int:
        """Time stop: to the ``settlements_to_hold``-th settlement plus the exit margin."""
        cfg = self.config
        last = nxt + (cfg.settlements_to_hold - 1) * self._interval_ms()
        return last - now + cfg.exit_margin_s * 1000

    def _entry(self, symbol: str, now: int, side: str, price: float, qty: float, p: Any,
               expected_bps: float, cost_bps: float, nxt: int,
               optimal: bool) -> Signal | OrderGroup:
        cfg = self.config
        hold = self.hold_ms(now, nxt)
        rate = self._rates[symbol][-1]
        align = 1.0 if rate * p.pred > 0 else 0.5
        confidence = min(1.0, abs(rate) / 0.0005 * align * p.conf)
        meta = {"rate": rate, "pred": round(p.pred, 10), "conf": round(p.conf, 4),
                "expected_funding_bps": round(expected_bps, 4),
                "round_trip_cost_bps": round(cost_bps, 4), "next_settlement": nxt,
                "settlements": cfg.settlements_to_hold, "optimal_window": optimal}
        if cfg.mode == "perp":
            bars = hold / max(self._bar_ms.get(symbol, 300_000), 1)
            move = self._vol[symbol].std() * math.sqrt(max(bars, 1.0))
            dist = min(max(cfg.sl_vol_mult * move, cfg.sl_min_pct), cfg.sl_max_pct)
            stop = price * (1.0 + dist) if side == "sell" else price * (1.0 - dist)
            meta["stop_pct"] = round(dist, 6)
            return self.signal(symbol, side, now, price, size=qty, stop_loss=stop,
                               max_hold_ms=hold, confidence=max(confidence, 0.0),
                               edge_bps=expected_bps, prefer_maker=cfg.maker, tag=TAG,
                               metadata=meta)
        spot = spot_of(symbol)
        spot_px = self.ctx.market[spot].price or price
        spot_side = "buy" if side == "sell" else "sell"
        # one quantity on both lot grids (the perpetual's lot is the coarser on Binance), so
        # the legs stay the same size after the kernel's rounding
        inst = self.ctx.instruments
        qty = inst.get(spot).round_qty(inst.get(symbol).round_qty(qty))
        legs = [self.signal(symbol, side, now, price, size=qty, confidence=confidence,
                            edge_bps=expected_bps, prefer_maker=cfg.maker, tag=TAG,
                            metadata=meta),
                self.signal(spot, spot_side, now, spot_px, size=qty, confidence=confidence,
                            edge_bps=expected_bps, prefer_maker=cfg.maker, tag=TAG,
                            metadata=meta)]
        old = self._exit_timers.pop(symbol, 0)
        if old:
            self.ctx.clock.cancel(old)
        self._exit_timers[symbol] = self.ctx.clock.schedule(
            now + hold, partial(self._exit_pair, symbol))
        group = OrderGroup(legs, policy=LegPolicy("unwind", cfg.leg_timeout_ms))
        self._groups[symbol] = group  # its group_id is set when the pipeline decides it
        return group

    def _exit_pair(self, symbol: str, ts: int) -> None:
        """Delta-neutral time exit: both legs close together as one kernel exit group naming
        the entry group (all legs or none; a leg left alone is completed by taker)."""
        self._exit_timers.pop(symbol, None)
        entry = self._groups.pop(symbol, None)
        group = OrderGroup.exit(self.name, [symbol, spot_of(symbol)], self.ctx.portfolio,
                                closes=entry.group_id if entry is not None else 0,
                                reason="MAX_HOLD", ts=ts,
                                policy=LegPolicy("hedge", self.config.leg_timeout_ms))
        if group.legs:
            self.ctx.orders.propose(group)
            self.counts["exits_sent"] += 1

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "counts", {}))
