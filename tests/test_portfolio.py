"""Portfolio: average-cost books, flips, funding, cash and the accounting identity."""

from __future__ import annotations

import csv
import gzip
import itertools
from pathlib import Path

import pytest

from hean_framework.errors import HeanError
from hean_framework.instruments import Instruments
from hean_framework.market import MarketState
from hean_framework.models import Fill, Funding
from hean_framework.portfolio import Portfolio

SYM = "BTC/USDT:USDT"
_ids = itertools.count(1)


def fill(side: str, qty: float, price: float, *, maker: bool = False, ts: int = 0,
         strategy: str = "s1", symbol: str = SYM, inst: Instruments | None = None) -> Fill:
    """A fill with the instrument's real fee (binance perp: maker 2 bp, taker 4 bp)."""
    i = (inst or Instruments.load("binance")).get(symbol)
    return Fill(next(_ids), 0, strategy, symbol, side, qty, price, i.fee(qty, price, maker),
                maker, ts)


def assert_identity(pf: Portfolio) -> None:
    """equity == initial + realized − fees + funding + unrealized == cash + position value."""
    eq = pf.equity()
    a = pf.initial_cash + pf.realized - pf.fees + pf.funding + pf.unrealized()
    b = pf.cash + pf.position_value()
    tol = 1e-9 * pf.initial_cash  # 1e-9 relative to the account (equity may be near 0)
    assert eq == pytest.approx(a, rel=1e-9, abs=tol)
    assert eq == pytest.approx(b, rel=1e-9, abs=tol)


@pytest.fixture
def setup() -> tuple[Portfolio, MarketState]:
    market = MarketState()
    return Portfolio(10_000.0, Instruments.load("binance"), market), market


def test_hand_computed_sequence(setup: tuple[Portfolio, MarketState]) -> None:
    pf, market = setup
    st = market[SYM]
    # 1-2: two buys -> average cost 60500
    assert pf.apply_fill(fill("buy", 0.01, 60000, ts=1)) is None  # fee 0.24
    assert pf.apply_fill(fill("buy", 0.01, 61000, ts=2)) is None  # fee 0.244
    pos = pf.position("s1", SYM)
    assert pos.qty == pytest.approx(0.02) and pos.avg_price == pytest.approx(60500)
    assert pos.opened_ts == 1
    st.last = 61000.0
    assert pf.unrealized() == pytest.approx(0.02 * 500)
    assert_identity(pf)
    # 3: partial sell realizes (62000 - 60500) * 0.005 = 7.5
    assert pf.apply_fill(fill("sell", 0.005, 62000, ts=3)) is None  # fee 0.124
    assert pf.realized == pytest.approx(7.5)
    assert pf.position("s1", SYM).qty == pytest.approx(0.015)
    assert pf.position("s1", SYM).avg_price == pytest.approx(60500)
    st.last = 62000.0
    assert_identity(pf)
    # 4: funding +1 bp at mark 61500: the long pays 0.015 * 61500 * 0.0001
    paid = pf.apply_funding(Funding(4, SYM, 0.0001, 61500.0))
    assert paid == pytest.approx(-0.09225)
    assert pf.position("s1", SYM).funding == pytest.approx(-0.09225)
    assert_identity(pf)
    # 5: sell 0.025 @ 61000 flips: closes 0.015 (+7.5), opens short 0.01
    trade = pf.apply_fill(fill("sell", 0.025, 61000, ts=5))  # fee 0.61, 60 % to the close
    assert trade is not None
    assert trade.side == "long" and trade.qty == pytest.approx(0.02)
    assert trade.entry_price == pytest.approx(60500)
    assert trade.exit_price == pytest.approx((0.005 * 62000 + 0.015 * 61000) / 0.02)
    assert trade.pnl == pytest.approx(15.0)
    assert trade.fees == pytest.approx(0.24 + 0.244 + 0.124 + 0.366)
    assert trade.funding == pytest.approx(-0.09225)
    assert trade.net_pnl == pytest.approx(15.0 - 0.974 - 0.09225)
    assert (trade.opened_ts, trade.closed_ts, trade.reason) == (1, 5, "flip")
    short = pf.position("s1", SYM)
    assert short.qty == pytest.approx(-0.01) and short.avg_price == 61000
    assert short.fees == pytest.approx(0.244) and short.opened_ts == 5 and short.funding == 0
    assert pf.net_qty(SYM) == pytest.approx(-0.01)
    st.last = 60800.0
    assert pf.unrealized() == pytest.approx(-0.01 * (60800 - 61000))
    assert_identity(pf)
    # 6: negative funding, no mark: market price 60800; the short pays
    paid = pf.apply_funding(Funding(6, SYM, -0.0002))
    assert paid == pytest.approx(-(0.01 * 60800 * 0.0002))
    assert_identity(pf)
    # 7: maker buy closes the short: +10 realized, maker fee 0.12
    trade2 = pf.apply_fill(fill("buy", 0.01, 60000, maker=True, ts=7))
    assert trade2 is not None and trade2.side == "short" and trade2.reason == ""
    assert trade2.pnl == pytest.approx(10.0) and trade2.fees == pytest.approx(0.364)
    assert trade2.funding == pytest.approx(-0.1216)
    assert pf.position("s1", SYM).qty == 0 and pf.positions() == []
    # totals
    assert pf.realized == pytest.approx(25.0)
    assert pf.fees == pytest.approx(1.338)
    assert pf.funding == pytest.approx(-0.21385)
    assert pf.cash == pytest.approx(10_023.44815, rel=1e-12)
    assert pf.equity() == pytest.approx(10_023.44815, rel=1e-12)
    assert pf.turnover == pytest.approx(600 + 610 + 310 + 1525 + 600)
    assert pf.unrealized() == 0.0 and pf.gross_exposure() == 0.0
    assert_identity(pf)
    summ = pf.strategy_summary()["s1"]
    assert summ["trades"] == 2 and summ["wins"] == 2 and summ["fills"] == 5
    assert summ["net_pnl"] == pytest.approx(25 - 1.338 - 0.21385)
    assert [t.pnl for t in pf.closed_trades] == pytest.approx([15.0, 10.0])


