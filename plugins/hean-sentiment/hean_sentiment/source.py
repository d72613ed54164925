"""``sentiment_source``: the analyzer that turns recorded scored items (and, opt-in, a market
proxy) into the :data:`~hean_sentiment.facts.SENTIMENT` fact of every symbol it listens to.

Rules (the README has the formulas and the parameter table):

* **No I/O per event.**  The items file (``path``, resolved with ``ctx.run.resolve``: relative
  to the run's YAML) is read once in ``on_start``; a missing or unreadable file leaves the
  source publishing nothing (every reader neutral) and is reported as the component's failure.
* **No look-ahead.**  An item is applied at the first event whose time is at or after its
  timestamp -- never before; the reading built then contains only items with
  ``ts <= now``.  Items of assets none of the source's symbols trade are counted and dropped.
* **Aggregation** per asset with the original weights and confidence formula
  (:mod:`hean_sentiment.aggregate`); each source keeps only its own lookback (news 24 h,
  twitter 1 h, reddit 24 h by default).
* **When readings change**: at once for the assets that received new items; every
  ``refresh_s`` for every asset (lookbacks expire, the market proxy moves); and as soon as an
  asset's newest input is older than ``stale_min``, when its reading becomes neutral
  (``reason="stale"``).  Between those moments an event costs one comparison per trigger.
* **Market proxy** (``market_proxy: true``): :mod:`hean_sentiment.proxy` per symbol, averaged
  over the asset's symbols, enters the aggregation as the source ``market`` (one item,
  confidence ``proxy_confidence``, weight ``proxy_weight``), computed at each refresh from data
  up to that moment; its time is the refresh time, so with the proxy on a reading stays fresh
  while market data flows.

List ``ofi_monitor`` (hean-market-analyzers) before this analyzer in the YAML so that the proxy
reads the order-flow fact of the same event.
"""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import Field, model_validator

from hean_framework import Analyzer, ComponentConfig
from hean_framework.facts import FactKey
from hean_framework.models import Bar, BookUpdate, Funding, MarkPrice, Quote, Trade

from .aggregate import SourceSummary, SourceWindow, Thresholds, aggregate
from .facts import NEUTRAL_SENTIMENT, SENTIMENT, SentimentReading, asset_of
from .items import REJECT_REASONS, Item, load_items
from .proxy import MarketProxy

#: the source name under which the market proxy enters the aggregation
MARKET_SOURCE = "market"
_FAR = 1 << 62


def _default_weights() -> dict[str, float]:
    return {"news": 0.5, "twitter": 0.3, "reddit": 0.2}


def _default_lookbacks() -> dict[str, float]:
    return {"news": 1440.0, "twitter": 60.0, "reddit": 1440.0}


class SentimentSourceConfig(ComponentConfig):
    """``analyzers.sentiment_source``."""

    path: str | None = Field(
        None, description="CSV of scored items (timestamp, asset, source, score, confidence); "
                          "relative to the run's YAML file; None: no recorded items (market "
                          "proxy only)")
    weights: dict[str, float] = Field(
        default_factory=_default_weights,
        description="source -> weight in the aggregated score (normalised over the sources "
                    "present); rows of other sources are skipped")
    lookback_min: dict[str, float] = Field(
        default_factory=_default_lookbacks,
        description="source -> minutes of items that count in its score (same keys as "
                    "weights)")
    refresh_s: float = Field(300.0, ge=1.0, le=86_400.0,
                             description="seconds between recomputations of every asset's "
                                         "reading (new items update at once)")
    stale_min: float = Field(15.0, ge=1.0, le=1440.0,
                             description="an asset whose newest input is older than this "
                                         "(minutes) gets the neutral reading")
    volume_full: float = Field(100.0, ge=1.0, le=100_000.0,
                               description="items at which the confidence's volume term is "
                                           "full")
    strength_full: float = Field(0.8, ge=0.05, le=1.0,
                                 description="|S| at which the confidence's strength term is "
                                             "full")
    full_sources: int = Field(3, ge=1, le=10,
                              description="sources at which the confidence's breadth term is "
                                          "full")
    hold_confidence: float = Field(0.5, ge=0.0, le=1.0,
                                   description="below this confidence the action is HOLD")
    action_confidence: float = Field(0.7, ge=0.0, le=1.0,
                                     description="confidence above which BUY/SELL are "
                                                 "recommended")
    action_score: float = Field(0.5, ge=0.0, le=1.0,
                                description="|S| above which BUY/SELL are recommended")
    market_proxy: bool = Field(False, description="add the market proxy (funding z-score, "
                                                  "order flow, momentum) as the source "
                                                  "'market'")
    proxy_weight: float = Field(0.2, ge=0.0, le=1.0,
                                description="weight of the market proxy in the aggregation")
    proxy_confidence: float = Field(0.5, ge=0.0, le=1.0,
                                    description="confidence of the market proxy's item")
    funding_window: int = Field(21, ge=6, le=1000,
                                description="funding settlements in the z-score window")
    funding_z_scale: float = Field(2.0, ge=0.1, le=10.0,
                                   description="funding z-score that maps to a full +-1")
    funding_contrarian: bool = Field(False, description="read high funding as bearish "
                                                        "(crowded longs) instead of bullish")
    momentum_bars: int = Field(12, ge=1, le=2000,
                               description="bars in the proxy's momentum return")
    momentum_scale: float = Field(0.01, ge=0.0005, le=0.5,
                                  description="log return that maps to a full +-1")
    use_ofi: bool = Field(True, description="read hean-market-analyzers' OFI fact in the "
                                            "proxy when it is published")

    @model_validator(mode="after")
    def _check(self) -> SentimentSourceConfig:
        if set(self.weights) != set(self.lookback_min):
            raise ValueError(f"weights and lookback_min must name the same sources; weights: "
                             f"{sorted(self.weights)}, lookback_min: {sorted(self.lookback_min)}")
        if MARKET_SOURCE in self.weights:
            raise ValueError(f"the source name {MARKET_SOURCE!r} is the market proxy's; set "
                             "market_proxy/proxy_weight instead")
        bad = {k: v for k, v in self.weights.items() if not 0.0 <= v <= 1000.0}
        if bad:
            raise ValueError(f"weights must be in 0..1000: {bad}")
        bad = {k: v for k, v in self.lookback_min.items() if not 1.0 <= v <= 100_000.0}
        if bad:
            raise ValueError(f"lookback_min must be in 1..100000 minutes: {bad}")
        if not self.market_proxy and not any(v > 0.0 for v in self.weights.values()):
            raise ValueError("no source has a positive weight and market_proxy is off")
        if not self.market_proxy and not self.path:
            raise ValueError("nothing to publish: set path (a CSV of scored items) or "
                             "market_proxy: true")
        return self

    def thresholds(self) -> Thresholds:
        """The aggregation's constants."""
        return Thresholds(self.volume_full, self.strength_full, self.full_sources,
                          self.hold_confidence, self.action_confidence, self.action_score)


