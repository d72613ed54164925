"""The rules on a testing context (real Binance instrument rules, the kernel's fake order port),
values computed by hand.

Invariants:

* offsets: ``clamp(spread/2, 3, 10)`` bps around the reservation price; the bid rounds down and
  the ask up to the tick;
* skew: long inventory moves both prices down by ``gamma × inventory/limit × offset``;
* a side whose fill would take |inventory| past ``max_inventory_pct × budget`` (notional) is
  left out -- the same fraction gives the same notional limit on BTC and ETH;
* OFI beyond ``max_ofi`` withdraws the quote; OFI unknown counts as neutral;
* the inventory stop: over the limit for ``stop_after_s`` -> withdraw + reduce-only market
  exit tagged ``INVENTORY_STOP_TIME``; an adverse move of ``adverse_move_pct`` from the entry ->
  ``INVENTORY_STOP_ADVERSE``; no quote during ``stop_cooldown_s``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hean_inventory_neutral_mm import InventoryNeutralMM
from hean_market_analyzers.facts import OFI, OFI_SOURCE

from hean_framework.groups import OrderGroup
from hean_framework.models import Fill, Quote
from hean_framework.testing import build_component, isolated_plugins, make_context

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
T0 = 1_723_161_300_000


def make(config: dict[str, Any] | None = None, capital: float = 20_000.0
         ) -> InventoryNeutralMM:
    ctx = make_context(symbols=[BTC, ETH], capital=capital, now=T0)
    strat = build_component(isolated_plugins("hean_inventory_neutral_mm.plugin"), "strategy",
                            "inventory_neutral_mm", ctx, config or {}, symbols=[BTC, ETH])
    assert isinstance(strat, InventoryNeutralMM)
    return strat


def tick(strat: InventoryNeutralMM, symbol: str, bid: float, ask: float, ts: int) -> Any:
    ctx = strat.ctx
    ctx.now = ts
    st = ctx.market[symbol]
    st.bid, st.ask, st.bid_size, st.ask_size, st.ts = bid, ask, 1.0, 1.0, ts
    return strat.on_quote(Quote(ts, symbol, bid, 1.0, ask, 1.0))


def hold(strat: InventoryNeutralMM, symbol: str, side: str, qty: float, price: float) -> None:
    strat.ctx.portfolio.apply_fill(Fill(1, 1, strat.name, symbol, side, qty, price, 0.0, True,
                                        strat.ctx.now))


def prices(out: Any) -> dict[str, float]:
    assert isinstance(out, OrderGroup) and out.kind == "quote"
    return {s.side: s.limit_price for s in out.legs}


def test_offsets_and_rounding_by_hand() -> None:
    strat = make({"gamma": 0.0, "vol_scaling": False})
    q = prices(tick(strat, BTC, 61800.0, 61800.1, T0))
    mid = 61800.05  # spread 0.016 bps -> offset 3 bps = 18.54015
    assert q == {"buy": 61781.5, "sell": 61818.6}
    assert q["buy"] <= mid * (1 - 3e-4) < q["buy"] + 0.1
    assert q["sell"] - 0.1 < mid * (1 + 3e-4) <= q["sell"]
    # a 30 bps spread: the offset is capped at 10 bps
    q = prices(tick(strat, ETH, 2680.0, 2688.04, T0 + 1))
    assert q == {"buy": 2681.33, "sell": 2686.71}


def test_size_is_two_percent_of_the_budget_per_side() -> None:
    strat = make({"vol_scaling": False})
    out = tick(strat, BTC, 61800.0, 61800.1, T0)
    for leg in out.legs:
        assert leg.size * 61800.05 == pytest.approx(0.02 * 20_000)


def test_long_inventory_skews_both_prices_down() -> None:
    strat = make({"gamma": 1.0, "vol_scaling": False})
    flat = prices(tick(strat, BTC, 61800.0, 61800.1, T0))
    hold(strat, BTC, "buy", 0.008, 61800.0)  # 494.4 USDT of a 1,000 USDT limit
    skewed = prices(tick(strat, BTC, 61800.0, 61800.1, T0 + 31_000))
    inv = 0.008 * 61800.05
    shift = inv / (0.05 * 20_000) * 61800.05 * 3e-4
    assert skewed["buy"] < flat["buy"] and skewed["sell"] < flat["sell"]
    assert abs((flat["sell"] - skewed["sell"]) - shift) <= 0.1 + 1e-9


def test_the_inventory_limit_is_notional_on_every_symbol() -> None:
    strat = make({"vol_scaling": False, "max_inventory_pct": 0.03})
    hold(strat, BTC, "buy", 0.007, 61800.0)  # 432.6 USDT: one more bid would pass 600
    hold(strat, ETH, "buy", 0.16, 2680.0)  # 428.8 USDT: the same in ETH units
    for sym, bid, ask in ((BTC, 61800.0, 61800.1), (ETH, 2680.0, 2680.01)):
        out = tick(strat, sym, bid, ask, T0 + 100)
        assert [s.side for s in out.legs] == ["sell"], sym
    assert strat.counts["one_sided"] == 2


def test_order_flow_gate() -> None:
    strat = make()
    assert isinstance(tick(strat, BTC, 61800.0, 61800.1, T0), OrderGroup)  # OFI unknown
    facts = strat.ctx.facts
    facts.set(OFI_SOURCE, "book", BTC)
    facts.set(OFI, 0.45, BTC)
    out = tick(strat, BTC, 61800.0, 61800.1, T0 + 10)
    assert isinstance(out, OrderGroup) and out.legs == [] and out.symbol == BTC  # withdrawn
    facts.set(OFI, -0.1, BTC)
    assert prices(tick(strat, BTC, 61800.0, 61800.1, T0 + 20))


def test_inventory_stop_after_time_over_the_limit() -> None:
    strat = make({"max_inventory_pct": 0.02, "stop_after_s": 60})
    hold(strat, BTC, "buy", 0.007, 61800.0)  # 432.6 > 400 USDT
    first = tick(strat, BTC, 61800.0, 61800.1, T0)
    assert isinstance(first, OrderGroup)  # still quoting (the ask only), the clock runs
    assert [s.side for s in first.legs] == ["sell"]
    out = tick(strat, BTC, 61800.0, 61800.1, T0 + 60_001)
    withdraw, exit_ = out
    assert isinstance(withdraw, OrderGroup) and withdraw.legs == []
    assert exit_.reduce_only and exit_.side == "sell" and exit_.tag == "INVENTORY_STOP_TIME"
    assert tick(strat, BTC, 61790.0, 61790.1, T0 + 61_000) is None  # cooling down


def test_inventory_stop_on_an_adverse_move() -> None:
    strat = make({"adverse_move_pct": 0.005})
    hold(strat, BTC, "sell", 0.002, 61800.0)
    assert isinstance(tick(strat, BTC, 62100.0, 62100.1, T0), OrderGroup)  # 0.49 % against
    out = tick(strat, BTC, 62110.0, 62110.1, T0 + 1)  # 0.50 % against the short
    assert out[1].side == "buy" and out[1].tag == "INVENTORY_STOP_ADVERSE"
    assert strat.counts["stops_adverse"] == 1
