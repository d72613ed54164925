"""OrderBook: rebuilt from real Binance L2 data and checked against the BBO stream of the same
capture (the data README says they agree at every message)."""

from __future__ import annotations

import bisect
import csv
import gzip
from pathlib import Path

import pytest

from hean_framework.book import OrderBook
from hean_framework.feeds import CsvFeed, CsvFeedConfig
from hean_framework.models import BookUpdate

SYMBOL = "BTC/USDT:USDT"
L2_SAMPLE = "binance_usdm_perp_BTCUSDT_l2_20240808_first60s.csv.gz"
BBO_SAMPLE = "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz"


def l2_messages(path: Path) -> list[BookUpdate]:
    feed = CsvFeed(CsvFeedConfig(files=[{"kind": "l2", "symbol": SYMBOL, "path": str(path)}]),
                   None)
    msgs = list(feed.events())
    assert feed.rejections() == {}
    return msgs


def bbo_rows(path: Path) -> list[tuple[int, float, float, float, float]]:
    """(update_id, bid, bid_size, ask, ask_size) sorted by update id, read independently."""
    with gzip.open(path, "rt") as fh:
        rd = csv.DictReader(fh)
        rows = [(int(r["update_id"]), float(r["bid_price"]), float(r["bid_size"]),
                 float(r["ask_price"]), float(r["ask_size"])) for r in rd]
    rows.sort()
    return rows


def raw_snapshot(path: Path) -> tuple[dict[float, float], dict[float, float]]:
    """The snapshot rows of an L2 file, read without the feed."""
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    with gzip.open(path, "rt") as fh:
        for r in csv.DictReader(fh):
            if r["action"] != "snapshot":
                break
            (bids if r["side"] == "bid" else asks)[float(r["price"])] = float(r["size"])
    return bids, asks


@pytest.fixture(scope="module")
def sample_msgs() -> list[BookUpdate]:
    return l2_messages(Path(__file__).resolve().parents[1] / "examples" / "data" / L2_SAMPLE)


def test_sample_book_agrees_with_bbo_at_every_message(sample_msgs: list[BookUpdate],
                                                      sample_data: Path) -> None:
    bbo = bbo_rows(sample_data / BBO_SAMPLE)
    ids = [r[0] for r in bbo]
    book = OrderBook(SYMBOL)
    checked = 0
    for m in sample_msgs:
        book.apply(m)
        assert not book.is_crossed()
        if m.snapshot:
            continue
        i = bisect.bisect_right(ids, book.last_id) - 1
        assert i >= 0
        _, bid, bid_size, ask, ask_size = bbo[i]
        assert (book.bid, book.ask) == (bid, ask), f"message {m.last_id}"
        assert (book.bid_size, book.ask_size) == (bid_size, ask_size)
        checked += 1
    assert checked > 500
    assert book.bid == pytest.approx(61_700, rel=0.01)


def test_full_usdm_btc_book_ends_at_last_bbo(shared_data: Path) -> None:
    msgs = l2_messages(shared_data / "orderbook/binance_usdm_perp_BTCUSDT_l2_20240808.csv.gz")
    bbo = bbo_rows(shared_data / "orderbook/binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")
    book = OrderBook(SYMBOL)
    for m in msgs:
        book.apply(m)
    last = bbo[-1]
    assert (book.bid, book.ask) == (last[1], last[3]) == (61659.7, 61659.8)
    assert (book.bid_size, book.ask_size) == (last[2], last[4])
    assert book.last_id == msgs[-1].last_id


def test_snapshot_levels_size_at_and_order(sample_msgs: list[BookUpdate],
                                           sample_data: Path) -> None:
    bids, asks = raw_snapshot(sample_data / L2_SAMPLE)
    book = OrderBook(SYMBOL)
    book.apply(sample_msgs[0])
    assert sample_msgs[0].snapshot
    assert len(book) == len(bids) + len(asks) == 2000
    assert book.bid == max(bids) and book.bid_size == bids[max(bids)]
    assert book.ask == min(asks) and book.ask_size == asks[min(asks)]
    top = book.levels("bid", 5)
    assert top == [(p, bids[p]) for p in sorted(bids, reverse=True)[:5]]
    assert book.levels("ask", 5) == [(p, asks[p]) for p in sorted(asks)[:5]]
    assert book.levels("bid", 10_000) == sorted(bids.items(), reverse=True)
    assert book.levels("ask", 0) == []
    some = sorted(asks)[17]
    assert book.size_at("ask", some) == asks[some]
    assert book.size_at("bid", some) == 0.0
    # a later snapshot replaces everything: apply the first snapshot again after updates
    for m in sample_msgs[1:200]:
        book.apply(m)
    book.apply(sample_msgs[0])
    assert book.levels("bid", 10_000) == sorted(bids.items(), reverse=True)
    assert len(book) == 2000