class SentimentSource(Analyzer):
    """Publishes the sentiment of each asset from recorded items (rules in the module doc)."""

    config: SentimentSourceConfig

    def on_start(self) -> None:
        cfg = self.config
        self._th = cfg.thresholds()
        self._refresh_ms = int(cfg.refresh_s * 1000)
        self._stale_ms = int(cfg.stale_min * 60_000)
        self._items: list[Item] = []
        self._next = 0
        self._next_item_ts = _FAR
        self._next_refresh = 0
        self._next_stale = _FAR
        self._symbols_of: dict[str, list[str]] = {}
        self._asset_of: dict[str, str] = {}
        for s in self.symbols:
            self._map(s)
        self._windows: dict[str, dict[str, SourceWindow]] = {}
        self._proxies: dict[str, MarketProxy] = {}
        self._live: dict[str, SentimentReading] = {}
        self._ofi: tuple[FactKey[float], FactKey[str]] | None = None
        self.counts: dict[str, Any] = {
            "items_loaded": 0, "items_applied": 0, "items_unmapped": 0,
            **{f"rejected_{r}": 0 for r in REJECT_REASONS},
            "refreshes": 0, "readings_published": 0, "readings_stale": 0}
        if cfg.market_proxy:
            for s in self.symbols:
                self._proxy(s)
            if cfg.use_ofi:
                self._ofi = _ofi_keys()
        if cfg.path:
            path = self.ctx.run.resolve(cfg.path)
            items, rejected = load_items(path, frozenset(cfg.weights))
            self._items = items
            self._next_item_ts = items[0].ts if items else _FAR
            self.counts["items_loaded"] = len(items)
            for reason, n in rejected.items():
                self.counts[f"rejected_{reason}"] = n
            self.counts["file"] = str(path)

    def _map(self, symbol: str) -> str:
        asset = self._asset_of.get(symbol)
        if asset is None:
            inst = self.ctx.instruments.find(symbol) if self.ctx.instruments else None
            asset = asset_of(symbol, inst.base if inst is not None else "")
            self._asset_of[symbol] = asset
            self._symbols_of.setdefault(asset, []).append(symbol)
        return asset

    # ------------------------------------------------------------------ market callbacks

    def on_bar(self, bar: Bar) -> None:
        if self.config.market_proxy:
            self._proxy(bar.symbol).on_close(bar.close)
        self._tick(bar.ts)

    def on_funding(self, funding: Funding) -> None:
        if self.config.market_proxy:
            self._proxy(funding.symbol).on_funding(funding.rate)
        self._tick(funding.ts)

    def on_trade(self, trade: Trade) -> None:
        self._tick(trade.ts)

    def on_quote(self, quote: Quote) -> None:
        self._tick(quote.ts)

    def on_book(self, update: BookUpdate) -> None:
        self._tick(update.ts)

    def on_mark(self, mark: MarkPrice) -> None:
        self._tick(mark.ts)

    def _proxy(self, symbol: str) -> MarketProxy:
        p = self._proxies.get(symbol)
        if p is None:
            cfg = self.config
            p = self._proxies[symbol] = MarketProxy(
                cfg.momentum_bars, cfg.momentum_scale, cfg.funding_window,
                cfg.funding_z_scale, cfg.funding_contrarian)
            self._map(symbol)
        return p

    # ------------------------------------------------------------------ the clock

    def _tick(self, ts: int) -> None:
        now = max(ts, self.ctx.now)
        if now < self._next_item_ts and now < self._next_refresh and now <= self._next_stale:
            return  # the common case: nothing due
        assets = self._apply_due(now) if now >= self._next_item_ts else []
        if now >= self._next_refresh:
            assets = self._all_assets()  # every asset, the new items' included
            self._next_refresh = (now // self._refresh_ms + 1) * self._refresh_ms
        elif now > self._next_stale:
            assets += [a for a, r in self._live.items()
                       if now - r.ts > self._stale_ms and a not in assets]
        self._refresh(now, assets)

    def _apply_due(self, now: int) -> list[str]:
        """Move the items with ``ts <= now`` into their windows; the assets that got one."""
        items, i, n = self._items, self._next, len(self._items)
        lookbacks = self.config.lookback_min
        touched: list[str] = []
        while i < n and items[i].ts <= now:
            it = items[i]
            i += 1
            if it.asset not in self._symbols_of:
                self.counts["items_unmapped"] += 1
                continue
            wins = self._windows.get(it.asset)
            if wins is None:
                wins = self._windows[it.asset] = {}
            w = wins.get(it.source)
            if w is None:
                w = wins[it.source] = SourceWindow(int(lookbacks[it.source] * 60_000))
            w.add(it.ts, it.score, it.confidence)
            self.counts["items_applied"] += 1
            if it.asset not in touched:
                touched.append(it.asset)
        self._next = i
        self._next_item_ts = items[i].ts if i < n else _FAR
        return touched

    def _all_assets(self) -> list[str]:
        assets = list(self._windows)
        for sym in self._proxies:
            a = self._asset_of[sym]
            if a not in assets:
                assets.append(a)
        return assets

    # ------------------------------------------------------------------ readings

    def _refresh(self, now: int, assets: list[str]) -> None:
        if not assets:
            return
        self.counts["refreshes"] += 1
        for asset in assets:
            self._publish(asset, self._reading(asset, now))
        self._next_stale = min((r.ts + self._stale_ms for r in self._live.values()),
                               default=_FAR)

    def _reading(self, asset: str, now: int) -> SentimentReading:
        cfg = self.config
        summaries: list[SourceSummary] = []
        newest = 0
        for name, w in self._windows.get(asset, {}).items():
            w.evict(now)
            summaries.append(w.summary(name, cfg.weights[name]))
            if len(w) and w.newest > newest:
                newest = w.newest
        if cfg.market_proxy:
            proxy = self._proxy_score(asset)
            if proxy is not None:
                summaries.append(SourceSummary(MARKET_SOURCE, proxy, 1, cfg.proxy_weight))
                newest = max(newest, now)
        agg = aggregate(summaries, self._th)
        if agg.n_sources == 0:
            return SentimentReading(asset=asset, updated_ts=now, reason="no_items")
        if now - newest > self._stale_ms:
            return SentimentReading(asset=asset, ts=newest, updated_ts=now, reason="stale")
        return SentimentReading(True, asset, agg.score, agg.confidence, agg.action, newest, now,
                                agg.items, agg.n_sources, agg.agreement, agg.sources)

    def _proxy_score(self, asset: str) -> float | None:
        """Mean proxy score of the asset's symbols that have one (None: none has)."""
        total, n = 0.0, 0
        for sym in self._symbols_of.get(asset, ()):
            p = self._proxies.get(sym)
            if p is None:
                continue
            ofi = None
            if self._ofi is not None:
                key, src = self._ofi
                if self.ctx.facts.get(src, sym):
                    ofi = self.ctx.facts.get(key, sym)
            s = p.score(ofi)
            if s is not None:
                total += s[0]
                n += 1
        return total / n if n else None

    def _publish(self, asset: str, reading: SentimentReading) -> None:
        if reading.known:
            self._live[asset] = reading
        else:
            was = self._live.pop(asset, None)
            if reading.reason == "stale" and was is not None:
                self.counts["readings_stale"] += 1
        self.counts["readings_published"] += 1
        facts = self.ctx.facts
        for sym in self._symbols_of.get(asset, ()):
            facts.set(SENTIMENT, reading, sym)

    def reading(self, asset: str) -> SentimentReading:
        """The last reading published for ``asset`` (neutral when none is live)."""
        return self._live.get(asset.upper(), NEUTRAL_SENTIMENT)

    def stats(self) -> dict[str, Any]:
        return dict(getattr(self, "counts", {}))


def _ofi_keys() -> tuple[FactKey[float], FactKey[str]] | None:
    """hean-market-analyzers' ``OFI`` and ``OFI_SOURCE`` keys, or None when not installed."""
    try:
        mod = importlib.import_module("hean_market_analyzers.facts")
    except ImportError:
        return None
    return mod.OFI, mod.OFI_SOURCE
