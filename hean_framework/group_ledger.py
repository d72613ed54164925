"""Per-group and per-leg PnL of order groups: what each basis or pairs trade earned.

The portfolio books per (strategy, symbol); a group's legs are several symbols of one
strategy.  The :class:`GroupLedger` (kept by the run's :class:`~hean_framework.groups.GroupBook`)
follows every ``all_or_none`` entry group from its first fill to the end of the run:

* **fills** of the group's own orders -- its legs, the leg policy's unwind/hedge orders, and
  the legs of an ``exit`` group whose ``closes`` names it -- are booked on the leg of their
  symbol with the portfolio's average-cost method (reductions realize
  ``(price − avg) × qty × contract_size``, sign by side);
* **funding** of every settlement (the portfolio's per-position detail,
  :attr:`~hean_framework.portfolio.Portfolio.last_funding`) goes to the open legs of the
  strategy in that symbol by quantity: ``payment × leg qty / position qty`` (a position the
  strategy holds outside its groups keeps its own part);
* **borrow** cost of a spot short (margin mode) is shared the same way.

Per leg: ``realized``, ``unrealized`` (at the current price), ``fees``, ``funding``,
``borrow`` and ``net = realized + unrealized − fees + funding − borrow``; per group the sums.
The report shows it as ``report.json["group_pnl"]`` (one entry per group).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import RunContext
    from .models import Fill, Order

__all__ = ["GroupLedger", "GroupPnL", "LegPnL"]

_DUST = 1e-9


@dataclass(slots=True)
class LegPnL:
    """One symbol of one group: open quantity, average cost and what it earned so far."""

    symbol: str
    qty: float = 0.0  #: signed open quantity (> 0 long)
    avg_price: float = 0.0
    realized: float = 0.0  #: before fees, funding and borrow
    fees: float = 0.0
    funding: float = 0.0  #: received (negative = paid)
    borrow: float = 0.0  #: spot borrow cost paid (margin mode)
    fills: int = 0
    bought: float = 0.0  #: quantity bought
    sold: float = 0.0  #: quantity sold

    def book(self, side: str, qty: float, price: float, fee: float, cs: float) -> None:
        """Average-cost booking of one fill (the portfolio's method)."""
        self.fills += 1
        self.fees += fee
        signed = qty if side == "buy" else -qty
        if side == "buy":
            self.bought += qty
        else:
            self.sold += qty
        old = self.qty
        if old == 0.0 or (old > 0.0) == (signed > 0.0):
            new = old + signed
            self.avg_price = (old * self.avg_price + signed * price) / new
            self.qty = new
            return
        closing = min(qty, abs(old))
        pnl = (price - self.avg_price) * closing * cs
        self.realized += pnl if old > 0.0 else -pnl
        left = old + signed
        if abs(left) <= _DUST * qty:
            self.qty = 0.0
            self.avg_price = 0.0
        elif (left > 0.0) != (old > 0.0):  # flipped: the rest opens at the fill price
            self.qty = left
            self.avg_price = price
        else:
            self.qty = left


@dataclass(slots=True)
class GroupPnL:
    """One entry group's legs (by symbol) and the exit groups that closed it."""

    group_id: int
    strategy_id: str
    opened_ts: int
    legs: dict[str, LegPnL] = field(default_factory=dict)
    exits: list[int] = field(default_factory=list)
    closed_ts: int = 0
    exit_reason: str = ""

    @property
    def open(self) -> bool:
        """Some leg still holds a quantity."""
        return any(leg.qty for leg in self.legs.values())


class GroupLedger:
    """Per-group, per-leg PnL of a run's entry groups (see the module docstring)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.groups: dict[int, GroupPnL] = {}
        #: decision id of a leg (entry or exit group) -> the entry group it books on
        self.by_decision: dict[int, int] = {}
        self._cs: dict[str, float] = {}

    def _contract_size(self, symbol: str) -> float:
        cs = self._cs.get(symbol)
        if cs is None:
            cs = self._cs[symbol] = self.ctx.instruments.get(symbol).contract_size
        return cs

    def open_group(self, group_id: int, strategy_id: str, decision_ids: list[int],
                   symbols: list[str]) -> None:
        """Follow an entry group (its legs' decisions book on it)."""
        g = GroupPnL(group_id, strategy_id, self.ctx.now)
        for sym in symbols:
            g.legs.setdefault(sym, LegPnL(sym))
        self.groups[group_id] = g
        for did in decision_ids:
            self.by_decision[did] = group_id

    def link_exit(self, exit_id: int, closes: int, decision_ids: list[int],
                  reason: str) -> None:
        """An exit group's legs book on the entry group ``closes``."""
        g = self.groups.get(closes)
        if g is None:
            return
        g.exits.append(exit_id)
        if reason:
            g.exit_reason = reason
        for did in decision_ids:
            self.by_decision[did] = closes

    def on_fill(self, fill: Fill, order: Order) -> None:
        """Book ``fill`` when its order belongs to a followed group."""
        gid = self.by_decision.get(order.decision_id)
        if gid is None:
            return
        g = self.groups[gid]
        leg = g.legs.get(fill.symbol)
        if leg is None:
            leg = g.legs[fill.symbol] = LegPnL(fill.symbol)
        leg.book(fill.side, fill.qty, fill.price, fill.fee, self._contract_size(fill.symbol))
        if not g.open:
            g.closed_ts = fill.ts

    def _share(self, strategy_id: str, symbol: str, pos_qty: float, amount: float,
               attr: str) -> None:
        """Give each open leg of ``strategy_id`` in ``symbol`` its part of the position's
        ``amount``: ``amount × leg qty / position qty`` (what is not in a group stays out)."""
        if not pos_qty:
            return
        for g in self.groups.values():
            leg = g.legs.get(symbol) if g.strategy_id == strategy_id else None
            if leg is not None and leg.qty:
                setattr(leg, attr, getattr(leg, attr) + amount * leg.qty / pos_qty)

    def on_funding(self) -> None:
        """The portfolio settled funding: each position's payment to its groups' legs."""
        for strategy_id, symbol, qty, _price, _rate, amount in \
                self.ctx.portfolio.last_funding:
            self._share(strategy_id, symbol, qty, amount, "funding")

    def on_borrow(self, strategy_id: str, symbol: str, amount: float) -> None:
        """A spot short's borrow cost was charged."""
        qty = self.ctx.portfolio.position_qty(strategy_id, symbol)
        self._share(strategy_id, symbol, qty, amount, "borrow")

    # ------------------------------------------------------------------ reporting

    def leg_dict(self, leg: LegPnL) -> dict[str, Any]:
        """JSON-ready numbers of one leg (unrealized at the current price)."""
        unreal = 0.0
        if leg.qty:
            px = self.ctx.portfolio.price(leg.symbol)
            unreal = leg.qty * self._contract_size(leg.symbol) * (px - leg.avg_price)
        net = leg.realized + unreal - leg.fees + leg.funding - leg.borrow
        return {"symbol": leg.symbol, "open_qty": leg.qty, "bought": leg.bought,
                "sold": leg.sold, "fills": leg.fills, "realized": leg.realized,
                "unrealized": unreal, "fees": leg.fees, "funding": leg.funding,
                "borrow": leg.borrow, "net_pnl": net}

    def group_dict(self, g: GroupPnL) -> dict[str, Any]:
        """JSON-ready numbers of one group: its legs and their sums."""
        legs = [self.leg_dict(leg) for leg in g.legs.values()]
        out: dict[str, Any] = {"group_id": g.group_id, "strategy": g.strategy_id,
                               "opened_ts": g.opened_ts, "closed_ts": g.closed_ts,
                               "exit_groups": list(g.exits), "exit_reason": g.exit_reason,
                               "open": g.open}
        for k in ("realized", "unrealized", "fees", "funding", "borrow", "net_pnl"):
            out[k] = sum(leg[k] for leg in legs)
        out["legs"] = legs
        return out

    def report(self) -> list[dict[str, Any]]:
        """Every followed group that traded, in id order."""
        return [self.group_dict(g) for _, g in sorted(self.groups.items())
                if any(leg.fills for leg in g.legs.values())]
