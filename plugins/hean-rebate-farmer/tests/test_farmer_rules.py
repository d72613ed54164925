"""The rules on a testing context (real Binance instrument rules, the kernel's fake order
port), values computed by hand.

Invariants:

* prices: ``bid = best_bid × (1 − offset_bps/1e4) − offset_ticks × tick`` rounded down, ``ask``
  mirrored and rounded up, each at least one tick beyond its touch (offset 0 included);
  without a quote the last price is both touches;
* one quote per symbol with at most one leg per side ("one resting order per side");
* refresh: nothing new inside ``refresh_s`` while the mid moved less than
  ``requote_move_bps``; a new quote after ``refresh_s``, after such a move, after a fill;
* a side whose fill would take |inventory| past ``max_inventory_pct × budget`` (notional) is
  left out -- the same fraction gives the same notional limit on BTC and ETH;
* a regime outside ``regime_families`` withdraws the quote;
* the inventory stop: time over the limit / adverse move -> withdraw + reduce-only market exit
  (``INVENTORY_STOP_TIME`` / ``INVENTORY_STOP_ADVERSE``), then a cooldown;
* metrics: rebate = −maker fee, reversion ``horizon`` after a fill = side × (mid − price) ×
  qty, fills per side, taker fills apart.
"""

from __future__ import annotations

from typing import Any

import pytest
from hean_rebate_farmer import RebateFarmer

from hean_framework.facts import REGIME
from hean_framework.groups import OrderGroup
from hean_framework.models import Fill, Quote
from hean_framework.testing import build_component, isolated_plugins, make_context

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
T0 = 1_723_161_300_000


def make(config: dict[str, Any] | None = None, capital: float = 20_000.0) -> RebateFarmer:
    ctx = make_context(symbols=[BTC, ETH], capital=capital, now=T0)
    strat = build_component(isolated_plugins("hean_rebate_farmer.plugin"), "strategy",
                            "rebate_farmer", ctx, config or {}, symbols=[BTC, ETH])
    assert isinstance(strat, RebateFarmer)
    return strat


def tick(strat: RebateFarmer, symbol: str, bid: float, ask: float, ts: int) -> Any:
    ctx = strat.ctx
    ctx.clock.run_due(ts)
    ctx.now = ts
    st = ctx.market[symbol]
    st.bid, st.ask, st.bid_size, st.ask_size, st.ts = bid, ask, 1.0, 1.0, ts
    return strat.on_quote(Quote(ts, symbol, bid, 1.0, ask, 1.0))


def fill(strat: RebateFarmer, symbol: str, side: str, qty: float, price: float,
         fee: float, maker: bool = True) -> None:
    f = Fill(1, 1, strat.name, symbol, side, qty, price, fee, maker, strat.ctx.now)
    strat.ctx.portfolio.apply_fill(f)
    strat.on_fill(f)


def prices(out: Any) -> dict[str, float]:
    assert isinstance(out, OrderGroup) and out.kind == "quote"
    sides = [s.side for s in out.legs]
    assert len(sides) == len(set(sides)), "more than one level on a side"
    return {s.side: float(s.limit_price or 0.0) for s in out.legs}


def test_deep_prices_by_hand() -> None:
    strat = make({"offset_bps": 50.0})
    # 61800.2 x 0.995 = 61491.199 -> 61491.1 ; 61800.3 x 1.005 = 62109.3015 -> 62109.4
    assert prices(tick(strat, BTC, 61800.2, 61800.3, T0)) == {"buy": 61491.1, "sell": 62109.4}
    # ETH, 8 bps and 3 ticks of 0.01: 2681.62 x 0.9992 - 0.03 = 2679.4447 -> 2679.44 ;
    # 2681.63 x 1.0008 + 0.03 = 2683.805304 -> 2683.81
    strat = make({"offset_bps": 8.0, "offset_ticks": 3})
    assert prices(tick(strat, ETH, 2681.62, 2681.63, T0)) == {"buy": 2679.44, "sell": 2683.81}


def test_never_at_the_touch() -> None:
    strat = make({"offset_bps": 0.0})
    assert prices(tick(strat, BTC, 61800.2, 61800.3, T0)) == {"buy": 61800.1, "sell": 61800.4}


def test_without_a_quote_the_last_price_is_the_touch() -> None:
    strat = make({"offset_bps": 10.0})
    st = strat.ctx.market[BTC]
    st.last = 61000.0
    out = strat.on_quote(Quote(T0, BTC, 0.0, 0.0, 0.0, 0.0))
    assert prices(out) == {"buy": 60939.0, "sell": 61061.0}


def test_refresh_on_time_move_and_fill() -> None:
    strat = make({"offset_bps": 20.0, "refresh_s": 300.0, "requote_move_bps": 10.0})
    assert isinstance(tick(strat, BTC, 61800.0, 61800.1, T0), OrderGroup)
    # a 9.7 bps move, 299 s later: no new quote
    assert tick(strat, BTC, 61860.0, 61860.1, T0 + 299_000) is None
    # 10.0 bps: requote
    assert isinstance(tick(strat, BTC, 61861.85, 61861.95, T0 + 299_500), OrderGroup)
    assert tick(strat, BTC, 61861.85, 61861.95, T0 + 300_000) is None
    # refresh_s elapsed with no move
    assert isinstance(tick(strat, BTC, 61861.85, 61861.95, T0 + 600_000), OrderGroup)
    assert tick(strat, BTC, 61861.85, 61861.95, T0 + 600_001) is None
    fill(strat, BTC, "buy", 0.001, 61738.0, -0.006)
    out = tick(strat, BTC, 61861.85, 61861.95, T0 + 600_002)
    assert isinstance(out, OrderGroup) and out.legs


