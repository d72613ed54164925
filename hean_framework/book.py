"""L2 order book of one symbol, rebuilt from :class:`~hean_framework.models.BookUpdate` messages.

Each side is a ``dict`` price -> size plus a sorted ``list`` of the prices kept with
:mod:`bisect`.  Both lists are kept in *ascending key order with the best price last*: bid
prices are stored as they are, ask prices are stored negated.  The best level is therefore
always ``list[-1]``, and removing it (the most frequent structural change) is an O(1) ``pop``;
other inserts/removals are a binary search plus a C ``memmove`` of at most a few thousand
pointers.  An update of an existing level (the most common case by far) touches only the dict.

Sizes are absolute (as in exchange diff-depth streams): a size ``<= 0`` removes the level.
Prices are used as dict keys exactly as parsed, so one level always has one float key.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable

from .models import BookUpdate

__all__ = ["OrderBook"]


class OrderBook:
    """An L2 book for one symbol: absolute size per price level on each side.

    ``bid``/``ask`` are the best prices (0.0 when that side is empty), ``bid_size``/``ask_size``
    their quantities, ``last_id`` the ``last_id`` of the last applied message and ``ts`` its
    time.
    """

    __slots__ = ("_ask_keys", "_asks", "_bid_keys", "_bids", "ask", "ask_size", "bid",
                 "bid_size", "last_id", "symbol", "ts")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        #: bid prices ascending (best = last)
        self._bid_keys: list[float] = []
        #: negated ask prices ascending (best = last, i.e. the lowest ask)
        self._ask_keys: list[float] = []
        self.bid = 0.0
        self.ask = 0.0
        self.bid_size = 0.0
        self.ask_size = 0.0
        self.last_id = 0
        self.ts = 0

    # ------------------------------------------------------------------ updating

    def apply(self, update: BookUpdate) -> None:
        """Apply one L2 message.

        A snapshot replaces the whole book; an update sets the absolute size of each level it
        names (size 0 deletes the level).  Best bid/ask are current afterwards.
        """
        if update.snapshot:
            self._load(update.bids, update.asks)
        else:
            bids = update.bids
            if bids:
                book = self._bids
                keys = self._bid_keys
                for p, s in bids:
                    if s > 0.0:
                        if p not in book:
                            if not keys or p > keys[-1]:
                                keys.append(p)
                            else:
                                insort(keys, p)
                        book[p] = s
                    elif p in book:
                        del book[p]
                        if p == keys[-1]:
                            keys.pop()
                        else:
                            del keys[bisect_left(keys, p)]
                if keys:
                    p = keys[-1]
                    self.bid = p
                    self.bid_size = book[p]
                else:
                    self.bid = self.bid_size = 0.0
            asks = update.asks
            if asks:
                book = self._asks
                keys = self._ask_keys
                for p, s in asks:
                    if s > 0.0:
                        if p not in book:
                            k = -p
                            if not keys or k > keys[-1]:
                                keys.append(k)
                            else:
                                insort(keys, k)
                        book[p] = s
                    elif p in book:
                        del book[p]
                        k = -p
                        if k == keys[-1]:
                            keys.pop()
                        else:
                            del keys[bisect_left(keys, k)]
                if keys:
                    p = -keys[-1]
                    self.ask = p
                    self.ask_size = book[p]
                else:
                    self.ask = self.ask_size = 0.0
        self.last_id = update.last_id
        self.ts = update.ts

    def _load(self, bids: Iterable[tuple[float, float]],
              asks: Iterable[tuple[float, float]]) -> None:
        """Replace both sides (snapshot)."""
        self._bids = {p: s for p, s in bids if s > 0.0}
        self._asks = {p: s for p, s in asks if s > 0.0}
        self._bid_keys = sorted(self._bids)
        self._ask_keys = sorted(-p for p in self._asks)
        self._refresh_best()

    def _refresh_best(self) -> None:
        """Recompute the cached best prices/sizes from the key lists."""
        if self._bid_keys:
            self.bid = self._bid_keys[-1]
            self.bid_size = self._bids[self.bid]
        else:
            self.bid = self.bid_size = 0.0
        if self._ask_keys:
            self.ask = -self._ask_keys[-1]
            self.ask_size = self._asks[self.ask]
        else:
            self.ask = self.ask_size = 0.0

    def apply_checked(self, update: BookUpdate) -> bool:
        """Apply ``update`` unless the book would be crossed afterwards.

        :param update: the message to apply.
        :returns: True when applied; False when the result was crossed (``bid >= ask``), in
            which case the book is left exactly as it was before the call.

        Slower than :meth:`apply` (it remembers the previous size of every level it touches);
        used by feeds to validate recorded data.
        """
        if update.snapshot:
            saved = (self._bids, self._asks, self._bid_keys, self._ask_keys, self.last_id,
                     self.ts)
            self.apply(update)
            if self.is_crossed():
                (self._bids, self._asks, self._bid_keys, self._ask_keys, self.last_id,
                 self.ts) = saved
                self._refresh_best()
                return False
            return True
        bget = self._bids.get
        aget = self._asks.get
        old_bids = [(p, bget(p, 0.0)) for p, _ in update.bids]
        old_asks = [(p, aget(p, 0.0)) for p, _ in update.asks]
        last_id, ts = self.last_id, self.ts
        self.apply(update)
        if self.is_crossed():
            # restore in reverse order so that a price named twice ends at its first old size
            old_bids.reverse()
            old_asks.reverse()
            self.apply(BookUpdate(ts, self.symbol, False, old_bids, old_asks, 0, last_id))
            return False
        return True

    def clear(self) -> None:
        """Remove every level."""
        self._load((), ())
        self.last_id = 0

    # ------------------------------------------------------------------ reading

    def is_crossed(self) -> bool:
        """True when both sides are present and the best bid is at or above the best ask."""
        return self.bid > 0.0 and self.ask > 0.0 and self.bid >= self.ask

    @property
    def mid(self) -> float:
        """Mid price, 0.0 when a side is empty."""
        if self.bid > 0.0 and self.ask > 0.0:
            return (self.bid + self.ask) * 0.5
        return 0.0

    def __len__(self) -> int:
        """Number of price levels on both sides."""
        return len(self._bids) + len(self._asks)

    def levels(self, side: str, n: int) -> list[tuple[float, float]]:
        """The best ``n`` levels of ``side`` as (price, size).

        :param side: ``"bid"`` (prices descending) or ``"ask"`` (prices ascending).
        :param n: how many levels at most.
        """
        if n <= 0:
            return []
        if side == "bid":
            book = self._bids
            keys = self._bid_keys
            return [(p, book[p]) for p in reversed(keys[-n:])]
        if side == "ask":
            book = self._asks
            return [(-k, book[-k]) for k in reversed(self._ask_keys[-n:])]
        raise ValueError(f"side must be 'bid' or 'ask', not {side!r}")

    def size_at(self, side: str, price: float) -> float:
        """Quantity resting at ``price`` on ``side`` (0.0 when there is no such level)."""
        if side == "bid":
            return self._bids.get(price, 0.0)
        if side == "ask":
            return self._asks.get(price, 0.0)
        raise ValueError(f"side must be 'bid' or 'ask', not {side!r}")

    def walk(self, taker_side: str, qty: float) -> tuple[float, float]:
        """Fill a market order of ``qty`` against the book (the book is not changed).

        :param taker_side: ``"buy"`` walks the asks upwards, ``"sell"`` walks the bids down.
        :param qty: quantity to take.
        :returns: ``(vwap_price, filled_qty)``; ``filled_qty < qty`` when the depth is
            insufficient, ``(0.0, 0.0)`` when that side is empty or ``qty <= 0``.
        """
        if taker_side == "buy":
            book = self._asks
            keys = self._ask_keys
            sign = -1.0
        elif taker_side == "sell":
            book = self._bids
            keys = self._bid_keys
            sign = 1.0
        else:
            raise ValueError(f"taker_side must be 'buy' or 'sell', not {taker_side!r}")
        if qty <= 0.0 or not keys:
            return 0.0, 0.0
        left = qty
        notional = 0.0
        for i in range(len(keys) - 1, -1, -1):
            p = keys[i] * sign
            s = book[p]
            if s >= left:
                notional += p * left
                left = 0.0
                break
            notional += p * s
            left -= s
        filled = qty - left
        return notional / filled, filled

    def depth_within(self, side: str, bps: float) -> float:
        """Quantity resting on ``side`` at prices within ``bps`` basis points of its best price.

        Bids count from ``bid * (1 - bps/1e4)`` up, asks up to ``ask * (1 + bps/1e4)``;
        0.0 when the side is empty.
        """
        if side == "bid":
            keys = self._bid_keys
            if not keys:
                return 0.0
            limit = keys[-1] * (1.0 - bps * 1e-4)
            book = self._bids
            return sum(book[p] for p in keys[bisect_left(keys, limit):])
        if side == "ask":
            keys = self._ask_keys
            if not keys:
                return 0.0
            limit = keys[-1] * (1.0 + bps * 1e-4)  # negated: -(ask * (1 + f))
            book = self._asks
            return sum(book[-k] for k in keys[bisect_left(keys, limit):])
        raise ValueError(f"side must be 'bid' or 'ask', not {side!r}")

    def snapshot(self, ts: int | None = None) -> BookUpdate:
        """The whole book as one snapshot message (bids descending, asks ascending)."""
        bids = self._bids
        asks = self._asks
        return BookUpdate(self.ts if ts is None else ts, self.symbol, True,
                          [(p, bids[p]) for p in reversed(self._bid_keys)],
                          [(-k, asks[-k]) for k in reversed(self._ask_keys)],
                          0, self.last_id)

    def __repr__(self) -> str:
        return (f"OrderBook({self.symbol!r}, bid={self.bid} x {self.bid_size}, "
                f"ask={self.ask} x {self.ask_size}, levels={len(self)}, last_id={self.last_id})")

