"""RebateFarmer: deep passive quotes beyond the touch, to earn maker rebates and mean reversion.

A quoting strategy (``style = "quoting"``): it publishes one quote per symbol -- an
:class:`~hean_framework.groups.OrderGroup` of ``kind="quote"`` with at most one bid and one
ask -- and the kernel's quote executor (:mod:`hean_framework.quotes`) keeps exactly those
post-only orders resting at exactly those prices: an unchanged level keeps its order and its
queue place, a moved level is amended in place where the venue can, else cancelled and
replaced.  So there is never more than one resting order per side per symbol, and a refresh
never leaves the previous order behind.  The reward:risk, one-position and open-position
rules do not apply to the quoting style (the kernel's style table); the limits below do.

Rules, per symbol, on every best bid/offer or L2 change (candles: every bar, the close as
both touches):

1. **Prices, beyond the touch.**  ``bid = best_bid × (1 − offset_bps/1e4) − offset_ticks ×
   tick``, rounded *down* to the tick; ``ask = best_ask × (1 + offset_bps/1e4) + offset_ticks
   × tick``, rounded *up*; each at least one tick beyond its touch (a farmer never joins the
   best level).
2. **Inventory in notional.**  ``inventory = position × contract size × mid`` (the strategy's
   own position, from the portfolio); ``limit = max_inventory_pct × budget`` (``ctx.budgets``).
   A side whose fill would take ``|inventory|`` past the limit is left out of the quote; no
   side left = the quote is withdrawn.  The kernel's rules (:mod:`hean_framework.inventory`),
   as for every quoting strategy.
3. **Inventory stop** (checked first, :class:`~hean_framework.inventory.InventoryStop`):
   ``|inventory| > limit`` for longer than ``stop_after_s``, or the mid ``adverse_move_pct`` or
   more against the position's average entry -> the quote is withdrawn and the position closed
   by a reduce-only market order (tag ``INVENTORY_STOP_TIME`` / ``INVENTORY_STOP_ADVERSE``, an
   exit decision of the pipeline); no quote for ``stop_cooldown_s``.
4. **Regime.**  The symbol's ``REGIME`` fact must be in ``regime_families`` (no regime
   published: any); otherwise the live quote is withdrawn.
5. **Refresh** (cancel/replace): a new quote when there is none, every ``refresh_s``, when the
   mid moved ``requote_move_bps`` or more since the last quote (0: on every mid change), and at
   the next market event after a fill.
6. **Size.**  ``quote_notional_pct × budget`` per side (quantity at the mid); the exchange
   minimums and lot size are the kernel's (a quote below them is refused as a whole and the
   previous one withdrawn).

Metrics (:mod:`hean_rebate_farmer.metrics`): rebates earned, the reversion captured
``reversion_horizon_s`` after each fill, fills per side -- :meth:`RebateFarmer.stats` and the
report section ``rebate_farmer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hean_market_analyzers.facts import FAMILIES
from pydantic import Field

from hean_framework import ComponentConfig, Strategy
from hean_framework.components import SignalOut
from hean_framework.context import RunContext
from hean_framework.facts import REGIME
from hean_framework.groups import OrderGroup
from hean_framework.inventory import (
    STOP_TIME,
    InventoryStop,
    flatten,
    inventory_limit,
    inventory_notional,
    sides_within_limit,
    touch_mid,
)
from hean_framework.market import SymbolState
from hean_framework.models import Bar, BookUpdate, Fill, Quote
from hean_framework.params import apply_clamped

from .metrics import FarmMetrics

__all__ = ["DEFAULT_FAMILIES", "RebateFarmer", "RebateFarmerConfig", "deep_prices"]

Family = Literal["RANGE_LIKE", "NEUTRAL", "TREND", "VOLATILE"]
#: the original's RANGE and NORMAL regimes, as regime families
DEFAULT_FAMILIES: tuple[Family, ...] = ("RANGE_LIKE", "NEUTRAL")


class RebateFarmerConfig(ComponentConfig):
    """``strategies.rebate_farmer``: see the module docstring for the rules."""

    offset_bps: float = Field(50.0, ge=0.0, le=500.0, description="distance of each quote "
                              "beyond its touch, bps of the touch price (0.005 = 50 bps in "
                              "the original)")
    offset_ticks: int = Field(0, ge=0, le=100_000, description="further distance beyond the "
                              "touch in whole ticks (added to offset_bps)")
    refresh_s: float = Field(300.0, ge=1.0, le=3600.0, description="cancel/replace the quote "
                             "at least this often (seconds)")
    requote_move_bps: float = Field(10.0, ge=0.0, le=500.0, description="cancel/replace when "
                                    "the mid moved this many bps since the last quote (0: "
                                    "every mid change)")
    quote_notional_pct: float = Field(0.02, gt=0.0, le=0.5, description="size per side as a "
                                      "fraction of the strategy's budget")
    max_inventory_pct: float = Field(0.05, gt=0.0, le=1.0, description="|inventory| limit as "
                                     "a fraction of the strategy's budget (notional)")
    stop_after_s: float = Field(120.0, ge=0.0, le=86_400.0, description="flatten when "
                                "|inventory| stays above the limit this long (seconds)")
    adverse_move_pct: float = Field(0.005, gt=0.0, le=0.5, description="flatten when the mid "
                                    "is this far against the position's entry (0.005 = 0.5 %)")
    stop_cooldown_s: float = Field(60.0, ge=0.0, le=86_400.0, description="no quote this long "
                                   "after an inventory stop (seconds)")
    reversion_horizon_s: float = Field(60.0, ge=0.1, le=3600.0, description="the reversion "
                                       "captured by a fill is measured this long after it "
                                       "(seconds)")
    regime_families: list[Family] = Field(
        default_factory=lambda: list(DEFAULT_FAMILIES),
        description="regime families to quote in (no regime published: any)")


def deep_prices(st: SymbolState, tick: float, offset_bps: float, offset_ticks: int,
                round_price: Any) -> tuple[float, float]:
    """``(bid, ask)`` beyond the touch (rule 1); the last price is both touches without a
    quote.  ``round_price(price, side)`` is the instrument's (buy down, sell up)."""
    if st.bid > 0.0 and st.ask > st.bid:
        best_bid, best_ask = st.bid, st.ask
    else:
        best_bid = best_ask = st.last
    frac = offset_bps * 1e-4
    extra = offset_ticks * tick
    bid = min(round_price(best_bid * (1.0 - frac) - extra, "buy"),
              round_price(best_bid - tick, "buy"))
    ask = max(round_price(best_ask * (1.0 + frac) + extra, "sell"),
              round_price(best_ask + tick, "sell"))
    return float(bid), float(ask)


