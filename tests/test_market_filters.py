"""Market filters: each registered name returns its own reason code (the table in
:mod:`hean_framework.execution.market_filters`)."""

from __future__ import annotations

from typing import Any

from hean_framework.book import OrderBook
from hean_framework.models import BLOCK, SKIP, BookUpdate, OrderDecision, Signal
from hean_framework.testing import SAMPLE_SYMBOL, build_component, isolated_plugins, make_context

SYM = SAMPLE_SYMBOL


def _check(name: str, ctx: Any, cfg: dict[str, Any] | None = None, size: float | None = None
           ) -> Any:
    f = build_component(isolated_plugins(), "filter", name, ctx, cfg)
    sig = Signal("s", SYM, "buy", ctx.now, 60000.0, stop_loss=59000.0, size=size)
    d = OrderDecision(1, 1, "s", SYM, "buy", ctx.now, price=60000.0)
    return f.check(sig, d)  # type: ignore[attr-defined]


def test_no_tick_and_stale() -> None:
    ctx = make_context(price=60000.0)
    ctx.market[SYM].ts = 0
    assert _check("no_tick_data", ctx).code == "NO_TICK_DATA"
    assert _check("stale_data", ctx).code == "NO_TICK_DATA"
    ctx.market[SYM].ts = ctx.now - 2500
    v = _check("stale_data", ctx)
    assert v.code == "STALE_MARKET_DATA" and v.decision == SKIP
    assert _check("stale_data", ctx, {"max_age_ms": 3000}) is None
    assert _check("stale_data", ctx, {"decision": "BLOCK"}).decision == BLOCK
    assert _check("no_tick_data", ctx) is None


def test_missing_quote_bar_data_policy() -> None:
    ctx = make_context(price=60000.0)  # bars only: no quote
    assert _check("missing_quote", ctx) is None
    assert _check("missing_quote", ctx, {"require_quote": True}).code == "MISSING_BID_ASK"
    st = ctx.market[SYM]
    st.bid, st.ask = 60000.0, 0.0  # one-sided
    assert _check("missing_quote", ctx).code == "MISSING_BID_ASK"
    st.ask = 60000.1
    assert _check("missing_quote", ctx, {"require_quote": True}) is None


def test_wide_and_invalid_spread() -> None:
    ctx = make_context(bid=59970.0, ask=60030.0)  # 10 bps
    v = _check("wide_spread", ctx)
    assert v.code == "SPREAD_TOO_WIDE" and v.details["max_spread_bps"] == 8.0
    assert _check("wide_spread", ctx, {"max_spread_bps": 12}) is None
    assert _check("invalid_spread", ctx) is None
    ctx = make_context(bid=60000.0, ask=60000.1)  # one tick = 0.017 bps: valid
    assert _check("invalid_spread", ctx) is None
    assert _check("invalid_spread", ctx, {"allow_one_tick": False}).code == "INVALID_SPREAD"
    ctx = make_context(price=60000.0)  # no quote: spread filters pass
    assert _check("wide_spread", ctx) is None and _check("invalid_spread", ctx) is None


def test_thin_book() -> None:
    ctx = make_context(bid=60000.0, ask=60000.1)
    book = OrderBook(SYM)
    book.apply(BookUpdate(0, SYM, True, [(60000.0, 1.0)], [(60000.1, 0.002), (60100.0, 5.0)]))
    ctx.market[SYM].book = book
    v = _check("thin_book", ctx)  # min order 0.001 BTC x 3 > 0.002 within 10 bps
    assert v.code == "THIN_BOOK" and v.details["required_depth"] == 0.003
    assert _check("thin_book", ctx, {"depth_bps": 20}) is None
    assert _check("thin_book", ctx, {"depth_bps": 20}, size=2.0).code == "THIN_BOOK"
    ctx2 = make_context(price=60000.0)
    assert _check("thin_book", ctx2) is None  # no book, no quote
