"""The quote executor's journal events, with and without a journal.

On the real 2024-08-08 Binance USDⓈ-M BTC capture (BBO + trades, the first 20 seconds), a
quoter at the best bid/ask requoting on every best bid/offer change:

* with the journal on, every quote the executor handled is one ``order_group`` event
  (``kind: quote``, its legs with their prices) and every quote it replaced one
  ``order_group_end`` (``replaced``): as many as quotes minus the first;
* the run without a journal (where the executor skips building those events) makes exactly
  the same quotes, orders and fills.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.groups import OrderGroup
from hean_framework.models import Quote
from hean_framework.run import RunResult
from hean_framework.testing import isolated_plugins

BTC = "BTC/USDT:USDT"


class AtTouch(Strategy):
    """Quotes 0.002 BTC at the best bid and ask on every best bid/offer change."""

    style = "quoting"

    def on_quote(self, quote: Quote) -> Any:
        return OrderGroup([self.signal(BTC, side, 0, px, size=0.002, order_type="limit",
                                       limit_price=px, prefer_maker=True)
                           for side, px in (("buy", quote.bid), ("sell", quote.ask))],
                          kind="quote")


def run(shared_data: Path, tmp_path: Path, journal: bool) -> RunResult:
    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("at_touch", AtTouch, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["at_touch_journal"])
    files = [{"kind": "bbo", "symbol": BTC, "path": str(
                 shared_data / "orderbook/binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
             {"kind": "trades", "symbol": BTC, "path": str(
                 shared_data / "trades/binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}]
    raw = {"run": {"name": "quotes_journal"}, "account": {"capital": 50_000},
           "venue": {"name": "sim", "exchange": "binance", "latency_ms": 20,
                     "cancel_latency_ms": 20, "amend": True},
           "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
           "data": {"files": files, "end": "2024-08-08T23:54:36Z"},
           "strategies": {"at_touch": {"symbols": [BTC]}}, "report": {"progress": False}}
    eng = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, out_dir=tmp_path,
                 journal=journal, progress=False)
    res = eng.run()
    eng.close()
    return res


def test_quote_events_journaled_and_runs_without_journal_identical(
        shared_data: Path, tmp_path: Path) -> None:
    on = run(shared_data, tmp_path / "on", journal=True)
    off = run(shared_data, tmp_path / "off", journal=False)
    q = on.sections["quotes"]["at_touch"]
    assert q["quotes"] > 100 and q["amended"] > 0
    assert off.sections["quotes"]["at_touch"] == q
    assert off.sections["markouts"] == on.sections["markouts"]
    with sqlite3.connect(tmp_path / "on" / "journal.sqlite") as db:
        ev = {k: [json.loads(p) for (p,) in db.execute(
            "SELECT payload FROM events WHERE kind = ?", (k,))]
            for k in ("order_group", "order_group_end")}
    quotes = [e for e in ev["order_group"] if e.get("kind") == "quote"]
    assert len(quotes) == q["quotes"]
    assert sum(e["amended"] for e in quotes) == q["amended"]
    assert sum(e["placed"] for e in quotes) == q["placed"]
    assert all(len(e["legs"]) == 2 and e["legs"][0]["price"] < e["legs"][1]["price"]
               for e in quotes)
    ends = [e for e in ev["order_group_end"] if e.get("kind") == "quote"]
    assert len(ends) == q["quotes"] - 1 and {e["status"] for e in ends} == {"replaced"}