def test_walk_and_depth_match_brute_force(sample_msgs: list[BookUpdate]) -> None:
    book = OrderBook(SYMBOL)
    for m in sample_msgs[:300]:
        book.apply(m)
    asks = book.levels("ask", 10**6)
    bids = book.levels("bid", 10**6)
    for qty in (0.001, 1.0, 25.0, 400.0):
        left, notional = qty, 0.0
        for p, s in asks:
            take = min(s, left)
            notional += p * take
            left -= take
            if left <= 0:
                break
        px, filled = book.walk("buy", qty)
        assert filled == pytest.approx(qty - left)
        assert px == pytest.approx(notional / (qty - left))
        assert px >= book.ask
    px, filled = book.walk("sell", 0.001)
    assert (px, filled) == (book.bid, 0.001)
    total_bids = sum(s for _, s in bids)
    px, filled = book.walk("sell", total_bids * 2)
    assert filled == pytest.approx(total_bids)
    assert bids[-1][0] < px < book.bid
    for bps in (0.0, 1.0, 10.0, 100.0):
        lim = book.ask * (1 + bps / 1e4)
        assert book.depth_within("ask", bps) == pytest.approx(
            sum(s for p, s in asks if p <= lim))
        lim = book.bid * (1 - bps / 1e4)
        assert book.depth_within("bid", bps) == pytest.approx(
            sum(s for p, s in bids if p >= lim))
    assert book.depth_within("bid", 0.0) == book.bid_size


def test_removing_best_levels_moves_best(sample_msgs: list[BookUpdate]) -> None:
    book = OrderBook(SYMBOL)
    book.apply(sample_msgs[0])
    b2 = book.levels("bid", 2)
    a2 = book.levels("ask", 2)
    book.apply(BookUpdate(1, SYMBOL, False, [(b2[0][0], 0.0)], [(a2[0][0], 0.0)], 0, 7))
    assert (book.bid, book.bid_size) == b2[1]
    assert (book.ask, book.ask_size) == a2[1]
    assert book.last_id == 7
    # re-adding restores, and a size update of the best changes only the size
    book.apply(BookUpdate(2, SYMBOL, False, [b2[0]], [(a2[0][0], 3.5)], 0, 8))
    assert (book.bid, book.bid_size) == b2[0]
    assert (book.ask, book.ask_size) == (a2[0][0], 3.5)


def test_empty_book() -> None:
    book = OrderBook(SYMBOL)
    assert (book.bid, book.ask, book.bid_size, book.ask_size, book.last_id) == (0, 0, 0, 0, 0)
    assert book.walk("buy", 1.0) == (0.0, 0.0)
    assert book.walk("sell", 1.0) == (0.0, 0.0)
    assert book.depth_within("bid", 10) == 0.0
    assert book.levels("ask", 3) == []
    assert not book.is_crossed()
    with pytest.raises(ValueError):
        book.levels("middle", 1)


def test_apply_checked_rolls_back_a_crossing_message(sample_msgs: list[BookUpdate]) -> None:
    book = OrderBook(SYMBOL)
    for m in sample_msgs[:50]:
        book.apply(m)
    before = (book.levels("bid", 10**6), book.levels("ask", 10**6), book.last_id, book.bid,
              book.ask)
    # deliberately bad message: a bid above the best ask, plus a removal of the best bid
    bad = BookUpdate(book.ts, SYMBOL, False, [(book.bid, 0.0), (book.ask + 1.0, 2.0)],
                     [(book.ask + 5.0, 1.0)], 0, book.last_id + 1)
    assert book.apply_checked(bad) is False
    assert (book.levels("bid", 10**6), book.levels("ask", 10**6), book.last_id, book.bid,
            book.ask) == before
    assert book.apply_checked(sample_msgs[50]) is True
    assert book.last_id == sample_msgs[50].last_id
