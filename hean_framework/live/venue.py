"""``venue.name: bybit`` -- orders of a live run on Bybit v5 through ccxt.

The engine calls the venue synchronously; the exchange answers asynchronously.  So:

* :meth:`BybitVenue.submit` gives the order its **client order id** (derived from the run,
  the session and the decision, :func:`~hean_framework.live.ledger.client_id`), writes the
  intent to the ledger (fsync-ed) and queues the request; the order stays ``new`` until the
  exchange answers.  :meth:`cancel` and :meth:`amend` queue their requests the same way.
* A worker sends the requests in order through ccxt.  Timeouts, HTTP 5xx, retCode 10016 and
  rate limits (10006) are retried with exponential backoff (``exchange.retries``;
  ``exchange.backoff_ms`` doubling per retry, 5x that after a rate limit, at most 50x)
  **with the same client order id**, so a create that did reach the
  exchange is refused as a duplicate (110072) rather than placed twice; the venue then looks
  the order up by its client id.  Any other refusal rejects the order with the exchange's
  code: the order's reason is ``EXCHANGE_<code>: <message>`` and its decision is re-journaled
  as ``BLOCK`` at stage ``exchange`` with reason code ``EXCHANGE_<code>``.
* **Updates** come from the private stream (raw ``order`` and ``execution`` messages, see
  :class:`~hean_framework.live.client.HeanBybit`).  Executions are booked once each (by
  ``execId``: duplicates are counted and ignored), with the exchange's own fee (``execFee``);
  partial fills accumulate on the order (``filled``, ``avg_price``, ``fee``) and the order is
  ``filled`` when the executions reach its quantity, whatever order the messages came in.
* **REST fallback**: an order the stream has not confirmed for ``exchange.poll_ms`` is read
  over REST (``/v5/order/realtime`` by client id) and its missing executions fetched
  (``/v5/execution/list``); an order the exchange never heard of is rejected
  ``NOT_ON_EXCHANGE`` after three looks (never re-sent: its decision is stale by then).

**Reduce-only** is per strategy in HEAN and per account on the exchange: the mapping (when
the exchange's flag is sent, when a plain order is, stale exits, 110017 refusals, orders the
exchange cancels for the account's sake) is in :mod:`hean_framework.live.reduce_only`.

Counters (:meth:`stats`): requests, retries, rate_limited, duplicates_refused, rejected,
dup_exec, rest_fills, rest_checks, lost, reduce_only_* (see that module).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..components import Venue
from ..models import BLOCK, Fill, Order, OrderDecision
from . import reduce_only
from .config import LiveVenueConfig
from .ledger import Ledger, client_id

if TYPE_CHECKING:
    from .client import HeanBybit
    from .config import ExchangeSection

EPS = 1e-9
STATUS = {"New": "open", "PartiallyFilled": "partially_filled", "Untriggered": "open",
          "Filled": "filled", "Cancelled": "cancelled", "PartiallyFilledCanceled": "cancelled",
          "Rejected": "rejected", "Deactivated": "cancelled"}


def _ccxt() -> Any:
    """ccxt, imported when a live run needs it (not when the plugin is registered)."""
    import ccxt

    return ccxt


def exchange_code(exc: BaseException) -> tuple[str, str]:
    """(retCode, retMsg) from a ccxt error whose message carries Bybit's JSON body."""
    text = str(exc)
    start = text.find("{")
    if start >= 0:
        with contextlib.suppress(ValueError):
            body = json.loads(text[start:])
            return str(body.get("retCode", "")), str(body.get("retMsg", ""))
    return type(exc).__name__, text[:200]


def wall_ms() -> int:
    """Wall-clock milliseconds."""
    return time.time_ns() // 1_000_000


