"""The grid's arithmetic (:func:`hean_enhanced_grid.plan_grid`), hand-computed on the real
range of the first build in the BTC 1m file: high 95,700, low 95,066 (2025-05-04 20:25 ..
22:04 UTC), Binance BTC/USDT:USDT (tick 0.1, lot = minimum 0.001 BTC, 5 USDT notional).

Hand computation: mid 95,383; width 634 / 95,383 = 0.665 %; spacing max(0.12 % x 95,383 =
114.4596, 634 / 20 = 31.7) = 114.4596; levels in the range floor(317 / 114.4596) = 2 a side.

* 1,000 USDT budget: 500 a side, 250 a level = 0.00262 BTC -> 0.002 BTC, both levels;
  buys 95,268.5 / 95,154.0 (rounded down), sells 95,497.5 / 95,612.0 (rounded up);
  take-profits one level inward: 95,383.0 for the inner buy and the inner sell; rebuild band
  [94,951.54, 95,814.46]; the stop one spacing beyond the outer level, 95,039.62 /
  95,726.38, lies inside it (the breakout);
* 300 USDT: 150 a side, 75 a level = 0.000786 BTC < 0.001: one level a side at 0.001
  (floor(150 / 95.383)), the outer levels ``BELOW_EXCHANGE_MINIMUM`` with the numbers;
* 150 USDT: 75 a side < 95.38: no level fits (``n_placed`` 0), all four levels listed;
* ETH at 1,800 (minimum 0.001 ETH / 5 USDT): 8 USDT levels meet the exchange but not the
  run's 10 USDT ``min_level_notional`` -> ``BELOW_MIN_LEVEL_NOTIONAL``.
"""

from __future__ import annotations

import pytest
from hean_enhanced_grid import EnhancedGridConfig, plan_grid
from hean_enhanced_grid.ladder import GridPlan

from hean_framework.testing import make_context

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
HI, LO = 95_700.0, 95_066.0


def plan(budget: float, **cfg: float) -> GridPlan:
    inst = make_context(symbols=[BTC]).instruments.get(BTC)
    p = plan_grid(BTC, HI, LO, EnhancedGridConfig(**cfg), inst, budget)
    assert isinstance(p, GridPlan), p
    return p


def test_full_account_places_both_levels() -> None:
    p = plan(1000.0)
    assert p.centre == 95_383.0 and p.width_pct == pytest.approx(634 / 95_383)
    assert p.spacing == pytest.approx(114.4596)
    assert (p.n_range, p.n_placed, p.qty, p.capital) == (2, 2, 0.002, 500.0)
    assert p.levels == (-2, -1, 1, 2)
    assert [p.entry_price(k) for k in p.levels] == [95_154.0, 95_268.5, 95_497.5, 95_612.0]
    assert [p.tp_price(k) for k in p.levels] == [95_268.6, 95_383.0, 95_383.0, 95_497.4]
    assert (p.band_low, p.band_high) == pytest.approx((94_951.5404, 95_814.4596))
    assert (p.stop_low, p.stop_high) == pytest.approx((95_039.6212, 95_726.3788))
    assert p.band_low < p.stop_low < p.stop_high < p.band_high  # the stops act first
    assert not p.skipped


def test_small_account_keeps_the_inner_levels_at_the_minimum() -> None:
    p = plan(300.0)
    assert (p.n_range, p.n_placed, p.qty) == (2, 1, 0.001)
    assert p.levels == (-1, 1)
    assert [(s.k, s.side, s.price, s.reason) for s in p.skipped] == [
        (-2, "buy", 95_154.0, "BELOW_EXCHANGE_MINIMUM"),
        (2, "sell", 95_612.0, "BELOW_EXCHANGE_MINIMUM")]
    for s in p.skipped:
        assert s.qty_wanted == pytest.approx(150 / 2 / 95_383)
        assert s.notional_wanted == pytest.approx(s.qty_wanted * s.price)
        assert s.min_qty == 0.001


def test_tiny_account_fits_no_level() -> None:
    p = plan(150.0)
    assert (p.n_range, p.n_placed) == (2, 0)
    assert p.levels == ()
    assert [s.k for s in p.skipped] == [-2, -1, 1, 2]


def test_ranges_outside_the_bounds_and_no_budget() -> None:
    inst = make_context(symbols=[BTC]).instruments.get(BTC)
    cfg = EnhancedGridConfig()
    assert plan_grid(BTC, 95_300.0, 95_066.0, cfg, inst, 1000.0) == "RANGE_TOO_NARROW"
    assert plan_grid(BTC, 99_000.0, 95_066.0, cfg, inst, 1000.0) == "RANGE_TOO_WIDE"
    assert plan_grid(BTC, HI, LO, cfg, inst, 0.0) == "NO_BUDGET"
    wide_spacing = EnhancedGridConfig(spacing_pct=0.003, min_range_pct=0.005)
    assert plan_grid(BTC, 95_560.0, 95_066.0, wide_spacing, inst, 1000.0) == \
        "NO_LEVEL_IN_RANGE"  # half range 0.26 % < one spacing 0.3 %


def test_run_minimum_notional_is_apart_from_the_exchange_minimum() -> None:
    inst = make_context(symbols=[ETH]).instruments.get(ETH)
    # range 1,782 .. 1,818: mid 1,800, 2 %; spacing max(2.16, 1.8) = 2.16; 8 levels in range
    p = plan_grid(ETH, 1_818.0, 1_782.0, EnhancedGridConfig(), inst, 128.0)
    assert not isinstance(p, str)
    assert p.n_range == 8 and p.capital == 64.0  # 8 USDT a level = 0.0044 ETH: >= 5 USDT
    assert p.qty == 0.006 and p.n_placed == 5    # 10 USDT at the lowest level 1,782.72
    assert {s.reason for s in p.skipped} == {"BELOW_MIN_LEVEL_NOTIONAL"}
    assert len(p.skipped) == 6
