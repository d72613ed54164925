#!/usr/bin/env python3
"""The floor under the anchor ratio: what HEAN's recording contract alone costs.

The anchor workload (``../shared/bench``) run as the shared plain loop, plus, for every fill,
only the records HEAN's design requires a run to keep -- no pipeline, venue, portfolio or
engine logic:

* ``records``: the :class:`~hean_framework.models.Signal`, :class:`OrderDecision`,
  :class:`Order` and :class:`Fill` of each fill, a :class:`Position` on entries and a
  :class:`ClosedTrade` on exits, built with the kernel's own model classes;
* ``journal``: the same records handed to a real :class:`~hean_framework.journal.Journal`
  (decisions, orders, fills, closed trades, the equity sample of each fill) and closed, as the
  engine does -- with the default writer (SQLite inserts in a child process on the other core)
  and with ``writer="inline"`` (every insert on the engine's core: the floor on one core);
* ``inserts alone``: only the SQLite inserts of that journal's rows (already Python tuples,
  in one-batch transactions, with the writers' settings, schema and indexes) -- what the writer
  process must do whatever the engine does, so no run with this journal can be faster.

It prints the ratio of each to the plain loop timed in the same invocation.  A framework that
keeps those records cannot run the workload faster than this floor; the anchor benchmark's
ratio minus the floor ratio is what the engine's logic costs.  Not a test: run it by hand.

Usage::

    python bench/bench_floor.py [bars|ticks]

Environment: ``PERFDATA`` as for ``bench_anchor.py`` (whose loader it uses, so the data is
generated the same way when missing); ``ANCHOR_REPEAT`` (default 5).
"""

from __future__ import annotations

import gc
import itertools
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYMBOL = "BTC/USDT:USDT"
STRATEGY = "ema_cross"
FAST, SLOW, FEE, QTY = 10, 30, 0.00055, 1.0


def recorded_loop(prices: list[float], journal_dir: Path | None,
                  writer: str = "auto") -> tuple[int, float]:
    """The plain loop's rules, building HEAN's records for every fill (and journaling them
    with the given journal writer)."""
    from hean_framework.journal import Journal
    from hean_framework.models import ClosedTrade, Fill, Order, OrderDecision, Position, Signal

    journal = (Journal(journal_dir / "journal.sqlite", writer=writer)
               if journal_dir is not None else None)
    af = 2.0 / (FAST + 1)
    bf = 1.0 - af
    aslow = 2.0 / (SLOW + 1)
    bslow = 1.0 - aslow
    fast = slow = prices[0]
    pos = cash = 0.0
    fills = ids = 0
    warm = SLOW - 1
    entry: Position | None = None
    curve: list[tuple[int, float, float]] = []
    for i, px in enumerate(prices):
        fast = af * px + bf * fast
        slow = aslow * px + bslow * slow
        if i < warm:
            continue
        if fast > slow:
            if pos != 0.0:
                continue
            side = "buy"
        elif pos != 0.0:
            side = "sell"
        else:
            continue
        ts = i * 60_000
        fee = px * QTY * FEE
        ids += 3
        sig = Signal(STRATEGY, SYMBOL, side, ts, px, size=QTY, reduce_only=side == "sell",
                     signal_id=ids, cause_seq=i + 1)
        d = OrderDecision(ids, sig.signal_id, STRATEGY, SYMBOL, side, ts, price=px,
                          qty_requested=QTY, cause_seq=i + 1)
        d.qty_raw = d.qty = QTY
        d.notional = px * QTY
        d.stage, d.reason_codes, d.maker_or_taker = "executor:plain", ["ACCEPTED"], "taker"
        d.details["orders"] = 1
        o = Order(ids + 1, STRATEGY, SYMBOL, side, QTY, "market", None, False, sig.reduce_only,
                  ts, "filled", QTY, px, fee, sig.signal_id, d.decision_id, 0, f"hean-{ids + 1}",
                  "", "", sig.tag, ts, ts, 0.0, px)
        f = Fill(ids + 2, o.order_id, STRATEGY, SYMBOL, side, QTY, px, fee, False, ts,
                 sig.signal_id, px, "taker_last")
        if side == "buy":
            pos = QTY
            cash -= px * QTY + fee
            entry = Position(STRATEGY, SYMBOL, QTY, px, 0.0, fee, 0.0, ts, px, None, None,
                             None, sig.signal_id)
            closed = None
        else:
            assert entry is not None
            cash += px * QTY - fee
            pos = 0.0
            closed = ClosedTrade(STRATEGY, SYMBOL, "long", QTY, entry.avg_price, px,
                                 entry.opened_ts, ts, (px - entry.avg_price) * QTY,
                                 entry.fees + fee, 0.0, "", entry.signal_id)
        fills += 1
        curve.append((ts, cash + pos * px, pos * px))
        if journal is not None:
            journal.fill(f)
            if closed is not None:
                journal.closed_trade(closed)
            journal.order(o)
            journal.decision(d)
    if journal is not None:
        journal.equity_curve(curve)
        journal.close()
    return fills, cash + pos * prices[-1]


