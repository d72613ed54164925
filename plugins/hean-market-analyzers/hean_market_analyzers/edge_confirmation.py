"""Edge-confirmation loop: two-step entries.  The analyzer publishes a desk
(``EDGE_CONFIRMATION``, market-wide) that strategies call, and the number of live candidates
per symbol (``EDGE_CANDIDATES``).

A strategy whose signal qualifies calls ``desk.propose(self.name, symbol, side)``:

1. no live candidate for (strategy, symbol, side): one is stored -- entry price (the last
   tick), spread, the volatility ratio ``sigma_short / sigma_long``, the tick's sequence
   number, expiry = now + ``timeout_s`` -- and the answer is ``CANDIDATE`` (emit nothing);
2. a live, not yet confirmed candidate: ``PENDING`` (emit nothing); an expired one is replaced
   by a new candidate (``CANDIDATE``);
3. a confirmed candidate: ``CONFIRMED`` -- emit the signal now; the candidate is consumed.

On every later event of the symbol the analyzer updates each live candidate: the lowest and
highest tick price since it was stored, then

* **expired** (now > expiry) or **invalidated** (adverse excursion > ``max_adverse``; buy:
  ``(entry - low) / entry``, sell: ``(high - entry) / entry``): dropped, and ``desk.state``
  says ``EXPIRED`` / ``INVALIDATED`` until the key's next proposal;
* **confirmed** (latched until consumed or dropped) when any of: (a) spread <=
  ``spread_tighten`` x the candidate's spread; (b) volatility ratio >= ``vol_expansion_ratio``
  and above the candidate's ratio; (c) the adverse excursion so far is within
  ``[pullback_min, pullback_max]`` and the price is back at or through the entry.

``sigma_short`` / ``sigma_long`` are population standard deviations of the last ``vol_short`` /
up to ``vol_long`` tick log returns.

Invariants:

* candidates are keyed by (strategy, symbol, side) and never shared; state is per symbol;
* a candidate's extremes cover exactly the ticks after the one it was stored on (tracked from
  its own sequence number, never through an index into a rolling buffer that shifts -- the
  original's defect); they equal a from-scratch min/max over those prices (tested);
* work per event: O(1) for the windows plus O(live candidates of that symbol) -- zero in the
  common case;
* without this analyzer the desk is :data:`~hean_market_analyzers.facts.PASS_THROUGH`
  (every proposal is confirmed at once).  Run one instance per run: a second one replaces the
  first one's desk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from hean_framework import ComponentConfig
from hean_framework.models import BookUpdate

from ._ticks import TickAnalyzer, TickGate, TickSource
from ._windows import MultiSum
from .facts import (
    CANDIDATE,
    CONFIRMED,
    EDGE_CANDIDATES,
    EDGE_CONFIRMATION,
    EXPIRED,
    INVALIDATED,
    PENDING,
    EdgeConfirmationDesk,
)

__all__ = ["CandidateView", "EdgeConfirmationConfig", "EdgeConfirmationLoop"]


class EdgeConfirmationConfig(ComponentConfig):
    """``analyzers.edge_confirmation``."""

    tick_source: TickSource = Field(
        "auto", description="what a tick is: auto (first of bars/trades per symbol), bars, "
                            "trades or quotes (mid price)")
    timeout_s: float = Field(5.0, ge=0.05, le=86_400.0,
                             description="seconds a candidate lives (use >= 2 bars on candles)")
    spread_tighten: float = Field(0.7, ge=0.05, le=1.0,
                                  description="confirm when the spread <= this x the "
                                              "candidate's spread")
    vol_short: int = Field(10, ge=2, le=500, description="returns in sigma_short")
    vol_long: int = Field(49, ge=3, le=5000, description="returns in sigma_long (at most)")
    vol_expansion_ratio: float = Field(1.03, ge=0.5, le=10.0,
                                       description="sigma_short / sigma_long that confirms")
    pullback_min: float = Field(0.0005, ge=0.0, le=0.05,
                                description="smallest adverse excursion of a pullback")
    pullback_max: float = Field(0.003, ge=0.0, le=0.1,
                                description="largest adverse excursion of a pullback")
    max_adverse: float = Field(0.003, ge=0.0001, le=0.2,
                               description="adverse excursion that invalidates a candidate")

    @model_validator(mode="after")
    def _check(self) -> EdgeConfirmationConfig:
        if self.vol_long < self.vol_short:
            raise ValueError(f"vol_long ({self.vol_long}) must be >= vol_short "
                             f"({self.vol_short})")
        if self.pullback_max < self.pullback_min:
            raise ValueError(f"pullback_max ({self.pullback_max}) must be >= pullback_min "
                             f"({self.pullback_min})")
        return self


@dataclass(frozen=True, slots=True)
class CandidateView:
    """A live candidate, as :meth:`EdgeConfirmationLoop.candidates` shows it."""

    strategy_id: str
    side: str
    entry: float
    spread_bps: float
    vol_ratio: float
    seq: int
    expiry: int
    low: float
    high: float
    confirmed: str  #: '' or the rule that confirmed it: spread, volatility, pullback


class _Cand:
    __slots__ = ("buy", "confirmed", "entry", "expiry", "high", "low", "ratio", "seq",
                 "spread")

    def __init__(self, buy: bool, entry: float, spread: float, ratio: float, seq: int,
                 expiry: int) -> None:
        self.buy = buy
        self.entry = entry
        self.spread = spread
        self.ratio = ratio
        self.seq = seq
        self.expiry = expiry
        self.low = self.high = entry
        self.confirmed = ""


class _Sym:
    __slots__ = ("cands", "dropped", "last", "rets", "seq")

    def __init__(self, cfg: EdgeConfirmationConfig) -> None:
        self.seq = 0
        self.last = 0.0
        self.rets = MultiSum((cfg.vol_short, cfg.vol_long), squares=True)
        self.cands: dict[tuple[str, str], _Cand] = {}
        #: why the last candidate of a key was dropped (until the key's next proposal)
        self.dropped: dict[tuple[str, str], str] = {}


class _Desk(EdgeConfirmationDesk):
    """The desk strategies call; the analyzer owns its state."""

    def __init__(self, loop: EdgeConfirmationLoop) -> None:
        self._loop = loop

    def propose(self, strategy_id: str, symbol: str, side: str) -> str:
        return self._loop.propose(strategy_id, symbol, side)

    def state(self, strategy_id: str, symbol: str, side: str) -> str:
        return self._loop.state(strategy_id, symbol, side)

    def cancel(self, strategy_id: str, symbol: str, side: str) -> bool:
        return self._loop.cancel(strategy_id, symbol, side)


class EdgeConfirmationLoop(TickAnalyzer):
    """Stores first qualifying signals as candidates and confirms them on later ticks."""

    config: EdgeConfirmationConfig

    def on_start(self) -> None:
        self._gate = TickGate(self.config.tick_source)
        self._syms: dict[str, _Sym] = {}
        self.counts = {"candidates": 0, "confirmed_spread": 0, "confirmed_volatility": 0,
                       "confirmed_pullback": 0, "consumed": 0, "expired": 0,
                       "invalidated": 0, "cancelled": 0}
        self.desk = _Desk(self)
        self.ctx.facts.set(EDGE_CONFIRMATION, self.desk)

    def _sym(self, symbol: str) -> _Sym:
        s = self._syms.get(symbol)
        if s is None:
            s = self._syms[symbol] = _Sym(self.config)
        return s

    # ------------------------------------------------------------------ market side

    def tick(self, symbol: str, ts: int, price: float, volume: float,
             interval_ms: int) -> None:
        self._tick(symbol, price)

    def on_other_quote(self, symbol: str) -> None:
        s = self._syms.get(symbol)
        if s is not None and s.cands:
            self._evaluate(symbol, s)

    def on_book(self, update: BookUpdate) -> None:
        s = self._syms.get(update.symbol)
        if s is not None and s.cands:
            self._evaluate(update.symbol, s)

    def _tick(self, symbol: str, price: float) -> None:
        if not price > 0.0:
            return
        s = self._sym(symbol)
        s.seq += 1
        if s.last > 0.0:
            s.rets.push(math.log(price / s.last))
        s.last = price
        if s.cands:
            for c in s.cands.values():
                if price < c.low:
                    c.low = price
                elif price > c.high:
                    c.high = price
            self._evaluate(symbol, s)

    def _ratio(self, s: _Sym) -> float:
        """sigma_short / sigma_long of the symbol's returns (-1 while unknown)."""
        r = s.rets
        cfg = self.config
        if r.n < cfg.vol_short:
            return -1.0
        k = cfg.vol_short
        m = r.sums[0] / k
        vs = r.sqs[0] / k - m * m
        nl = r.count(1)
        ml = r.sums[1] / nl
        vl = r.sqs[1] / nl - ml * ml
        if vl <= 0.0:
            return -1.0
        return math.sqrt(vs if vs > 0.0 else 0.0) / math.sqrt(vl)

    def _spread(self, symbol: str) -> float:
        """Quoted spread in bps of the mid (-1 without a quote)."""
        st = self.ctx.market[symbol]
        bid, ask = st.bid, st.ask
        if bid > 0.0 and ask >= bid:
            return (ask - bid) / ((ask + bid) * 0.5) * 1e4
        return -1.0

    def _evaluate(self, symbol: str, s: _Sym) -> None:
        """Drop expired / invalidated candidates, latch confirmations."""
        cfg = self.config
        now = self.ctx.now
        spread = -2.0  # not read yet
        ratio = -2.0
        dead: list[tuple[tuple[str, str], str]] = []
        for key, c in s.cands.items():
            if now > c.expiry:
                dead.append((key, EXPIRED))
                self.counts["expired"] += 1
                continue
            adverse = ((c.entry - c.low) if c.buy else (c.high - c.entry)) / c.entry
            if adverse > cfg.max_adverse:
                dead.append((key, INVALIDATED))
                self.counts["invalidated"] += 1
                continue
            if c.confirmed:
                continue
            if spread == -2.0:
                spread = self._spread(symbol)
            if c.spread > 0.0 and 0.0 <= spread <= cfg.spread_tighten * c.spread:
                c.confirmed = "spread"
            else:
                if ratio == -2.0:
                    ratio = self._ratio(s)
                if ratio >= cfg.vol_expansion_ratio and ratio > c.ratio:
                    c.confirmed = "volatility"
                elif cfg.pullback_min <= adverse <= cfg.pullback_max and \
                        (s.last >= c.entry if c.buy else s.last <= c.entry):
                    c.confirmed = "pullback"
            if c.confirmed:
                self.counts["confirmed_" + c.confirmed] += 1
        if dead:
            for key, why in dead:
                del s.cands[key]
                s.dropped[key] = why
            self.ctx.facts.set(EDGE_CANDIDATES, len(s.cands), symbol)

    # ------------------------------------------------------------------ the desk

    def propose(self, strategy_id: str, symbol: str, side: str) -> str:
        """See :meth:`EdgeConfirmationDesk.propose`."""
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
        s = self._sym(symbol)
        key = (strategy_id, side)
        c = s.cands.get(key)
        now = self.ctx.now
        if c is not None and now > c.expiry:
            del s.cands[key]
            self.counts["expired"] += 1
            c = None
        if c is None:
            s.dropped.pop(key, None)
            entry = s.last or self.ctx.market[symbol].price
            if not entry > 0.0:
                return PENDING  # nothing to anchor a candidate to yet
            s.cands[key] = _Cand(side == "buy", entry, self._spread(symbol), self._ratio(s),
                                 s.seq, now + int(self.config.timeout_s * 1000))
            self.counts["candidates"] += 1
            self.ctx.facts.set(EDGE_CANDIDATES, len(s.cands), symbol)
            return CANDIDATE
        if c.confirmed:
            del s.cands[key]
            self.counts["consumed"] += 1
            self.ctx.facts.set(EDGE_CANDIDATES, len(s.cands), symbol)
            return CONFIRMED
        return PENDING

    def state(self, strategy_id: str, symbol: str, side: str) -> str:
        """See :meth:`EdgeConfirmationDesk.state`."""
        s = self._syms.get(symbol)
        if s is None:
            return ""
        key = (strategy_id, side)
        c = s.cands.get(key)
        if c is None:
            return s.dropped.get(key, "")
        if self.ctx.now > c.expiry:
            return EXPIRED
        return CONFIRMED if c.confirmed else PENDING

    def cancel(self, strategy_id: str, symbol: str, side: str) -> bool:
        """See :meth:`EdgeConfirmationDesk.cancel`."""
        s = self._syms.get(symbol)
        if s is None:
            return False
        key = (strategy_id, side)
        s.dropped.pop(key, None)
        if s.cands.pop(key, None) is None:
            return False
        self.counts["cancelled"] += 1
        self.ctx.facts.set(EDGE_CANDIDATES, len(s.cands), symbol)
        return True

    def candidates(self, symbol: str) -> list[CandidateView]:
        """The live candidates of ``symbol`` (for inspection and tests)."""
        s = self._syms.get(symbol)
        if s is None:
            return []
        return [CandidateView(k[0], k[1], c.entry, c.spread, c.ratio, c.seq, c.expiry, c.low,
                              c.high, c.confirmed) for k, c in s.cands.items()]

    def seq(self, symbol: str) -> int:
        """Ticks seen for ``symbol`` (a candidate's ``seq`` is this number when stored)."""
        s = self._syms.get(symbol)
        return s.seq if s is not None else 0

    def stats(self) -> dict[str, Any]:
        return {f"edge_{k}": v for k, v in getattr(self, "counts", {}).items()}
