"""EnhancedGrid: a ladder of resting quotes in a detected range.

The original HEAN EnhancedGrid with its known defects fixed (the README's "Differences from the
original").

Per symbol, on every closed bar (candles only):

1. **Range.** The highest high and lowest low of the last ``range_bars`` bars (the bar that
   just closed included).  Without a live grid, once the window is full and no wait is
   pending, :func:`~hean_enhanced_grid.ladder.plan_grid` decides: the range must be
   ``min_range_pct`` .. ``max_range_pct`` of its mid, the centre is the mid, the spacing
   ``max(spacing_pct * centre, range / (2 * levels_per_side))``, the levels inside the range
   are placed, each of the same size from ``max_inventory_pct`` of the strategy's budget
   (``ctx.budgets``) per side; levels under the exchange minimum (``ctx.instruments``) are not
   placed (capital-aware count).  No grid: the bar is counted under its reason
   (:data:`SKIP_REASONS`); when no level fits at all, the range is checked again after
   ``retry_bars`` bars.
2. **Levels not placed say so.**  For every level left out because its equal share of the
   capital is under the *exchange* minimum, the strategy proposes that level as a plain limit
   signal of that share (tag ``GRID_LEVEL_BELOW_MINIMUM``): the kernel's exchange check decides
   it ``BLOCK POSITION_SIZER_ZERO`` with the numbers (wanted size, lot, minimum quantity and
   notional), so ``hean why`` and the journal show it.  Should a custom sizer ever let one
   through, the order is cancelled at once (counted ``probes_cancelled``).
3. **Quote.** The grid is one quote group (``OrderGroup(kind="quote", key="grid")``) of
   post-only limit legs with explicit sizes, proposed only when it differs from the last one:
   every level ``k`` waiting for its entry rests a buy (below the centre) or a sell (above)
   at its price when that price is on the passive side of the close (by at least a tick;
   otherwise it waits); every level holding a position rests its take-profit one level toward
   the centre (the centre for the innermost levels), moved to one tick beyond the close when
   the close has already passed it.  A leg whose size is under the exchange minimum (dust of
   a partial fill) is left out.
4. **Fills** (``on_fill``) are matched to a level by side and price: an entry fill adds to the
   level's position (entry complete: the level waits for its take-profit); a take-profit fill
   takes from it; when the position is back to zero the level is **recycled**: its entry rests
   again from the next bar on which it is passive.
5. **Breakout.** When a bar closes more than one spacing beyond the outermost placed level
   (the grid's stop; it lies inside the rebuild band ``[low - spacing, high + spacing]``,
   so leaving the band always passes it) the grid is removed: the quote is
   withdrawn (an empty quote, ``OrderGroup.withdraw``; on a kernel without it every open order
   of the strategy on the symbol is cancelled, reason ``grid_breakout``), the inventory is
   **flattened** by a reduce-only market exit (tag ``GRID_BREAKOUT``), and no grid is built for
   ``rebuild_wait_bars`` bars; then step 1 again on the current window.  Checked on closes,
   not inside a bar.
6. **Refused quotes.**  When the pipeline stops a quote (any leg's decision not ``CREATE``:
   nothing of it is sent; the kernel's quote executor also cancels the previous quote), it is
   proposed again after ``retry_bars`` bars.

Inventory is bounded by construction: one side's levels together are ``max_inventory_pct`` of
the budget per symbol, and take-profits only reduce.  The class declares ``style =
"quoting"``: exempt from reward:risk, one position, the open-position check, daily attempts and
max open positions (:mod:`hean_framework.styles`); every other rule applies.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import Any, ClassVar

from hean_framework import Strategy
from hean_framework.components import SignalOut
from hean_framework.groups import OrderGroup
from hean_framework.models import CREATE, Bar, Fill, OrderDecision, Signal
from hean_framework.params import apply_clamped
from hean_framework.styles import StrategyStyle

from .config import EnhancedGridConfig
from .ladder import BELOW_EXCHANGE_MINIMUM, GridPlan, on_tick, plan_grid

#: the quote key of the grid (one grid per strategy and symbol)
QUOTE_KEY = "grid"
#: why a bar without a live grid built none, in the order they are checked
SKIP_REASONS: tuple[str, ...] = ("waiting", "warmup", "range_too_narrow", "range_too_wide",
                                 "no_level_in_range", "no_budget", "no_level_fits")
_COUNTS = ("bars", "with_grid", *SKIP_REASONS, "builds", "levels_placed",
           "levels_below_minimum", "levels_below_min_notional", "levels_outside_range",
           "quotes", "quotes_refused", "entry_fills", "tp_fills", "recycled",
           "fills_unattributed", "dust_legs", "breakouts", "flattens", "probes",
           "probes_cancelled")
_EPS = 1e-12
_HISTORY = 10_000
#: ``OrderGroup.withdraw`` (an empty quote cancels the quote) when the kernel has it
_WITHDRAW: Callable[[str, str, str], OrderGroup] | None = getattr(OrderGroup, "withdraw", None)

Leg = tuple[str, float, float, int, str]  # side, price, qty, level, role ("entry" | "tp")


class _Slot:
    """One level's state: the position it holds and whether its entry is wanted."""

    __slots__ = ("filling", "held")

    def __init__(self) -> None:
        self.held = 0.0  #: quantity the level's entry filled and its take-profit has not
        self.filling = True  #: True until the entry filled completely; again once recycled


