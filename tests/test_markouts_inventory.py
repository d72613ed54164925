"""The markouts section's inventory over time stays evenly spaced over the fills.

On the real 2024-08-08 Binance USDⓈ-M BTC capture (BBO + trades), a quoter at the best
bid/ask gets hundreds of fills; with :data:`hean_framework.markouts.MAX_POINTS` lowered to 8
the section keeps at most 8 points per strategy and symbol:

* each point is the position right after one of the fills, in order, and the last point is
  the final position;
* the points are spread evenly over the fills: the gaps between their fill numbers differ by
  at most one bucket (the old thinning halved the whole list whenever it overflowed, so the
  first fills ended up 2^k times sparser than the last ones);
* at or below the limit every fill is a point.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hean_framework import hookimpl, markouts
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.groups import OrderGroup
from hean_framework.models import Fill, Quote
from hean_framework.testing import isolated_plugins

BTC = "BTC/USDT:USDT"


class AtTouch(Strategy):
    """Quotes 0.002 BTC at the best bid and ask on every best bid/offer change; records the
    position after each fill."""

    style = "quoting"
    after: ClassVar[list[tuple[int, float]]] = []

    def on_quote(self, quote: Quote) -> Any:
        return OrderGroup([self.signal(BTC, side, 0, px, size=0.002, order_type="limit",
                                       limit_price=px, prefer_maker=True)
                           for side, px in (("buy", quote.bid), ("sell", quote.ask))],
                          kind="quote")

    def on_fill(self, fill: Fill) -> Any:
        type(self).after.append((fill.ts, self.ctx.portfolio.position_qty(self.name, BTC)))
        return None


def run(shared_data: Path, tmp_path: Path) -> dict[str, Any]:
    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("at_touch", AtTouch, config=ComponentConfig)

    AtTouch.after = []
    files = [{"kind": "bbo", "symbol": BTC, "path": str(
                 shared_data / "orderbook/binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
             {"kind": "trades", "symbol": BTC, "path": str(
                 shared_data / "trades/binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}]
    raw = {"run": {"name": "inventory_points"}, "account": {"capital": 50_000},
           "venue": {"name": "sim", "exchange": "binance"},
           "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
           "data": {"files": files, "end": "2024-08-08T23:57:00Z"},
           "strategies": {"at_touch": {"symbols": [BTC]}}, "report": {"progress": False}}
    pm = isolated_plugins(Plugin(), names=["inventory_points"])
    eng = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, out_dir=tmp_path,
                 journal=False, progress=False)
    res = eng.run()
    eng.close()
    row: dict[str, Any] = res.sections["markouts"]["strategies"]["at_touch"]["symbols"][BTC]
    return row


def fill_numbers(points: list[list[float]], after: list[tuple[int, float]]) -> list[int]:
    """The fill (1-based, in order) each point was taken after."""
    out, j = [], 0
    for ts, qty, _ in points:
        while (after[j][0], after[j][1]) != (ts, pytest.approx(qty, abs=1e-12)):
            j += 1
        out.append(j + 1)
        j += 1
    return out


def test_inventory_points_are_evenly_spaced_over_the_fills(
        shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markouts, "MAX_POINTS", 8)
    row = run(shared_data, tmp_path)
    after = AtTouch.after
    n = len(after)
    assert n > 200  # several doublings of the stride
    points = row["inventory"]
    assert len(points) == 8
    nums = fill_numbers(points, after)
    assert nums[-1] == n and points[-1][1] == pytest.approx(row["final_position"])
    gaps = [b - a for a, b in pairwise(nums[:-1])]  # the last point is the last fill
    assert max(gaps) - min(gaps) <= max(gaps) / 2, (nums, n)
    assert nums[-2] >= n * 0.6  # the recent fills are not the only ones kept ...
    assert nums[0] <= n * 0.2  # ... nor the early ones


def test_every_fill_is_a_point_below_the_limit(shared_data: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markouts, "MAX_POINTS", 10_000)
    row = run(shared_data, tmp_path)
    assert fill_numbers(row["inventory"], AtTouch.after) == list(range(1, len(AtTouch.after) + 1))
