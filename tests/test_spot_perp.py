"""Spot and perpetual of one base in one run and one account (real BTC 5m candles, 2025-01).

Invariants:

* a spot sell beyond the account's holdings is refused: the venue rejects it
  ``insufficient_balance`` and the decision is ``BLOCK INSUFFICIENT_BALANCE`` with the reason
  (a plain sell signal against a spot long is a reversal, i.e. it would end short); selling
  the holdings passes;
* in margin mode (``venue.spot_margin``) the spot short is allowed and pays borrow cost at
  every full hour: ``|qty| × price × spot_borrow_rate / 24``, journaled (``borrow``) and
  charged to the strategy;
* one equity across both: ``equity = cash + Σ qty × price`` and
  ``= initial + realized − fees + funding − borrow + unrealized`` to 1e-9 at every equity
  sample and at the end, per-leg PnL from the strategy book;
* spot symbols never receive funding (a funding event on a spot symbol pays nothing).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

from hean_framework.models import Bar, Fill, Funding
from hean_framework.testing import make_context

sys.path.insert(0, str(Path(__file__).parent))  # the scripted-run helpers of the exit tests
from test_group_exits import (
    PERP,
    QTY,
    SPOT,
    Scripted,
    decisions,
    entry,
    events,
    run,
)


def identity_gap(pf: Any) -> tuple[float, float]:
    """(cash identity gap, PnL identity gap), both relative to equity."""
    eq = pf.equity()
    by_cash = pf.cash + sum(q * pf.price(s) for s, q in pf.account_positions())
    by_pnl = (pf.initial_cash + pf.realized - pf.fees + pf.funding - pf.borrow
              + pf.unrealized())
    return abs(eq - by_cash) / eq, abs(eq - by_pnl) / eq


def test_spot_sell_beyond_holdings_is_blocked_with_the_reason(tmp_path: Path,
                                                              shared_data: Path) -> None:
    def script(s: Scripted, bar: Bar) -> Any:
        if s.n == 3:
            return s.signal(SPOT, "buy", bar.ts, 0.0, size=QTY)
        if s.n == 6:  # a plain sell reverses the long: it would end short spot
            return s.signal(SPOT, "sell", bar.ts, 0.0, size=QTY)
        if s.n == 9:  # selling the holdings (an exit)
            return s.signal(SPOT, "sell", bar.ts, 0.0, reduce_only=True)
        return None

    _, eng = run(tmp_path, shared_data, script, end="2025-01-02")
    ds = [d for d in decisions(tmp_path) if d["symbol"] == SPOT]
    assert [d["decision"] for d in ds] == ["CREATE", "BLOCK", "CREATE"]
    refused = ds[1]
    assert refused["reason_codes"] == ["INSUFFICIENT_BALANCE"]
    assert "spot cannot be sold short" in refused["message"]
    assert "sell 0.02 BTC/USDT > free holdings 0.01" in refused["message"]
    assert eng.ctx.portfolio.position_qty("basis", SPOT) == 0.0


def test_margin_mode_spot_short_pays_hourly_borrow(tmp_path: Path, shared_data: Path) -> None:
    rate = 0.0005

    def script(s: Scripted, bar: Bar) -> Any:
        if s.n == 3:  # 00:20: short spot, long perp (the reverse basis trade)
            return s.signal(SPOT, "sell", bar.ts, 0.0, size=QTY)
        if s.n == 3 + 12 * 5 + 6:  # 05:50: cover -> five full hours held (01:00 .. 05:00)
            return s.signal(SPOT, "buy", bar.ts, 0.0, size=QTY, reduce_only=True)
        return None

    _, eng = run(tmp_path, shared_data, script, end="2025-01-02",
                 venue={"spot_margin": True, "spot_borrow_rate": rate})
    pf = eng.ctx.portfolio
    charges = events(tmp_path, "borrow")
    assert [c["ts"] % 3_600_000 for c in charges] == [0] * 5
    assert len(charges) == 5
    for c in charges:  # each charge from the spot price at that hour
        want = QTY * c["price"] * rate / 24
        assert math.isclose(c["amount"], want, rel_tol=1e-12)
        assert c["qty"] == -QTY and c["strategy"] == "basis"
    total = sum(c["amount"] for c in charges)
    assert math.isclose(pf.borrow, total, rel_tol=1e-12)
    assert math.isclose(pf.strategy_summary()["basis"]["borrow"], total, rel_tol=1e-12)
    assert max(identity_gap(pf)) < 1e-9


def test_one_equity_across_spot_and_perp_with_funding(tmp_path: Path,
                                                      shared_data: Path) -> None:
    gaps: list[float] = []

    def script(s: Scripted, bar: Bar) -> Any:
        gaps.extend(identity_gap(s.ctx.portfolio))
        if s.n == 5:
            return entry(s, bar)
        if s.n == 400:  # add a directional perp long on top (account netting both ways)
            return s.signal(PERP, "buy", bar.ts, 0.0, size=2 * QTY)
        return None

    res, eng = run(tmp_path, shared_data, script, end="2025-01-06")
    pf = eng.ctx.portfolio
    assert pf.funding != 0.0 and len(events(tmp_path, "funding")) >= 10
    assert max(gaps) < 1e-9 and max(identity_gap(pf)) < 1e-9
    # per-leg PnL: the strategy book of each symbol
    for sym in (SPOT, PERP):
        pos = pf.position("basis", sym)
        assert pos.qty
    assert pf.position("basis", SPOT).funding == 0.0  # spot is never paid funding
    assert math.isclose(pf.position("basis", PERP).qty, 2 * QTY)  # the buy reversed the short
    (closed,) = [t for t in pf.closed_trades if t.symbol == PERP]  # the short's round trip
    assert math.isclose(closed.funding + pf.position("basis", PERP).funding, pf.funding,
                        rel_tol=1e-12)
    summary = res.per_strategy["basis"]
    assert math.isclose(summary["net_pnl"], pf.equity() - pf.initial_cash, rel_tol=1e-9)


def test_spot_symbols_never_receive_funding() -> None:
    ctx = make_context(symbols=[SPOT, PERP], price=95_000.0)
    pf = ctx.portfolio
    pf.apply_fill(Fill(1, 1, "s", SPOT, "buy", 0.01, 95_000.0, 0.0, False, ctx.now))
    pf.apply_fill(Fill(2, 2, "s", PERP, "sell", 0.01, 95_100.0, 0.0, False, ctx.now))
    assert pf.apply_funding(Funding(ctx.now, SPOT, 0.0001, 95_000.0)) == 0.0
    assert pf.last_funding == []
    paid = pf.apply_funding(Funding(ctx.now, PERP, 0.0001, 95_050.0))
    assert math.isclose(paid, 0.01 * 95_050.0 * 0.0001)  # the short receives
    assert pf.last_funding == [("s", PERP, -0.01, 95_050.0, 0.0001, paid)]
