"""The farmer's own metrics: rebates earned, reversion captured after fills, fills per side.

The expected value of a deep passive quote is *rebate + mean reversion* (the original's
claim): a quote far from the touch fills only after the price has run into it, and earns when
the price comes back.  :class:`FarmMetrics` measures both, per symbol, from the strategy's
own fills:

* **fills per side** -- maker fills of the bid (``buy``) and of the ask (``sell``); taker fills
  (the inventory stop's exits) are counted apart with their fees;
* **rebates earned** -- ``−Σ fee`` of the maker fills, in quote currency (the venue's maker
  rate: negative when it pays a rebate, so a positive figure is money earned; with a positive
  maker fee it is a cost and shows negative), and the same in bps of the maker notional;
* **reversion captured** -- ``horizon_s`` after each maker fill, ``side × (mid − fill price) ×
  qty × contract size`` (quote currency) and ``side × (mid − fill price) / fill price × 1e4``
  (bps): what the filled quantity is worth against the mid once the market has had time to
  revert.  ``mid`` is the best bid/ask midpoint (the last price without a quote) as the market
  stood just before ``fill ts + horizon`` (a clock timer).  Fills whose horizon lies past the
  end of the data stay ``pending`` and are not counted;
* **expected value** = rebates earned + reversion captured (quote currency).

The section is the report's ``rebate_farmer`` block (``rebate_farmer:<name>`` for another
instance name) and :meth:`RebateFarmer.stats <hean_rebate_farmer.strategy.RebateFarmer.stats>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from hean_framework.models import Fill

if TYPE_CHECKING:
    from hean_framework.context import RunContext

__all__ = ["FarmMetrics", "SymbolFarm", "mid_of"]


@dataclass(slots=True)
class SymbolFarm:
    """What is summed for one symbol."""

    fills_buy: int = 0
    fills_sell: int = 0
    maker_qty: float = 0.0
    maker_notional: float = 0.0
    rebates: float = 0.0  #: −Σ maker fee (quote currency; > 0 = earned)
    taker_fills: int = 0
    taker_fees: float = 0.0
    reversion: float = 0.0  #: Σ side × (mid(t+h) − price) × units
    reversion_bps: float = 0.0  #: Σ of the per-fill reversion in bps
    counted: int = 0
    pending: int = 0

    def row(self) -> dict[str, Any]:
        """The section's row for this symbol."""
        return {
            "fills": {"buy": self.fills_buy, "sell": self.fills_sell},
            "maker_qty": round(self.maker_qty, 12),
            "maker_notional": round(self.maker_notional, 6),
            "rebates_earned": round(self.rebates, 8),
            "rebate_bps": round(self.rebates / self.maker_notional * 1e4, 4)
            if self.maker_notional else 0.0,
            "reversion_captured": round(self.reversion, 8),
            "reversion_bps": round(self.reversion_bps / self.counted, 4)
            if self.counted else None,
            "reversion_counted": self.counted,
            "reversion_pending": self.pending,
            "expected_value": round(self.rebates + self.reversion, 8),
            "taker_fills": self.taker_fills,
            "taker_fees": round(self.taker_fees, 8),
        }


def mid_of(ctx: RunContext, symbol: str) -> float:
    """Best bid/ask midpoint of ``symbol``, else its last price, else 0."""
    st = ctx.market.get(symbol)
    if st is None:
        return 0.0
    if st.bid > 0.0 and st.ask > st.bid:
        return float((st.bid + st.ask) * 0.5)
    return float(st.last)


class FarmMetrics:
    """Per-symbol rebate and reversion book of one strategy instance (module docstring)."""

    def __init__(self, ctx: RunContext, horizon_s: float) -> None:
        self.ctx = ctx
        self.horizon_ms = round(horizon_s * 1000)
        self.symbols: dict[str, SymbolFarm] = {}

    def book(self, symbol: str) -> SymbolFarm:
        """The symbol's sums (created on first use)."""
        b = self.symbols.get(symbol)
        if b is None:
            b = self.symbols[symbol] = SymbolFarm()
        return b

    def on_fill(self, fill: Fill) -> None:
        """Count the fill; a maker fill's reversion is measured ``horizon`` later."""
        b = self.book(fill.symbol)
        if not fill.is_maker:
            b.taker_fills += 1
            b.taker_fees += fill.fee
            return
        ctx = self.ctx
        units = fill.qty * ctx.instruments.get(fill.symbol).contract_size
        if fill.side == "buy":
            b.fills_buy += 1
        else:
            b.fills_sell += 1
        b.maker_qty += fill.qty
        b.maker_notional += fill.price * units
        b.rebates -= fill.fee
        b.pending += 1
        sign = 1.0 if fill.side == "buy" else -1.0
        ctx.clock.schedule(fill.ts + self.horizon_ms,
                           partial(self._mark, b, fill.symbol, sign, fill.price, units))

    def _mark(self, b: SymbolFarm, symbol: str, sign: float, price: float, units: float,
              now: int) -> None:
        b.pending -= 1
        mid = mid_of(self.ctx, symbol)
        if mid <= 0.0:
            return
        b.reversion += sign * (mid - price) * units
        b.reversion_bps += sign * (mid - price) / price * 1e4
        b.counted += 1

    def report(self) -> dict[str, Any]:
        """Per symbol rows and their totals."""
        rows = {s: b.row() for s, b in sorted(self.symbols.items())}
        tot = SymbolFarm()
        for b in self.symbols.values():
            for f in ("fills_buy", "fills_sell", "maker_qty", "maker_notional", "rebates",
                      "taker_fills", "taker_fees", "reversion", "reversion_bps", "counted",
                      "pending"):
                setattr(tot, f, getattr(tot, f) + getattr(b, f))
        return {"horizon_s": self.horizon_ms / 1000, "symbols": rows, "total": tot.row()}
