"""OFI monitor on the real Binance USDT-M L2 capture and best bid/offer stream (2024-08-08).

Invariants checked:

* right after the exchange snapshot, OFI equals the imbalance of the top 20 levels computed by
  hand from the snapshot message itself;
* after every L2 message, OFI equals a from-scratch imbalance of the top ``levels`` levels of
  an independently rebuilt book (a plain dict of absolute sizes), and is within [-1, 1];
  messages deeper than the top levels are skipped without a recomputation;
* without an L2 book, OFI comes from the best bid/offer sizes (``OFI_SOURCE == 'quote'``); a
  symbol with a live book ignores its quotes; a book without update for ``book_stale_s``
  gives way to the quotes (``source: book``: becomes unknown);
* an update-id gap makes OFI unknown (``''`` / 0.0) until the next snapshot;
* nothing published (no data) reads as the neutral default: ``OFI_SOURCE == ''``, OFI 0.0;
* the same messages give the same values (deterministic replay); the helpers follow their
  formulas.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hean_market_analyzers import aggression, ofi_trend, predict_next_ticks
from hean_market_analyzers.facts import OFI, OFI_SOURCE

from hean_framework.models import BookUpdate, MarketEvent, Quote

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


@pytest.fixture(scope="module")
def btc_l2(sample_data: Path, read_events: Any) -> list[MarketEvent]:
    return read_events([
        {"kind": "l2", "symbol": BTC,
         "path": str(sample_data / "binance_usdm_perp_BTCUSDT_l2_20240808_first60s.csv.gz")},
        {"kind": "bbo", "symbol": BTC,
         "path": str(sample_data / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
        {"kind": "bbo", "symbol": ETH,
         "path": str(sample_data / "binance_usdm_perp_ETHUSDT_bbo_20240808.csv.gz")},
    ])


def top_imbalance(bids: dict[float, float], asks: dict[float, float], n: int) -> float:
    b = sum(bids[p] for p in sorted(bids, reverse=True)[:n])
    a = sum(asks[p] for p in sorted(asks)[:n])
    return (b - a) / (b + a)


def test_snapshot_by_hand(make_analyzer: Any, drive: Any, btc_l2: list[MarketEvent]) -> None:
    snap = next(e for e in btc_l2 if isinstance(e, BookUpdate))
    assert snap.snapshot and len(snap.bids) > 100 and len(snap.asks) > 100
    mon, ctx = make_analyzer("ofi_monitor")
    assert ctx.facts.get(OFI_SOURCE, BTC) == "" and ctx.facts.get(OFI, BTC) == 0.0
    drive(ctx, [mon], [snap])
    bids = sorted(((p, q) for p, q in snap.bids if q > 0), reverse=True)[:20]
    asks = sorted((p, q) for p, q in snap.asks if q > 0)[:20]
    b, a = sum(q for _, q in bids), sum(q for _, q in asks)
    assert ctx.facts.get(OFI_SOURCE, BTC) == "book"
    assert math.isclose(ctx.facts.get(OFI, BTC), (b - a) / (b + a), rel_tol=1e-12)


@pytest.mark.parametrize("levels", [1, 5, 20, 100])
def test_every_message_equals_from_scratch(make_analyzer: Any, drive: Any,
                                           btc_l2: list[MarketEvent], levels: int) -> None:
    mon, ctx = make_analyzer("ofi_monitor", {"levels": levels})
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    checked = 0

    def check(ev: MarketEvent) -> None:
        nonlocal checked
        if not isinstance(ev, BookUpdate):
            return
        if ev.snapshot:
            bids.clear()
            asks.clear()
        for side, rows in ((bids, ev.bids), (asks, ev.asks)):
            for p, q in rows:
                if q > 0:
                    side[p] = q
                else:
                    side.pop(p, None)
        ofi = ctx.facts.get(OFI, BTC)
        assert ctx.facts.get(OFI_SOURCE, BTC) == "book"
        assert -1.0 <= ofi <= 1.0
        assert math.isclose(ofi, top_imbalance(bids, asks, levels), rel_tol=1e-9, abs_tol=1e-12)
        checked += 1

    drive(ctx, [mon], [e for e in btc_l2 if e.symbol == BTC], check)
    assert checked > 1000
    st = mon.stats()
    # deeper changes are skipped: fewer recomputations than messages with a shallow window
    if levels <= 20:
        assert st["ofi_recomputes"][BTC] < st["ofi_book_updates"][BTC]
    assert st["ofi_sequence_gaps"][BTC] == 0


def test_quotes_without_book_and_ignored_with_book(make_analyzer: Any, drive: Any,
                                                  btc_l2: list[MarketEvent]) -> None:
    mon, ctx = make_analyzer("ofi_monitor", symbols=[BTC, ETH])
    seen = {"eth": 0}

    def check(ev: MarketEvent) -> None:
        if isinstance(ev, Quote) and ev.symbol == ETH:
            assert ctx.facts.get(OFI_SOURCE, ETH) == "quote"
            assert ctx.facts.get(OFI, ETH) == pytest.approx(
                (ev.bid_size - ev.ask_size) / (ev.bid_size + ev.ask_size), rel=1e-12)
            seen["eth"] += 1
        book = ctx.market[BTC].book
        if ev.symbol == BTC and book is not None and ev.ts - book.ts <= 5_000:
            assert ctx.facts.get(OFI_SOURCE, BTC) == "book"

    drive(ctx, [mon], btc_l2, check)
    assert seen["eth"] > 10_000
    # source: quote uses the best bid/offer even where a book exists
    mon2, ctx2 = make_analyzer("ofi_monitor", {"source": "quote"})
    last: list[Quote] = []
    drive(ctx2, [mon2], [e for e in btc_l2 if e.symbol == BTC],
          lambda ev: last.append(ev) if isinstance(ev, Quote) else None)
    q = last[-1]
    assert ctx2.facts.get(OFI_SOURCE, BTC) == "quote"
    assert ctx2.facts.get(OFI, BTC) == pytest.approx(
        (q.bid_size - q.ask_size) / (q.bid_size + q.ask_size))


def test_sequence_gap_is_unknown_until_snapshot(make_analyzer: Any, drive: Any,
                                                btc_l2: list[MarketEvent]) -> None:
    books = [e for e in btc_l2 if isinstance(e, BookUpdate)]
    cut = 500
    mon, ctx = make_analyzer("ofi_monitor")
    drive(ctx, [mon], books[:cut])
    assert ctx.facts.get(OFI_SOURCE, BTC) == "book"
    # message cut is lost: the next one's prev_id does not continue the chain
    assert books[cut + 1].prev_id == books[cut].last_id != books[cut - 1].last_id
    drive(ctx, [mon], books[cut + 1:cut + 50])
    assert ctx.facts.get(OFI_SOURCE, BTC) == "" and ctx.facts.get(OFI, BTC) == 0.0
    assert mon.stats()["ofi_sequence_gaps"][BTC] == 1
    # a new snapshot resynchronises
    snap = ctx.market[BTC].book.snapshot(books[cut + 50].ts)
    snap.last_id = books[cut + 49].last_id
    drive(ctx, [mon], [snap, *books[cut + 50:cut + 60]])
    assert ctx.facts.get(OFI_SOURCE, BTC) == "book"
    # without sequence checks the monitor trusts the book it is given
    mon2, ctx2 = make_analyzer("ofi_monitor", {"check_sequence": False})
    drive(ctx2, [mon2], books[:cut] + books[cut + 1:cut + 50])
    assert ctx2.facts.get(OFI_SOURCE, BTC) == "book"


def test_deterministic(make_analyzer: Any, drive: Any, btc_l2: list[MarketEvent]) -> None:
    runs = []
    for _ in range(2):
        mon, ctx = make_analyzer("ofi_monitor", symbols=[BTC, ETH])
        vals: list[tuple[float, str]] = []
        drive(ctx, [mon], btc_l2[:20_000],
              lambda ev, c=ctx, v=vals: v.append((c.facts.get(OFI, ev.symbol),
                                                  c.facts.get(OFI_SOURCE, ev.symbol))))
        runs.append(vals)
    assert runs[0] == runs[1]


def test_helpers() -> None:
    assert aggression(0.4, "buy") == 0.4 and aggression(0.4, "sell") == 0.0
    assert aggression(-0.7, "sell") == 0.7 and aggression(-0.7, "buy") == 0.0
    assert ofi_trend(0.11) == "bullish" and ofi_trend(-0.11) == "bearish"
    assert ofi_trend(0.1) == "neutral"
    p = predict_next_ticks(0.5, 60_000.0)
    assert p.prices == pytest.approx((60_030.0, 60_045.0, 60_060.0))
    assert p.confidence == pytest.approx(0.4) and p.is_bullish
    assert p.expected_movement == pytest.approx(60.0)
    assert predict_next_ticks(-1.0, 100.0).confidence == 0.75


def test_stale_book_falls_back_to_quotes(make_analyzer: Any, drive: Any,
                                         btc_l2: list[MarketEvent]) -> None:
    btc = [e for e in btc_l2 if e.symbol == BTC]
    last_book = max(e.ts for e in btc if isinstance(e, BookUpdate))
    after = [e for e in btc if isinstance(e, Quote) and e.ts > last_book + 5_000]
    assert after, "the bundled BBO runs on after the 60 s of L2"
    mon, ctx = make_analyzer("ofi_monitor", {"book_stale_s": 5})
    drive(ctx, [mon], [e for e in btc if e.ts <= last_book + 5_000])
    assert ctx.facts.get(OFI_SOURCE, BTC) == "book"  # quotes within 5 s of the book: ignored
    q = after[0]
    drive(ctx, [mon], [q])
    assert ctx.facts.get(OFI_SOURCE, BTC) == "quote"
    assert ctx.facts.get(OFI, BTC) == pytest.approx(
        (q.bid_size - q.ask_size) / (q.bid_size + q.ask_size))
    mon2, ctx2 = make_analyzer("ofi_monitor", {"source": "book", "book_stale_s": 5})
    drive(ctx2, [mon2], [e for e in btc if e.ts <= q.ts])
    assert ctx2.facts.get(OFI_SOURCE, BTC) == "" and ctx2.facts.get(OFI, BTC) == 0.0
