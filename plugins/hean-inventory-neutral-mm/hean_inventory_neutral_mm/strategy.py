"""InventoryNeutralMM: two-sided resting quotes while order flow is neutral, skewed by inventory.

A quoting strategy (``style = "quoting"``): it publishes *quotes* -- an
:class:`~hean_framework.groups.OrderGroup` of ``kind="quote"`` per symbol -- and the kernel's
quote executor keeps exactly those post-only orders resting (:mod:`hean_framework.quotes`).
The reward:risk, one-position and open-position rules do not apply to it (the kernel's style
table); its own limits below do.

Rules, per symbol, on every best bid/offer or L2 change (candles: every bar, around the close):

1. **Mid and offset.**  ``mid`` = best bid/ask midpoint (the last price without a quote);
   ``offset_bps = clamp(spread_bps / 2, min_offset_bps, max_offset_bps)`` (spread 10 bps
   assumed without a quote).
2. **Inventory in notional.**  ``inventory = position × contract size × mid`` (the strategy's
   own position, from the portfolio: every fill counts).  ``limit = max_inventory_pct ×
   budget`` (``ctx.budgets``, quote currency).  The kernel's rules
   (:mod:`hean_framework.inventory`), as for every quoting strategy.
3. **Inventory stop** (checked first, :class:`~hean_framework.inventory.InventoryStop`): when
   ``|inventory| > limit`` for longer than ``stop_after_s``, or the position's average entry
   price is ``adverse_move_pct`` or more against the mid, the quote is withdrawn and the
   position closed by a reduce-only market order (tag ``INVENTORY_STOP_TIME`` /
   ``INVENTORY_STOP_ADVERSE``: the pipeline decides it as an exit, so it is a journaled
   decision); no quote for ``stop_cooldown_s`` after.
4. **Neutral flow only.**  The ``OFI`` fact of ``hean-market-analyzers`` (``ofi_monitor``) must
   be within ``±max_ofi``; OFI unknown (``OFI_SOURCE == ""``, no analyzer) counts as neutral.
   The symbol's regime (``REGIME``) must be in ``regime_families`` (no regime published: any).
   Otherwise a live quote is withdrawn.
5. **Refresh.**  A new quote when there is none, every ``refresh_s``, when the mid moved by
   ``requote_move_frac × offset`` or more since the last quote (0: on every mid change), and
   after a fill (at the next market event).
6. **Skew.**  ``reservation = mid − gamma × (inventory / limit) × offset``; bid at
   ``reservation − offset``, ask at ``reservation + offset`` (rounded away from the touch and
   never crossing it).  Long inventory moves both prices down: the ask gets nearer, the bid
   further.
7. **Size.**  ``quote_notional_pct × budget`` per side, times the volatility multiplier ``v``
   (1 when the tick-return σ over ``vol_window`` prices is below 0.1 %, 0.5 above 0.5 %,
   linear between; ``vol_scaling: false`` = 1).  A side whose fill would take ``|inventory|``
   past the limit is left out of the quote; the exchange minimums and lot size are the
   kernel's (a quote below them is refused as a whole and the previous one withdrawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hean_market_analyzers.facts import FAMILIES, OFI, OFI_SOURCE
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
from hean_framework.optimize import space_of

__all__ = ["InventoryNeutralMM", "InventoryNeutralMMConfig", "clamped"]

Family = Literal["RANGE_LIKE", "NEUTRAL", "TREND", "VOLATILE"]
#: the original's RANGE and NORMAL regimes, as regime families
DEFAULT_FAMILIES: tuple[Family, ...] = ("RANGE_LIKE", "NEUTRAL", "TREND")


class InventoryNeutralMMConfig(ComponentConfig):
    """``strategies.inventory_neutral_mm``: see the module docstring for the rules."""

    max_ofi: float = Field(0.3, ge=0.0, le=1.0, description="quote only while |OFI| is "
                           "below this (OFI unknown counts as neutral)")
    refresh_s: float = Field(30.0, ge=0.1, le=3600.0, description="requote at least this "
                             "often (seconds)")
    requote_move_frac: float = Field(0.5, ge=0.0, le=5.0, description="requote when the mid "
                                     "moved by this fraction of the offset (0: every change)")
    min_offset_bps: float = Field(3.0, ge=0.1, le=100.0, description="smallest quote offset "
                                  "from the reservation price (bps of mid)")
    max_offset_bps: float = Field(10.0, ge=0.1, le=500.0, description="largest quote offset "
                                  "(bps of mid)")
    quote_notional_pct: float = Field(0.02, gt=0.0, le=0.5, description="size per side as a "
                                      "fraction of the strategy's budget")
    max_inventory_pct: float = Field(0.05, gt=0.0, le=1.0, description="|inventory| limit as "
                                     "a fraction of the strategy's budget (notional)")
    gamma: float = Field(1.0, ge=0.0, le=10.0, description="inventory skew: offsets the "
                         "reservation price by gamma x inventory/limit x offset")
    stop_after_s: float = Field(60.0, ge=0.0, le=86400.0, description="flatten when "
                                "|inventory| stays above the limit this long (seconds)")
    adverse_move_pct: float = Field(0.005, gt=0.0, le=0.5, description="flatten when the mid "
                                    "is this far against the position's entry (0.005 = 0.5 %)")
    stop_cooldown_s: float = Field(30.0, ge=0.0, le=86400.0, description="no quote this long "
                                   "after an inventory stop (seconds)")
    vol_window: int = Field(20, ge=2, le=1000, description="prices in the volatility of the "
                            "size multiplier")
    vol_scaling: bool = Field(True, description="scale the size by the volatility multiplier "
                              "(0.5..1)")
    regime_families: list[Family] = Field(
        default_factory=lambda: list(DEFAULT_FAMILIES),
        description="regime families to quote in (no regime published: any)")


def clamped(model: type[ComponentConfig], current: ComponentConfig,
            params: dict[str, Any]) -> tuple[ComponentConfig, list[str]]:
    """``current`` with the known keys of ``params`` applied, each numeric value clamped into
    its declared bounds (choices must be legal); returns the new config and the keys taken."""
    space = space_of(model, [k for k in params if k in model.model_fields
                             and k != "regime_families"])
    known = {}
    for k, v in params.items():
        if k not in model.model_fields:
            continue
        p = space.get(k)
        known[k] = p.clip(v) if p is not None and p.kind != "choice" else v
    if not known:
        return current, []
    return model.model_validate(current.model_dump() | known), sorted(known)


@dataclass(slots=True)
class _Sym:
    """Per-symbol quoting state."""

    last_mid: float = 0.0
    last_quote_ts: int = 0
    quoting: bool = False
    dirty: bool = False
    stop: InventoryStop = field(default_factory=InventoryStop)


class InventoryNeutralMM(Strategy):
    """Market making on resting quotes (see the module docstring)."""

    style = "quoting"
    config: InventoryNeutralMMConfig

    def __init__(self, config: Any, ctx: RunContext, name: str = "",
                 symbols: Sequence[str] = ()) -> None:
        super().__init__(config, ctx, name, symbols)
        self._state: dict[str, _Sym] = {s: _Sym() for s in self.symbols}
        self._families = self._allowed()
        self.counts: dict[str, int] = dict.fromkeys(
            ("quotes", "one_sided", "withdrawn_flow", "withdrawn_regime", "stops_time",
             "stops_adverse", "fills"), 0)

    def _allowed(self) -> frozenset[str]:
        return frozenset(r for f in self.config.regime_families for r in FAMILIES[f])

    # ------------------------------------------------------------------ callbacks

    def on_quote(self, quote: Quote) -> SignalOut:
        return self._tick(quote.symbol, quote.ts)

    def on_book(self, update: BookUpdate) -> SignalOut:
        return self._tick(update.symbol, update.ts)

    def on_bar(self, bar: Bar) -> SignalOut:
        return self._tick(bar.symbol, bar.ts)

    def on_fill(self, fill: Fill) -> SignalOut:
        self.counts["fills"] += 1
        st = self._state.get(fill.symbol)
        if st is not None:
            st.dirty = True  # requote (skewed) at the next market event
        return None

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """Apply known keys, numeric values clamped into their declared bounds."""
        self.config, keys = clamped(InventoryNeutralMMConfig, self.config,  # type: ignore[assignment]
                                    params)
        self._families = self._allowed()
        return keys

    def stats(self) -> dict[str, Any]:
        return dict(self.counts)

    # ------------------------------------------------------------------ rules

    def _tick(self, symbol: str, ts: int) -> SignalOut:
        s = self._state.get(symbol)
        if s is None:
            return None
        cfg = self.config
        ctx = self.ctx
        st = ctx.market[symbol]
        mid = touch_mid(st)
        if mid <= 0.0:
            return None
        spread_bps = (st.ask - st.bid) / mid * 1e4 if st.bid > 0.0 and st.ask > st.bid \
            else 10.0
        inventory = inventory_notional(ctx, self.name, symbol, mid)
        budget = ctx.budgets.budget(self.name)
        limit = inventory_limit(budget, cfg.max_inventory_pct)
        entry = ctx.portfolio.position(self.name, symbol).avg_price if inventory else 0.0
        tag = s.stop.check(ts, inventory, limit, mid, entry, cfg)
        if tag:
            self.counts["stops_time" if tag == STOP_TIME else "stops_adverse"] += 1
            s.quoting = False
            return flatten(self, symbol, inventory, ts, mid, tag)
        if s.stop.cooling(ts):
            return None
        why = self._not_neutral(symbol)
        if why:
            if s.quoting:
                s.quoting = False
                self.counts[why] += 1
                return OrderGroup.withdraw(self.name, symbol)
            return None
        offset_bps = min(max(spread_bps * 0.5, cfg.min_offset_bps), cfg.max_offset_bps)
        off = offset_bps * 1e-4 * mid
        move = cfg.requote_move_frac * off
        if s.quoting and not s.dirty and ts - s.last_quote_ts < cfg.refresh_s * 1000 and (
                abs(mid - s.last_mid) < move if move > 0.0 else mid == s.last_mid):
            return None
        return self._quote(symbol, s, st, mid, off, inventory, limit, budget, ts)

    def _not_neutral(self, symbol: str) -> str:
        facts = self.ctx.facts
        regime = facts.get(REGIME, symbol)
        if regime and regime not in self._families:
            return "withdrawn_regime"
        if facts.get(OFI_SOURCE, symbol) and abs(facts.get(OFI, symbol)) >= self.config.max_ofi:
            return "withdrawn_flow"
        return ""

    def _quote(self, symbol: str, s: _Sym, st: SymbolState, mid: float, off: float,
               inventory: float, limit: float, budget: float, ts: int) -> SignalOut:
        cfg = self.config
        inst = self.ctx.instruments.get(symbol)
        res = mid - cfg.gamma * (inventory / limit if limit > 0.0 else 0.0) * off
        bid = inst.round_price(res - off, "buy")
        ask = inst.round_price(res + off, "sell")
        tick = inst.tick_size
        if st.bid > 0.0 and st.ask > st.bid:
            bid = min(bid, inst.round_price(st.ask - tick, "buy"))
            ask = max(ask, inst.round_price(st.bid + tick, "sell"))
        notional = cfg.quote_notional_pct * budget * self._vol_multiplier(st)
        qty = notional / (mid * inst.contract_size)
        legs = []
        bid_ok, ask_ok = sides_within_limit(inventory, notional, limit)
        if bid_ok and bid > 0.0:
            legs.append(self.signal(symbol, "buy", ts, bid, size=qty, order_type="limit",
                                    limit_price=bid, prefer_maker=True, tag="MM_BID"))
        if ask_ok:
            legs.append(self.signal(symbol, "sell", ts, ask, size=qty, order_type="limit",
                                    limit_price=ask, prefer_maker=True, tag="MM_ASK"))
        s.last_mid, s.last_quote_ts, s.dirty = mid, ts, False
        if not legs:
            s.quoting = False
            return OrderGroup.withdraw(self.name, symbol)
        if len(legs) == 1:
            self.counts["one_sided"] += 1
        self.counts["quotes"] += 1
        s.quoting = True
        return OrderGroup(legs, kind="quote")

    def _vol_multiplier(self, st: SymbolState) -> float:
        if not self.config.vol_scaling:
            return 1.0
        sigma = st.log_return_std(self.config.vol_window)
        if sigma <= 0.001:  # also: fewer than 3 prices (sigma 0)
            return 1.0
        if sigma >= 0.005:
            return 0.5
        return 1.0 - 0.5 * (sigma - 0.001) / 0.004