class BybitVenue(Venue):
    """Live orders on Bybit (see the module docstring)."""

    live = True
    can_amend = True
    idle = True  # nothing to match locally: the engine never calls on_market
    config_model = LiveVenueConfig

    def __init__(self, config: LiveVenueConfig, ctx: Any, name: str = "") -> None:
        super().__init__(config, ctx, name)
        self.ex: HeanBybit | None = None
        self.section: ExchangeSection | None = None
        self.ledger: Ledger | None = None
        self.prefix = ""
        self.session = 0
        self.accepting = True
        self.orders: dict[int, Order] = {}
        self.by_cid: dict[str, Order] = {}
        self.by_xid: dict[str, Order] = {}
        self.seen_exec: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.decisions: OrderedDict[int, OrderDecision] = OrderedDict()
        self._per_decision: Counter[int] = Counter()
        self._confirmed: dict[int, int] = {}  # order id -> wall ms of the last word on it
        self._looks: Counter[int] = Counter()
        self._sent: set[int] = set()  # orders whose create request was made
        self._queue: asyncio.Queue[tuple[str, Order, dict[str, Any]]] | None = None
        #: signed positions reconciliation found that no strategy owns, per symbol
        self.unowned: dict[str, float] = {}
        self._cancelling: set[int] = set()  # orders the run asked to cancel
        self._busy = 0

    # ------------------------------------------------------------------ wiring

    def attach(self, ex: HeanBybit, section: ExchangeSection, ledger: Ledger,
               prefix: str, session: int) -> None:
        """Give the venue its client, settings and ledger (before the run starts)."""
        self.ex, self.section, self.ledger = ex, section, ledger
        self.prefix, self.session = prefix, session
        self._queue = asyncio.Queue()
        ex.on_orders = self._on_orders
        ex.on_executions = self._on_executions

    def on_decision(self, d: OrderDecision) -> None:
        """Keep the recent CREATE decisions (to re-journal one the exchange refuses)."""
        if d.decision == "CREATE":
            self.decisions[d.decision_id] = d
            if len(self.decisions) > 4096:
                self.decisions.popitem(last=False)

    def stats(self) -> dict[str, Any]:
        """The venue's counters."""
        return dict(self.counts)

    # ------------------------------------------------------------------ Venue API

    def submit(self, order: Order) -> Order:
        """Queue a create (see the module docstring)."""
        if not self.accepting or self.ledger is None:
            order.status, order.reason = "rejected", "STOPPING: the run is stopping"
            order.done_ts = self.ctx.now
            self.ctx.sink.on_order_update(order)
            return order
        qty = self.ctx.instruments.get(order.symbol).round_qty(order.qty)
        if qty <= 0.0:
            order.status, order.reason = "rejected", f"QTY_BELOW_LOT: {order.qty!r}"
            order.done_ts = self.ctx.now
            self.ctx.sink.on_order_update(order)
            return order
        order.qty = qty  # the exchange's lot grid (exits size to float position sums)
        n = self._per_decision[order.decision_id] = self._per_decision[order.decision_id] + 1
        cid = client_id(self.prefix, self.session,
                        order.decision_id or order.order_id + 10**9, n)
        order.client_id = cid
        self.ledger.write({"op": "intent", "cid": cid, "order_id": order.order_id,
                           "strategy": order.strategy_id, "symbol": order.symbol,
                           "side": order.side, "qty": order.qty, "type": order.order_type,
                           "price": order.price, "reduce_only": order.reduce_only,
                           "post_only": order.post_only, "decision_id": order.decision_id,
                           "signal_id": order.signal_id, "tag": order.tag, "ts": order.ts})
        self._track(order)
        self._send("create", order)
        return order

    def cancel(self, order_id: int, reason: str = "") -> Order | None:
        """Queue a cancel; the order changes when the exchange confirms."""
        order = self.orders.get(order_id)
        if order is None or order.is_done:
            return None
        self._cancelling.add(order_id)
        self._send("cancel", order, reason=reason)
        return order

    def amend(self, order_id: int, *, qty: float | None = None,
              price: float | None = None) -> Order | None:
        """Queue an amend (in place on the exchange: same ids)."""
        order = self.orders.get(order_id)
        if order is None or order.is_done:
            return None
        self._send("amend", order, qty=qty, price=price)
        return order

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Orders that can still fill."""
        return [o for o in self.orders.values()
                if not o.is_done and (symbol is None or o.symbol == symbol)]

    # ------------------------------------------------------------------ bookkeeping

    def _track(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.by_cid[order.client_id] = order
        if order.exchange_id:
            self.by_xid[order.exchange_id] = order
        self._confirmed[order.order_id] = wall_ms()

    def _send(self, op: str, order: Order, **kw: Any) -> None:
        assert self._queue is not None
        self._queue.put_nowait((op, order, kw))

    def pending(self) -> int:
        """Requests queued or in flight."""
        return (self._queue.qsize() if self._queue is not None else 0) + self._busy

    def _finish(self, order: Order, status: str, reason: str = "") -> None:
        if order.is_done:
            return
        order.status = status
        if reason:
            order.reason = reason
        order.done_ts = max(self.ctx.now, order.ts)
        self._close(order)

    def _close(self, order: Order) -> None:
        """A done order leaves the venue's tables, the ledger and the engine hear of it."""
        status = order.status
        self.orders.pop(order.order_id, None)
        self._confirmed.pop(order.order_id, None)
        self._sent.discard(order.order_id)
        self._cancelling.discard(order.order_id)
        if self.ledger is not None:
            self.ledger.write({"op": "done", "cid": order.client_id, "status": status})
        self.ctx.sink.on_order_update(order)

    def reject(self, order: Order, code: str, msg: str) -> None:
        """The exchange refused the order: reject it and re-journal its decision."""
        self.counts["rejected"] += 1
        self._finish(order, "rejected", f"EXCHANGE_{code}: {msg}"[:300])
        journal = self.ctx.journal
        d = self.decisions.pop(order.decision_id, None)
        if journal is not None:
            journal.event(self.ctx.now, "exchange_reject", {
                "order_id": order.order_id, "client_id": order.client_id, "code": code,
                "message": msg[:300], "symbol": order.symbol, "strategy": order.strategy_id})
            if d is not None:
                journal.decision(replace(d, decision=BLOCK, stage="exchange",
                                         reason_codes=[f"EXCHANGE_{code}"],
                                         message=f"the exchange refused the order: {msg}"[:300],
                                         details={**d.details, "exchange_code": code}))

    # ------------------------------------------------------------------ requests

    async def worker(self) -> None:
        """Send queued requests, one at a time, until cancelled."""
        assert self._queue is not None
        while True:
            op, order, kw = await self._queue.get()
            self._busy = 1
            try:
                if op == "create":
                    await self._create(order, bool(kw.get("plain")))
                elif op == "cancel":
                    await self._cancel(order)
                else:
                    await self._amend(order, kw.get("qty"), kw.get("price"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one request kill the worker
                self.counts["worker_errors"] += 1
                self.ctx.log.error("venue %s %s: %s: %s", op, order.client_id,
                                   type(exc).__name__, exc)
            finally:
                self._busy = 0

    def fault(self, what: str, exc: BaseException, attempt: int) -> None:
        """Journal a failed exchange request (``exchange_fault``)."""
        journal = self.ctx.journal
        if journal is not None:
            code, msg = exchange_code(exc)
            journal.event(self.ctx.now, "exchange_fault", {
                "request": what, "error": type(exc).__name__, "code": code,
                "message": msg[:200], "attempt": attempt + 1})

    async def call(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        """``await fn(*args, **kw)`` with retries and backoff on retriable errors."""
        ccxt = _ccxt()
        assert self.section is not None
        delay = self.section.backoff_ms / 1000.0
        cap = 50 * delay
        for attempt in range(self.section.retries + 1):
            self.counts["requests"] += 1
            try:
                return await fn(*args, **kw)
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:  # 10006: back off more
                self.counts["rate_limited"] += 1
                last: Exception = exc
                wait = 5 * delay * 2 ** attempt
            except ccxt.NetworkError as exc:  # timeouts, HTTP 5xx
                last = exc
                wait = delay * 2 ** attempt
            except ccxt.ExchangeError as exc:
                if exchange_code(exc)[0] != "10016":
                    raise
                last = exc
                wait = delay * 2 ** attempt
            wait = min(wait, cap)
            self.fault(what, last, attempt)
            if attempt == self.section.retries:
                raise last
            self.counts["retries"] += 1
            self.ctx.log.warning("%s: %s (retry %d in %.2fs)", what, exchange_code(last),
                                 attempt + 1, wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _create(self, order: Order, plain: bool = False) -> None:
        ccxt = _ccxt()
        assert self.ex is not None
        if order.is_done:
            return
        params: dict[str, Any] = {"clientOrderId": order.client_id, "positionIdx": 0}
        if order.reduce_only:  # per strategy in HEAN, per account on the exchange
            flag = reduce_only.plan(self, order, plain)
            if flag is None:
                return
            if flag:
                params["reduceOnly"] = True
        if order.post_only:
            params["timeInForce"] = "PostOnly"
        otype = "limit" if order.order_type == "limit" else "market"
        price = order.price if otype == "limit" else None
        if order.order_type == "stop_market":  # a conditional market order on the exchange
            params["triggerPrice"] = order.price
            params["triggerDirection"] = "below" if order.side == "sell" else "above"
        before = self.counts["retries"]
        self._sent.add(order.order_id)
        try:
            try:
                res = await self.call(f"create {order.client_id}", self.ex.create_order,
                                      order.symbol, otype, order.side, order.qty, price, params)
            except ccxt.BaseError as exc:
                if exchange_code(exc)[0] != "110017" or not params.pop("reduceOnly", False):
                    raise
                # the account moved between the plan and the exchange: plan again, plain
                self.counts["reduce_only_refused"] += 1
                self._sent.discard(order.order_id)
                if reduce_only.plan(self, order, plain=True) is None:
                    return
                self._sent.add(order.order_id)
                res = await self.call(f"create {order.client_id}", self.ex.create_order,
                                      order.symbol, otype, order.side, order.qty, price, params)
        except ccxt.BaseError as exc:
            code, msg = exchange_code(exc)
            if code == "110072":  # an earlier attempt did reach the exchange
                self.counts["duplicates_refused"] += 1
                await self.check(order)
                return
            if isinstance(exc, ccxt.NetworkError) or code == "10016" or \
                    self.counts["retries"] > before:
                # the outcome is unknown, or an earlier attempt may have been placed: ask the
                # exchange by client id before concluding anything
                self.counts["create_unknown"] += 1
                await self.check(order)
                if order.exchange_id or order.is_done:
                    return
                if isinstance(exc, ccxt.NetworkError) or code == "10016":
                    return  # the poller looks again (NOT_ON_EXCHANGE after three looks)
            self.reject(order, code, msg)
            return
        self._acked(order, str(res.get("id") or ""))

    def _acked(self, order: Order, xid: str) -> None:
        if not xid or order.exchange_id == xid:
            return
        order.exchange_id = xid
        self.by_xid[xid] = order
        if self.ledger is not None:
            self.ledger.write({"op": "ack", "cid": order.client_id, "xid": xid})
        if order.status == "new":
            order.status = "open"
            self._confirmed[order.order_id] = wall_ms()
            self.ctx.sink.on_order_update(order)

    async def _cancel(self, order: Order) -> None:
        ccxt = _ccxt()
        assert self.ex is not None
        if order.is_done:
            return
        try:
            await self.call(f"cancel {order.client_id}", self.ex.cancel_order,
                            order.exchange_id or "", order.symbol,
                            {} if order.exchange_id else {"orderLinkId": order.client_id})
        except ccxt.OrderNotFound:
            pass  # already done or never placed: the check says which
        except ccxt.BaseError as exc:
            self.counts["cancel_failed"] += 1
            self.ctx.log.warning("cancel %s: %s", order.client_id, exchange_code(exc))
        await self.check(order)

    async def _amend(self, order: Order, qty: float | None, price: float | None) -> None:
        ccxt = _ccxt()
        assert self.ex is not None
        if order.is_done:
            return
        try:
            stop = order.order_type == "stop_market"
            await self.call(f"amend {order.client_id}", self.ex.edit_order,
                            order.exchange_id, order.symbol,
                            "limit" if order.order_type == "limit" else "market",
                            order.side, qty if qty is not None else order.qty,
                            None if stop else (price if price is not None else order.price),
                            {"triggerPrice": price} if stop and price is not None else {})
        except ccxt.BaseError as exc:
            self.counts["amend_failed"] += 1
            self.ctx.log.warning("amend %s: %s", order.client_id, exchange_code(exc))
            return
        if qty is not None:
            order.qty = qty
        if price is not None:
            order.price = price
        self.ctx.sink.on_order_update(order)

    # ------------------------------------------------------------------ updates

    def _on_orders(self, msg: dict[str, Any]) -> None:
        for row in msg.get("data") or ():
            order = self.by_cid.get(str(row.get("orderLinkId") or "")) or \
                self.by_xid.get(str(row.get("orderId") or ""))
            if order is None:
                self.counts["foreign_order_updates"] += 1
                continue
            self.apply_order(order, row)

    def apply_order(self, order: Order, row: dict[str, Any]) -> None:
        """Apply an exchange order record (stream or REST) to ``order``."""
        self._confirmed[order.order_id] = wall_ms()
        self._looks.pop(order.order_id, None)
        self._acked(order, str(row.get("orderId") or ""))
        status = STATUS.get(str(row.get("orderStatus")), "")
        cum = float(row.get("cumExecQty") or 0.0)
        if row.get("qty"):
            order.qty = float(row["qty"])  # the exchange's quantity is the truth
        if cum > order.filled + EPS:
            return  # executions still to come (stream, or the REST check fetches them)
        if status in ("cancelled", "rejected"):
            reason = str(row.get("rejectReason") or "")
            if status == "rejected" or (reason == "EC_PostOnlyWillTakeLiquidity" and \
                    not self.config.post_only_reject_is_skip):
                self.reject(order, reason or "Rejected", f"order {row.get('orderStatus')}")
            elif row.get("cancelType") == "CancelByReduceOnly" and order.reduce_only and \
                    order.order_id not in self._cancelling and \
                    reduce_only.replace_plain(self, order):
                return  # the account, not the owner, lost the position: re-placed plain
            else:
                self._finish(order, "cancelled", reason if reason != "EC_NoError" else "")
        elif status == "partially_filled" and order.status == "open":
            order.status = status

    def _on_executions(self, msg: dict[str, Any]) -> None:
        for row in msg.get("data") or ():
            self.apply_execution(row)

    def apply_execution(self, row: dict[str, Any]) -> bool:
        """Book one exchange execution (stream or REST) once; True when it was new."""
        if str(row.get("execType", "Trade")) != "Trade":
            return False
        eid = str(row.get("execId") or "")
        if not eid or eid in self.seen_exec:
            self.counts["dup_exec"] += 1
            return False
        order = self.by_cid.get(str(row.get("orderLinkId") or "")) or \
            self.by_xid.get(str(row.get("orderId") or ""))
        if order is None:
            self.counts["foreign_executions"] += 1
            return False
        try:
            qty = float(row["execQty"])
            px = float(row["execPrice"])
            fee = float(row.get("execFee") or 0.0)
            ts = int(row.get("execTime") or wall_ms())
        except (KeyError, TypeError, ValueError):
            self.counts["malformed_executions"] += 1
            return False
        self.seen_exec.add(eid)
        self._acked(order, str(row.get("orderId") or ""))
        self._confirmed[order.order_id] = wall_ms()
        total = order.filled + qty
        order.avg_price = (order.avg_price * order.filled + px * qty) / total
        order.filled = total
        order.fee += fee
        done = total >= order.qty - EPS
        order.status = "filled" if done else "partially_filled"
        if done:
            order.done_ts = max(self.ctx.now, ts)
        fill = Fill(self.ctx.next_id(), order.order_id, order.strategy_id, order.symbol,
                    order.side, qty, px, fee, bool(row.get("isMaker")), max(self.ctx.now, ts),
                    order.signal_id, order.expected_price, "exchange")
        if self.ledger is not None:
            self.ledger.write({"op": "fill", "cid": order.client_id, "exec_id": eid,
                               "qty": qty, "price": px, "fee": fee, "side": order.side})
        self.ctx.sink.on_fill(fill, order)
        if done:
            self._close(order)
        return True

    # ------------------------------------------------------------------ REST checks

    async def check(self, order: Order) -> None:
        """Read ``order`` over REST by its client id; fetch missing executions."""
        ccxt = _ccxt()
        assert self.ex is not None and self.section is not None
        self.counts["rest_checks"] += 1
        try:
            rows = await self.call(f"check {order.client_id}", self.ex.fetch_open_orders,
                                   order.symbol, None, None, {"orderLinkId": order.client_id})
        except ccxt.BaseError as exc:
            self.ctx.log.warning("check %s: %s", order.client_id, exchange_code(exc))
            return
        if not rows:
            self._looks[order.order_id] += 1
            if self._looks[order.order_id] >= 3 and not order.exchange_id:
                self.counts["lost"] += 1
                self.reject(order, "NOT_ON_EXCHANGE", "the exchange has no order with client "
                            f"id {order.client_id}: it was never placed")
            return
        raw = rows[0].get("info") or {}
        self._acked(order, str(raw.get("orderId") or ""))
        if float(raw.get("cumExecQty") or 0.0) > order.filled + EPS:
            trades = await self.call(f"executions {order.client_id}", self.ex.fetch_my_trades,
                                     order.symbol, None, 100, {"orderId": order.exchange_id})
            for t in sorted(trades, key=lambda t: t.get("timestamp") or 0):
                if self.apply_execution(t.get("info") or {}):
                    self.counts["rest_fills"] += 1
        if not order.is_done:
            self.apply_order(order, raw)

    async def poller(self) -> None:
        """Check, over REST, orders the stream has been silent about (until cancelled)."""
        assert self.section is not None
        period = self.section.poll_ms / 1000.0
        while True:
            await asyncio.sleep(period / 2)
            cutoff = wall_ms() - self.section.poll_ms
            for oid, seen in list(self._confirmed.items()):
                order = self.orders.get(oid)
                if order is not None and seen <= cutoff and not order.is_done \
                        and oid in self._sent:
                    await self.check(order)
                    self._confirmed[oid] = wall_ms()

    async def cancel_all(self, timeout_s: float = 10.0) -> int:
        """Cancel every open order of the run and wait (bounded) until the exchange
        confirmed each; returns how many were asked."""
        live = self.open_orders()
        for o in live:
            self._cancelling.add(o.order_id)
            self._send("cancel", o)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while any(not o.is_done for o in live) or self.pending():
                    await asyncio.sleep(0.02)
        return len(live)
