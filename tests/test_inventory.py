"""The inventory rules of quoting strategies (:mod:`hean_framework.inventory`), values by hand.

Invariants:

* the valuation mid is the midpoint of a two-sided, uncrossed touch, else the last price;
* inventory = position × contract size × mid, signed, from the strategy's own position (the
  capture's first BTC best bid/offer; real Binance instrument rules);
* limit = pct × budget / n_symbols; a side is quoted only while its fill keeps |inventory|
  within the limit (the limit itself allowed);
* the time stop fires *after* ``stop_after_s`` over the limit (exactly ``stop_after_s``: no),
  the clock restarting whenever the inventory is back within the limit and running during a
  cooldown; no limit (budget 0) never starts it;
* the adverse stop fires at ``adverse_move_pct`` against the entry, on a long and on a short,
  never on a favourable move;
* a stop starts the cooldown: no stop (and ``cooling``) until it ends, then stops again;
* a flat position never stops, whatever the clock or the prices;
* ``flatten`` = the quote withdrawn + a reduce-only market signal against the position.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import pytest

from hean_framework import ComponentConfig, Strategy
from hean_framework.groups import OrderGroup
from hean_framework.inventory import (
    STOP_ADVERSE,
    STOP_TIME,
    InventoryStop,
    flatten,
    inventory_limit,
    inventory_notional,
    sides_within_limit,
    touch_mid,
)
from hean_framework.models import Fill, Signal
from hean_framework.testing import make_context

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
T0 = 1_723_161_300_000


@dataclass
class Params:
    """The stop's thresholds (a quoting strategy's config has the same three fields)."""

    stop_after_s: float = 60.0
    adverse_move_pct: float = 0.005
    stop_cooldown_s: float = 30.0


def first_bbo(shared_data: Path) -> tuple[float, float]:
    path = shared_data / "orderbook" / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz"
    with gzip.open(path, "rt") as f:
        row = next(csv.DictReader(f))
    return float(row["bid_price"]), float(row["ask_price"])


def test_touch_mid() -> None:
    st = make_context(symbols=[BTC]).market[BTC]
    assert touch_mid(st) == 0.0  # no price yet
    st.last = 61790.0
    assert touch_mid(st) == 61790.0  # no quote
    st.bid, st.ask = 61800.2, 61800.3
    assert touch_mid(st) == pytest.approx(61800.25, abs=1e-9)
    st.bid, st.ask = 61800.3, 61800.2  # crossed: the last price
    assert touch_mid(st) == 61790.0
    st.bid, st.ask = 61800.2, 0.0  # one-sided
    assert touch_mid(st) == 61790.0


def test_inventory_in_notional_on_the_capture(shared_data: Path) -> None:
    bid, ask = first_bbo(shared_data)
    assert (bid, ask) == (61800.2, 61800.3)
    ctx = make_context(symbols=[BTC, ETH], capital=20_000.0, bid=bid, ask=ask, now=T0)
    assert inventory_notional(ctx, "mm", BTC) == 0.0  # flat
    ctx.portfolio.apply_fill(Fill(1, 1, "mm", BTC, "buy", 0.004, 61800.0, 0.0, True, T0))
    ctx.portfolio.apply_fill(Fill(2, 2, "other", BTC, "sell", 0.010, 61800.0, 0.0, True, T0))
    mid = (bid + ask) / 2  # 61800.25; USDⓈ-M: contract size 1
    assert inventory_notional(ctx, "mm", BTC) == pytest.approx(0.004 * 61800.25)  # 247.201
    assert inventory_notional(ctx, "mm", BTC, mid) == pytest.approx(247.201)
    assert inventory_notional(ctx, "other", BTC, 62000.0) == pytest.approx(-620.0)
    ctx.portfolio.apply_fill(Fill(3, 3, "mm", ETH, "sell", 0.09, 2680.0, 0.0, True, T0))
    assert inventory_notional(ctx, "mm", ETH, 2680.5) == pytest.approx(-241.245)


def test_the_limit_is_a_fraction_of_the_budget() -> None:
    ctx = make_context(symbols=[BTC], capital=20_000.0)
    budget = ctx.budgets.budget("mm")
    assert inventory_limit(budget, 0.05) == pytest.approx(1000.0)
    assert inventory_limit(budget, 0.05, n_symbols=2) == pytest.approx(500.0)
    assert inventory_limit(0.0, 0.05) == 0.0


def test_sides_within_the_limit() -> None:
    # limit 1,000, 400 per side
    assert sides_within_limit(0.0, 400.0, 1000.0) == (True, True)
    assert sides_within_limit(600.0, 400.0, 1000.0) == (True, True)  # the limit itself: ok
    assert sides_within_limit(600.5, 400.0, 1000.0) == (False, True)
    assert sides_within_limit(-600.0, 400.0, 1000.0) == (True, True)
    assert sides_within_limit(-600.5, 400.0, 1000.0) == (True, False)
    assert sides_within_limit(0.0, 1200.0, 1000.0) == (False, False)


def test_time_stop_after_exactly_stop_after_s() -> None:
    p = Params(stop_after_s=60.0, stop_cooldown_s=30.0)
    stop = InventoryStop()
    # 432.6 USDT long over a 400 USDT limit; the mid at the entry (no adverse move)
    assert stop.check(T0, 432.6, 400.0, 61800.0, 61800.0, p) == ""
    assert stop.over_since == T0
    assert stop.check(T0 + 60_000, 432.6, 400.0, 61800.0, 61800.0, p) == ""  # exactly 60 s
    assert stop.check(T0 + 60_001, 432.6, 400.0, 61800.0, 61800.0, p) == STOP_TIME
    assert stop.over_since == 0 and stop.cooldown_until == T0 + 90_001
    # short inventory over the limit: the same clock
    short = InventoryStop()
    assert short.check(T0, -432.6, 400.0, 61800.0, 61800.0, p) == ""
    assert short.check(T0 + 60_001, -432.6, 400.0, 61800.0, 61800.0, p) == STOP_TIME


def test_the_clock_restarts_within_the_limit() -> None:
    p = Params(stop_after_s=60.0)
    stop = InventoryStop()
    assert stop.check(T0, 432.6, 400.0, 61800.0, 61800.0, p) == ""
    assert stop.check(T0 + 30_000, 400.0, 400.0, 61800.0, 61800.0, p) == ""  # at the limit
    assert stop.over_since == 0
    assert stop.check(T0 + 40_000, 432.6, 400.0, 61800.0, 61800.0, p) == ""
    assert stop.check(T0 + 100_000, 432.6, 400.0, 61800.0, 61800.0, p) == ""  # 60 s: no
    assert stop.check(T0 + 100_001, 432.6, 400.0, 61800.0, 61800.0, p) == STOP_TIME


def test_no_limit_never_starts_the_clock() -> None:
    stop = InventoryStop()  # budget 0: limit 0
    for ts in (T0, T0 + 3_600_000):
        assert stop.check(ts, 432.6, 0.0, 61800.0, 61800.0, Params()) == ""
    assert stop.over_since == 0


def test_adverse_stop_on_a_long() -> None:
    p = Params(adverse_move_pct=0.005)
    stop = InventoryStop()
    # entry 2,000: -0.499 % no, -0.5 % yes (10 / 2,000)
    assert stop.check(T0, 100.0, 400.0, 1990.02, 2000.0, p) == ""
    assert stop.check(T0 + 1, 100.0, 400.0, 2100.0, 2000.0, p) == ""  # favourable
    assert stop.check(T0 + 2, 100.0, 400.0, 1990.0, 2000.0, p) == STOP_ADVERSE
    assert stop.cooldown_until == T0 + 2 + 30_000


def test_adverse_stop_on_a_short() -> None:
    p = Params(adverse_move_pct=0.005)
    stop = InventoryStop()
    assert stop.check(T0, -100.0, 400.0, 2009.98, 2000.0, p) == ""
    assert stop.check(T0 + 1, -100.0, 400.0, 1900.0, 2000.0, p) == ""  # favourable
    assert stop.check(T0 + 2, -100.0, 400.0, 2010.0, 2000.0, p) == STOP_ADVERSE
    # no entry known: no adverse stop
    assert InventoryStop().check(T0, -100.0, 400.0, 5000.0, 0.0, p) == ""


def test_cooldown_after_a_stop() -> None:
    p = Params(stop_after_s=60.0, adverse_move_pct=0.005, stop_cooldown_s=30.0)
    stop = InventoryStop()
    assert stop.check(T0, 100.0, 400.0, 1990.0, 2000.0, p) == STOP_ADVERSE
    assert stop.cooling(T0) and stop.cooling(T0 + 29_999)
    # still adverse and now over the limit: nothing while cooling, but the clock runs
    assert stop.check(T0 + 10_000, 432.6, 400.0, 1980.0, 2000.0, p) == ""
    assert stop.over_since == T0 + 10_000
    assert stop.check(T0 + 29_999, 432.6, 400.0, 1980.0, 2000.0, p) == ""
    assert not stop.cooling(T0 + 30_000)
    assert stop.check(T0 + 30_000, 432.6, 400.0, 1980.0, 2000.0, p) == STOP_ADVERSE
    # that stop reset the clock; it restarts in the cooldown (until T0 + 60 s) and counts
    assert stop.over_since == 0 and stop.cooldown_until == T0 + 60_000
    assert stop.check(T0 + 45_000, 432.6, 400.0, 2000.0, 2000.0, p) == ""
    assert stop.check(T0 + 60_000, 432.6, 400.0, 2000.0, 2000.0, p) == ""  # 15 s over
    assert stop.check(T0 + 105_000, 432.6, 400.0, 2000.0, 2000.0, p) == ""  # 60 s over
    assert stop.check(T0 + 105_001, 432.6, 400.0, 2000.0, 2000.0, p) == STOP_TIME
    zero = Params(stop_cooldown_s=0.0)
    again = InventoryStop()
    assert again.check(T0, 100.0, 400.0, 1990.0, 2000.0, zero) == STOP_ADVERSE
    assert not again.cooling(T0)
    assert again.check(T0, 100.0, 400.0, 1990.0, 2000.0, zero) == STOP_ADVERSE


def test_a_flat_position_never_stops() -> None:
    p = Params(stop_after_s=0.0, adverse_move_pct=0.0001, stop_cooldown_s=0.0)
    stop = InventoryStop()
    for i, mid in enumerate((2000.0, 1000.0, 4000.0, 1.0)):
        assert stop.check(T0 + i * 3_600_000, 0.0, 400.0, mid, 2000.0, p) == ""
        assert stop.check(T0 + i * 3_600_000 + 1, 0.0, 0.0, mid, 0.0, p) == ""
    assert stop.over_since == 0 and stop.cooldown_until == 0


class _Maker(Strategy):
    style = "quoting"


def test_flatten_withdraws_and_exits_reduce_only() -> None:
    ctx = make_context(symbols=[BTC])
    strat = _Maker(ComponentConfig(), ctx, name="mm", symbols=[BTC])
    for position, side in ((0.004, "sell"), (-247.2, "buy")):
        withdraw, exit_ = flatten(strat, BTC, position, T0, 61800.25, STOP_TIME)
        assert isinstance(withdraw, OrderGroup) and withdraw.kind == "quote"
        assert withdraw.legs == [] and withdraw.symbol == BTC and withdraw.strategy_id == "mm"
        assert isinstance(exit_, Signal) and exit_.strategy_id == "mm"
        assert (exit_.side, exit_.reduce_only, exit_.tag, exit_.ts, exit_.entry_price) == \
            (side, True, STOP_TIME, T0, 61800.25)
        assert exit_.order_type == "market"
    withdraw, _ = flatten(strat, BTC, 1.0, T0, 61800.25, STOP_ADVERSE, key="deep")
    assert withdraw.key == "deep"
