"""BasisArbitrage: a two-leg spot/perpetual cash-and-carry, traded as kernel order groups.

The strategy's ``symbols`` list spot and perpetual symbols; each perpetual ``X/Q:S`` whose spot
``X/Q`` is listed too forms a *pair*.  Per pair, on every bar time at which **both** legs'
candles have closed (a leg whose bar is missing at that time is not paired with an older price):

* ``basis b = (perp close − spot close) / spot close`` -- both instruments' own prices;
* ``m`` = mean of the previous ``basis_window`` bases (the level the basis returns to);
  ``dev = (b − m)`` in bp;
* expected funding per settlement ``F`` = EWMA (half-life ``funding_halflife`` settlements) of
  the rates the perpetual settled so far (positive: longs pay shorts), ``n = expected_hold_h / 8``
  settlements;
* round-trip cost ``C`` = the kernel cost engine's estimate (fees, spread, slippage; funding
  excluded) for both legs, in bp;
* **cash-and-carry** (long spot + short perp) when the perp is rich:
  ``net = dev + F × n − C``; **reverse** (short spot + long perp, only with ``allow_reverse``,
  i.e. a margin account): ``net = −dev − F × n − borrow − C`` with
  ``borrow = borrow_rate_daily × expected_hold_h / 24``;
* enter the better side when ``net > 0`` and ``net × 8760 / expected_hold_h ≥ entry_annual``
  (annualised), cooldown ``cooldown_h`` per pair and ``max_entries_per_day`` permitting: one
  ``all_or_none`` :class:`~hean_framework.groups.OrderGroup` of two market legs of the same
  quantity (``notional_usdt`` / spot price, at most ``max_equity_fraction`` of equity, on the
  coarser lot of the two), policy ``unwind`` after 60 s.  No per-leg stop or target (style
  ``carry``).
* **exit** both legs together as one exit group (``OrderGroup.exit``, ``closes`` = the entry
  group): ``CONVERGED`` when ``dev`` is back within ``exit_bps`` of the mean on the entry's
  side, ``MAX_HOLD`` after ``max_hold_h``.

``mode: premium`` (accounts without spot): the perpetual alone against its index -- the mark /
index stream's index when the feed has one, else the spot candle of the same time (read, not
traded): ``premium = (perp − index) / index``; ``z`` against an EWMA mean and variance with
half-life ``premium_halflife_min``; enter when ``|z| > premium_z_entry`` and ``|premium| >
premium_min`` (premium > 0: sell the perp, < 0: buy it) with a stop ``premium_stop`` away and a
time stop ``premium_max_hold_h``; exit when ``|z| < premium_z_exit``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from hean_framework import Strategy
from hean_framework.execution.costs import CostEngine
from hean_framework.groups import LegPolicy, OrderGroup
from hean_framework.models import CREATE, Bar, Funding, OrderDecision, Signal
from hean_framework.params import apply_clamped

from .config import BasisArbitrageConfig

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SETTLEMENT_H = 8.0


def spot_of(perp: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTC/USDT``."""
    return perp.split(":", 1)[0]


@dataclass(slots=True)
class Pair:
    """One base: its two legs' last closes, the basis history and the trade held."""

    spot: str
    perp: str
    window: int
    last: dict[str, tuple[int, float]] = field(default_factory=dict)
    history: deque[float] = field(default_factory=deque)
    total: float = 0.0
    funding: float | None = None  #: EWMA of settled rates (None: none seen)
    group_id: int = 0  #: the entry group held (0: none)
    direction: int = 0  #: +1 long spot/short perp, -1 the reverse, 0 flat
    entry_ts: int = 0
    exiting: bool = False
    last_entry: int = -(1 << 62)
    # premium mode
    mean: float = 0.0
    var: float = 0.0
    seen: int = 0

    def push(self, b: float) -> None:
        """Add a basis to the rolling window."""
        h = self.history
        if len(h) == self.window:
            self.total -= h.popleft()
        h.append(b)
        self.total += b

    @property
    def ready(self) -> bool:
        """The rolling window is full."""
        return len(self.history) == self.window