def test_inventory_limit_is_notional_on_every_symbol() -> None:
    strat = make({"max_inventory_pct": 0.03})  # 600 USDT; 400 USDT per side
    strat.ctx.portfolio.apply_fill(Fill(1, 1, strat.name, BTC, "buy", 0.004, 61800.0, 0.0,
                                        True, T0))  # 247 USDT: one more bid would pass 600
    strat.ctx.portfolio.apply_fill(Fill(2, 2, strat.name, ETH, "buy", 0.09, 2680.0, 0.0,
                                        True, T0))  # 241 USDT: the same in ETH units
    for sym, bid, ask in ((BTC, 61800.0, 61800.1), (ETH, 2680.0, 2680.01)):
        assert list(prices(tick(strat, sym, bid, ask, T0 + 100))) == ["sell"], sym
    assert strat.counts["one_sided"] == 2
    assert strat.quoted(BTC)[0] == 0.0 and strat.quoted(BTC)[1] > 61800.1


def test_size_is_a_fraction_of_the_budget() -> None:
    strat = make({"quote_notional_pct": 0.02})
    out = tick(strat, BTC, 61800.0, 61800.1, T0)
    for leg in out.legs:
        assert leg.size * 61800.05 == pytest.approx(0.02 * 20_000)


def test_regime_outside_the_families_withdraws() -> None:
    strat = make()
    assert isinstance(tick(strat, BTC, 61800.0, 61800.1, T0), OrderGroup)
    strat.ctx.facts.set(REGIME, "IMPULSE", BTC)
    out = tick(strat, BTC, 61800.0, 61800.1, T0 + 10)
    assert isinstance(out, OrderGroup) and out.legs == [] and out.symbol == BTC
    assert strat.counts["withdrawn_regime"] == 1
    assert tick(strat, BTC, 61800.0, 61800.1, T0 + 20) is None  # nothing left to withdraw
    strat.ctx.facts.set(REGIME, "RANGE", BTC)
    assert prices(tick(strat, BTC, 61800.0, 61800.1, T0 + 30))


def test_inventory_stop_after_time_over_the_limit() -> None:
    strat = make({"max_inventory_pct": 0.02, "stop_after_s": 60})  # limit 400 USDT
    fill(strat, BTC, "buy", 0.007, 61800.0, -0.04)  # 432.6 > 400
    first = tick(strat, BTC, 61800.0, 61800.1, T0)
    assert list(prices(first)) == ["sell"]  # the clock runs, the ask still rests
    withdraw, exit_ = tick(strat, BTC, 61800.0, 61800.1, T0 + 60_001)
    assert isinstance(withdraw, OrderGroup) and withdraw.legs == []
    assert exit_.reduce_only and exit_.side == "sell" and exit_.tag == "INVENTORY_STOP_TIME"
    assert tick(strat, BTC, 61790.0, 61790.1, T0 + 61_000) is None  # cooling down


def test_inventory_stop_on_an_adverse_move() -> None:
    strat = make({"adverse_move_pct": 0.005})
    fill(strat, BTC, "sell", 0.002, 61800.0, -0.012)
    assert isinstance(tick(strat, BTC, 62100.0, 62100.1, T0), OrderGroup)  # 0.49 % against
    out = tick(strat, BTC, 62110.0, 62110.1, T0 + 1)  # 0.50 % against the short
    assert out[1].side == "buy" and out[1].tag == "INVENTORY_STOP_ADVERSE"
    assert strat.counts["stops_adverse"] == 1


def test_metrics_by_hand() -> None:
    strat = make({"reversion_horizon_s": 60.0})
    tick(strat, BTC, 61500.0, 61500.2, T0)
    fill(strat, BTC, "buy", 0.002, 61490.0, -0.012298)  # 1 bp rebate of 122.98 USDT
    fill(strat, BTC, "sell", 0.001, 61520.0, -0.006152)
    fill(strat, BTC, "sell", 0.001, 61530.0, 0.03, maker=False)  # a stop's taker exit
    # 60 s later the mid is 61510.1: buy +20.1 x 0.002, sell -(61510.1 - 61520) x 0.001
    tick(strat, BTC, 61510.0, 61510.2, T0 + 59_999)  # not yet
    row = strat.stats()["symbols"][BTC]
    assert row["reversion_counted"] == 0 and row["reversion_pending"] == 2
    tick(strat, BTC, 61510.0, 61510.2, T0 + 60_000)
    row = strat.stats()["symbols"][BTC]
    assert row["fills"] == {"buy": 1, "sell": 1}
    assert row["taker_fills"] == 1 and row["taker_fees"] == pytest.approx(0.03)
    assert row["rebates_earned"] == pytest.approx(0.01845)
    assert row["reversion_captured"] == pytest.approx(20.1 * 0.002 + 9.9 * 0.001)
    bps = (20.1 / 61490.0 + 9.9 / 61520.0) / 2 * 1e4
    assert row["reversion_bps"] == pytest.approx(bps, abs=1e-4)
    assert row["expected_value"] == pytest.approx(0.01845 + 0.0501)
    assert strat.stats()["total"]["fills"] == {"buy": 1, "sell": 1}
