"""Engine runs of smart_order on the 2024-08-08 Binance USDT-M BTC capture.

``run_sized(data, out, l2=..., latency_ms=..., history=...)``: a real engine run (journal on)
of a test strategy that sends an urgent market-worthy buy or sell (edge 100 bps, urgency 0.9)
every 150th BTC trade, cycling through sizes from 0.01 to 8 BTC, through ``smart_order``;
returns the decisions' ``smart_order`` records joined with the order's fills from the journal
(``estimate`` = the estimated slippage, ``actual`` = ``|VWAP - touch| / touch`` of the fills,
bps).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.models import Trade
from hean_framework.testing import isolated_plugins

BTC = "BTC/USDT:USDT"
SIZES = (0.01, 0.1, 0.5, 2.0, 8.0)


class SizedOrders(Strategy):
    """Every 150th BTC trade: an urgent order of the next size, sides alternating."""

    def on_start(self) -> None:
        self.n = 0

    def on_trade(self, trade: Trade) -> Any:
        self.n += 1
        if self.n % 150 or not self.ctx.market[BTC].has_quote:
            return None
        k = self.n // 150
        return self.signal(BTC, "buy" if k % 2 else "sell", trade.ts, trade.price,
                           size=SIZES[k % len(SIZES)], edge_bps=100.0, urgency=0.9)


def _run_sized(data: Path, out: Path, *, l2: str, latency_ms: int = 0,
               history: bool = True, end: int | None = None) -> list[dict[str, Any]]:
    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("sized", SizedOrders, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), "hean_smart_order.plugin", names=["sized_test",
                                                                       "smart_order"])
    shared = (data / "orderbook").is_dir()  # ../shared/data has one folder per kind
    books = data / "orderbook" if shared else data
    trades = data / "trades" if shared else data
    files = [{"kind": "l2", "symbol": BTC, "path": str(books / l2)},
             {"kind": "bbo", "symbol": BTC,
              "path": str(books / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
             {"kind": "trades", "symbol": BTC,
              "path": str(trades / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}]
    so: dict[str, Any] = {} if history else {"slippage": {"min_history_fills": 1000}}
    raw: dict[str, Any] = {
        "run": {"name": "sized"}, "account": {"capital": 10_000_000},
        "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
        "venue": {"name": "sim", "latency_ms": latency_ms},
        "data": {"files": files, **({"end": end} if end else {})},
        "strategies": {"sized": {"executor": "smart_order"}},
        "executors": {"smart_order": so}, "report": {"progress": False}}
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=out, journal=True, progress=False)
    try:
        eng.run()
    finally:
        eng.close()
    with Journal.open_readonly(out / "journal.sqlite") as j:
        decisions = j.decisions()
        orders = {o["decision_id"]: o for o in j.orders() if o["decision_id"]}
        fills: dict[int, list[dict[str, Any]]] = {}
        for f in j.fills():
            fills.setdefault(f["order_id"], []).append(f)
    rows = []
    for d in decisions:
        rec = (d.get("details") or {}).get("smart_order")
        if not rec:
            continue
        row = {"decision": d["decision"], **rec}
        o = orders.get(d["decision_id"])
        fs = fills.get(o["order_id"], []) if o else []
        if fs:
            qty = sum(f["qty"] for f in fs)
            vwap = sum(f["qty"] * f["price"] for f in fs) / qty
            row["actual"] = abs(vwap - rec["touch"]) / rec["touch"] * 1e4
            row["estimate"] = rec["slippage_bps"]
            row["liquidity"] = fs[0]["liquidity"]
        rows.append(row)
    return rows


@pytest.fixture(scope="session")
def run_sized() -> Callable[..., list[dict[str, Any]]]:
    """``run_sized(data, out, l2=..., latency_ms=0, history=True, end=None)`` (module
    docstring)."""
    return _run_sized
