"""Reconciliation: the exchange is the truth, on start and after every reconnect.

The rule, applied in this order (each finding is journaled as a ``reconcile`` event and the
summary is returned):

1. **Orders the run knows** (in memory, or -- on start -- open in the ledger of an earlier
   session) are read from the exchange by client id.  Open there: kept (on start: *adopted*,
   re-created in the engine under a new order id with the ledger's strategy).  Done there:
   their missing executions are fetched and booked, then they are closed as the exchange
   says.  Unknown to the exchange: rejected ``NOT_ON_EXCHANGE`` -- **never re-sent**.
2. **Open orders on the exchange the run does not know**: with this run's client id prefix
   (an order whose intent record was lost) they are cancelled -- nothing may trade that the
   run cannot attribute; any other order (placed by hand, another program) is **left alone
   and reported** (``foreign_orders``).
3. **Positions**: on start, the ledger's fills say which strategy owns how much of each
   symbol; that much of the exchange's position (never more, same sign only) is adopted into
   the portfolio at the exchange's entry price with no fee.  What remains -- and, after a
   reconnect, any difference between the exchange and the portfolio once missed fills were
   booked -- is a position the strategies do not own: **left alone and reported**
   (``unowned_positions``).
4. **Balance**: the exchange's USDT equity is recorded beside the portfolio's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ccxt

from ..models import Fill, Order
from .venue import exchange_code

if TYPE_CHECKING:
    from .ledger import Ledger
    from .venue import BybitVenue


async def reconcile(venue: BybitVenue, symbols: list[str], ledger: Ledger, *,
                    on_start: bool) -> dict[str, Any]:
    """Apply the rule of the module docstring; returns the summary."""
    ctx = venue.ctx
    ex = venue.ex
    assert ex is not None
    summary: dict[str, Any] = {"when": "start" if on_start else "reconnect", "adopted_orders": 0,
                               "closed_orders": 0, "lost_orders": 0, "cancelled_orders": 0,
                               "foreign_orders": [], "adopted_positions": [],
                               "unowned_positions": []}
    # 1. orders the run knows
    if on_start:
        for lo in ledger.open_orders():
            it = lo.intent
            if it.get("symbol") not in symbols:
                continue
            oid = ctx.next_id()
            order = Order(oid, str(it.get("strategy", "")), str(it["symbol"]), str(it["side"]),
                          float(it["qty"]), str(it.get("type", "market")), it.get("price"),
                          bool(it.get("post_only")), bool(it.get("reduce_only")), ctx.now,
                          "new", 0.0, 0.0, 0.0, int(it.get("signal_id", 0)), 0, 0, lo.cid,
                          lo.xid, "", str(it.get("tag", "")))
            order.expected_price = float(it.get("price") or 0.0)
            for f in lo.fills.values():  # fills an earlier session booked already
                venue.seen_exec.add(str(f.get("exec_id", "")))
                q = float(f.get("qty", 0.0))
                order.avg_price = ((order.avg_price * order.filled + float(f["price"]) * q)
                                   / (order.filled + q))
                order.filled += q
                order.fee += float(f.get("fee", 0.0))
            venue._track(order)
            venue._sent.add(oid)
            if order.filled:
                order.status = "partially_filled"
            await venue.check(order)
            if order.is_done:
                summary["closed_orders"] += 1
            elif order.exchange_id:
                if order.status == "new":
                    order.status = "open"
                summary["adopted_orders"] += 1
                ctx.sink.on_order_update(order)
            else:
                venue.reject(order, "NOT_ON_EXCHANGE", "the earlier session's order never "
                             "reached the exchange; not re-sent")
                summary["lost_orders"] += 1
    else:
        for order in venue.open_orders():
            await venue.check(order)
            if order.is_done:
                summary["closed_orders"] += 1
    # 2. open orders on the exchange the run does not know
    for sym in symbols:
        try:
            rows = await venue.call("reconcile open orders", ex.fetch_open_orders, sym)
        except ccxt.BaseError as exc:
            summary.setdefault("errors", []).append(f"open orders {sym}: {exchange_code(exc)}")
            continue
        for r in rows:
            cid = str(r.get("clientOrderId") or "")
            if cid in venue.by_cid:
                continue
            if cid.startswith(venue.prefix + "-"):
                try:
                    await venue.call("cancel unattributed", ex.cancel_order, r["id"], sym)
                    summary["cancelled_orders"] += 1
                except ccxt.BaseError as exc:
                    summary.setdefault("errors", []).append(f"cancel {cid}: {exc}")
            else:
                summary["foreign_orders"].append({"symbol": sym, "id": r.get("id"),
                                                  "client_id": cid, "side": r.get("side"),
                                                  "amount": r.get("amount"),
                                                  "price": r.get("price")})
    # 3. positions
    try:
        positions = await venue.call("reconcile positions", ex.fetch_positions, symbols)
    except ccxt.BaseError as exc:
        positions = []
        summary.setdefault("errors", []).append(f"positions: {exchange_code(exc)}")
    owned = ledger.positions() if on_start else {}
    pf = ctx.portfolio
    for p in positions:
        sym = p.get("symbol")
        size = float(p.get("contracts") or 0.0) * (1 if p.get("side") == "long" else -1)
        if sym not in symbols or abs(size) < 1e-12:
            continue
        entry = float(p.get("entryPrice") or 0.0)
        left = size
        for (strategy, s), q in sorted(owned.items()):
            if s != sym or q * left <= 0 or strategy not in ctx.run.strategies:
                continue
            take = min(abs(q), abs(left)) * (1 if left > 0 else -1)
            pf.apply_fill(Fill(ctx.next_id(), 0, strategy, sym, "buy" if take > 0 else "sell",
                               abs(take), entry, 0.0, False, ctx.now, 0, entry, "adopted"))
            summary["adopted_positions"].append({"strategy": strategy, "symbol": sym,
                                                 "qty": take, "price": entry})
            left -= take
        if not on_start:
            mine = sum(x.qty for x in pf.positions() if x.symbol == sym)
            left = size - mine
        if abs(left) > 1e-12:
            summary["unowned_positions"].append({"symbol": sym, "qty": left, "entry": entry})
    # the reduce-only mapping counts them in the account's net position
    venue.unowned = {u["symbol"]: u["qty"] for u in summary["unowned_positions"]}
    # 4. balance
    try:
        bal = await venue.call("reconcile balance", ex.fetch_balance)
        usdt = bal.get("USDT") or {}
        summary["exchange_equity"] = usdt.get("total")
        summary["exchange_free"] = usdt.get("free")
    except ccxt.BaseError as exc:
        summary.setdefault("errors", []).append(f"balance: {exchange_code(exc)}")
    summary["portfolio_equity"] = pf.equity()
    if ctx.journal is not None:
        ctx.journal.event(ctx.now, "reconcile", summary)
    for what in ("foreign_orders", "unowned_positions"):
        if summary[what]:
            ctx.log.warning("reconcile: %s left alone: %s", what, summary[what])
    return summary