@dataclass(slots=True)
class _Sym:
    """Per-symbol quoting state."""

    last_mid: float = 0.0
    last_quote_ts: int = 0
    quoting: bool = False
    dirty: bool = False
    stop: InventoryStop = field(default_factory=InventoryStop)
    bid: float = 0.0  #: prices of the live quote (0: that side not quoted)
    ask: float = 0.0


class RebateFarmer(Strategy):
    """Deep passive quotes on both sides (see the module docstring)."""

    style = "quoting"
    config: RebateFarmerConfig

    def __init__(self, config: Any, ctx: RunContext, name: str = "",
                 symbols: Sequence[str] = ()) -> None:
        super().__init__(config, ctx, name, symbols)
        self._state: dict[str, _Sym] = {s: _Sym() for s in self.symbols}
        self._families = self._allowed()
        self.metrics = FarmMetrics(ctx, self.config.reversion_horizon_s)
        self.counts: dict[str, int] = dict.fromkeys(
            ("quotes", "one_sided", "withdrawn_regime", "withdrawn_limit", "stops_time",
             "stops_adverse", "fills"), 0)

    def _allowed(self) -> frozenset[str]:
        return frozenset(r for f in self.config.regime_families for r in FAMILIES[f])

    def on_start(self) -> None:
        section = "rebate_farmer" if self.name == "rebate_farmer" else \
            f"rebate_farmer:{self.name}"
        self.ctx.add_section(section, self.stats)

    # ------------------------------------------------------------------ callbacks

    def on_quote(self, quote: Quote) -> SignalOut:
        return self._tick(quote.symbol, quote.ts)

    def on_book(self, update: BookUpdate) -> SignalOut:
        return self._tick(update.symbol, update.ts)

    def on_bar(self, bar: Bar) -> SignalOut:
        return self._tick(bar.symbol, bar.ts)

    def on_fill(self, fill: Fill) -> SignalOut:
        self.counts["fills"] += 1
        self.metrics.on_fill(fill)
        st = self._state.get(fill.symbol)
        if st is not None:
            st.dirty = True  # cancel/replace at the next market event
        return None

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """The kernel's clamped update (:func:`~hean_framework.params.apply_clamped`), then
        the regime set and the reversion horizon follow the new config."""
        keys = apply_clamped(self, params)
        self._families = self._allowed()
        self.metrics.horizon_ms = round(self.config.reversion_horizon_s * 1000)
        return keys

    def stats(self) -> dict[str, Any]:
        """Counts, the live quote prices and the metrics (the report section)."""
        return {"counts": dict(self.counts),
                "quotes": {s: {"bid": st.bid, "ask": st.ask}
                           for s, st in self._state.items() if st.quoting},
                **self.metrics.report()}

    def quoted(self, symbol: str) -> tuple[float, float]:
        """``(bid, ask)`` of the live quote of ``symbol`` (0.0: side not quoted)."""
        st = self._state[symbol]
        return (st.bid, st.ask) if st.quoting else (0.0, 0.0)

    # ------------------------------------------------------------------ rules

    def _tick(self, symbol: str, ts: int) -> SignalOut:
        s = self._state.get(symbol)
        if s is None:
            return None
        ctx = self.ctx
        st = ctx.market[symbol]
        mid = touch_mid(st)
        if mid <= 0.0:
            return None
        cfg = self.config
        inventory = inventory_notional(ctx, self.name, symbol, mid)
        budget = ctx.budgets.budget(self.name)
        limit = inventory_limit(budget, cfg.max_inventory_pct)
        entry = ctx.portfolio.position(self.name, symbol).avg_price if inventory else 0.0
        tag = s.stop.check(ts, inventory, limit, mid, entry, cfg)
        if tag:
            self.counts["stops_time" if tag == STOP_TIME else "stops_adverse"] += 1
            s.quoting = False
            s.bid = s.ask = 0.0
            return flatten(self, symbol, inventory, ts, mid, tag)
        if s.stop.cooling(ts):
            return None
        regime = ctx.facts.get(REGIME, symbol)
        if regime and regime not in self._families:
            return self._withdraw(symbol, s, "withdrawn_regime")
        if s.quoting and not s.dirty and ts - s.last_quote_ts < cfg.refresh_s * 1000:
            move = cfg.requote_move_bps
            if (abs(mid - s.last_mid) < move * 1e-4 * s.last_mid if move > 0.0
                    else mid == s.last_mid):
                return None
        return self._quote(symbol, s, st, mid, inventory, limit, budget, ts)

    def _withdraw(self, symbol: str, s: _Sym, why: str) -> SignalOut:
        if not s.quoting:
            return None
        s.quoting = False
        s.bid = s.ask = 0.0
        self.counts[why] += 1
        return OrderGroup.withdraw(self.name, symbol)

    def _quote(self, symbol: str, s: _Sym, st: SymbolState, mid: float, inventory: float,
               limit: float, budget: float, ts: int) -> SignalOut:
        cfg = self.config
        inst = self.ctx.instruments.get(symbol)
        bid, ask = deep_prices(st, inst.tick_size, cfg.offset_bps, cfg.offset_ticks,
                               inst.round_price)
        notional = cfg.quote_notional_pct * budget
        qty = notional / (mid * inst.contract_size)
        legs = []
        s.last_mid, s.last_quote_ts, s.dirty = mid, ts, False
        s.bid = s.ask = 0.0
        bid_ok, ask_ok = sides_within_limit(inventory, notional, limit)
        if bid_ok and bid > 0.0:
            s.bid = bid
            legs.append(self.signal(symbol, "buy", ts, bid, size=qty, order_type="limit",
                                    limit_price=bid, prefer_maker=True, tag="FARM_BID"))
        if ask_ok:
            s.ask = ask
            legs.append(self.signal(symbol, "sell", ts, ask, size=qty, order_type="limit",
                                    limit_price=ask, prefer_maker=True, tag="FARM_ASK"))
        if not legs:  # only when quote_notional_pct > max_inventory_pct
            return self._withdraw(symbol, s, "withdrawn_limit")
        if len(legs) == 1:
            self.counts["one_sided"] += 1
        self.counts["quotes"] += 1
        s.quoting = True
        return OrderGroup(legs, kind="quote")