class _Grid:
    """A live grid: its plan, its levels and which (side, price tick) is which order."""

    __slots__ = ("grid_id", "orders", "plan", "slots", "spacing_bps")

    def __init__(self, plan: GridPlan, grid_id: int) -> None:
        self.plan = plan
        self.grid_id = grid_id
        self.slots = {k: _Slot() for k in plan.levels}
        self.orders: dict[tuple[str, int], tuple[int, str]] = {}
        self.spacing_bps = plan.spacing_pct * 1e4


class _Symbol:
    """Per-symbol memory: the range window, the live grid, the last quote."""

    __slots__ = ("grid", "highs", "last_key", "last_legs", "lows", "refused_group",
                 "reported", "retry", "wait")

    def __init__(self, n: int) -> None:
        self.highs: deque[float] = deque(maxlen=n)
        self.lows: deque[float] = deque(maxlen=n)
        self.grid: _Grid | None = None
        self.wait = 0  #: bars to wait before building (after a breakout / no fitting level)
        self.retry = 0  #: bars to wait before proposing again (after a refused quote)
        self.last_key: tuple[tuple[str, int, int], ...] | None = None
        self.last_legs: list[Leg] = []
        self.refused_group = 0
        self.reported = False  #: the levels under the minimum were proposed (no grid yet)


