"""report.html for quoting runs: the markouts table and the inventory-over-time chart.

On a real run (a quoter at the best bid/ask of the 2024-08-08 Binance USDⓈ-M BTC capture,
BBO + trades, first four minutes, a 1 bp maker rebate):

* the page has one "Markouts" section (not also the generic dump of the ``markouts`` block):
  one table row per strategy and symbol whose cells are the section's numbers -- fills, the
  maker fill rate, the markout and mid move per horizon that has values, the maker fee bps,
  the PnL split, the final position;
* the inventory chart draws, per strategy and symbol, the section's inventory notionals in
  order, held to the run's end; the transaction-cost table is still on the page;
* a report without the ``markouts`` block (a run without fills) has neither.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hean_framework import hookimpl, report_html, report_sections
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.groups import OrderGroup
from hean_framework.models import Quote
from hean_framework.report import build_report
from hean_framework.run import RunResult
from hean_framework.testing import isolated_plugins

BTC = "BTC/USDT:USDT"


class AtTouch(Strategy):
    """Quotes 0.002 BTC at the best bid and ask on every best bid/offer change."""

    style = "quoting"

    def on_quote(self, quote: Quote) -> Any:
        legs = [self.signal(BTC, "buy", 0, quote.bid, size=0.002, order_type="limit",
                            limit_price=quote.bid, prefer_maker=True),
                self.signal(BTC, "sell", 0, quote.ask, size=0.002, order_type="limit",
                            limit_price=quote.ask, prefer_maker=True)]
        return OrderGroup(legs, kind="quote")


def run(shared_data: Path, tmp_path: Path, end: str) -> RunResult:
    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("at_touch", AtTouch, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["at_touch_test"])
    files = [{"kind": "bbo", "symbol": BTC, "path": str(
                 shared_data / "orderbook/binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
             {"kind": "trades", "symbol": BTC, "path": str(
                 shared_data / "trades/binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}]
    raw = {"run": {"name": "report_quoting"}, "account": {"capital": 50_000},
           "venue": {"name": "sim", "exchange": "binance", "maker_fee": -0.0001},
           "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
           "data": {"files": files, "end": end},
           "strategies": {"at_touch": {"symbols": [BTC]}}, "report": {"progress": False}}
    eng = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, out_dir=tmp_path,
                 journal=False, progress=False)
    res = eng.run()
    eng.close()
    return res


def cells(page: str, section: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first table after ``<h2>section</h2>``."""
    start = page.index(f"<h2>{section}</h2>")
    tab = page[start:page.index("</table>", start)]
    head = re.findall(r"<th>(.*?)</th>", tab)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", tab)]
    return head, [r for r in rows if r]


def test_markouts_table_and_inventory_chart(shared_data: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    res = run(shared_data, tmp_path, "2024-08-08T23:58:00Z")
    report = build_report(res)
    section = report["markouts"]
    row = section["strategies"]["at_touch"]["symbols"][BTC]
    assert row["maker_fills"] > 5 and len(row["inventory"]) > 5
    drawn: list[Any] = []
    png = report_html._png

    def keep(fig: Any) -> str:
        drawn.append(fig)
        return png(fig)

    monkeypatch.setattr(report_sections, "_png", keep)
    page = report_html.render_html(report, res)
    assert page.count("<h2>Markouts</h2>") == 1
    assert "<th>pending</th>" not in page  # the generic rendering of the block is skipped
    assert "<h2>Transaction costs</h2>" in page
    head, rows = cells(page, "Markouts")
    assert len(rows) == 1
    got = dict(zip(head, rows[0]))
    num = report_html._num
    strat = section["strategies"]["at_touch"]
    assert (got["strategy"], got["symbol"]) == ("at_touch", BTC)
    assert got["maker fills"] == num(row["maker_fills"])
    assert got["taker fills"] == num(row["taker_fills"])
    assert got["maker fill rate"] == num(strat["maker_fill_rate"])
    for h in ("1s", "10s", "60s"):
        assert got[f"markout {h} bps"] == num(row["markout_bps"][h])
        assert got[f"mid move {h} bps"] == num(row["mid_move_bps"][h])
    assert "markout 1bar bps" not in got  # horizons without values have no column
    assert got["maker fee bps"] == num(row["maker_fee_bps"]) == num(-1.0)
    for k in ("spread_capture", "inventory", "fees", "net"):
        assert got[k.replace("_", " ")] == num(row["pnl"][k])
    assert got["final position"] == num(row["final_position"])
    # the chart: the inventory notionals in order, the last one held to the run's end
    charts = [f for f in drawn if "Inventory" in f.axes[0].get_title(loc="left")]
    assert len(charts) == 1
    line = charts[0].axes[0].get_lines()[0]
    assert line.get_label() == f"at_touch {BTC}"
    ys = list(line.get_ydata())
    assert ys[:-1] == [p[2] for p in row["inventory"]] and ys[-1] == ys[-2]
    import matplotlib.dates as mdates

    end = mdates.num2date(line.get_xdata(orig=False)[-1]).timestamp() * 1000
    assert end == pytest.approx(res.equity_curve[-1][0], abs=1)


def test_no_fills_no_markouts(shared_data: Path, tmp_path: Path) -> None:
    res = run(shared_data, tmp_path, "2024-08-08T23:54:20Z")
    report = build_report(res)
    del report["markouts"]  # as in a run without fills
    page = report_html.render_html(report, res)
    assert "<h2>Markouts</h2>" not in page and "Inventory over time" not in page
    assert report_sections.markouts_section(None) == ""
    assert report_sections.markouts_section({}) == ""
    assert report_sections.inventory_chart({"strategies": {}}) is None
