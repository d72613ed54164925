"""Each defect of the original EnhancedGrid, shown fixed on real candles (the README's
"Differences from the original"), one test each:

1. the original's range detection was only the regime detector's RANGE label plus a warm-up,
   with no explicit range-bounds test -> a grid is built only on a window whose
   ``(high - low) / mid`` is within [0.5 %, 3 %]: real windows outside it build nothing, with
   the reason counted;
2. the original never re-centred (centre = the price at initialisation, kept until a reset)
   -> after a breakout the next grid is centred on the new window's mid, and no order of the
   old grid is left;
3. the original never reused a level until the grid was reset -> within one grid the same
   buy level fills again after its take-profit;
4. the original's spacing was a fixed 0.12 % -> ``spacing = max(0.12 %, range / (2 *
   levels_per_side))``: a wide range spreads its levels wider;
5. the original's fixed stop and take-profit failed the risk layer's 2:1 reward:risk rule; the
   fix lets the ladder be the exit and exempts the grid from that rule explicitly -> with
   ``risk_limits.require_take_profit`` the grid's quotes (no per-leg take-profit) are created,
   because the class declares ``style = "quoting"``; the same class declared ``directional``
   is refused ``RISK_BLOCKED``;
6. the original traded when a tick came within 0.05 % of a level (a touch near the level)
   -> the level is a resting limit order that fills, as a maker at its own price, only when a
   bar trades *through* it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from grid_runs import BTC, Row, Run, btc_raw
from hean_enhanced_grid import EnhancedGrid, EnhancedGridConfig, plan_grid

from hean_framework import hookimpl
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.testing import isolated_plugins, make_context


def windows(rows: list[Row], n: int = 100) -> list[tuple[int, float, float]]:
    """``(close ts, high, low)`` of every full ``n``-bar window."""
    return [(rows[i].ts, max(r.high for r in rows[i - n + 1:i + 1]),
             min(r.low for r in rows[i - n + 1:i + 1])) for i in range(n - 1, len(rows), 7)]


def test_1_range_bounds_are_tested(btc_1m: list[Row], btc_run: Run) -> None:
    cfg = EnhancedGridConfig()
    inst = make_context(symbols=[BTC]).instruments.get(BTC)
    seen: dict[str, int] = defaultdict(int)
    for _, hi, lo in windows(btc_1m[:20_000]):
        width = (hi - lo) / ((hi + lo) / 2)
        got = plan_grid(BTC, hi, lo, cfg, inst, 1000.0)
        if width < 0.005:
            assert got == "RANGE_TOO_NARROW"
        elif width > 0.03:
            assert got == "RANGE_TOO_WIDE"
        else:
            assert not isinstance(got, str) and got.n_placed >= 1
        seen[got if isinstance(got, str) else "built"] += 1
    assert seen["RANGE_TOO_NARROW"] > 100 and seen["built"] > 100 and seen["RANGE_TOO_WIDE"] > 0
    stats = btc_run.strategy.stats()
    assert stats["range_too_narrow"] > 0
    for _ts, _what, plan in btc_run.strategy.history:
        assert 0.005 <= plan.width_pct <= 0.03


def test_2_grid_re_centres_after_a_breakout(btc_run: Run) -> None:
    hist = list(btc_run.strategy.history)
    pairs = 0
    for (t0, w0, old), (t1, w1, _), (_t2, w2, new) in zip(hist, hist[1:], hist[2:]):
        if (w0, w1, w2) != ("build", "breakout", "build"):
            continue
        pairs += 1
        assert new.centre == (new.high + new.low) / 2 != old.centre
        # no order of the old grid outlives the breakout
        assert not [o for o in btc_run.orders if o["tag"] in ("GRID_ENTRY", "GRID_TP")
                    and t0 <= o["ts"] <= t1 and o["done_ts"] > t1]
    assert pairs >= 10


def test_3_a_used_level_is_used_again_in_the_same_grid(btc_run: Run) -> None:
    fills = {f["order_id"]: f for f in btc_run.fills}
    builds = [ts for ts, what, _ in btc_run.strategy.history if what == "build"]
    per_level: dict[tuple[int, str, float], int] = defaultdict(int)
    for o in btc_run.orders:
        if o["tag"] == "GRID_ENTRY" and o["order_id"] in fills:
            grid = max(ts for ts in builds if ts <= o["ts"])
            per_level[(grid, o["side"], o["price"])] += 1
    assert max(per_level.values()) >= 3
    assert sum(1 for n in per_level.values() if n >= 2) >= 10


def test_4_spacing_follows_a_wide_range() -> None:
    inst = make_context(symbols=[BTC]).instruments.get(BTC)
    cfg = EnhancedGridConfig()
    narrow = plan_grid(BTC, 96_000.0, 95_000.0, cfg, inst, 10_000.0)   # 1.05 %
    wide = plan_grid(BTC, 97_400.0, 95_000.0, cfg, inst, 10_000.0)     # 2.5 %
    assert not isinstance(narrow, str) and not isinstance(wide, str)
    assert narrow.spacing == 0.0012 * 95_500.0 and narrow.n_range == 4
    assert wide.spacing == (97_400.0 - 95_000.0) / 20 > 0.0012 * wide.centre
    assert wide.n_range == 10 and wide.entry_price(-10) == 95_000.0


class DirectionalGrid(EnhancedGrid):
    """The same grid declared directional: the generic risk rules apply to it."""

    style = "directional"


class _Both:
    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("directional_grid", DirectionalGrid, config=EnhancedGridConfig)


def _gated_run(tmp: Path, name: str) -> Engine:
    raw = btc_raw("2025-05-05T12:00")
    raw["strategies"] = {name: raw["strategies"]["enhanced_grid"]}
    raw["gates"]["risk_limits"] = {"require_take_profit": True}
    raw["report"] = {"progress": False}
    pm = isolated_plugins("hean_enhanced_grid.plugin", _Both(),
                          names=["hean_enhanced_grid.plugin", "grid_test"])
    eng = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, out_dir=tmp,
                 journal=False, progress=False)
    eng.run()
    eng.close()
    return eng


def test_5_quoting_style_is_exempt_from_reward_risk(tmp_path: Path, shared_data: Path) -> None:
    quoting = _gated_run(tmp_path / "q", "enhanced_grid")
    directional = _gated_run(tmp_path / "d", "directional_grid")
    q = quoting.parts.pipeline.funnel()
    d = directional.parts.pipeline.funnel()
    gate = {s["stage"]: s for s in d["stages"]}["gate"]
    assert gate["reasons"].get("RISK_BLOCKED", 0) == gate["in"] > 0 and gate["out"] == 0
    assert d["orders"] == 0
    assert q["orders"] > 0 and q["fills"] > 0
    assert "RISK_BLOCKED" not in {s["stage"]: s for s in q["stages"]}["gate"]["reasons"]


def test_6_levels_fill_only_when_a_bar_trades_through(btc_run: Run,
                                                     btc_1m: list[Row]) -> None:
    bars = {r.ts: r for r in btc_1m}
    orders = {o["order_id"]: o for o in btc_run.orders}
    n = 0
    for f in btc_run.fills:
        o = orders[f["order_id"]]
        if o["tag"] not in ("GRID_ENTRY", "GRID_TP"):
            continue
        bar = bars[f["ts"]]
        assert f["is_maker"] and f["price"] == o["price"]
        assert bar.low < o["price"] if o["side"] == "buy" else bar.high > o["price"]
        assert f["ts"] > o["ts"]  # never the bar the level was placed on
        n += 1
    assert n > 300