class EnhancedGrid(Strategy):
    """Range grid of resting quotes with recycled levels, rebuilt on breakout (module
    docstring)."""

    config: EnhancedGridConfig
    style: ClassVar[StrategyStyle] = "quoting"

    def on_start(self) -> None:
        self._syms: dict[str, _Symbol] = {}
        self._next_grid = 0
        self.counts: dict[str, int] = dict.fromkeys(_COUNTS, 0)
        self.refusals: Counter[str] = Counter()
        #: the last builds and breakouts: ``(bar ts, "build" | "breakout", plan)``
        self.history: deque[tuple[int, str, GridPlan]] = deque(maxlen=_HISTORY)

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Known keys, numbers clamped into the model's bounds; a new ``range_bars`` resizes
        the windows (keeping the newest bars).  Live grids keep their plan; the next build
        uses the new values."""
        accepted = apply_clamped(self, params)
        if "range_bars" in accepted:
            n = self.config.range_bars
            for sym in getattr(self, "_syms", {}).values():
                sym.highs = deque(sym.highs, maxlen=n)
                sym.lows = deque(sym.lows, maxlen=n)
        return accepted

    # ------------------------------------------------------------------ market

    def on_bar(self, bar: Bar) -> SignalOut:
        sym = self._syms.get(bar.symbol)
        if sym is None:
            sym = self._syms[bar.symbol] = _Symbol(self.config.range_bars)
        sym.highs.append(bar.high)
        sym.lows.append(bar.low)
        c = self.counts
        c["bars"] += 1
        g = sym.grid
        if g is not None:
            c["with_grid"] += 1
            if bar.close < g.plan.stop_low or bar.close > g.plan.stop_high:
                return self._breakout(sym, bar)
            return self._requote(sym, bar)
        if sym.wait > 0:
            sym.wait -= 1
            c["waiting"] += 1
            return None
        if len(sym.highs) < self.config.range_bars:
            c["warmup"] += 1
            return None
        return self._build(sym, bar)

    def _build(self, sym: _Symbol, bar: Bar) -> list[Signal | OrderGroup] | None:
        cfg = self.config
        ctx = self.ctx
        plan = plan_grid(bar.symbol, max(sym.highs), min(sym.lows), cfg,
                         ctx.instruments.get(bar.symbol), ctx.budgets.budget(self.name),
                         len(self.symbols) or 1)
        c = self.counts
        if isinstance(plan, str):
            c[plan.lower()] += 1
            return None
        out: list[Signal | OrderGroup] = []
        if plan.skipped and not sym.reported:
            out.extend(self._probes(plan, bar))
        if plan.n_placed == 0:
            c["no_level_fits"] += 1
            sym.reported = True
            sym.wait = cfg.retry_bars
            return out or None
        sym.reported = False
        self._next_grid += 1
        sym.grid = _Grid(plan, self._next_grid)
        sym.last_key = None
        sym.retry = 0
        c["builds"] += 1
        self.history.append((bar.ts, "build", plan))
        c["levels_placed"] += 2 * plan.n_placed
        c["levels_outside_range"] += 2 * (cfg.levels_per_side - plan.n_range)
        for s in plan.skipped:
            c["levels_below_minimum" if s.reason == BELOW_EXCHANGE_MINIMUM
              else "levels_below_min_notional"] += 1
        quote = self._requote(sym, bar)
        if quote is not None:
            out.insert(0, quote)
        return out or None

    def _probes(self, plan: GridPlan, bar: Bar) -> list[Signal]:
        """One limit signal per level left out under the exchange minimum, of the size it
        would have had: the kernel decides it ``BLOCK POSITION_SIZER_ZERO`` with the
        numbers."""
        out = []
        for s in plan.skipped:
            if s.reason != BELOW_EXCHANGE_MINIMUM:
                continue
            out.append(self.signal(
                plan.symbol, s.side, bar.ts, s.price, size=s.qty_wanted, order_type="limit",
                limit_price=s.price, prefer_maker=True, confidence=self.config.confidence,
                urgency=0.0, tag="GRID_LEVEL_BELOW_MINIMUM",
                metadata={"level": s.k, "notional_wanted": s.notional_wanted,
                          "min_qty": s.min_qty, "capital_per_side": plan.capital,
                          "levels_in_range": plan.n_range, "levels_placed": plan.n_placed}))
        self.counts["probes"] += len(out)
        return out

    def _requote(self, sym: _Symbol, bar: Bar) -> OrderGroup | None:
        """The grid's quote when it differs from the last one proposed, else None."""
        if sym.retry > 0:
            sym.retry -= 1
            return None
        g = sym.grid
        assert g is not None
        legs = self._desired(g, bar.close)
        tick = g.plan.tick
        inst = self.ctx.instruments.get(bar.symbol)
        key = tuple(sorted((side, round(px / tick), round(qty / inst.lot_size))
                           for side, px, qty, _, _ in legs))
        if key == sym.last_key:
            return None
        sym.last_key = key
        sym.last_legs = legs
        if not legs:
            return self._cancel_all(bar.symbol, "grid_idle")
        for side, px, _, k, role in legs:
            g.orders[(side, round(px / tick))] = (k, role)
        self.counts["quotes"] += 1
        cfg = self.config
        edge = g.spacing_bps
        return OrderGroup([self.signal(
            bar.symbol, side, bar.ts, px, size=qty, order_type="limit", limit_price=px,
            prefer_maker=True, edge_bps=edge, confidence=cfg.confidence, urgency=0.0,
            tag="GRID_ENTRY" if role == "entry" else "GRID_TP",
            metadata={"grid": g.grid_id, "level": k, "role": role})
            for side, px, qty, k, role in legs], kind="quote", key=QUOTE_KEY)

    def _desired(self, g: _Grid, close: float) -> list[Leg]:
        """The orders the grid wants resting now (module docstring, step 3)."""
        plan = g.plan
        tick = plan.tick
        half = tick * 0.5
        inst = self.ctx.instruments.get(plan.symbol)
        q = plan.qty
        legs: list[Leg] = []
        used: set[tuple[str, int]] = set()
        for k in plan.levels:
            slot = g.slots[k]
            if slot.filling and q - slot.held > _EPS:
                side = "buy" if k < 0 else "sell"
                px = plan.entry_price(k)
                if (px < close - half) if side == "buy" else (px > close + half):
                    self._add(legs, used, inst, side, px, inst.round_qty(q - slot.held), k,
                              "entry")
            if slot.held > _EPS:
                side = "sell" if k < 0 else "buy"
                px = plan.tp_price(k)
                if side == "sell" and px < close + half:
                    px = inst.round_price(close + tick, "sell")
                elif side == "buy" and px > close - half:
                    px = inst.round_price(close - tick, "buy")
                self._add(legs, used, inst, side, px, inst.round_qty(slot.held), k, "tp")
        return legs

    def _add(self, legs: list[Leg], used: set[tuple[str, int]], inst: Any, side: str,
             px: float, qty: float, k: int, role: str) -> None:
        """Append a leg at ``px`` (moved away from the market by a tick while another leg of
        the same side has that price); dust under the exchange minimum is left out."""
        tick = inst.tick_size
        step = 1 if side == "sell" else -1
        n = round(px / tick)
        while (side, n) in used:
            n += step
            px = on_tick(n, tick)
        if qty <= 0.0 or not inst.check_minimum(qty, px):
            self.counts["dust_legs"] += 1
            return
        used.add((side, round(px / tick)))
        legs.append((side, px, qty, k, role))

    def _breakout(self, sym: _Symbol, bar: Bar) -> list[Signal | OrderGroup] | None:
        """A close beyond a stop: withdraw the grid, flatten, wait (module docstring, 5)."""
        c = self.counts
        c["breakouts"] += 1
        assert sym.grid is not None
        self.history.append((bar.ts, "breakout", sym.grid.plan))
        out: list[Signal | OrderGroup] = []
        withdraw = self._cancel_all(bar.symbol, "grid_breakout")
        if withdraw is not None:
            out.append(withdraw)
        sym.grid = None
        sym.last_key = None
        sym.last_legs = []
        sym.retry = 0
        sym.wait = self.config.rebuild_wait_bars
        pos = self.ctx.portfolio.position_qty(self.name, bar.symbol)
        if pos != 0.0:
            c["flattens"] += 1
            out.append(self.signal(bar.symbol, "sell" if pos > 0 else "buy", bar.ts,
                                   bar.close, reduce_only=True, tag="GRID_BREAKOUT",
                                   metadata={"position": pos}))
        return out or None

    def _cancel_all(self, symbol: str, reason: str) -> OrderGroup | None:
        """Remove the grid's resting orders on ``symbol``: an empty quote
        (``OrderGroup.withdraw``) where the kernel has it, else a cancel of every open order
        of this strategy on the symbol (``reason``)."""
        if _WITHDRAW is not None:
            return _WITHDRAW(self.name, symbol, QUOTE_KEY)
        orders = self.ctx.orders
        for o in orders.open_orders(symbol):
            if o.strategy_id == self.name:
                orders.cancel(o.order_id, reason)
        return None

    # ------------------------------------------------------------------ executions

    def on_fill(self, fill: Fill) -> None:
        sym = self._syms.get(fill.symbol)
        g = sym.grid if sym is not None else None
        if g is None:
            return None  # the breakout's flattening exit
        hit = g.orders.get((fill.side, round(fill.price / g.plan.tick)))
        c = self.counts
        if hit is None:
            c["fills_unattributed"] += 1
            return None
        k, role = hit
        slot = g.slots[k]
        if role == "entry":
            c["entry_fills"] += 1
            slot.held += fill.qty
            if slot.held + _EPS >= g.plan.qty:
                slot.filling = False
        else:
            c["tp_fills"] += 1
            slot.held -= fill.qty
            if slot.held <= _EPS:
                slot.held = 0.0
                slot.filling = True
                c["recycled"] += 1
        return None

    def on_decision(self, decision: OrderDecision) -> None:
        d = decision
        if d.stage == "exit":
            return
        sym = self._syms.get(d.symbol)
        gid = d.details.get("group_id")
        if gid is not None:
            if d.decision != CREATE and sym is not None and sym.refused_group != gid:
                sym.refused_group = gid
                sym.last_key = None
                sym.retry = self.config.retry_bars
                self.counts["quotes_refused"] += 1
                self.refusals[d.reason_codes[0] if d.reason_codes else "?"] += 1
            return
        if d.decision == CREATE:  # a probe let through by a sizer that ignored its size
            orders = self.ctx.orders
            for o in orders.open_orders(d.symbol):
                if o.decision_id == d.decision_id:
                    orders.cancel(o.order_id, "grid_probe")
            self.counts["probes_cancelled"] += 1

    # ------------------------------------------------------------------ inspection

    def grid(self, symbol: str) -> GridPlan | None:
        """The live grid's plan on ``symbol`` (None: no grid)."""
        sym = self._syms.get(symbol)
        return sym.grid.plan if sym is not None and sym.grid is not None else None

    def quote(self, symbol: str) -> list[Leg]:
        """The last quote proposed on ``symbol``: ``(side, price, qty, level, role)``."""
        sym = self._syms.get(symbol)
        return list(sym.last_legs) if sym is not None else []

    def holdings(self, symbol: str) -> dict[int, float]:
        """Position held per level of the live grid (levels holding nothing left out)."""
        sym = self._syms.get(symbol)
        if sym is None or sym.grid is None:
            return {}
        return {k: s.held for k, s in sym.grid.slots.items() if s.held > _EPS}

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(getattr(self, "counts", {}))
        if getattr(self, "refusals", None):
            out["refusal_reasons"] = dict(self.refusals)
        return out
