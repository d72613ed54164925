"""``sentiment_strategy``: trades the sentiment facts a sentiment source publishes.

The strategy does no I/O and computes no sentiment: it reads the
:data:`~hean_sentiment.facts.SENTIMENT` fact of the symbol (``ctx.facts``).  Per symbol, on
every bar close or trade, an entry needs, in this order (each "no" is counted in ``stats()``
under the name in brackets):

1. a reading that is known (``no_sentiment``; a source's neutral stale reading:
   ``stale_reading``) and whose newest input is at most ``stale_min`` old (``stale``);
2. an action other than HOLD (``hold``), confidence >= ``min_confidence``
   (``low_confidence``) and ``|S| >= min_score`` (``weak_score``);
3. the side allowed by ``sides`` (``side_filtered``);
4. information newer than the last reading it traded on, so one update is traded at most
   once (``already_traded``);
5. ``cooldown_min`` since the symbol's last entry (``cooldown``) and no open position of this
   strategy in the symbol (``in_position``).

The side is the action's (BUY -> buy, SELL -> sell); stop ``stop_pct`` and target
``take_profit_pct`` from the price (1 % / 2 %: reward:risk 2), time stop ``max_hold_min``,
``confidence`` = the reading's confidence, ``urgency`` 0.4, a maker entry
(``prefer_maker``) and ``edge_bps`` = target distance in bps x confidence.

**Momentum fallback** (opt-in, ``momentum_fallback: true``): only while the symbol has no
live reading (cases of rule 1), over the last 20 prices ``m = mean(last 5) / mean(previous
15) - 1``; ``|m| >= fallback_threshold`` enters *with* the move, confidence
``min(0.7, 50 |m|)``, urgency 0.3, stop ``fallback_stop_pct``, target
``fallback_take_profit_pct``; rules 3 and 5 apply (``fallback_warmup`` before 20 prices,
``fallback_weak`` below the threshold).  The 20-price window is kept as two rolling sums.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

from pydantic import Field, model_validator

from hean_framework import ComponentConfig, Strategy
from hean_framework.models import Bar, Signal, Trade

from .facts import BUY, HOLD, SENTIMENT, SentimentReading, asset_of

#: the fallback's windows: the last 5 prices against the 15 before them
FAST, SLOW = 5, 15
FALLBACK_MAX_CONFIDENCE = 0.7
FALLBACK_CONFIDENCE_SLOPE = 50.0
FALLBACK_URGENCY = 0.3

#: every reason a price update does not become a signal, as counted in ``stats()``
SKIP_REASONS = ("no_sentiment", "stale_reading", "stale", "hold", "low_confidence",
                "weak_score", "side_filtered", "already_traded", "cooldown", "in_position",
                "fallback_warmup", "fallback_weak")


class SentimentStrategyConfig(ComponentConfig):
    """``strategies.sentiment_strategy``."""

    min_confidence: float = Field(0.75, ge=0.6, le=0.9,
                                  description="least sentiment confidence to trade")
    min_score: float = Field(0.6, ge=0.4, le=0.8,
                             description="least |S| (aggregated score) to trade")
    cooldown_min: float = Field(30.0, ge=15.0, le=120.0,
                                description="minutes between entries per symbol")
    stale_min: float = Field(15.0, ge=1.0, le=240.0,
                             description="a reading whose newest input is older than this "
                                         "(minutes) is not traded")
    stop_pct: float = Field(0.01, ge=0.002, le=0.05,
                            description="stop distance as a fraction of the entry price")
    take_profit_pct: float = Field(0.02, ge=0.004, le=0.2,
                                   description="target distance as a fraction of the entry "
                                               "price")
    max_hold_min: float = Field(240.0, ge=0.0, le=10_080.0,
                                description="time stop in minutes after the entry fill (0: "
                                            "none)")
    urgency: float = Field(0.4, ge=0.0, le=1.0,
                           description="signal urgency (maker-chase taker fallback)")
    prefer_maker: bool = Field(True, description="ask for a post-only (maker) entry")
    sides: Literal["both", "long", "short"] = Field(
        "both", description="which actions to trade: both, long (BUY) only, short (SELL) only")
    momentum_fallback: bool = Field(False, description="trade the 5/15-price momentum while "
                                                       "the symbol has no live reading")
    fallback_threshold: float = Field(0.003, ge=0.0005, le=0.05,
                                      description="|m| that makes a fallback entry")
    fallback_stop_pct: float = Field(0.008, ge=0.002, le=0.05,
                                     description="fallback stop distance (fraction of price)")
    fallback_take_profit_pct: float = Field(0.016, ge=0.004, le=0.2,
                                            description="fallback target distance (fraction "
                                                        "of price)")

    @model_validator(mode="after")
    def _check(self) -> SentimentStrategyConfig:
        if self.take_profit_pct <= self.stop_pct:
            raise ValueError(f"take_profit_pct ({self.take_profit_pct}) must be above "
                             f"stop_pct ({self.stop_pct})")
        if self.fallback_take_profit_pct <= self.fallback_stop_pct:
            raise ValueError(f"fallback_take_profit_pct ({self.fallback_take_profit_pct}) "
                             f"must be above fallback_stop_pct ({self.fallback_stop_pct})")
        return self


class _Book:
    """What the strategy remembers about one symbol."""

    __slots__ = ("asset", "last_entry", "last_traded_ts", "prices", "sum_fast", "sum_slow")

    def __init__(self, asset: str) -> None:
        self.asset = asset
        self.last_entry = -(1 << 62)
        self.last_traded_ts = 0  #: ``ts`` of the newest input of the last reading traded
        self.prices: deque[float] = deque(maxlen=FAST + SLOW)
        self.sum_fast = 0.0  #: sum of the last FAST prices
        self.sum_slow = 0.0  #: sum of the SLOW prices before them

    def push(self, price: float) -> None:
        """Add a price to the fallback window, keeping both rolling sums."""
        p = self.prices
        n = len(p)
        if n == FAST + SLOW:
            self.sum_slow -= p[0]
        if n >= FAST:
            moved = p[n - FAST]  # leaves the fast window for the slow one
            self.sum_fast -= moved
            self.sum_slow += moved
        p.append(price)
        self.sum_fast += price

    def momentum(self) -> float | None:
        """``mean(last 5) / mean(previous 15) - 1`` (None before 20 prices)."""
        if len(self.prices) < FAST + SLOW or self.sum_slow <= 0.0:
            return None
        return (self.sum_fast / FAST) / (self.sum_slow / SLOW) - 1.0


class SentimentStrategy(Strategy):
    """Enters on fresh, confident sentiment readings (rules in the module docstring)."""

    config: SentimentStrategyConfig

    def on_start(self) -> None:
        self._books: dict[str, _Book] = {}
        self.counts: dict[str, int] = {"evaluations": 0, **dict.fromkeys(SKIP_REASONS, 0),
                                       "entries": 0, "fallback_entries": 0}

    def on_bar(self, bar: Bar) -> Signal | None:
        return self._on_price(bar.symbol, bar.ts, bar.close)

    def on_trade(self, trade: Trade) -> Signal | None:
        return self._on_price(trade.symbol, trade.ts, trade.price)

    def _book(self, symbol: str) -> _Book:
        book = self._books.get(symbol)
        if book is None:
            inst = self.ctx.instruments.find(symbol) if self.ctx.instruments else None
            book = self._books[symbol] = _Book(asset_of(symbol, inst.base if inst else ""))
        return book

    def _on_price(self, symbol: str, ts: int, price: float) -> Signal | None:
        cfg = self.config
        book = self._book(symbol)
        if cfg.momentum_fallback:
            book.push(price)
        self.counts["evaluations"] += 1
        reading = self.ctx.facts.get(SENTIMENT, symbol)
        live = ""
        if not reading.known:
            live = "stale_reading" if reading.reason == "stale" else "no_sentiment"
        elif reading.age_ms(ts) > cfg.stale_min * 60_000:
            live = "stale"
        if live:
            if cfg.momentum_fallback:
                return self._fallback(symbol, ts, price, book, live)
            return self._no(live)
        if reading.action == HOLD:
            return self._no("hold")
        if reading.confidence < cfg.min_confidence:
            return self._no("low_confidence")
        if abs(reading.score) < cfg.min_score:
            return self._no("weak_score")
        side = "buy" if reading.action == BUY else "sell"
        if not self._side_ok(side):
            return self._no("side_filtered")
        if reading.ts <= book.last_traded_ts:
            return self._no("already_traded")
        if not self._free(symbol, ts, book):
            return None
        book.last_traded_ts = reading.ts
        self.counts["entries"] += 1
        return self._signal(symbol, side, ts, price, cfg.stop_pct, cfg.take_profit_pct,
                            reading.confidence, cfg.urgency, "SENTIMENT", _meta(reading, ts))

    def _fallback(self, symbol: str, ts: int, price: float, book: _Book,
                  why: str) -> Signal | None:
        cfg = self.config
        m = book.momentum()
        if m is None:
            return self._no("fallback_warmup")
        if abs(m) < cfg.fallback_threshold:
            return self._no("fallback_weak")
        side = "buy" if m > 0 else "sell"
        if not self._side_ok(side):
            return self._no("side_filtered")
        if not self._free(symbol, ts, book):
            return None
        self.counts["fallback_entries"] += 1
        conf = min(FALLBACK_MAX_CONFIDENCE, FALLBACK_CONFIDENCE_SLOPE * abs(m))
        return self._signal(symbol, side, ts, price, cfg.fallback_stop_pct,
                            cfg.fallback_take_profit_pct, conf, FALLBACK_URGENCY,
                            "SENTIMENT_FALLBACK", {"momentum": m, "no_sentiment": why})

    def _side_ok(self, side: str) -> bool:
        s = self.config.sides
        return s == "both" or (s == "long") == (side == "buy")

    def _free(self, symbol: str, ts: int, book: _Book) -> bool:
        """Cooldown over and no open position; counts the reason when not."""
        if ts - book.last_entry < self.config.cooldown_min * 60_000:
            self.counts["cooldown"] += 1
            return False
        if self.ctx.portfolio.position_qty(self.name, symbol) != 0.0:
            self.counts["in_position"] += 1
            return False
        book.last_entry = ts
        return True

    def _no(self, reason: str) -> Signal | None:
        """Count why this price update gives no signal (and give none)."""
        self.counts[reason] += 1
        return None

    def _signal(self, symbol: str, side: str, ts: int, price: float, stop_pct: float,
                tp_pct: float, confidence: float, urgency: float, tag: str,
                meta: dict[str, Any]) -> Signal:
        sign = 1.0 if side == "buy" else -1.0
        hold_ms = int(self.config.max_hold_min * 60_000)
        return self.signal(
            symbol, side, ts, price,
            stop_loss=price * (1.0 - sign * stop_pct),
            take_profit=price * (1.0 + sign * tp_pct),
            max_hold_ms=hold_ms or None, confidence=confidence, urgency=urgency,
            prefer_maker=self.config.prefer_maker, edge_bps=tp_pct * 1e4 * confidence,
            tag=tag, metadata=meta)

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "counts", {}))


def _meta(r: SentimentReading, now: int) -> dict[str, Any]:
    return {"asset": r.asset, "score": r.score, "sentiment_confidence": r.confidence,
            "action": r.action, "reading_ts": r.ts, "age_s": (now - r.ts) / 1000.0,
            "items": r.items, "n_sources": r.n_sources, "agreement": r.agreement,
            "sources": [list(s) for s in r.sources]}