#: the journal tables a run of the anchor workload writes, in the writers' batch order
TABLES = ("decisions", "orders", "fills", "closed_trades", "equity")


def journal_rows(path: Path) -> dict[str, tuple[str, list[tuple[object, ...]]]]:
    """Per table of the journal at ``path``: its INSERT statement and all its rows."""
    out = {}
    with sqlite3.connect(path) as conn:
        for table in TABLES:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            sql = (f"INSERT INTO {table} ({', '.join(cols)}) "
                   f"VALUES ({', '.join('?' * len(cols))})")
            out[table] = (sql, conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall())
    return out


def insert_alone(rows: dict[str, tuple[str, list[tuple[object, ...]]]], dest: Path,
                 batch_size: int = 2_500) -> tuple[int, float]:
    """Write ``rows`` into a new journal at ``dest`` the way the writers do: the journal's own
    schema, indexes and connection settings, ``executemany`` per table, one transaction per
    ``batch_size`` rows taken from every table in step.  Returns ``(rows written, 0.0)`` (the
    shape :func:`median_time` takes)."""
    from hean_framework.journal import Journal
    from hean_framework.journal_schema import connect

    Journal(dest).close()  # schema and indexes
    conn = connect(dest)
    total = sum(len(r) for _, r in rows.values())
    longest = max(len(r) for _, r in rows.values())
    step = max(1, batch_size * longest // max(total, 1))  # rows per table per transaction
    for a in range(0, longest, step):
        conn.execute("BEGIN")
        for sql, table_rows in rows.values():
            part = table_rows[a:a + step]
            if part:
                conn.executemany(sql, part)
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return total, 0.0


def median_time(fn: Callable[[], tuple[int, float]], repeat: int) -> tuple[float, int, float]:
    """(median seconds, fills, pnl) over ``repeat`` calls."""
    times = []
    res = (0, 0.0)
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), res[0], res[1]


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "bars"
    if mode not in ("bars", "ticks"):
        sys.exit("usage: bench_floor.py [bars|ticks]")
    repeat = int(os.environ.get("ANCHOR_REPEAT", "5"))
    from bench_anchor import PlainLoop, ensure_data  # this folder: the anchor's own loader

    perf = Path(os.environ.get("PERFDATA", ROOT / "perfdata")).resolve()
    ensure_data(perf)
    plain = PlainLoop(mode, perf)
    prices = plain.prices
    with tempfile.TemporaryDirectory() as tmp:
        runs = itertools.count()
        rows = [
            ("plain loop", *median_time(lambda: plain.run(prices), repeat)),
            ("records", *median_time(lambda: recorded_loop(prices, None), repeat)),
            ("records + journal", *median_time(
                lambda: recorded_loop(prices, Path(tmp) / f"r{next(runs)}"), repeat)),
            ("  (inline writer)", *median_time(
                lambda: recorded_loop(prices, Path(tmp) / f"r{next(runs)}", "inline"), repeat)),
        ]
        written = journal_rows(Path(tmp) / "r0" / "journal.sqlite")
        alone = median_time(lambda: insert_alone(written, Path(tmp) / f"i{next(runs)}.sqlite"),
                            repeat)
    base = rows[0][1]
    for name, secs, fills, pnl in rows:
        print(f"[{mode}] {name:<19} {secs:.3f}s  fills {fills}  pnl {pnl:,.2f}  "
              f"floor ratio {secs / base:.2f}")
    print(f"[{mode}] {'inserts alone':<19} {alone[0]:.3f}s  rows {alone[1]}  "
          f"floor ratio {alone[0] / base:.2f}")
    return 0 if len({(r[2], round(r[3], 2)) for r in rows}) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
