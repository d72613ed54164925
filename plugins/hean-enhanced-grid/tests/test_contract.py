"""The kernel's strategy contract for ``enhanced_grid`` and its declared parameter space.

Invariants:

* the kernel's :class:`~hean_framework.testing.StrategyContract` holds with the defaults and
  with a small-account, few-levels config: registered with a model that refuses unknown keys;
  on the bundled real BTC 5m candles the grid's quote legs are well formed (owned by the
  instance, limit prices, sizes), the same replay gives the same legs, the batch form matches;
* the class declares ``style = "quoting"`` and the kernel reads it at registration;
* every number of the config model has both bounds (the optimizer's search space), the
  grid's intended search ranges for ``spacing_pct`` and ``levels_per_side``; out-of-range
  YAML is refused with the field named; ``min_range_pct`` must stay below ``max_range_pct``;
* ``on_params_updated`` ignores unknown keys, clamps numbers into the bounds, refuses a
  combination the model refuses without changing anything, and resizes the range windows.
"""

from __future__ import annotations

from typing import Any

import pytest
from hean_enhanced_grid import EnhancedGrid, EnhancedGridConfig
from pydantic import ValidationError

from hean_framework.groups import OrderGroup
from hean_framework.optimize import space_of
from hean_framework.testing import (
    StrategyContract,
    build_component,
    isolated_plugins,
    make_context,
    sample_bars,
)

BTC = "BTC/USDT:USDT"


class TestContract(StrategyContract):
    plugin_name = "enhanced_grid"
    plugin_module = "hean_enhanced_grid.plugin"


class TestContractSmallGrid(StrategyContract):
    plugin_name = "enhanced_grid"
    plugin_module = "hean_enhanced_grid.plugin"
    config = {"levels_per_side": 5, "spacing_pct": 0.003, "max_inventory_pct": 0.1,
              "range_bars": 48, "rebuild_wait_bars": 0}


def make(config: dict[str, Any] | None = None) -> EnhancedGrid:
    pm = isolated_plugins("hean_enhanced_grid.plugin")
    strat = build_component(pm, "strategy", "enhanced_grid", make_context(symbols=[BTC]),
                            config or {}, symbols=[BTC])
    assert isinstance(strat, EnhancedGrid)
    return strat


def test_quote_legs_are_limit_legs_of_one_quote() -> None:
    strat = make()
    groups = []
    for bar in sample_bars(3000):
        strat.ctx.now = bar.ts
        out = strat.on_bar(bar)
        groups += [x for x in (out if isinstance(out, list) else [out])
                   if isinstance(x, OrderGroup)]
    assert groups
    for g in groups:
        assert g.kind == "quote" and g.key == "grid"
        if not g.legs:  # an empty quote withdraws the grid (breakout)
            assert (g.strategy_id, g.symbol) == ("enhanced_grid", BTC)
            continue
        assert g.problem() == ""
        for leg in g.legs:
            assert leg.order_type == "limit" and leg.limit_price == leg.entry_price
            assert leg.prefer_maker and leg.size and leg.size > 0
            assert leg.stop_loss is None and leg.take_profit is None  # no kernel exit orders


def test_style_is_quoting() -> None:
    assert EnhancedGrid.style == "quoting"
    spec = isolated_plugins("hean_enhanced_grid.plugin").registry.get("strategy",
                                                                      "enhanced_grid")
    assert spec is not None and getattr(spec.cls, "style", None) == "quoting"


def test_every_number_is_bounded_and_spec_ranges() -> None:
    space = space_of(EnhancedGridConfig)
    numbers = [n for n, f in EnhancedGridConfig.model_fields.items()
               if f.annotation in (int, float)]
    assert sorted(space) == sorted(numbers)
    assert (space["spacing_pct"].low, space["spacing_pct"].high) == (0.0008, 0.003)
    assert (space["levels_per_side"].low, space["levels_per_side"].high) == (5, 15)
    d = EnhancedGridConfig()
    for name, p in space.items():
        assert p.contains(getattr(d, name)), name


@pytest.mark.parametrize(("key", "value"), [("levels_per_side", 4), ("spacing_pct", 0.01),
                                            ("range_bars", 5), ("max_inventory_pct", 0.0)])
def test_out_of_range_is_refused_with_the_field(key: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=key):
        EnhancedGridConfig(**{key: value})


def test_range_bounds_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="min_range_pct"):
        EnhancedGridConfig(min_range_pct=0.02, max_range_pct=0.015)


def test_params_update_is_clamped() -> None:
    strat = make()
    for bar in sample_bars(150):
        strat.on_bar(bar)
    assert strat.on_params_updated({"nope": 1}) == []
    got = strat.on_params_updated({"spacing_pct": 1.0, "levels_per_side": 99,
                                   "range_bars": 3, "nope": 2})
    assert got == ["levels_per_side", "range_bars", "spacing_pct"]
    c = strat.config
    assert (c.spacing_pct, c.levels_per_side, c.range_bars) == (0.003, 15, 20)
    sym = strat._syms[BTC]
    assert sym.highs.maxlen == sym.lows.maxlen == 20 and len(sym.highs) == 20
    before = strat.config.model_dump()
    assert strat.on_params_updated({"min_range_pct": 0.02, "max_range_pct": 0.01}) == []
    assert strat.config.model_dump() == before
    assert strat.on_params_updated({"confidence": "high"}) == []