def test_strategies_are_booked_separately_but_net_on_the_account(
        setup: tuple[Portfolio, MarketState]) -> None:
    pf, market = setup
    pf.apply_fill(fill("buy", 0.02, 60000, strategy="a"))
    pf.apply_fill(fill("sell", 0.005, 60100, strategy="b"))
    assert pf.net_qty(SYM) == pytest.approx(0.015)
    assert pf.position("a", SYM).qty == pytest.approx(0.02)
    assert pf.position("b", SYM).qty == pytest.approx(-0.005)
    market[SYM].last = 60200.0
    assert pf.gross_exposure() == pytest.approx(0.015 * 60200)
    assert pf.equity_and_exposure() == (pf.equity(), pf.gross_exposure())
    pf.apply_fill(fill("sell", 0.03, 60200, strategy="c"))  # the account turns net short
    assert pf.equity_and_exposure() == (pf.equity(), pf.gross_exposure())
    assert pf.gross_exposure() == pytest.approx(0.015 * 60200)
    pf.apply_fill(fill("buy", 0.03, 60200, strategy="c"))
    assert pf.unrealized() == pytest.approx(0.02 * 200 - 0.005 * 100)
    paid = pf.apply_funding(Funding(9, SYM, 0.0001, 60000.0))
    assert paid == pytest.approx(-0.015 * 60000 * 0.0001)
    assert pf.position("a", SYM).funding == pytest.approx(-0.12)
    assert pf.position("b", SYM).funding == pytest.approx(0.03)
    assert_identity(pf)
    s = pf.strategy_summary()
    assert s["a"]["unrealized"] == pytest.approx(4.0) and s["b"]["unrealized"] == -0.5
    total = sum(v["net_pnl"] for v in s.values())
    assert total == pytest.approx(pf.equity() - pf.initial_cash)
    pf.sample(10)
    assert pf.equity_curve == [(10, pytest.approx(pf.equity()),
                                pytest.approx(0.015 * 60200))]


def test_price_falls_back_to_last_fill(setup: tuple[Portfolio, MarketState]) -> None:
    pf, market = setup
    pf.apply_fill(fill("buy", 0.01, 60000))
    assert SYM not in market or market[SYM].price == 0.0
    assert pf.equity() == pytest.approx(10_000 - pf.fees)
    assert_identity(pf)


