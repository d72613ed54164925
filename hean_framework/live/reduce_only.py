"""HEAN's per-strategy reduce-only, mapped onto the exchange's account-wide flag.

In HEAN an exit is reduce-only *for its strategy*: it closes (part of) the position of the
strategy that owns it (see the module docstring of
:mod:`hean_framework.execution.sim_venue`).  Bybit's ``reduceOnly`` flag is about the
**account's** net position: with one strategy long 1 BTC and another short 0.5 BTC the account
is long 0.5, and the exchange refuses (110017) a reduce-only buy of the short's exit, and would
cut the long's reduce-only sell of 1 to 0.5.  So, when the create request is sent
(:func:`plan`):

1. **The owner's position** is the smaller of the strategy's booked quantity and its
   *projected* one: booked plus its market orders the exchange has accepted but whose
   executions have not arrived yet (so an exit queued behind a reversal sees the reversal).
   No opposite position left: the exit is stale, it is **not sent** and ends ``rejected``
   with ``reduce_only_no_position`` (as in the simulator).  A smaller one: the order is
   **clipped** to it (lot-rounded, ``reduce_only_clipped``).
2. **The flag** is sent only where the account's net position -- every strategy's booked
   quantity, the positions reconciliation found unowned, and the same in-flight market
   orders -- covers the order on its side, both as booked and as projected.  Otherwise a
   **plain order of the same size** is sent: step 1 proved it cannot open a position for the
   strategy, it only moves the account towards the other strategies' positions.
3. A flagged create the exchange still refuses with 110017 (the account moved between the
   plan and the exchange) is planned again and, when the owner still holds the position,
   **re-sent plain once** with the same client order id (the refused create made no order).
4. A flagged resting order the exchange cancels because the account position shrank
   (``cancelType: CancelByReduceOnly``, Bybit's rule for reduce-only orders) while its owner
   still holds the position is **re-placed plain** under the next client order id of its
   decision (:func:`replace_plain`; not when it had partly filled -- its fills stay with it
   and the kernel's exit logic sees the cancel).

Counters in the venue's stats: ``reduce_only_flagged``, ``reduce_only_plain``,
``reduce_only_stale``, ``reduce_only_clipped``, ``reduce_only_refused``,
``reduce_only_replaced``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models import Order
    from .venue import BybitVenue

EPS = 1e-9


def in_flight(venue: BybitVenue, symbol: str, strategy: str | None = None,
              skip: int = 0) -> float:
    """Signed remaining quantity of the market orders sent to the exchange and not done
    (``strategy``: only that strategy's; ``skip``: leave that order id out)."""
    total = 0.0
    for oid in venue._sent:
        o = venue.orders.get(oid)
        if o is None or oid == skip or o.is_done or o.order_type != "market" \
                or o.symbol != symbol or (strategy is not None and o.strategy_id != strategy):
            continue
        left = o.qty - o.filled
        total += left if o.side == "buy" else -left
    return total


def owner_room(venue: BybitVenue, order: Order) -> float:
    """How much of its owner's opposite position ``order`` may close (projected, >= 0)."""
    pf = venue.ctx.portfolio
    booked = pf.position_qty(order.strategy_id, order.symbol)
    projected = booked + in_flight(venue, order.symbol, order.strategy_id, order.order_id)
    # the smaller of the booked and the projected opposite position
    rooms = [q if order.side == "sell" else -q for q in (booked, projected)]
    return max(0.0, min(rooms))


def account_covers(venue: BybitVenue, order: Order, qty: float) -> bool:
    """Whether the account's net position covers ``qty`` on the order's side, as booked
    and as projected (see the module docstring)."""
    sym = order.symbol
    booked = venue.ctx.portfolio.net_qty(sym) + venue.unowned.get(sym, 0.0)
    projected = booked + in_flight(venue, sym, None, order.order_id)
    for net in (booked, projected):
        cover = net if order.side == "sell" else -net
        if cover < qty - EPS:
            return False
    return True


def plan(venue: BybitVenue, order: Order, plain: bool = False) -> bool | None:
    """Before a reduce-only create is sent: None when it must not be sent (finished here,
    stale), else whether to send the exchange's reduceOnly flag (the order may be clipped;
    ``plain``: never the flag)."""
    room = owner_room(venue, order)
    inst = venue.ctx.instruments.get(order.symbol)
    room = inst.round_qty(room) if room > 0 else 0.0
    if room <= EPS:
        venue.counts["reduce_only_stale"] += 1
        venue._finish(order, "rejected", f"reduce_only_no_position: {order.strategy_id} has "
                      f"no {'long' if order.side == 'sell' else 'short'} position in "
                      f"{order.symbol} to reduce")
        return None
    if order.qty > room + EPS:
        venue.counts["reduce_only_clipped"] += 1
        order.reason = f"reduce_only_clipped: {order.qty:g} -> {room:g}"
        order.qty = room
    flag = not plain and account_covers(venue, order, order.qty)
    venue.counts["reduce_only_flagged" if flag else "reduce_only_plain"] += 1
    return flag


def replace_plain(venue: BybitVenue, order: Order) -> bool:
    """The exchange cancelled a flagged reduce-only order for the account's sake: when its
    owner still holds the position, send the rest again as a plain order under the next
    client order id of its decision; returns whether it did."""
    room = owner_room(venue, order)
    if order.filled > EPS or room <= EPS or not venue.accepting or venue.ledger is None:
        return False  # a partly filled order is not re-placed (its fills belong to it)
    from .ledger import client_id

    venue.counts["reduce_only_replaced"] += 1
    old = order.client_id
    n = venue._per_decision[order.decision_id] = venue._per_decision[order.decision_id] + 1
    order.client_id = client_id(venue.prefix, venue.session,
                                order.decision_id or order.order_id + 10**9, n)
    venue.ledger.write({"op": "done", "cid": old, "status": "cancelled"})
    venue.ledger.write({"op": "intent", "cid": order.client_id, "order_id": order.order_id,
                        "strategy": order.strategy_id, "symbol": order.symbol,
                        "side": order.side, "qty": order.qty, "type": order.order_type,
                        "price": order.price, "reduce_only": True, "post_only": order.post_only,
                        "decision_id": order.decision_id, "signal_id": order.signal_id,
                        "tag": order.tag, "ts": order.ts, "replaces": old})
    venue.by_xid.pop(order.exchange_id, None)  # late news of the old order is foreign now
    venue.by_cid.pop(old, None)
    order.exchange_id = ""
    venue.by_cid[order.client_id] = order
    venue._sent.discard(order.order_id)
    journal = venue.ctx.journal
    if journal is not None:
        journal.event(venue.ctx.now, "reduce_only_replaced", {
            "order_id": order.order_id, "old_client_id": old, "client_id": order.client_id,
            "symbol": order.symbol, "strategy": order.strategy_id, "qty": order.qty})
    venue._send("create", order, plain=True)
    return True
