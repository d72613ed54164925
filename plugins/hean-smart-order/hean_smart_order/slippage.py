"""Slippage estimator: how far beyond the touch a market order of a given size will fill.

All numbers are bps of the **touch** the order would cross (the best ask for a buy, the best
bid for a sell; the L2 book's when there is one, else the quote's, else the last price), one
side (entry only).  :meth:`SlippageEstimator.estimate`, first source that
applies:

``book``
    the symbol has an L2 book: walk the *opposite* side level by level for the order's
    quantity, ``|VWAP - best| / best * 1e4``; when the side is empty or too thin for the
    quantity the estimate is ``thin_book_penalty_bps`` (20) and the source ``thin_book``.
``quote``
    no book, a best bid/ask with a size: 0 when the quantity fits in the touch's size (the
    order fills at the touch); a larger order gives no book estimate (next rule).
``volume``
    candle data (no book, no quote): the square-root market impact over one bar (Toth et al.
    2011, "Anomalous price impact and the critical nature of liquidity in financial
    markets", Phys. Rev. X 1, 021006)::

        volume_bps = volume_impact_y x sigma_bar x sqrt(qty / mean bar volume) x 1e4

    with ``sigma_bar`` the std of the last ``volume_window`` bars' log returns and the mean
    of their volumes (the kernel keeps the bars once a component sets
    ``ctx.market.keep_bars``); none when the bars carry no volume.
``history`` / ``default``
    nothing above: the realised history alone when it has ``min_history_fills`` fills, else
    ``default_bps`` (5).

**Realised history** per (symbol, side): the last ``history_fills`` (100) values of
``|fill - touch at submit| / touch * 1e4`` of the market orders the executor sent, with their
quantities (:meth:`SlippageEstimator.record`).  Slippage grows with size, so an estimate reads
only the fills of a comparable size: quantity within a factor ``history_size_band`` (2) of the
order's (0: every size, the original estimator's plain per-(symbol, side) average; on the
2024-08-08 capture that average, dominated by the large orders, put errors of 6-10 bps on the
small ones).  Once ``min_history_fills`` (5) such fills exist, a model estimate (book, quote or
volume) is blended::

    estimate = book_weight x model + (1 - book_weight) x mean(history)     (0.7 / 0.3)

and the source gets ``+history``.  Every estimate is capped at ``max_bps``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from hean_framework.components import ComponentConfig

if TYPE_CHECKING:
    from hean_framework.market import SymbolState

__all__ = ["SlippageConfig", "SlippageEstimate", "SlippageEstimator"]


class SlippageConfig(ComponentConfig):
    """``executors.smart_order.slippage``: the estimator's settings."""

    book_weight: float = Field(0.7, ge=0.0, le=1.0, description="weight of the model (book, "
                               "quote or volume) once realised history exists; the rest is "
                               "the history")
    history_fills: int = Field(100, ge=1, le=10_000, description="realised fills kept per "
                               "symbol and side")
    min_history_fills: int = Field(5, ge=1, le=1_000, description="realised fills needed "
                                   "before the history is used")
    thin_book_penalty_bps: float = Field(20.0, ge=0.0, le=500.0, description="estimate when "
                                         "the book side is empty or too thin for the order")
    default_bps: float = Field(5.0, ge=0.0, le=500.0, description="estimate with nothing to "
                               "go on (no book, quote, volume or history)")
    history_size_band: float = Field(2.0, ge=0.0, le=100.0, description="history fills count "
                                     "when their quantity is within this factor of the "
                                     "order's (0: every size)")
    volume_impact_y: float = Field(1.0, ge=0.0, le=10.0, description="Y of the square-root "
                                   "impact on candles (0: no volume estimate)")
    volume_window: int = Field(20, ge=3, le=64, description="bars in the volume estimate")
    max_bps: float = Field(100.0, gt=0.0, le=1_000.0, description="cap of every estimate")


@dataclass(slots=True)
class SlippageEstimate:
    """One estimate (bps of the touch) and the numbers behind it."""

    bps: float
    source: str
    touch: float
    model_bps: float | None = None
    history_bps: float | None = None
    history_fills: int = 0

    def as_dict(self) -> dict[str, Any]:
        """For the decision's details."""
        return {"slippage_bps": round(self.bps, 6), "slippage_source": self.source,
                "slippage_model_bps": None if self.model_bps is None
                else round(self.model_bps, 6),
                "slippage_history_bps": None if self.history_bps is None
                else round(self.history_bps, 6),
                "slippage_history_fills": self.history_fills, "touch": self.touch}


