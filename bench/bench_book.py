#!/usr/bin/env python3
"""Order-book benchmark: replay every real L2 file through ``OrderBook.apply``.

Every ``orderbook/*_l2_*`` file of the shared data set is parsed first (through
:class:`~hean_framework.feeds.CsvFeed`, so the messages are the validated ones the engine
sees); only the apply loop is timed, best of 3 fresh books per file.  Prints level updates/s
and messages/s per file and in total, the peak RSS, and a final machine-readable line
``book_updates_per_s N``.

Usage: python bench/bench_book.py [--data ../shared/data] [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hean_framework.book import OrderBook  # noqa: E402
from hean_framework.feeds import CsvFeed, CsvFeedConfig  # noqa: E402
from hean_framework.models import BookUpdate  # noqa: E402


def load(path: Path) -> list[BookUpdate]:
    """Validated L2 messages of one file (the symbol is irrelevant to the book)."""
    cfg = CsvFeedConfig(files=[{"kind": "l2", "symbol": path.name, "path": str(path)}])
    feed = CsvFeed(cfg, None)
    msgs = [m for m in feed.events() if isinstance(m, BookUpdate)]
    if feed.rejections():
        print(f"  note: {path.name}: rejected {feed.rejections()}")
    return msgs


def time_apply(msgs: list[BookUpdate], repeat: int) -> tuple[float, OrderBook]:
    """Best wall time of ``repeat`` full replays into a fresh book."""
    best = float("inf")
    book = OrderBook("x")
    for _ in range(repeat):
        book = OrderBook("x")
        apply = book.apply
        t0 = time.perf_counter()
        for m in msgs:
            apply(m)
        best = min(best, time.perf_counter() - t0)
    return best, book


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    files = sorted((Path(a.data) / "orderbook").glob("*_l2_*"))
    if not files:
        sys.exit(f"no orderbook/*_l2_* files under {a.data}")
    tot_levels = tot_msgs = 0
    tot_time = 0.0
    print(f"{'file':<52} {'messages':>9} {'levels':>9} {'levels/s':>12} {'msgs/s':>10} "
          f"{'book levels':>11}")
    for path in files:
        t0 = time.perf_counter()
        msgs = load(path)
        parse_s = time.perf_counter() - t0
        n_levels = sum(len(m.bids) + len(m.asks) for m in msgs)
        best, book = time_apply(msgs, a.repeat)
        tot_levels += n_levels
        tot_msgs += len(msgs)
        tot_time += best
        print(f"{path.name:<52} {len(msgs):>9,} {n_levels:>9,} {n_levels / best:>12,.0f} "
              f"{len(msgs) / best:>10,.0f} {len(book):>11,}   (parse {parse_s:.1f}s, "
              f"final {book.bid} / {book.ask})")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'total':<52} {tot_msgs:>9,} {tot_levels:>9,} {tot_levels / tot_time:>12,.0f} "
          f"{tot_msgs / tot_time:>10,.0f}")
    print(f"apply time {tot_time:.3f}s (best of {a.repeat}), peak RSS {rss_mb:.0f} MB")
    print(f"book_updates_per_s {tot_levels / tot_time:.0f}")


if __name__ == "__main__":
    main()
