"""The state of the fake Bybit v5 exchange: instruments, books, orders, positions, wallet.

Everything here is synchronous and single-threaded (the server calls it from its event loop).

* **Instruments** are the raw ``instruments-info`` records of ccxt's own Bybit fixture
  (``data/bybit_instruments.json``), served per category exactly as Bybit does.
* **Books** are kept per symbol from the market script (real L2 updates) and published as
  ``orderbook.50`` snapshot/delta messages with an increasing update id ``u``.
* **Orders** (one-way mode, ``positionIdx`` 0) follow Bybit's life cycle: ``New`` ->
  ``PartiallyFilled`` -> ``Filled``, or ``Cancelled`` / ``Rejected``.  A market order (or the
  crossing part of a limit order) takes liquidity from the book level by level (taker fee); a
  resting limit order fills, partly when the print is smaller, when a public trade prints
  through its price (maker fee).  ``PostOnly`` orders that would cross are cancelled
  (``EC_PostOnlyWillTakeLiquidity``).  A duplicate ``orderLinkId`` is refused (110072).
* **Every execution** updates the order (``cumExecQty``, ``cumExecValue``, ``cumExecFee``,
  ``cumFeeDetail``, ``avgPrice``), the position (average price, realised PnL) and the USDT
  wallet (realised PnL minus fees), and is queued as private ``order`` / ``execution`` /
  ``position`` / ``wallet`` messages for the private WebSocket.

Errors are raised as :class:`BybitError` carrying Bybit's ``retCode`` and ``retMsg``.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

CATEGORIES = ("spot", "linear", "inverse", "option")


class BybitError(Exception):
    """A request the exchange refuses: HTTP 200 with this ``retCode`` / ``retMsg``."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


def fmt(x: float) -> str:
    """A number as Bybit writes it (a decimal string, no exponent)."""
    s = f"{x:.10f}".rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


def now_ms() -> int:
    """Wall-clock milliseconds."""
    return time.time_ns() // 1_000_000


def load_instruments() -> dict[str, list[dict[str, Any]]]:
    """The fixture's raw instrument records by category."""
    ref = resources.files("hean_framework.testing.fake_bybit").joinpath(
        "data", "bybit_instruments.json")
    doc = json.loads(ref.read_text(encoding="utf-8"))
    return {c: list(doc["instruments"].get(c, [])) for c in CATEGORIES}


@dataclass
class Book:
    """One symbol's L2 book (price -> size) and its update counters."""

    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    u: int = 0
    seq: int = 0

    def best(self) -> tuple[float, float]:
        """(best bid, best ask); 0.0 for an empty side."""
        return (max(self.bids) if self.bids else 0.0, min(self.asks) if self.asks else 0.0)


@dataclass
class Position:
    """A one-way position: signed size, average entry, realised PnL."""

    size: float = 0.0
    avg: float = 0.0
    realised: float = 0.0
    updated: int = 0