class SlippageEstimator:
    """Book walk / quote / volume model blended with realised fills (module docstring)."""

    def __init__(self, config: SlippageConfig | None = None) -> None:
        self.config = config or SlippageConfig()
        self._hist: dict[tuple[str, str], deque[tuple[float, float]]] = {}

    # ------------------------------------------------------------------ model parts

    def book_bps(self, st: SymbolState, side: str, qty: float) -> tuple[float, str] | None:
        """The walk of ``qty`` through the opposite side of ``st.book`` (None: no book)."""
        book = st.book
        if book is None:
            return None
        vwap, filled = book.walk(side, qty)
        best = book.ask if side == "buy" else book.bid
        if best <= 0.0 or filled + 1e-12 < qty:
            return self.config.thin_book_penalty_bps, "thin_book"
        return abs(vwap - best) / best * 1e4, "book"

    @staticmethod
    def quote_bps(st: SymbolState, side: str, qty: float) -> float | None:
        """0 when ``qty`` fits in the touch's size (None: no quote, or it does not fit)."""
        if not st.has_quote:
            return None
        size = st.ask_size if side == "buy" else st.bid_size
        return 0.0 if 0.0 < qty <= size else None

    def volume_bps(self, st: SymbolState, qty: float) -> float | None:
        """The square-root impact of ``qty`` over one bar (None without bars with volume)."""
        cfg = self.config
        bars = st.bars
        if cfg.volume_impact_y <= 0.0 or qty <= 0.0 or len(bars) < 3:
            return None
        window = list(bars)[-cfg.volume_window:]
        mean_vol = sum(b[2] for b in window) / len(window)
        if mean_vol <= 0.0:
            return None
        sigma = st.log_return_std(cfg.volume_window)
        return cfg.volume_impact_y * sigma * math.sqrt(qty / mean_vol) * 1e4

    def history(self, symbol: str, side: str, qty: float = 0.0) -> tuple[float | None, int]:
        """Mean realised slippage of (symbol, side) over the fills of a size comparable to
        ``qty`` (module docstring), and how many there are."""
        h = self._hist.get((symbol, side))
        if not h:
            return None, 0
        band = self.config.history_size_band
        if band > 0.0 and qty > 0.0:
            lo, hi = qty / band, qty * band
            vals = [v for q, v in h if lo <= q <= hi]
        else:
            vals = [v for _, v in h]
        return (sum(vals) / len(vals) if vals else None), len(vals)

    # ------------------------------------------------------------------ estimate

    def estimate(self, symbol: str, side: str, qty: float, st: SymbolState) -> SlippageEstimate:
        """The slippage of a market order of ``qty`` now (module docstring)."""
        cfg = self.config
        touch = (st.ask if side == "buy" else st.bid) if st.has_quote else st.price
        model: float | None = None
        source = ""
        walked = self.book_bps(st, side, qty) if qty > 0.0 else None
        if walked is not None:
            model, source = walked
            book = st.book
            best = (book.ask if side == "buy" else book.bid) if book is not None else 0.0
            touch = best or touch
        else:
            q = self.quote_bps(st, side, qty)
            if q is not None:
                model, source = q, "quote"
            elif not st.has_quote:
                v = self.volume_bps(st, qty)
                if v is not None:
                    model, source = v, "volume"
        hist, n = self.history(symbol, side, qty)
        use_hist = hist is not None and n >= cfg.min_history_fills
        if model is None:
            if use_hist:
                bps, source = float(hist), "history"  # type: ignore[arg-type]
            else:
                bps, source = cfg.default_bps, "default"
        elif use_hist:
            w = cfg.book_weight
            bps = w * model + (1.0 - w) * float(hist)  # type: ignore[arg-type]
            source += "+history"
        else:
            bps = model
        return SlippageEstimate(min(bps, cfg.max_bps), source, touch, model, hist, n)

    def record(self, symbol: str, side: str, touch: float, price: float,
               qty: float = 0.0) -> float | None:
        """Add one realised fill of an order of ``qty``: ``|price - touch| / touch * 1e4``
        (None: no touch)."""
        if touch <= 0.0:
            return None
        slip = abs(price - touch) / touch * 1e4
        key = (symbol, side)
        h = self._hist.get(key)
        if h is None:
            h = self._hist[key] = deque(maxlen=self.config.history_fills)
        h.append((qty, slip))
        return slip
