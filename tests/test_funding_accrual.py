"""Funding accrual on the real Binance BTC USD-M funding file (2025-01) with the perp candles.

Invariants:

* at each settlement every perp position receives ``−qty × mark × rate`` (Binance: a positive
  rate means longs pay shorts), journaled per position in the ``funding`` event
  (``positions``: strategy, symbol, qty, price, rate, amount);
* over N stamps the journaled funding of a held position equals the sum computed here from
  the file's rates and mark prices and the position's quantity, stamp by stamp;
* a position opened on the bar whose time equals a settlement's timestamp is *not* paid at
  that settlement (the feeds order funding before bars of the same millisecond); one opened
  a bar earlier is.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from hean_framework.models import Bar

sys.path.insert(0, str(Path(__file__).parent))  # the scripted-run helpers of the exit tests
from test_group_exits import (
    FUND_FILE,
    PERP,
    QTY,
    Scripted,
    events,
    read_rows,
    run,
)


def test_journaled_funding_equals_the_file_over_many_stamps(tmp_path: Path,
                                                            shared_data: Path) -> None:
    opened: list[int] = []

    def script(s: Scripted, bar: Bar) -> Any:
        if s.n == 7:
            opened.append(bar.ts)
            return s.signal(PERP, "sell", bar.ts, 0.0, size=QTY)
        if s.n == 2000:  # about a week later: long the perp instead (pays when rate > 0)
            return s.signal(PERP, "buy", bar.ts, 0.0, size=QTY)
        return None

    _, eng = run(tmp_path, shared_data, script, end="2025-01-12")
    journaled = [(e["ts"], p) for e in events(tmp_path, "funding") for p in e["positions"]]
    rows = [r for r in read_rows(shared_data / FUND_FILE) if opened[0] < int(r["timestamp"])
            <= eng.end_ts]
    assert len(rows) >= 30 and len(journaled) == len(rows)
    flip_ts = next(t for t, p in journaled if p["qty"] > 0)
    total = 0.0
    for (ts, p), r in zip(journaled, rows):
        assert ts == int(r["timestamp"]) and p["strategy"] == "basis" and p["symbol"] == PERP
        qty = -QTY if ts < flip_ts else QTY
        want = -qty * float(r["mark_price"]) * float(r["funding_rate"])
        assert math.isclose(p["qty"], qty, rel_tol=1e-9)
        assert math.isclose(p["amount"], want, rel_tol=1e-12)
        assert p["price"] == float(r["mark_price"]) and p["rate"] == float(r["funding_rate"])
        total += want
    assert any(p["amount"] > 0 for _, p in journaled)  # the short received
    assert any(p["amount"] < 0 for _, p in journaled)  # the long paid
    assert math.isclose(eng.ctx.portfolio.funding, total, rel_tol=1e-12)


STAMP = 1_735_718_400_000  # 2025-01-01 08:00:00.000, a settlement with no ms jitter


def _first_paid_stamp(tmp_path: Path, data: Path, open_at: int) -> int:
    def script(s: Scripted, bar: Bar) -> Any:
        if bar.ts == open_at:
            return s.signal(PERP, "sell", bar.ts, 0.0, size=QTY)
        return None

    run(tmp_path, data, script, end="2025-01-02")
    paid = [e["ts"] for e in events(tmp_path, "funding")]
    assert paid, "the position was never paid"
    return paid[0]


def test_a_position_opened_at_the_stamp_is_not_paid_at_it(tmp_path: Path,
                                                          shared_data: Path) -> None:
    assert any(int(r["timestamp"]) == STAMP for r in read_rows(shared_data / FUND_FILE))
    at = _first_paid_stamp(tmp_path / "at", shared_data, STAMP)
    before = _first_paid_stamp(tmp_path / "before", shared_data, STAMP - 300_000)
    assert before == STAMP
    assert at > STAMP  # the next settlement (16:00)
