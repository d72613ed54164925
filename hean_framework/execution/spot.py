"""Spot rules of the simulated venue: holdings, no short without margin, borrow cost.

Spot and perpetuals of one base share the venue's one account (and the portfolio's one cash),
but spot is a *cash* market:

* **No short spot in a cash account.**  A spot sell that is not reduce-only is rejected at
  submit with ``insufficient_balance: sell Q BTC/USDT > free holdings H (...)`` when its
  quantity exceeds the account's free holdings of the symbol (its net quantity minus the
  unfilled quantity of its resting spot sells).  Buys need cash: the margin desk counts spot
  at leverage 1 (:mod:`hean_framework.execution.margin`).
* **Margin mode** (``venue.spot_margin: true``): spot sells beyond holdings are allowed -- the
  base asset is borrowed -- and the borrow costs interest: at every full UTC hour while a
  strategy is short a spot symbol, the portfolio is charged
  ``|qty| × price × spot_borrow_rate / 24`` for that strategy and symbol
  (:meth:`~hean_framework.portfolio.Portfolio.charge_borrow`; ``spot_borrow_rate`` is a
  daily rate, default 0.0002 = 2 bp/day ≈ 7.3 %/year; Binance charges margin interest
  hourly the same way).  Each charge is journaled (event ``borrow``).  A short opened and
  closed within one hour pays nothing, as on the exchange's hourly schedule.

Perpetuals are untouched by this module (they short freely and pay or receive funding).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..context import RunContext
    from ..instruments import Instrument
    from ..models import Order

__all__ = ["HOUR_MS", "SpotDesk"]

HOUR_MS = 3_600_000


class SpotDesk:
    """The spot rules of one simulated venue (see the module docstring)."""

    def __init__(self, ctx: RunContext, *, margin: bool, borrow_rate: float,
                 orders: dict[int, Order]) -> None:
        self.ctx = ctx
        #: spot sells beyond holdings allowed (borrowed), with hourly borrow cost
        self.margin = margin
        #: daily borrow rate (fraction) charged hourly on spot shorts
        self.borrow_rate = borrow_rate
        self._orders = orders
        self._timer = False
        #: borrow cost charged so far, quote currency
        self.charged = 0.0

    def free_holdings(self, symbol: str) -> float:
        """The account's holdings of spot ``symbol`` not promised to resting sells."""
        pf = self.ctx.portfolio
        held = pf.net_qty(symbol) if pf is not None else 0.0
        for o in self._orders.values():
            if o.symbol == symbol and o.side == "sell" and not o.reduce_only and not o.is_done:
                held -= o.qty - o.filled
        return held

    def refusal(self, order: Order, inst: Instrument) -> str:
        """Why a spot ``order`` cannot be accepted ('' when it can): a sell beyond the free
        holdings of a cash account."""
        if inst.type != "spot" or order.side != "sell" or order.reduce_only or self.margin:
            return ""
        free = self.free_holdings(order.symbol)
        if order.qty <= free * (1.0 + 1e-9) + 1e-12:
            return ""
        return (f"sell {order.qty:g} {order.symbol} > free holdings {max(free, 0.0):g} "
                f"{inst.base}: spot cannot be sold short in a cash account (set "
                "venue.spot_margin: true to borrow, or trade the perpetual)")

    def after_fill(self, inst: Instrument) -> None:
        """A spot fill: start the hourly borrow charge when a spot short exists."""
        if not self.margin or self._timer or inst.type != "spot":
            return
        if any(q < 0.0 for _, q in self._shorts()):
            self._arm()

    def _shorts(self) -> list[tuple[tuple[str, str], float]]:
        """``((strategy, symbol), qty)`` of every spot short of a strategy."""
        ctx = self.ctx
        out = []
        for pos in ctx.portfolio.positions():
            if pos.qty < 0.0 and ctx.instruments.get(pos.symbol).type == "spot":
                out.append(((pos.strategy_id, pos.symbol), pos.qty))
        return out

    def _arm(self) -> None:
        now = self.ctx.now
        self._timer = True
        self.ctx.clock.schedule((now // HOUR_MS + 1) * HOUR_MS, self._charge)

    def _charge(self, ts: int) -> None:
        """The hourly borrow charge of every spot short (then re-arm while any is left)."""
        self._timer = False
        ctx = self.ctx
        pf = ctx.portfolio
        shorts = self._shorts()
        for (strategy, symbol), qty in shorts:
            inst = ctx.instruments.get(symbol)
            price = pf.price(symbol)
            amount = inst.notional(-qty, price) * self.borrow_rate / 24.0
            if amount <= 0.0:
                continue
            pf.charge_borrow(strategy, symbol, amount)
            self.charged += amount
            if ctx.journal is not None:
                ctx.journal.event(ts, "borrow", {"strategy": strategy, "symbol": symbol,
                                                 "qty": qty, "price": price,
                                                 "rate_daily": self.borrow_rate,
                                                 "amount": amount})
        if shorts:
            self._arm()
