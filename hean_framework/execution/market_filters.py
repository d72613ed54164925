"""Market-data filters of small-capital mode: one Filter, one reason code each.

Also described in ``docs/small_capital.md``, "Market filters".

=================  ===================  ==============================================
registered name    reason code          rejects when
=================  ===================  ==============================================
``no_tick_data``   NO_TICK_DATA         the symbol has never had a market update
``stale_data``     STALE_MARKET_DATA    ``now - last update > max_age_ms`` (data time)
``missing_quote``  MISSING_BID_ASK      no usable best bid/ask (see ``require_quote``)
``wide_spread``    SPREAD_TOO_WIDE      quoted spread > ``max_spread_bps`` (8)
``invalid_spread`` INVALID_SPREAD       quoted spread < ``min_spread_bps`` (0.1) and not a
                                        whole tick (``allow_one_tick``)
``thin_book``      THIN_BOOK            depth within ``depth_bps`` on the side the order
                                        takes < ``depth_multiple`` x order size
=================  ===================  ==============================================

Data problems are transient, so the default verdict is SKIP (``decision: BLOCK`` to change).

``allow_one_tick`` (default true) departs from the original rule on purpose: one tick of a
BTC perpetual (0.1 USDT) is about 0.02 bps, so "spread < 0.1 bps is invalid" would reject every
tight BTC quote.

Bar-only data has no quote: the spread filters pass symbols without a quote, and
``missing_quote`` only rejects them with ``require_quote: true`` (default false; a quote that
exists but is one-sided or crossed is always MISSING_BID_ASK).

Filters run *before* sizing, so ``thin_book`` measures the signal's explicit ``size`` when it
has one and otherwise the exchange's minimum order quantity at the signal price (the smallest
order the account could send); without a book it uses the best bid/ask size of the quote and
without either it passes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..components import ComponentConfig, Filter, Verdict, block, skip
from ..models import OrderDecision, Signal

__all__ = ["FILTERS", "InvalidSpreadFilter", "MissingQuoteFilter", "NoTickDataFilter",
           "StaleDataFilter", "ThinBookFilter", "WideSpreadFilter"]


class MarketFilterConfig(ComponentConfig):
    """Common settings of the market filters."""

    decision: Literal["SKIP", "BLOCK"] = Field("SKIP", description="verdict on failure")


class _MarketFilter(Filter):
    config: MarketFilterConfig

    def _no(self, code: str, message: str, **details: float | str | None) -> Verdict:
        fn = skip if self.config.decision == "SKIP" else block
        return fn(code, message, **details)


class NoTickDataFilter(_MarketFilter):
    """``no_tick_data``: the symbol has never been updated."""

    config_model = MarketFilterConfig

    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        st = self.ctx.market.get(signal.symbol)
        if st is None or not st.ts:
            return self._no("NO_TICK_DATA", f"no market data for {signal.symbol} yet")
        return None


class StaleDataConfig(MarketFilterConfig):
    """``filters.stale_data``."""

    max_age_ms: int = Field(2_000, gt=0, description="oldest acceptable last update (ms of "
                            "data time)")


class StaleDataFilter(_MarketFilter):
    """``stale_data``: the last update of the symbol is older than ``max_age_ms``."""

    config_model = StaleDataConfig
    config: StaleDataConfig

    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        st = self.ctx.market.get(signal.symbol)
        if st is None or not st.ts:
            return self._no("NO_TICK_DATA", f"no market data for {signal.symbol} yet")
        age = st.age_ms(self.ctx.now)
        if age > self.config.max_age_ms:
            return self._no("STALE_MARKET_DATA", f"last {signal.symbol} update is {age} ms old "
                            f"(max {self.config.max_age_ms})", age_ms=age,
                            max_age_ms=self.config.max_age_ms)
        return None


class MissingQuoteConfig(MarketFilterConfig):
    """``filters.missing_quote``."""

    require_quote: bool = Field(False, description="reject symbols that never had a quote "
                                "(false: bar-only data passes)")


class MissingQuoteFilter(_MarketFilter):
    """``missing_quote``: no usable best bid/ask."""

    config_model = MissingQuoteConfig
    config: MissingQuoteConfig

    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        st = self.ctx.market.get(signal.symbol)
        bid = st.bid if st is not None else 0.0
        ask = st.ask if st is not None else 0.0
        if bid <= 0.0 and ask <= 0.0:
            if self.config.require_quote:
                return self._no("MISSING_BID_ASK", f"no best bid/ask for {signal.symbol}")
            return None
        if bid <= 0.0 or ask <= 0.0 or bid >= ask:
            return self._no("MISSING_BID_ASK", f"unusable quote {bid} / {ask} for "
                            f"{signal.symbol}", bid=bid, ask=ask)
        return None


class WideSpreadConfig(MarketFilterConfig):
    """``filters.wide_spread``."""

    max_spread_bps: float = Field(8.0, gt=0)


class WideSpreadFilter(_MarketFilter):
    """``wide_spread``: quoted spread above ``max_spread_bps``."""

    config_model = WideSpreadConfig
    config: WideSpreadConfig

    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        st = self.ctx.market.get(signal.symbol)
        sp = st.spread_bps() if st is not None else None
        if sp is not None and sp > self.config.max_spread_bps:
            return self._no("SPREAD_TOO_WIDE", f"spread {sp:.2f} bps > "
                            f"{self.config.max_spread_bps:g}", spread_bps=round(sp, 4),
                            max_spread_bps=self.config.max_spread_bps)
        return None


class InvalidSpreadConfig(MarketFilterConfig):
    """``filters.invalid_spread``."""

    min_spread_bps: float = Field(0.1, ge=0)
    allow_one_tick: bool = Field(True, description="a spread of one tick is valid even below "
                                 "min_spread_bps (tick-constrained books: BTC perps quote "
                                 "0.1 USDT ~ 0.02 bps)")


class InvalidSpreadFilter(_MarketFilter):
    """``invalid_spread``: quoted spread below ``min_spread_bps`` (locked/crossed or bad data)."""

    config_model = InvalidSpreadConfig
    config: InvalidSpreadConfig

    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        st = self.ctx.market.get(signal.symbol)
        sp = st.spread_bps() if st is not None else None
        if sp is not None and sp < self.config.min_spread_bps:
            if self.config.allow_one_tick and sp > 0.0 and st is not None \
                    and signal.symbol in self.ctx.instruments:
                tick = self.ctx.instruments.get(signal.symbol).tick_size
                if st.ask - st.bid >= tick * (1.0 - 1e-6):
                    return None
            return self._no("INVALID_SPREAD", f"spread {sp:.4f} bps < "
                            f"{self.config.min_spread_bps:g}", spread_bps=round(sp, 6),
                            min_spread_bps=self.config.min_spread_bps)
        return None


class ThinBookConfig(MarketFilterConfig):
    """``filters.thin_book``."""

    depth_bps: float = Field(10.0, gt=0, description="depth counted within this distance "
                             "of the touch")
    depth_multiple: float = Field(3.0, gt=0, description="required depth in order sizes")


class ThinBookFilter(_MarketFilter):
    """``thin_book``: not enough resting size on the side the order would take."""

    config_model = ThinBookConfig
    config: ThinBookConfig

    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        st = self.ctx.market.get(signal.symbol)
        if st is None:
            return None
        side = "ask" if signal.side == "buy" else "bid"
        if st.book is not None and (st.book.bid > 0.0 or st.book.ask > 0.0):
            depth = st.book.depth_within(side, self.config.depth_bps)
        elif st.bid > 0.0 and st.ask > 0.0:
            depth = st.ask_size if side == "ask" else st.bid_size
        else:
            return None
        qty = signal.size
        if not qty:
            inst = self.ctx.instruments.get(signal.symbol)
            qty = inst.min_order_qty(decision.price or st.price)
        need = self.config.depth_multiple * qty
        if depth < need:
            return self._no("THIN_BOOK", f"{depth:g} resting within "
                            f"{self.config.depth_bps:g} bps on the {side} side < "
                            f"{self.config.depth_multiple:g} x {qty:g}", depth=depth,
                            required_depth=need)
        return None


#: registered name -> (class, config model, description)
FILTERS: dict[str, tuple[type[Filter], type[ComponentConfig], str]] = {
    "no_tick_data": (NoTickDataFilter, MarketFilterConfig, "NO_TICK_DATA: symbol never updated"),
    "stale_data": (StaleDataFilter, StaleDataConfig,
                   "STALE_MARKET_DATA: last update older than max_age_ms"),
    "missing_quote": (MissingQuoteFilter, MissingQuoteConfig,
                      "MISSING_BID_ASK: no usable best bid/ask"),
    "wide_spread": (WideSpreadFilter, WideSpreadConfig,
                    "SPREAD_TOO_WIDE: spread above max_spread_bps"),
    "invalid_spread": (InvalidSpreadFilter, InvalidSpreadConfig,
                       "INVALID_SPREAD: spread below min_spread_bps"),
    "thin_book": (ThinBookFilter, ThinBookConfig, "THIN_BOOK: depth below k x order size"),
}