class Exchange:
    """The fake exchange's books and accounts (see the module docstring)."""

    def __init__(self, balance: float = 10_000.0) -> None:
        self.instruments = load_instruments()
        self.by_symbol: dict[tuple[str, str], dict[str, Any]] = {
            (cat, r["symbol"]): r for cat, rows in self.instruments.items() for r in rows}
        self.books: dict[str, Book] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.by_link: dict[str, str] = {}
        self.executions: list[dict[str, Any]] = []
        self.positions: dict[str, Position] = {}
        self.wallet = balance
        self.last: dict[str, float] = {}
        self.funding_rate = 0.0001
        #: funding period (Bybit: 8 h); tests shorten it to see settlements
        self.funding_interval_ms = 28_800_000
        self.next_funding: dict[str, int] = {}
        #: every funding settlement: ts, symbol, rate, mark, position size, payment (paid > 0)
        self.fundings: list[dict[str, Any]] = []
        #: private messages waiting for the private WebSocket: (topic, data rows)
        self.outbox: list[tuple[str, list[dict[str, Any]]]] = []
        #: public messages waiting for the public WebSockets: (category, message)
        self.public: list[tuple[str, dict[str, Any]]] = []
        self.fee_rates = {"linear": (0.0002, 0.00055), "inverse": (0.0002, 0.00055),
                          "spot": (0.001, 0.001), "option": (0.0003, 0.0003)}
        self._exec_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        #: called with each private message list before it is queued (fault injection)
        self.on_private: Callable[[str, list[dict[str, Any]]], bool] | None = None

    # ------------------------------------------------------------------ reading

    def category(self, symbol: str, given: str = "") -> str:
        """Category of a Bybit symbol id: ``given`` when the symbol is listed there, else the
        first of linear, inverse, spot that lists it (the market script trades linear)."""
        for cat in ((given,) if given else ("linear", "inverse", "spot", "option")):
            if (cat, symbol) in self.by_symbol:
                return cat
        raise BybitError(10001, f"params error: symbol invalid {symbol}")

    def step(self, symbol: str, cat: str = "") -> tuple[float, float, float]:
        """(tick size, qty step, min qty) of a symbol."""
        info = self.by_symbol[self.category(symbol, cat), symbol]
        lot = info.get("lotSizeFilter", {})
        step = float(lot.get("qtyStep") or lot.get("basePrecision") or 1e-8)
        return (float(info.get("priceFilter", {}).get("tickSize", 1e-8)), step,
                float(lot.get("minOrderQty") or step))

    def mark(self, symbol: str) -> float:
        """The mark price: the book's mid (the last trade while a side is empty)."""
        bid, ask = self.book(symbol).best()
        return (bid + ask) / 2.0 if bid and ask else self.last.get(symbol, 0.0)

    def funding_time(self, symbol: str) -> int:
        """The symbol's next funding settlement, ms (on the ``funding_interval_ms`` grid)."""
        nxt = self.next_funding.get(symbol)
        if nxt is None:
            step = self.funding_interval_ms
            nxt = self.next_funding[symbol] = (now_ms() // step + 1) * step
        return nxt

    def settle_funding(self, symbol: str) -> bool:
        """Settle the symbol's funding when its time has come: the position pays
        ``size x mark x rate`` (longs pay a positive rate) from the wallet; the next
        settlement moves one period on.  Returns whether it settled."""
        due = self.funding_time(symbol)
        ts = now_ms()
        if ts < due:
            return False
        step = self.funding_interval_ms
        self.next_funding[symbol] = (ts // step + 1) * step
        pos = self.positions.get(symbol)
        mark = float(fmt(self.mark(symbol)))  # the mark as the ticker publishes it
        size = pos.size if pos is not None else 0.0
        pay = size * mark * self.funding_rate
        self.wallet -= pay
        self.fundings.append({"ts": ts, "due": due, "symbol": symbol, "rate": self.funding_rate,
                              "mark": mark, "size": size, "payment": pay})
        if size:
            self._emit("wallet", [self.wallet_row()])
        return True

    def ticker(self, symbol: str) -> dict[str, Any]:
        """A v5 ``tickers`` record (REST and WebSocket share it)."""
        bid, ask = self.book(symbol).best()
        last = self.last.get(symbol) or (bid + ask) / 2.0
        b = self.book(symbol)
        return {"symbol": symbol, "lastPrice": fmt(last), "indexPrice": fmt(last),
                "markPrice": fmt(self.mark(symbol)),
                "prevPrice24h": fmt(last), "price24hPcnt": "0", "highPrice24h": fmt(last),
                "lowPrice24h": fmt(last), "prevPrice1h": fmt(last), "openInterest": "0",
                "openInterestValue": "0", "turnover24h": "0", "volume24h": "0",
                "fundingRate": fmt(self.funding_rate),
                "nextFundingTime": str(self.funding_time(symbol)),
                "predictedDeliveryPrice": "", "basisRate": "", "deliveryFeeRate": "",
                "deliveryTime": "0", "bid1Price": fmt(bid), "bid1Size": fmt(b.bids.get(bid, 0)),
                "ask1Price": fmt(ask), "ask1Size": fmt(b.asks.get(ask, 0)), "basis": ""}

    def book(self, symbol: str) -> Book:
        """The book of a symbol (created empty)."""
        b = self.books.get(symbol)
        if b is None:
            b = self.books[symbol] = Book()
        return b

    def depth(self, symbol: str, limit: int = 50) -> dict[str, Any]:
        """A v5 ``orderbook`` result."""
        b = self.book(symbol)
        bids = sorted(b.bids.items(), reverse=True)[:limit]
        asks = sorted(b.asks.items())[:limit]
        return {"s": symbol, "b": [[fmt(p), fmt(q)] for p, q in bids],
                "a": [[fmt(p), fmt(q)] for p, q in asks], "ts": now_ms(), "u": b.u,
                "seq": b.seq, "cts": now_ms()}

    def position_row(self, symbol: str) -> dict[str, Any]:
        """A v5 ``position`` record."""
        p = self.positions.get(symbol, Position())
        mark = self.last.get(symbol, p.avg)
        upl = p.size * (mark - p.avg) if p.size else 0.0
        return {"symbol": symbol, "positionIdx": 0, "side": ("Buy" if p.size > 0 else "Sell"
                                                              if p.size < 0 else ""),
                "size": fmt(abs(p.size)), "avgPrice": fmt(p.avg), "positionValue":
                fmt(abs(p.size) * p.avg), "leverage": "10", "markPrice": fmt(mark),
                "liqPrice": "", "bustPrice": "", "positionIM": "0", "positionMM": "0",
                "unrealisedPnl": fmt(upl), "cumRealisedPnl": fmt(p.realised),
                "curRealisedPnl": fmt(p.realised), "createdTime": str(p.updated),
                "updatedTime": str(p.updated), "tradeMode": 0, "positionStatus": "Normal",
                "autoAddMargin": 0, "riskId": 1, "riskLimitValue": "2000000",
                "takeProfit": "", "stopLoss": "", "trailingStop": "0", "tpslMode": "Full",
                "adlRankIndicator": 0, "isReduceOnly": False, "seq": 1,
                "category": self.category(symbol)}

    def wallet_row(self) -> dict[str, Any]:
        """A v5 unified ``wallet-balance`` record (USDT only)."""
        upl = sum(p.size * (self.last.get(s, p.avg) - p.avg) for s, p in self.positions.items())
        eq = self.wallet + upl
        coin = {"coin": "USDT", "equity": fmt(eq), "walletBalance": fmt(self.wallet),
                "usdValue": fmt(eq), "unrealisedPnl": fmt(upl), "cumRealisedPnl": "0",
                "availableToWithdraw": fmt(self.wallet), "availableToBorrow": "",
                "borrowAmount": "0", "accruedInterest": "0", "totalOrderIM": "0",
                "totalPositionIM": "0", "totalPositionMM": "0", "locked": "0", "bonus": "0",
                "marginCollateral": True, "collateralSwitch": True, "spotHedgingQty": "0"}
        return {"accountType": "UNIFIED", "totalEquity": fmt(eq),
                "totalWalletBalance": fmt(self.wallet), "totalMarginBalance": fmt(eq),
                "totalAvailableBalance": fmt(self.wallet), "totalPerpUPL": fmt(upl),
                "totalInitialMargin": "0", "totalMaintenanceMargin": "0",
                "accountIMRate": "0", "accountMMRate": "0", "accountLTV": "0", "coin": [coin]}

    def find(self, order_id: str = "", link_id: str = "") -> dict[str, Any] | None:
        """An order by id or orderLinkId (any status)."""
        if order_id:
            return self.orders.get(order_id)
        if link_id and link_id in self.by_link:
            return self.orders.get(self.by_link[link_id])
        return None

    # ------------------------------------------------------------------ market script

    def apply_book(self, symbol: str, snapshot: bool, bids: list[tuple[float, float]],
                   asks: list[tuple[float, float]], publish: bool = True,
                   skip_u: bool = False) -> None:
        """Apply a real L2 change and publish it (``skip_u``: leave a hole in ``u``)."""
        b = self.book(symbol)
        if snapshot:
            b.bids.clear()
            b.asks.clear()
        for side, rows in ((b.bids, bids), (b.asks, asks)):
            for p, q in rows:
                if q <= 0:
                    side.pop(p, None)
                else:
                    side[p] = q
        b.u += 2 if skip_u else 1
        b.seq += 1
        if publish:
            data = {"s": symbol, "b": [[fmt(p), fmt(q)] for p, q in bids],
                    "a": [[fmt(p), fmt(q)] for p, q in asks], "u": b.u, "seq": b.seq}
            if snapshot:
                data = self.depth(symbol)
                data["u"] = b.u
            ts = now_ms()
            self.public.append((self.category(symbol), {
                "topic": f"orderbook.50.{symbol}", "type": "snapshot" if snapshot else "delta",
                "ts": ts, "data": data, "cts": ts}))

    def print_trade(self, symbol: str, price: float, size: float, side: str) -> None:
        """A public trade: publish it and fill resting orders it prints through."""
        ts = now_ms()
        self.last[symbol] = price
        self.public.append((self.category(symbol), {
            "topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": ts,
            "data": [{"T": ts, "s": symbol, "S": "Buy" if side == "buy" else "Sell",
                      "v": fmt(size), "p": fmt(price), "L": "ZeroPlusTick",
                      "i": f"t-{next(self._trade_ids)}", "BT": False}]}))
        self._triggers(symbol, price)
        left = size
        for o in list(self.orders.values()):
            if left <= 0:
                break
            if o["symbol"] != symbol or o["orderStatus"] not in ("New", "PartiallyFilled") \
                    or o["orderType"] != "Limit":
                continue
            px = float(o["price"])
            through = (o["side"] == "Buy" and price <= px and side == "sell") or \
                      (o["side"] == "Sell" and price >= px and side == "buy")
            if not through:
                continue
            q = min(float(o["leavesQty"]), left)
            left -= q
            self._execute(o, px, q, maker=True)

    def publish_ticker(self, symbol: str) -> None:
        """A tickers snapshot on the public stream (funding settles first when due)."""
        self.settle_funding(symbol)
        self.public.append((self.category(symbol), {
            "topic": f"tickers.{symbol}", "type": "snapshot", "ts": now_ms(), "cs": 1,
            "data": self.ticker(symbol)}))

    # ------------------------------------------------------------------ trading

    def create(self, p: dict[str, Any]) -> dict[str, Any]:
        """``POST /v5/order/create``: returns the sparse ``{orderId, orderLinkId}``."""
        symbol = str(p.get("symbol", ""))
        cat = self.category(symbol, str(p.get("category") or ""))
        link = str(p.get("orderLinkId") or "")
        if link and link in self.by_link:
            raise BybitError(110072, "OrderLinkedID is duplicate")
        side = p.get("side")
        if side not in ("Buy", "Sell"):
            raise BybitError(10001, "params error: side invalid")
        otype = p.get("orderType")
        if otype not in ("Market", "Limit"):
            raise BybitError(10001, "params error: orderType invalid")
        tick, step, min_qty = self.step(symbol, cat)
        try:
            qty = float(p.get("qty", "0"))
            price = float(p.get("price") or 0.0)
        except ValueError as exc:
            raise BybitError(10001, f"params error: {exc}") from exc
        if qty < min_qty - 1e-12 or abs(qty / step - round(qty / step)) > 1e-6:
            raise BybitError(10001, f"params error: The number of contracts exceeds minimum "
                             f"limit allowed (qty {p.get('qty')})")
        if otype == "Limit" and (price <= 0 or abs(price / tick - round(price / tick)) > 1e-6):
            raise BybitError(10001, "params error: price invalid")
        reduce = bool(p.get("reduceOnly", False))
        pos = self.positions.get(symbol, Position()).size
        trigger = float(p.get("triggerPrice") or 0.0)
        if reduce and (pos == 0 or (pos > 0) == (side == "Buy")):
            raise BybitError(110017, "Reduce-only rule not satisfied")
        if reduce and not trigger and qty > abs(pos) + 1e-12:
            qty = abs(pos)  # a reduce-only order never exceeds the position
        ref = price or self.last.get(symbol, 0.0)
        if cat in ("linear", "inverse") and not reduce and \
                qty * ref / 10.0 > self.wallet + 1e-9:  # 10x leverage
            raise BybitError(110007, "ab not enough for new order")
        ts = now_ms()
        oid = str(uuid.uuid4())
        tif = "IOC" if otype == "Market" else str(p.get("timeInForce") or "GTC")
        o = {"orderId": oid, "orderLinkId": link, "symbol": symbol, "side": side,
             "orderType": otype, "price": fmt(price) if otype == "Limit" else "0",
             "qty": fmt(qty), "timeInForce": tif, "orderStatus": "New", "cumExecQty": "0",
             "cumExecValue": "0", "cumExecFee": "0", "cumFeeDetail": {}, "avgPrice": "",
             "leavesQty": fmt(qty), "leavesValue": fmt(qty * price), "reduceOnly": reduce,
             "closeOnTrigger": False, "createdTime": str(ts), "updatedTime": str(ts),
             "positionIdx": 0, "rejectReason": "EC_NoError", "cancelType": "UNKNOWN",
             "createType": "CreateByUser", "triggerPrice": "", "takeProfit": "",
             "stopLoss": "", "tpTriggerBy": "", "slTriggerBy": "", "triggerBy": "",
             "triggerDirection": 0, "stopOrderType": "", "orderIv": "", "isLeverage": "",
             "lastPriceOnCreated": fmt(self.last.get(symbol, 0.0)), "placeType": "",
             "smpType": "None", "smpGroup": 0, "smpOrderId": "", "blockTradeId": "",
             "marketUnit": "", "tpslMode": "", "tpLimitPrice": "0", "slLimitPrice": "0",
             "category": cat}
        if trigger:  # a conditional order: rests untriggered until a print crosses it
            o.update(orderStatus="Untriggered", triggerPrice=fmt(trigger),
                     triggerDirection=int(p.get("triggerDirection") or
                                          (1 if side == "Buy" else 2)),
                     stopOrderType="Stop", triggerBy="LastPrice")
        self.orders[oid] = o
        if link:
            self.by_link[link] = oid
        self._push_order(o)
        if not trigger:
            self._match(o)
        return {"orderId": oid, "orderLinkId": link}

    def _triggers(self, symbol: str, price: float) -> None:
        """Conditional orders whose trigger the last price crossed become live."""
        for o in list(self.orders.values()):
            if o["symbol"] != symbol or o["orderStatus"] != "Untriggered":
                continue
            trig = float(o["triggerPrice"])
            if (o["triggerDirection"] == 1 and price >= trig) or \
                    (o["triggerDirection"] == 2 and price <= trig):
                pos = self.positions.get(symbol, Position()).size
                if o["reduceOnly"]:
                    room = abs(pos) if pos and (pos > 0) != (o["side"] == "Buy") else 0.0
                    if room <= 1e-12:
                        self._finish(o, "Deactivated", "EC_ReduceOnlyRule")
                        continue
                    if float(o["leavesQty"]) > room:
                        o["qty"] = o["leavesQty"] = fmt(room)
                o["orderStatus"] = "New"
                self._push_order(o)
                self._match(o)

    def _match(self, o: dict[str, Any]) -> None:
        """Take liquidity for a market order or a crossing limit order."""
        b = self.book(o["symbol"])
        buy = o["side"] == "Buy"
        limit = float(o["price"]) if o["orderType"] == "Limit" else None
        levels = sorted(b.asks.items()) if buy else sorted(b.bids.items(), reverse=True)
        crosses = bool(levels) and (limit is None or (levels[0][0] <= limit if buy
                                                      else levels[0][0] >= limit))
        if crosses and o["timeInForce"] == "PostOnly":
            self._finish(o, "Cancelled", "EC_PostOnlyWillTakeLiquidity")
            return
        left = float(o["leavesQty"])
        for px, size in levels:
            if left <= 1e-12 or (limit is not None and (px > limit if buy else px < limit)):
                break
            q = min(left, size)
            self._execute(o, px, q, maker=False)
            left -= q
        if o["orderType"] == "Market" and o["orderStatus"] not in ("Filled",):
            self._finish(o, "Cancelled" if float(o["cumExecQty"]) else "Rejected",
                         "EC_CancelForNoFullFill")

    def _room(self, o: dict[str, Any]) -> float:
        """How much a reduce-only order may still execute (the opposite position)."""
        pos = self.positions.get(o["symbol"], Position()).size
        return abs(pos) if pos and (pos > 0) != (o["side"] == "Buy") else 0.0

    def _fit_reduce_only(self, symbol: str) -> None:
        """Bybit's rule after a position change: live reduce-only orders larger than the
        position are cut to it, those with no position left cancelled
        (``cancelType: CancelByReduceOnly``)."""
        for o in list(self.orders.values()):
            if o["symbol"] != symbol or not o["reduceOnly"] or \
                    o["orderStatus"] not in ("New", "PartiallyFilled"):
                continue
            room = self._room(o)
            if room <= 1e-12:
                self._finish(o, "Cancelled", "EC_NoError", "CancelByReduceOnly")
            elif float(o["leavesQty"]) > room + 1e-12:
                o["qty"] = fmt(float(o["cumExecQty"]) + room)
                o["leavesQty"] = fmt(room)
                o["updatedTime"] = str(now_ms())
                self._push_order(o)

    def _execute(self, o: dict[str, Any], px: float, q: float, maker: bool) -> None:
        symbol = o["symbol"]
        if o["reduceOnly"]:
            q = min(q, self._room(o))
            if q <= 1e-12:
                return
        cat = o["category"]
        rate = self.fee_rates[cat][0 if maker else 1]
        value = q * px
        fee = value * rate
        ts = now_ms()
        cum = float(o["cumExecQty"]) + q
        cum_value = float(o["cumExecValue"]) + value
        cum_fee = float(o["cumExecFee"]) + fee
        leaves = max(float(o["qty"]) - cum, 0.0)
        o.update(cumExecQty=fmt(cum), cumExecValue=fmt(cum_value), cumExecFee=fmt(cum_fee),
                 cumFeeDetail={"USDT": fmt(cum_fee)}, avgPrice=fmt(cum_value / cum),
                 leavesQty=fmt(leaves), leavesValue=fmt(leaves * float(o["price"])),
                 updatedTime=str(ts),
                 orderStatus="Filled" if leaves <= 1e-12 else "PartiallyFilled")
        pos = self.positions.setdefault(symbol, Position())
        signed = q if o["side"] == "Buy" else -q
        closed = 0.0
        if pos.size and (pos.size > 0) != (signed > 0):
            closed = min(abs(pos.size), q)
            pnl = closed * (px - pos.avg) * (1 if pos.size > 0 else -1)
            pos.realised += pnl
            self.wallet += pnl
        new = pos.size + signed
        if abs(new) < 1e-12:
            pos.size, pos.avg = 0.0, 0.0
        elif pos.size == 0 or (pos.size > 0) != (new > 0):
            pos.size, pos.avg = new, px
        elif (pos.size > 0) == (signed > 0):
            pos.avg = (pos.avg * abs(pos.size) + px * q) / abs(new)
            pos.size = new
        else:
            pos.size = new
        pos.updated = ts
        self.wallet -= fee
        ex = {"category": cat, "symbol": symbol, "execId": f"e-{next(self._exec_ids)}",
              "execPrice": fmt(px), "execQty": fmt(q), "execValue": fmt(value),
              "execFee": fmt(fee), "feeRate": fmt(rate), "feeCurrency": "USDT",
              "isMaker": maker, "orderId": o["orderId"], "orderLinkId": o["orderLinkId"],
              "orderPrice": o["price"], "orderQty": o["qty"], "orderType": o["orderType"],
              "side": o["side"], "execTime": str(ts), "execType": "Trade",
              "leavesQty": fmt(leaves), "closedSize": fmt(closed),
              "markPrice": fmt(self.last.get(symbol, px)), "indexPrice": "", "markIv": "",
              "underlyingPrice": "", "tradeIv": "", "blockTradeId": "", "stopOrderType": "",
              "seq": next(self._exec_ids), "createType": "CreateByUser"}
        self.executions.append(ex)
        self._emit("execution", [ex])
        self._push_order(o)
        self._emit("position", [self.position_row(symbol)])
        self._emit("wallet", [self.wallet_row()])
        self._fit_reduce_only(symbol)

    def amend(self, p: dict[str, Any]) -> dict[str, Any]:
        """``POST /v5/order/amend``."""
        o = self.find(str(p.get("orderId") or ""), str(p.get("orderLinkId") or ""))
        if o is None or o["orderStatus"] not in ("New", "PartiallyFilled", "Untriggered"):
            raise BybitError(110001, "order not exists or too late to replace")
        if "qty" in p:
            qty = float(p["qty"])
            if qty <= float(o["cumExecQty"]):
                raise BybitError(10001, "params error: qty below filled")
            o["qty"] = fmt(qty)
            o["leavesQty"] = fmt(qty - float(o["cumExecQty"]))
        if "price" in p:
            o["price"] = fmt(float(p["price"]))
        if "triggerPrice" in p:
            o["triggerPrice"] = fmt(float(p["triggerPrice"]))
        o["updatedTime"] = str(now_ms())
        self._push_order(o)
        if o["orderStatus"] != "Untriggered":
            self._match(o)
        return {"orderId": o["orderId"], "orderLinkId": o["orderLinkId"]}

    def cancel(self, p: dict[str, Any]) -> dict[str, Any]:
        """``POST /v5/order/cancel``."""
        o = self.find(str(p.get("orderId") or ""), str(p.get("orderLinkId") or ""))
        if o is None or o["orderStatus"] not in ("New", "PartiallyFilled", "Untriggered"):
            raise BybitError(110001, "order not exists or too late to cancel")
        self._finish(o, "Cancelled", "EC_NoError")
        return {"orderId": o["orderId"], "orderLinkId": o["orderLinkId"]}

    def _finish(self, o: dict[str, Any], status: str, reason: str, cancel_type: str = "") -> None:
        o.update(orderStatus=status, rejectReason=reason, updatedTime=str(now_ms()),
                 cancelType=cancel_type or ("CancelByUser" if status == "Cancelled"
                                            else "UNKNOWN"))
        self._push_order(o)

    def open_orders(self, symbol: str = "", order_id: str = "", link_id: str = ""
                    ) -> list[dict[str, Any]]:
        """``GET /v5/order/realtime``: open orders, or any order named by id / link id."""
        if order_id or link_id:
            o = self.find(order_id, link_id)
            return [] if o is None else [o]
        return [o for o in self.orders.values()
                if o["orderStatus"] in ("New", "PartiallyFilled", "Untriggered")
                and (not symbol or o["symbol"] == symbol)]

    def _push_order(self, o: dict[str, Any]) -> None:
        self._emit("order", [dict(o)])

    def _emit(self, topic: str, rows: list[dict[str, Any]]) -> None:
        if self.on_private is not None and not self.on_private(topic, rows):
            return
        self.outbox.append((topic, rows))