def test_spot_and_float_dust(setup: tuple[Portfolio, MarketState]) -> None:
    pf, _ = setup
    for q in (0.1, 0.2):
        pf.apply_fill(fill("buy", q, 60000, symbol="BTC/USDT"))
    trade = pf.apply_fill(fill("sell", 0.3, 60010, symbol="BTC/USDT"))
    assert trade is not None and trade.reason == ""  # 0.1 + 0.2 - 0.3 is dust, not a flip
    assert pf.net_qty("BTC/USDT") == 0.0 and pf.positions() == []
    assert trade.pnl == pytest.approx(0.3 * 10)
    assert_identity(pf)


def test_inverse_contracts_are_refused(setup: tuple[Portfolio, MarketState]) -> None:
    pf, _ = setup
    with pytest.raises(HeanError, match=r"inverse \(coin-margined\) contracts are not "
                                        r"supported by the portfolio yet"):
        pf.apply_fill(Fill(1, 1, "s", "BTC/USD:BTC", "buy", 1, 60000, 0.0, False, 0))
    with pytest.raises(KeyError, match="SOL/USDT:USDT"):
        pf.apply_fill(Fill(1, 1, "s", "SOL/USDT:USDT", "buy", 1, 150, 0.0, False, 0))


# ------------------------------------------------------------------ real data


def _rows(path: Path, n: int) -> list[dict[str, str]]:
    with gzip.open(path, "rt") as fh:
        return list(itertools.islice(csv.DictReader(fh), n))


def test_identity_on_real_trades_and_funding(shared_data: Path) -> None:
    """Fills at real BTC/ETH perp trade prices (sizes of the real trades, sides alternating in
    bursts), real funding rates with their mark prices; the identity holds at every step."""
    inst = Instruments.load("binance")
    market = MarketState()
    pf = Portfolio(2_000.0, inst, market)
    streams = {
        "BTC/USDT:USDT": _rows(shared_data / "trades/binance_usdm_perp_BTCUSDT_trades_20240808"
                                             ".csv.gz", 400),
        "ETH/USDT:USDT": _rows(shared_data / "trades/binance_usdm_perp_ETHUSDT_trades_20240808"
                                             ".csv.gz", 400),
    }
    funding = {
        "BTC/USDT:USDT": _rows(shared_data / "funding/binance_usdm_perp_BTCUSDT_funding_8h_"
                                             "20250101_20250306.csv.gz", 8),
        "ETH/USDT:USDT": _rows(shared_data / "funding/binance_usdm_perp_ETHUSDT_funding_8h_"
                                             "20250101_20250306.csv.gz", 8),
    }
    closed = 0
    for k in range(400):
        for symbol, rows in streams.items():
            r = rows[k]
            price = float(r["price"])
            market[symbol].last = price
            i = inst.get(symbol)
            # a small account: real trade sizes capped at 5 lots, never below the minimum
            qty = max(i.min_qty, i.round_qty(min(float(r["size"]), 5 * i.min_qty)))
            side = "buy" if (k // 7) % 2 == 0 else "sell"
            strategy = "mm" if k % 2 else "trend"
            maker = k % 5 != 0
            f = Fill(k, k, strategy, symbol, side, qty, price, i.fee(qty, price, maker), maker,
                     int(r["timestamp"]))
            if pf.apply_fill(f) is not None:
                closed += 1
            if k % 50 == 49:
                fr = funding[symbol][(k // 50) % 8]
                pf.apply_funding(Funding(int(fr["timestamp"]), symbol,
                                         float(fr["funding_rate"]), float(fr["mark_price"])))
            assert_identity(pf)
        pf.sample(int(r["timestamp"]))
    assert closed >= 10 and pf.funding != 0.0 and pf.fees > 0.0
    assert len(pf.equity_curve) == 400
    summary = pf.strategy_summary()
    assert set(summary) == {"mm", "trend"}
    assert sum(v["net_pnl"] for v in summary.values()) == pytest.approx(
        pf.equity() - pf.initial_cash, rel=1e-9, abs=1e-9)
    assert sum(v["fills"] for v in summary.values()) == 800
    assert sum(t.net_pnl for t in pf.closed_trades) + sum(
        pf.unrealized_of(p) - p.fees + p.funding + p.realized_pnl for p in pf.positions()
    ) == pytest.approx(pf.equity() - pf.initial_cash, rel=1e-9, abs=1e-9)
