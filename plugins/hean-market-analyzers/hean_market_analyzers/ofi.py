"""OFI monitor: order-book imbalance per symbol, published as ``OFI`` and ``OFI_SOURCE``.

With ``B`` the quantity resting on the best ``levels`` bid levels and ``A`` the same on the ask
side, ``ofi = (B - A) / (B + A)`` (-1..1: +1 = only bids, -1 = only asks).

* **L2 book** (``BookUpdate`` events): the engine keeps the symbol's local book
  (``ctx.market[symbol].book``: snapshot, then deltas with size 0 = delete); the monitor reads
  its top ``levels`` levels.  It recomputes only when a message touches the top ``levels``
  (a price at or inside the current ``levels``-th best price on either side, or a snapshot):
  deeper changes cannot change ``B`` or ``A``.
* **Best bid/offer** (``Quote`` events), when the symbol has no L2 book or its book has not
  been updated for ``book_stale_s`` (``source: auto``), or when asked for (``source: quote``):
  ``B``/``A`` are the best bid/ask sizes.  A book update switches back to the book.
* **Unknown** (``OFI_SOURCE == ''``, ``OFI == 0.0``): no book yet, a side empty, a crossed book,
  ``B + A == 0``, with ``check_sequence`` an update-id gap (until the next snapshot), with
  ``source: book`` a stale book.
  Readers must treat unknown as "no information" and skip OFI gates, not as "no pressure"
  (the original read a missing book as OFI 0 and so blocked every signal of a strategy with
  an aggression gate).

Invariants:

* state is per symbol; quotes never override a symbol whose L2 book is live (``auto``);
* after every event the published value equals a from-scratch computation over the book's
  top ``levels`` levels (tested on the real L2 capture), and it is ``[-1, 1]``;
* work per event: O(size of the message) to test whether it touches the top levels, plus
  O(``levels``) when it does; never a pass over the whole book.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from hean_framework import Analyzer, ComponentConfig
from hean_framework.models import BookUpdate, Quote

from .facts import OFI, OFI_SOURCE

__all__ = ["OfiMonitor", "OfiMonitorConfig", "OfiPrediction", "aggression", "ofi_trend",
           "predict_next_ticks"]


class OfiMonitorConfig(ComponentConfig):
    """``analyzers.ofi_monitor``."""

    source: Literal["auto", "book", "quote"] = Field(
        "auto", description="auto: the L2 book when the symbol has a live one, else the best "
                            "bid/offer; book: L2 only; quote: best bid/offer only")
    levels: int = Field(20, ge=1, le=500, description="book levels per side summed (N)")
    check_sequence: bool = Field(
        True, description="treat an update-id gap in the L2 stream as unknown until the next "
                          "snapshot")
    book_stale_s: float = Field(
        5.0, ge=0.05, le=3600.0,
        description="a book without an update for this long is stale: auto falls back to the "
                    "best bid/offer, book turns unknown (checked on quotes)")


def aggression(ofi: float, side: str) -> float:
    """Pressure in the direction of ``side``: clamp(ofi, 0, 1) for buy, clamp(-ofi, 0, 1)
    for sell."""
    x = ofi if side == "buy" else -ofi
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def ofi_trend(ofi: float, threshold: float = 0.1) -> str:
    """``bullish`` above ``threshold``, ``bearish`` below ``-threshold``, else ``neutral``."""
    if ofi > threshold:
        return "bullish"
    if ofi < -threshold:
        return "bearish"
    return "neutral"


@dataclass(frozen=True, slots=True)
class OfiPrediction:
    """The naive three-tick extrapolation of an imbalance (see :func:`predict_next_ticks`)."""

    prices: tuple[float, float, float]
    confidence: float
    is_bullish: bool
    expected_movement: float


def predict_next_ticks(ofi: float, price: float) -> OfiPrediction:
    """With ``f = 0.001 * ofi``: prices ``price * (1 + f), (1 + 1.5 f), (1 + 2 f)``,
    confidence ``min(0.75, 0.8 |ofi|)``, expected movement ``2 f * price``."""
    f = 0.001 * ofi
    return OfiPrediction((price * (1 + f), price * (1 + 1.5 * f), price * (1 + 2 * f)),
                         min(0.75, 0.8 * abs(ofi)), ofi > 0.0, 2 * f * price)


class _Sym:
    """One symbol's OFI state."""

    __slots__ = ("after_snapshot", "ask_ceil", "bid_floor", "book_seen", "book_ts", "gaps",
                 "last_id", "ofi", "quotes", "recomputes", "skipped", "source", "synced",
                 "updates")

    def __init__(self) -> None:
        self.book_seen = False
        self.book_ts = 0
        self.synced = False
        self.after_snapshot = False
        self.last_id = 0
        #: price of the N-th best bid (0.0: fewer than N bid levels, any price counts)
        self.bid_floor = 0.0
        #: price of the N-th best ask (inf: fewer than N ask levels)
        self.ask_ceil = math.inf
        self.ofi = 0.0
        self.source = ""
        self.updates = self.recomputes = self.skipped = self.gaps = self.quotes = 0