class BasisArbitrage(Strategy):
    """Spot/perpetual cash-and-carry on kernel order groups (see the module docstring)."""

    style = "carry"
    config: BasisArbitrageConfig

    def on_start(self) -> None:
        cfg = self.config
        self._pairs: dict[str, Pair] = {}
        self._by_symbol: dict[str, Pair] = {}
        syms = set(self.symbols)
        for sym in self.symbols:
            if ":" not in sym:
                continue
            spot = spot_of(sym)
            if cfg.mode == "cash_and_carry" and spot not in syms:
                continue
            pair = Pair(spot, sym, cfg.basis_window)
            self._pairs[sym] = pair
            self._by_symbol[sym] = pair
            if spot in syms:
                self._by_symbol[spot] = pair
        self._costs = CostEngine(cfg.cost.model_copy(update={"include_funding": False}))
        self.ctx.market.keep_bars = True  # the cost engine's spread estimate reads the bars
        self._day = -1
        self._today = 0
        self._pending: Pair | None = None
        #: one record per entry: ts, pair, direction, basis/mean/funding/cost/net bp, annual
        self.entries: list[dict[str, Any]] = []
        self.counts = {"evaluations": 0, "stale_leg": 0, "below_threshold": 0,
                       "cooldown": 0, "daily_cap": 0, "below_minimum": 0, "entries": 0,
                       "exit_converged": 0, "exit_max_hold": 0, "entry_refused": 0}

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Known keys applied, numbers clamped into their declared bounds; the pairs' rolling
        windows follow a new ``basis_window`` (the state is kept)."""
        accepted = apply_clamped(self, params)
        if "basis_window" in accepted:
            for pair in self._pairs.values():
                pair.window = self.config.basis_window
                while len(pair.history) > pair.window:
                    pair.total -= pair.history.popleft()
        if "cost" in accepted:
            self._costs = CostEngine(self.config.cost.model_copy(update={"include_funding": False}))
        return accepted

    def stats(self) -> dict[str, Any]:
        """The counters (report ``per_strategy``)."""
        return dict(self.counts)

    # ------------------------------------------------------------------ events

    def on_funding(self, funding: Funding) -> None:
        """Fold a settled rate into the pair's expected funding."""
        pair = self._pairs.get(funding.symbol)
        if pair is None:
            return
        a = 1.0 - 0.5 ** (1.0 / self.config.funding_halflife)
        pair.funding = funding.rate if pair.funding is None else \
            pair.funding + a * (funding.rate - pair.funding)

    def on_decision(self, decision: OrderDecision) -> None:
        """Remember the entry group of a pair; forget an entry or exit that was refused."""
        pair = self._by_symbol.get(decision.symbol)
        if pair is None:
            return
        gid = decision.details.get("group_id", 0)
        if decision.stage == "exit":
            if decision.decision != CREATE:
                pair.exiting = False
            return
        if pair is self._pending and gid:
            if decision.decision == CREATE:
                pair.group_id = gid
            else:
                pair.group_id = 0
                pair.direction = 0
                self._pending = None
                self.counts["entry_refused"] += 1

    def on_bar(self, bar: Bar) -> Signal | OrderGroup | None:
        pair = self._by_symbol.get(bar.symbol)
        if pair is None:
            return None
        pair.last[bar.symbol] = (bar.ts, bar.close)
        if self.config.mode == "premium":
            return self._premium(pair, bar) if bar.symbol == pair.perp else None
        s, p = pair.last.get(pair.spot), pair.last.get(pair.perp)
        if s is None or p is None or s[0] != bar.ts or p[0] != bar.ts:
            if s is not None and p is not None and bar.symbol == pair.perp:
                self.counts["stale_leg"] += 1
            return None
        return self._evaluate(pair, bar.ts, s[1], p[1])

    # ------------------------------------------------------------------ cash and carry

    def basis(self, spot: float, perp: float) -> float:
        """``(perp − spot) / spot``."""
        return (perp - spot) / spot

    def _held(self, pair: Pair) -> bool:
        pf = self.ctx.portfolio
        return bool(pf.position_qty(self.name, pair.spot) or pf.position_qty(self.name, pair.perp))

    def _evaluate(self, pair: Pair, now: int, spot: float, perp: float) -> OrderGroup | None:
        cfg = self.config
        b = self.basis(spot, perp)
        ready = pair.ready
        m = pair.total / len(pair.history) if pair.history else b
        pair.push(b)
        if not ready:
            return None
        self.counts["evaluations"] += 1
        dev_bps = (b - m) * 1e4
        if self._pending is pair:
            self._pending = None
        if self._held(pair):
            if pair.exiting:
                return None
            reason = ""
            if not pair.direction:  # a leg left over (an entry unwound only in part)
                reason = "ORPHAN_LEG"
            elif pair.direction * dev_bps <= cfg.exit_bps:
                reason = "CONVERGED"
                self.counts["exit_converged"] += 1
            elif now - pair.entry_ts >= cfg.max_hold_h * HOUR_MS:
                reason = "MAX_HOLD"
                self.counts["exit_max_hold"] += 1
            if not reason:
                return None
            pair.exiting = True
            return OrderGroup.exit(self.name, [pair.spot, pair.perp], self.ctx.portfolio,
                                   closes=pair.group_id, reason=reason, ts=now)
        pair.exiting = False
        pair.direction = 0
        return self._entry(pair, now, spot, perp, b, m, dev_bps)

    def _entry(self, pair: Pair, now: int, spot: float, perp: float, b: float, m: float,
               dev_bps: float) -> OrderGroup | None:
        cfg = self.config
        qty = self._qty(pair, spot, perp)
        if qty <= 0.0:
            self.counts["below_minimum"] += 1
            return None
        f_bps = (pair.funding or 0.0) * 1e4 * cfg.expected_hold_h / SETTLEMENT_H
        cost = self.round_trip_cost_bps(pair, qty, now)
        best: tuple[float, int] = (dev_bps + f_bps - cost, 1)
        if cfg.allow_reverse:
            borrow = cfg.borrow_rate_daily * 1e4 * cfg.expected_hold_h / 24.0
            best = max(best, (-dev_bps - f_bps - borrow - cost, -1))
        net, direction = best
        annual = net * 1e-4 * 8760.0 / cfg.expected_hold_h
        if net <= 0.0 or annual < cfg.entry_annual:
            self.counts["below_threshold"] += 1
            return None
        if now - pair.last_entry < cfg.cooldown_h * HOUR_MS:
            self.counts["cooldown"] += 1
            return None
        day = now // DAY_MS
        if day != self._day:
            self._day, self._today = day, 0
        if self._today >= cfg.max_entries_per_day:
            self.counts["daily_cap"] += 1
            return None
        self._today += 1
        pair.last_entry = pair.entry_ts = now
        pair.direction = direction
        self._pending = pair
        self.counts["entries"] += 1
        meta = {"basis_bps": b * 1e4, "mean_bps": m * 1e4, "funding_bps": f_bps,
                "cost_bps": cost, "net_bps": net, "annual": annual, "direction": direction}
        self.entries.append({"ts": now, "perp": pair.perp, "qty": qty, **meta})
        spot_side, perp_side = ("buy", "sell") if direction > 0 else ("sell", "buy")
        legs = [self.signal(pair.spot, spot_side, now, spot, size=qty, metadata=meta,
                            tag="BASIS_CARRY" if direction > 0 else "BASIS_REVERSE"),
                self.signal(pair.perp, perp_side, now, perp, size=qty, metadata=meta,
                            tag="BASIS_CARRY" if direction > 0 else "BASIS_REVERSE")]
        return OrderGroup(legs, policy=LegPolicy("unwind", 60_000))

    def _qty(self, pair: Pair, spot: float, perp: float) -> float:
        """Equal quantity for both legs on the coarser lot grid, meeting both minimums."""
        cfg = self.config
        inst = self.ctx.instruments
        si, pi = inst.get(pair.spot), inst.get(pair.perp)
        notional = min(cfg.notional_usdt, cfg.max_equity_fraction * self.ctx.portfolio.equity())
        lot = max(si.lot_size, pi.lot_size)
        qty = (pi if pi.lot_size >= si.lot_size else si).round_qty(notional / spot)
        if qty < lot or not (si.check_minimum(qty, spot) and pi.check_minimum(qty, perp)):
            return 0.0
        return qty

    def round_trip_cost_bps(self, pair: Pair, qty: float, now: int) -> float:
        """Both legs' round trip by taker, bp of the notional (the kernel cost engine)."""
        total = 0.0
        for sym, side in ((pair.spot, "buy"), (pair.perp, "sell")):
            est = self._costs.estimate(symbol=sym, side=side, maker=False,
                                       st=self.ctx.market[sym],
                                       inst=self.ctx.instruments.find(sym), qty=qty, now=now,
                                       hold_ms=0)
            total += est.total_bps
        return total

    # ------------------------------------------------------------------ premium variant

    def _premium(self, pair: Pair, bar: Bar) -> Signal | None:
        cfg = self.config
        st = self.ctx.market[pair.perp]
        index = st.index
        if not index > 0.0:
            s = pair.last.get(pair.spot)
            if s is None or s[0] != bar.ts:
                self.counts["stale_leg"] += 1
                return None
            index = s[1]
        prem = (bar.close - index) / index
        bar_ms = bar.interval_ms or st.bar_ms or 300_000
        a = 1.0 - 0.5 ** (bar_ms / (cfg.premium_halflife_min * 60_000.0))
        warm = pair.seen >= 2.0 * cfg.premium_halflife_min * 60_000.0 / bar_ms
        mean, var = pair.mean, pair.var
        z = (prem - mean) / math.sqrt(var) if warm and var > 0.0 else 0.0
        if pair.seen == 0:
            pair.mean = prem
        else:
            d = prem - mean
            pair.mean = mean + a * d
            pair.var = (1.0 - a) * (var + a * d * d)
        pair.seen += 1
        if not warm:
            return None
        self.counts["evaluations"] += 1
        now = bar.ts
        q = self.ctx.portfolio.position_qty(self.name, pair.perp)
        if q:
            if abs(z) < cfg.premium_z_exit:
                self.counts["exit_converged"] += 1
                return self.signal(pair.perp, "sell" if q > 0 else "buy", now, bar.close,
                                   reduce_only=True, tag="PREMIUM_REVERTED")
            return None
        if abs(z) <= cfg.premium_z_entry or abs(prem) <= cfg.premium_min:
            self.counts["below_threshold"] += 1
            return None
        if now - pair.last_entry < cfg.cooldown_h * HOUR_MS:
            self.counts["cooldown"] += 1
            return None
        day = now // DAY_MS
        if day != self._day:
            self._day, self._today = day, 0
        if self._today >= cfg.max_entries_per_day:
            self.counts["daily_cap"] += 1
            return None
        inst = self.ctx.instruments.get(pair.perp)
        notional = min(cfg.notional_usdt, cfg.max_equity_fraction * self.ctx.portfolio.equity())
        qty = inst.round_qty(notional / bar.close)
        if qty <= 0.0 or not inst.check_minimum(qty, bar.close):
            self.counts["below_minimum"] += 1
            return None
        self._today += 1
        pair.last_entry = now
        self.counts["entries"] += 1
        side = "sell" if prem > 0 else "buy"
        stop = bar.close * (1.0 + cfg.premium_stop if side == "sell" else 1.0 - cfg.premium_stop)
        meta = {"premium": prem, "z": z, "index": index}
        self.entries.append({"ts": now, "perp": pair.perp, "qty": qty, **meta})
        return self.signal(pair.perp, side, now, bar.close, size=qty, stop_loss=stop,
                           max_hold_ms=int(cfg.premium_max_hold_h * HOUR_MS), metadata=meta,
                           tag="PREMIUM")
