"""HFScalping: very short-horizon momentum on ticks, entered post-only at the touch.

Rules, per symbol:

* **Ticks.** A tick is one price update of the symbol's tick source (``tick_source``): the
  trade price, the bar close or the quote mid.  ``auto`` takes, per symbol, the first of bars
  or trades that arrives and from then on only that kind.  With ``tick_ms > 0`` an update
  counts as a tick only when it comes at least ``tick_ms`` after the previous tick (data time),
  so a burst of prints from one sweeping order is one tick, not five.
* **Momentum.** Once ``window`` ticks were seen, ``move_bps = (p_newest / p_oldest - 1) x 1e4``
  over the last ``window`` tick prices.  ``move_bps >= min_move_bps`` proposes a buy,
  ``move_bps <= -min_move_bps`` a sell (follow the move); ``sides`` may allow only one.
* **Then, in this order**, the proposal is dropped (and counted) when: the symbol is in its
  ``cooldown_s`` after the previous entry signal; the strategy holds a position in the symbol
  or has an entry order of it resting; the symbol's regime (fact ``REGIME``) belongs to a
  family outside ``regime_families``; a price-anomaly block is active
  (``respect_anomaly_block``); there is no best bid/ask (``require_quote``); the quoted spread
  is above ``max_spread_bps``; the order-flow imbalance is known and does not favour the side
  by ``min_ofi`` (see below).
* **Entry**: a post-only limit order at the touch -- a buy at the best bid, a sell at the best
  ask (the last price when no quote is known and ``require_quote`` is off) -- with
  ``order_type="limit"``, ``limit_price`` = that price and ``prefer_maker=True``.
* **Exits** ride on the signal and are managed by the engine once the entry fills: target
  ``take_profit_bps`` and stop ``stop_loss_bps`` from the entry price, time stop ``max_hold_s``.
* **Edge** handed to the trade gate: ``edge_hint_factor x (take_profit_bps - stop_loss_bps)``
  bps (0: no hint; the gate then estimates the edge from the target and the spread).  It is the
  original's rule of thumb, not a measured win rate.

Regime families: ``RANGE_LIKE`` = RANGE, ACCUMULATION; ``NEUTRAL`` = NORMAL; ``TREND`` = MARKUP,
MARKDOWN; ``VOLATILE`` = IMPULSE, DISTRIBUTION.  The default whitelist (RANGE_LIKE, NEUTRAL,
TREND) is what a "RANGE or NORMAL" list means once the detector also speaks Wyckoff labels.
No regime published (``""``) and labels of no family pass.

Order-flow imbalance: the facts ``OFI`` and ``OFI_SOURCE`` of ``hean-market-analyzers``
(``ofi_monitor``).  ``OFI_SOURCE == ""`` means *unknown* (no book, an update-id gap ...): the
rule is skipped, never read as "no pressure".  ``ofi_source`` picks which known sources apply
the rule: ``any`` (L2 book or best bid/offer sizes), ``book`` (L2 only) or ``off``.  A buy needs
``OFI >= min_ofi``, a sell ``OFI <= -min_ofi``.

Every market event the strategy is handed ends in exactly one counter of :meth:`HFScalping.
stats`: not a tick (``ignored_source``, ``throttled``) or a tick that ends in ``entries`` or in
the one reason it did not (``warmup``, ``move_below_min`` ...).  State is O(1) per event: a ring
buffer of ``window`` prices and two timestamps per symbol.

The facts are read through ``ctx.facts`` only.  Their keys are the analyzers' own, imported
from ``hean_market_analyzers.facts``; without that package they are declared here with the
same name, type and owner (so the kernel's registry hands out the one key either way) and a
run reads their neutral defaults: OFI unknown, no anomaly block.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Final, Literal

from pydantic import Field

from hean_framework import ComponentConfig, Strategy
from hean_framework.facts import REGIME, declare
from hean_framework.models import Bar, Quote, Signal, Trade

try:  # the analyzers' own keys when the package is installed
    from hean_market_analyzers.facts import ANOMALY_BLOCKED_UNTIL, OFI, OFI_SOURCE
except ImportError:  # pragma: no cover - exercised in the plugin's own tox env
    _OWNER = "market_analyzers"
    OFI = declare("ofi", float, owner=f"{_OWNER}:ofi_monitor", default=0.0,
                  doc="order-book imbalance (B - A) / (B + A), -1..1 (hean-market-analyzers)")
    OFI_SOURCE = declare("ofi_source", str, owner=f"{_OWNER}:ofi_monitor", default="",
                         doc="'book', 'quote' or '' (unknown) (hean-market-analyzers)")
    ANOMALY_BLOCKED_UNTIL = declare(
        "price_anomaly_blocked_until", int, owner=f"{_OWNER}:price_anomaly", default=0,
        doc="epoch ms until which a spike blocks the symbol (hean-market-analyzers)")

__all__ = ["ANOMALY_BLOCKED_UNTIL", "FAMILIES", "NOT_TICKS", "OFI", "OFI_SOURCE", "REASONS",
           "HFScalping", "HFScalpingConfig", "family_of"]

Family = Literal["RANGE_LIKE", "NEUTRAL", "TREND", "VOLATILE"]


def _default_families() -> list[Family]:
    """RANGE and NORMAL of the original whitelist, as families: RANGE_LIKE, NEUTRAL, TREND."""
    return ["RANGE_LIKE", "NEUTRAL", "TREND"]


#: family -> its regime labels (the grouping of ``hean_market_analyzers.FAMILIES``)
FAMILIES: Final[dict[str, frozenset[str]]] = {
    "RANGE_LIKE": frozenset({"RANGE", "ACCUMULATION"}),
    "NEUTRAL": frozenset({"NORMAL"}),
    "TREND": frozenset({"MARKUP", "MARKDOWN"}),
    "VOLATILE": frozenset({"IMPULSE", "DISTRIBUTION"}),
}
_FAMILY_OF: Final = {label: fam for fam, labels in FAMILIES.items() for label in labels}

#: why a tick did not become a signal, in the order the rules are checked
REASONS: Final = ("warmup", "move_below_min", "side_disabled", "cooldown", "in_position",
                  "order_pending", "regime_excluded", "anomaly_blocked", "no_quote",
                  "spread_too_wide", "ofi_against", "bad_price")
#: why a market event was not a tick
NOT_TICKS: Final = ("ignored_source", "throttled")


def family_of(regime: str) -> str:
    """The family of a regime label; ``''`` for no label or a label of no family."""
    return _FAMILY_OF.get(regime.upper(), "")


class HFScalpingConfig(ComponentConfig):
    """``strategies.hf_scalping``."""

    tick_source: Literal["auto", "trades", "bars", "quotes"] = Field(
        "auto", description="what a tick is: auto (per symbol the first of bars or trades to "
                            "arrive), trades (trade price), bars (close) or quotes (mid)")
    tick_ms: int = Field(
        1000, ge=0, le=60_000,
        description="least time between two ticks, ms: an update sooner than this after the "
                    "previous tick is not a tick (0: every update is one)")
    window: int = Field(5, ge=2, le=200,
                        description="ticks in the momentum window (oldest to newest price)")
    min_move_bps: float = Field(10.0, ge=0.1, le=500.0,
                                description="least move over the window to follow, bps")
    take_profit_bps: float = Field(35.0, ge=1.0, le=1000.0,
                                   description="target distance from the entry price, bps")
    stop_loss_bps: float = Field(12.0, ge=1.0, le=1000.0,
                                 description="stop distance from the entry price, bps")
    max_hold_s: float = Field(90.0, ge=0.0, le=86_400.0,
                              description="time stop after the entry fill, seconds (0: none)")
    cooldown_s: float = Field(30.0, ge=0.0, le=86_400.0,
                              description="seconds after an entry signal in which the symbol "
                                          "gives no new one")
    max_spread_bps: float = Field(2.0, ge=0.0, le=100.0,
                                  description="widest quoted spread at which to enter, bps")
    require_quote: bool = Field(
        True, description="no entry without a best bid/ask (false: enter at the last price "
                          "when there is none, e.g. on candles)")
    ofi_source: Literal["any", "book", "off"] = Field(
        "any", description="which known order-flow imbalance applies the OFI rule: any (L2 "
                           "book or best bid/offer), book (L2 only) or off; unknown never")
    min_ofi: float = Field(0.2, ge=0.0, le=1.0,
                           description="least order-flow imbalance in the side's favour")
    regime_families: list[Family] = Field(
        default_factory=_default_families,
        description="regime families (of the fact REGIME) in which to enter; no regime "
                    "published passes")
    respect_anomaly_block: bool = Field(
        True, description="no entry while the price-anomaly analyzer blocks the symbol")
    sides: Literal["both", "long", "short"] = Field(
        "both", description="which moves to follow: both, long (up) only, short (down) only")
    edge_hint_factor: float = Field(
        0.6, ge=0.0, le=5.0,
        description="expected edge given to the trade gate = factor x (take_profit_bps - "
                    "stop_loss_bps); 0: none, the gate estimates it")
    confidence: float = Field(0.5, ge=0.05, le=1.0,
                              description="the signal's confidence (read by maker_chase)")
    urgency: float = Field(0.1, ge=0.0, le=1.0,
                           description="the signal's urgency; below maker_chase's min_urgency "
                                       "no taker fallback")


class _Sym:
    """What the strategy remembers about one symbol."""

    __slots__ = ("last_signal", "last_tick", "prices", "source")

    def __init__(self, window: int, source: str) -> None:
        self.prices: deque[float] = deque(maxlen=window)
        self.last_tick = -(1 << 62)  #: ts of the last tick
        self.last_signal = -(1 << 62)  #: ts of the last entry signal
        self.source = source  #: the tick kind of this symbol ('' = auto, not decided yet)


class HFScalping(Strategy):
    """Tick momentum scalper: post-only entry at the touch, tight target, stop and time stop."""

    config: HFScalpingConfig

    def on_start(self) -> None:
        self._syms: dict[str, _Sym] = {}
        self.counts: dict[str, int] = dict.fromkeys(
            ("events", *NOT_TICKS, "ticks", *REASONS, "entries", "ofi_unknown"), 0)
        self._configure()

    def _configure(self) -> None:
        cfg = self.config
        self._source = "" if cfg.tick_source == "auto" else cfg.tick_source
        self._families = frozenset(cfg.regime_families)
        self._cooldown_ms = round(cfg.cooldown_s * 1000)
        self._hold_ms = round(cfg.max_hold_s * 1000) or None
        self._tp = cfg.take_profit_bps * 1e-4
        self._sl = cfg.stop_loss_bps * 1e-4
        edge = cfg.edge_hint_factor * (cfg.take_profit_bps - cfg.stop_loss_bps)
        self._edge: float | None = edge if cfg.edge_hint_factor > 0.0 else None

    def on_params_updated(self, params: dict[str, Any]) -> list[str]:
        """The kernel's rule (:func:`hean_framework.params.apply_clamped`: known keys only,
        numbers clamped into their bounds, a refused combination changes nothing), then the
        derived constants and windows follow."""
        accepted = super().on_params_updated(params)
        if accepted:
            self._configure()
            w = self.config.window
            for st in self._syms.values():
                st.prices = deque(st.prices, maxlen=w)
                if self._source:
                    st.source = self._source
        return accepted

    # ------------------------------------------------------------------ market callbacks

    def on_trade(self, trade: Trade) -> Signal | None:
        return self._update(trade.symbol, trade.ts, trade.price, "trades")

    def on_bar(self, bar: Bar) -> Signal | None:
        return self._update(bar.symbol, bar.ts, bar.close, "bars")

    def on_quote(self, quote: Quote) -> Signal | None:
        return self._update(quote.symbol, quote.ts, (quote.bid + quote.ask) * 0.5, "quotes")

    def _update(self, symbol: str, ts: int, price: float, kind: str) -> Signal | None:
        counts = self.counts
        counts["events"] += 1
        st = self._syms.get(symbol)
        if st is None:
            st = self._syms[symbol] = _Sym(self.config.window, self._source)
        if st.source != kind:
            if st.source or kind == "quotes":
                counts["ignored_source"] += 1
                return None
            st.source = kind  # auto: the first of bars / trades decides
        if ts - st.last_tick < self.config.tick_ms:
            counts["throttled"] += 1
            return None
        st.last_tick = ts
        counts["ticks"] += 1
        prices = st.prices
        prices.append(price)
        if len(prices) < prices.maxlen:  # type: ignore[operator]
            counts["warmup"] += 1
            return None
        first = prices[0]
        if not (first > 0.0 and price > 0.0):
            counts["bad_price"] += 1
            return None
        move = (price / first - 1.0) * 1e4
        cfg = self.config
        if move >= cfg.min_move_bps:
            side = "buy"
        elif move <= -cfg.min_move_bps:
            side = "sell"
        else:
            counts["move_below_min"] += 1
            return None
        return self._entry(symbol, ts, side, move, st)

    # ------------------------------------------------------------------ the entry rules

    def _reject(self, reason: str) -> Signal | None:
        """Count why this tick gives no signal; the tick's answer (None)."""
        self.counts[reason] += 1
        return None

    def _entry(self, symbol: str, ts: int, side: str, move: float, st: _Sym) -> Signal | None:
        cfg = self.config
        if (cfg.sides == "long" and side == "sell") or (cfg.sides == "short" and side == "buy"):
            return self._reject("side_disabled")
        if ts - st.last_signal < self._cooldown_ms:
            return self._reject("cooldown")
        ctx = self.ctx
        if ctx.portfolio.position_qty(self.name, symbol) != 0.0:
            return self._reject("in_position")
        for o in ctx.orders.open_orders(symbol):
            if o.strategy_id == self.name and not o.reduce_only:
                return self._reject("order_pending")
        facts = ctx.facts
        regime = facts.get(REGIME, symbol)
        if regime:
            family = family_of(regime)
            if family and family not in self._families:
                return self._reject("regime_excluded")
        if cfg.respect_anomaly_block and ctx.now < facts.get(ANOMALY_BLOCKED_UNTIL, symbol):
            return self._reject("anomaly_blocked")
        m = ctx.market[symbol]
        spread = m.spread_bps()
        if spread is None:
            if cfg.require_quote:
                return self._reject("no_quote")
            entry = m.last or m.price
        else:
            if spread > cfg.max_spread_bps:
                return self._reject("spread_too_wide")
            entry = m.bid if side == "buy" else m.ask
        source = facts.get(OFI_SOURCE, symbol)
        ofi: float | None = None
        if cfg.ofi_source != "off" and source and (cfg.ofi_source == "any" or source == "book"):
            ofi = facts.get(OFI, symbol)
            if (ofi < cfg.min_ofi) if side == "buy" else (ofi > -cfg.min_ofi):
                return self._reject("ofi_against")
        elif not source:
            self.counts["ofi_unknown"] += 1
        if not (entry > 0.0 and math.isfinite(entry)):
            return self._reject("bad_price")
        sign = 1.0 if side == "buy" else -1.0
        st.last_signal = ts
        self.counts["entries"] += 1
        return self.signal(
            symbol, side, ts, entry,
            stop_loss=entry * (1.0 - sign * self._sl),
            take_profit=entry * (1.0 + sign * self._tp),
            max_hold_ms=self._hold_ms,
            order_type="limit", limit_price=entry, prefer_maker=True,
            confidence=cfg.confidence, urgency=cfg.urgency, edge_bps=self._edge,
            tag="HF_SCALP_LONG" if side == "buy" else "HF_SCALP_SHORT",
            metadata={"move_bps": move, "spread_bps": spread, "ofi": ofi,
                      "ofi_source": source, "regime": regime})

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "counts", {}))