def _chain_ok(update: BookUpdate, prev: int, after_snapshot: bool) -> bool:
    """Whether ``update`` continues the update-id chain ending at ``prev`` (Binance rules:
    futures ``pu == prev``, spot ``U == prev + 1``; the first update after a snapshot may
    also just cover ``prev + 1``: ``U <= prev + 1``)."""
    u = update.last_id
    if not u or not prev:
        return True
    if u < prev:
        return False
    if after_snapshot:
        if update.prev_id and update.prev_id == prev:
            return True
        return not update.first_id or prev + 1 >= update.first_id
    if update.prev_id:
        return update.prev_id == prev
    if update.first_id:
        return update.first_id == prev + 1
    return u > prev


class OfiMonitor(Analyzer):
    """Order-book imbalance over the top levels of a symbol's book (or its best bid/offer)."""

    config: OfiMonitorConfig

    def on_start(self) -> None:
        self._syms: dict[str, _Sym] = {}

    def _sym(self, symbol: str) -> _Sym:
        s = self._syms.get(symbol)
        if s is None:
            s = self._syms[symbol] = _Sym()
        return s

    def on_book(self, update: BookUpdate) -> None:
        cfg = self.config
        if cfg.source == "quote":
            return
        symbol = update.symbol
        s = self._sym(symbol)
        s.book_seen = True
        s.book_ts = update.ts
        s.updates += 1
        if cfg.check_sequence:
            if update.snapshot:
                s.synced = True
                s.after_snapshot = True
            else:
                if s.synced and not _chain_ok(update, s.last_id, s.after_snapshot):
                    s.synced = False
                    s.gaps += 1
                s.after_snapshot = False
            if update.last_id:
                s.last_id = update.last_id
            if not s.synced:
                self._unknown(symbol, s)
                return
        if not update.snapshot and s.source == "book":
            floor, ceil = s.bid_floor, s.ask_ceil
            touched = False
            for p, _ in update.bids:
                if p >= floor:
                    touched = True
                    break
            if not touched:
                for p, _ in update.asks:
                    if p <= ceil:
                        touched = True
                        break
            if not touched:
                s.skipped += 1
                return
        self._recompute(symbol, s)

    def _recompute(self, symbol: str, s: _Sym) -> None:
        s.recomputes += 1
        book = self.ctx.market[symbol].book
        if book is None or book.bid <= 0.0 or book.ask <= 0.0 or book.bid >= book.ask:
            self._unknown(symbol, s)
            return
        n = self.config.levels
        bids = book.levels("bid", n)
        asks = book.levels("ask", n)
        b = sum([q for _, q in bids])
        a = sum([q for _, q in asks])
        s.bid_floor = bids[-1][0] if len(bids) == n else 0.0
        s.ask_ceil = asks[-1][0] if len(asks) == n else math.inf
        if b + a <= 0.0:
            self._unknown(symbol, s)
            return
        self._publish(symbol, s, (b - a) / (b + a), "book")

    def on_quote(self, quote: Quote) -> None:
        cfg = self.config
        symbol = quote.symbol
        s = self._sym(symbol)
        live_book = s.book_seen and quote.ts - s.book_ts <= cfg.book_stale_s * 1000.0
        if cfg.source == "book":
            if s.book_seen and not live_book and s.source:
                self._unknown(symbol, s)
            return
        if cfg.source == "auto" and live_book:
            return
        s.quotes += 1
        b, a = quote.bid_size, quote.ask_size
        if quote.bid <= 0.0 or quote.ask <= 0.0 or quote.bid >= quote.ask or b + a <= 0.0:
            self._unknown(symbol, s)
            return
        self._publish(symbol, s, (b - a) / (b + a), "quote")

    def _publish(self, symbol: str, s: _Sym, ofi: float, source: str) -> None:
        s.ofi, s.source = ofi, source
        facts = self.ctx.facts
        facts.set(OFI, ofi, symbol)
        facts.set(OFI_SOURCE, source, symbol)

    def _unknown(self, symbol: str, s: _Sym) -> None:
        s.bid_floor, s.ask_ceil = 0.0, math.inf
        if s.source or s.ofi:
            s.ofi, s.source = 0.0, ""
            facts = self.ctx.facts
            facts.set(OFI, 0.0, symbol)
            facts.set(OFI_SOURCE, "", symbol)

    def stats(self) -> dict[str, Any]:
        syms = getattr(self, "_syms", {})
        return {"ofi_book_updates": {k: s.updates for k, s in syms.items()},
                "ofi_recomputes": {k: s.recomputes for k, s in syms.items()},
                "ofi_sequence_gaps": {k: s.gaps for k, s in syms.items()},
                "ofi_quotes": {k: s.quotes for k, s in syms.items()}}
