"""Transaction-cost analysis (:mod:`hean_framework.tca`).

Invariants:

* hand-computed numbers: the module docstring's example (taker buy after the market moved:
  delay 9.99, spread 9.99, impact 0, fees 4.006, IS 23.98 bps); a walk beyond the touch is
  impact; a maker fill earns (negative) spread and has no impact; without a quote the whole
  fill-vs-mid distance is impact; a rebate is a negative fee;
* the parts always add up: ``delay + spread + impact + fees == is_bps`` for every parent;
* protective orders (no decision) are not parents, their fills are counted apart;
* real engine runs on the bundled 2024-08-08 BTC trades + best bid/offer + L2 (its first
  60 s, where the bundled book is complete): every parent's average fill price and IS agree
  with the journal's fills, the arrival mid is the mid the strategy saw when it signalled, a
  200 ms venue latency shows as ``delay_ms >= 200`` (the first event after it) on market
  orders, maker-chase fills pay the 2 bp maker fee; report.json carries the ``tca`` section
  per executor and report.html its table.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.models import Fill, Order, OrderDecision, Trade
from hean_framework.report import build_report
from hean_framework.report_sections import tca_section
from hean_framework.tca import TransactionCosts, percentile
from hean_framework.testing import isolated_plugins, make_context

SYM = "BTC/USDT:USDT"
DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
#: the bundled L2 file covers the first 60 s of the capture: stay inside it (a book that stops
#: updating would be walked at stale prices)
L2_END = 1_723_161_316_000


def _ctx(bid: float, ask: float) -> Any:
    return make_context(symbols=[SYM], bid=bid, ask=ask, price=(bid + ask) / 2)


def _order(oid: int, side: str, qty: float, decision_id: int = 1) -> tuple[Order, OrderDecision]:
    o = Order(oid, "s", SYM, side, qty, decision_id=decision_id)
    d = OrderDecision(decision_id, 1, "s", SYM, side, 0, price=100.0, qty=qty)
    return o, d


def _fill(order: Order, qty: float, price: float, fee: float, maker: bool = False) -> Fill:
    return Fill(0, order.order_id, "s", SYM, order.side, qty, price, fee, maker, 0)


def _quote(ctx: Any, bid: float, ask: float) -> None:
    st = ctx.market[SYM]
    st.bid, st.ask = bid, ask


def test_docstring_example_by_hand() -> None:
    ctx = _ctx(100.0, 100.2)
    tca = TransactionCosts(ctx)
    o, d = _order(1, "buy", 2.0)
    tca.on_submit(o, d, "plain")
    _quote(ctx, 100.1, 100.3)
    tca.on_fill(_fill(o, 2.0, 100.3, 0.0802), o)
    c = tca.parents[1].components()
    assert c["delay_bps"] == pytest.approx(0.1 / 100.1 * 1e4)  # 9.99
    assert c["spread_bps"] == pytest.approx(0.1 / 100.1 * 1e4)
    assert c["impact_bps"] == pytest.approx(0.0, abs=1e-9)
    assert c["fees_bps"] == pytest.approx(0.0802 / 200.2 * 1e4)  # 4.006
    assert c["is_bps"] == pytest.approx(23.986, abs=1e-3)
    assert tca.parents[1].vwap == pytest.approx(100.3)


def test_walk_beyond_touch_is_impact_and_parts_add_up() -> None:
    ctx = _ctx(100.0, 100.2)
    tca = TransactionCosts(ctx)
    o, d = _order(1, "buy", 3.0)
    tca.on_submit(o, d, "plain")
    tca.on_fill(_fill(o, 1.0, 100.2, 0.0), o)  # at the touch
    tca.on_fill(_fill(o, 2.0, 100.5, 0.0), o)  # 0.3 beyond it
    c = tca.parents[1].components()
    assert c["delay_bps"] == pytest.approx(0.0, abs=1e-12)
    assert c["spread_bps"] == pytest.approx(0.1 / 100.1 * 1e4)  # half spread on every unit
    assert c["impact_bps"] == pytest.approx(2 * 0.3 / (3 * 100.1) * 1e4)
    vwap = (100.2 + 2 * 100.5) / 3
    assert c["is_bps"] == pytest.approx((vwap - 100.1) / 100.1 * 1e4)
    assert sum(c[k] for k in ("delay_bps", "spread_bps", "impact_bps", "fees_bps")) == \
        pytest.approx(c["is_bps"], abs=1e-9)


def test_maker_sell_earns_the_spread_and_a_rebate_is_negative() -> None:
    ctx = _ctx(100.0, 100.2)
    tca = TransactionCosts(ctx)
    o, d = _order(1, "sell", 1.0)
    tca.on_submit(o, d, "maker_chase")
    tca.on_fill(_fill(o, 1.0, 100.2, -0.01002, maker=True), o)  # rests at the ask, -1 bp
    c = tca.parents[1].components()
    assert c["spread_bps"] == pytest.approx(-0.1 / 100.1 * 1e4)  # earned
    assert c["impact_bps"] == 0.0 and c["delay_bps"] == 0.0
    assert c["fees_bps"] == pytest.approx(-0.01002 / 100.1 * 1e4)
    assert c["is_bps"] == pytest.approx(-(100.2 - 100.1) / 100.1 * 1e4 + c["fees_bps"])


def test_without_a_quote_the_fill_vs_mid_is_impact() -> None:
    ctx = make_context(symbols=[SYM], price=100.0)  # bar data: last price only
    tca = TransactionCosts(ctx)
    o, d = _order(1, "sell", 1.0)
    tca.on_submit(o, d, "plain")
    assert tca.parents[1].arrival_mid == 100.0
    tca.on_fill(_fill(o, 1.0, 99.98, 0.0), o)  # sold 2 bps below the close
    c = tca.parents[1].components()
    assert c["spread_bps"] == 0.0
    assert c["impact_bps"] == pytest.approx(2.0)
    assert c["is_bps"] == pytest.approx(2.0)


def test_protective_orders_are_not_parents_and_aggregation() -> None:
    ctx = _ctx(100.0, 100.2)
    tca = TransactionCosts(ctx)
    stop = Order(9, "s", SYM, "sell", 1.0, decision_id=0)
    tca.on_submit(stop, OrderDecision(0, 0, "s", SYM, "sell", 0), "")
    tca.on_fill(_fill(stop, 1.0, 99.0, 0.0), stop)
    assert tca.parents == {} and tca.unattributed_fills == 1
    for i, px in enumerate((100.2, 100.3, 100.4), start=1):  # IS 9.99, 19.98, 29.97 bps
        o, d = _order(i, "buy", 1.0, decision_id=i)
        tca.on_submit(o, d, "plain")
        tca.on_fill(_fill(o, 1.0, px, 0.0), o)
    o, d = _order(4, "buy", 1.0, decision_id=4)
    tca.on_submit(o, d, "plain")  # never filled
    row = tca.report()["by_executor"]["plain"]
    assert (row["parents"], row["filled_parents"], row["unfilled_parents"]) == (4, 3, 1)
    assert row["fill_ratio"] == pytest.approx(0.75)
    assert row["is_bps"] == pytest.approx(0.2 / 100.1 * 1e4, rel=1e-6)  # equal weights
    assert row["median_is_bps"] == pytest.approx(0.2 / 100.1 * 1e4, rel=1e-6)
    assert row["cost_quote"] == pytest.approx(0.1 + 0.2 + 0.3, rel=1e-6)
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.9) == pytest.approx(3.7)


# ------------------------------------------------------------------ real engine runs


class EveryN(Strategy):
    """A market order every 150th BTC trade, alternating sides, 0.01-0.05 BTC; records the
    mid it saw."""

    seen: dict[int, float]

    def on_start(self) -> None:
        self.n = 0
        self.seen = {}

    def on_trade(self, trade: Trade) -> Any:
        self.n += 1
        if self.n % 150 or not self.ctx.market[SYM].has_quote:
            return None
        k = self.n // 150
        self.seen[trade.ts * 1000 + k] = self.ctx.market[SYM].mid
        side = "buy" if k % 2 else "sell"
        px = trade.price
        return self.signal(SYM, side, trade.ts, px, size=0.01 * (1 + k % 5),
                           stop_loss=px * (0.99 if side == "buy" else 1.01),
                           max_hold_ms=20_000, edge_bps=40.0, urgency=0.9)


def _engine(tmp_path: Path, executor: str = "plain", latency_ms: int = 0
            ) -> tuple[dict[str, Any], Path, EveryN]:
    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("every_n", EveryN, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["tca_test"])
    files = [{"kind": "l2", "symbol": SYM,
              "path": str(DATA / "binance_usdm_perp_BTCUSDT_l2_20240808_first60s.csv.gz")},
             {"kind": "bbo", "symbol": SYM,
              "path": str(DATA / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
             {"kind": "trades", "symbol": SYM,
              "path": str(DATA / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}]
    raw = {"run": {"name": "tca"}, "account": {"capital": 50_000},
           "small_capital": {"enabled": False},
           "venue": {"name": "sim", "latency_ms": latency_ms},
           "data": {"files": files, "end": L2_END},
           "strategies": {"every_n": {"executor": executor}},
           "executors": {executor: {}}, "report": {"progress": False}}
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=tmp_path, journal=True, progress=False)
    res = eng.run()
    strat = eng.strategies["every_n"]
    eng.close()
    assert isinstance(strat, EveryN)
    return build_report(res), tmp_path / "journal.sqlite", strat


def _journal_fills(path: Path) -> tuple[dict[int, list[dict[str, Any]]], dict[int, int]]:
    with Journal.open_readonly(path) as j:
        orders = {o["order_id"]: o["decision_id"] for o in j.orders()}
        by_dec: dict[int, list[dict[str, Any]]] = {}
        for f in j.fills():
            did = orders.get(f["order_id"], 0)
            by_dec.setdefault(did, []).append(f)
    return by_dec, orders


def _check_parents(report: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    by_dec, _ = _journal_fills(path)
    parents = [p for p in report["tca"]["parents"] if p["fills"]]
    assert parents
    for p in parents:
        fills = by_dec[p["decision_id"]]
        qty = sum(f["qty"] for f in fills)
        vwap = sum(f["qty"] * f["price"] for f in fills) / qty
        fee = sum(f["fee"] for f in fills)
        assert p["filled_qty"] == pytest.approx(qty)
        assert p["avg_fill_price"] == pytest.approx(vwap, rel=1e-12)
        s = 1.0 if p["side"] == "buy" else -1.0
        m0 = p["arrival_mid"]
        expect = s * (vwap - m0) / m0 * 1e4 + fee / (qty * m0) * 1e4
        assert p["is_bps"] == pytest.approx(expect, abs=1e-5)
        parts = sum(p[k] for k in ("delay_bps", "spread_bps", "impact_bps", "fees_bps"))
        assert parts == pytest.approx(p["is_bps"], abs=1e-5)
    return parents


def test_engine_plain_market_orders(tmp_path: Path) -> None:
    report, journal, strat = _engine(tmp_path)
    tca = report["tca"]
    assert set(tca["by_executor"]) >= {"plain"}
    parents = _check_parents(report, journal)
    entries = [p for p in parents if p["executor"] == "plain"]
    assert len(entries) >= 10
    mids = sorted(strat.seen.values())
    for p in entries:
        assert p["delay_ms"] == 0 and p["delay_bps"] == pytest.approx(0.0, abs=1e-9)
        assert any(math.isclose(p["arrival_mid"], m, rel_tol=1e-12) for m in mids)
        # Binance taker 4 bp of the fill notional, expressed on the arrival notional
        assert p["fees_bps"] == pytest.approx(4.0 * p["avg_fill_price"] / p["arrival_mid"],
                                              rel=1e-6)
    row = tca["by_executor"]["plain"]
    assert row["filled_parents"] == len([p for p in tca["parents"]
                                         if p["executor"] == "plain" and p["fills"]])
    assert row["fill_ratio"] == pytest.approx(1.0)
    html = tca_section(tca)
    assert "<h2>Transaction costs</h2>" in html and "<td>plain</td>" in html


def test_engine_latency_shows_as_delay(tmp_path: Path) -> None:
    report, journal, _ = _engine(tmp_path, latency_ms=200)
    parents = [p for p in _check_parents(report, journal) if p["executor"] == "plain"]
    # the order reaches the venue with the first market event at or after 200 ms
    assert parents and all(200 <= p["delay_ms"] < 1_200 for p in parents)
    assert any(abs(p["delay_bps"]) > 0.0 for p in parents)


def test_engine_maker_chase_pays_the_maker_fee(tmp_path: Path) -> None:
    report, journal, _ = _engine(tmp_path, executor="maker_chase")
    parents = [p for p in _check_parents(report, journal) if p["executor"] == "maker_chase"]
    maker_only = [p for p in parents if p["maker_fills"] == p["fills"]]
    assert maker_only
    for p in maker_only:
        assert p["impact_bps"] == 0.0
        # 2 bp of the fill notional, expressed on the arrival notional
        assert p["fees_bps"] == pytest.approx(2.0 * p["avg_fill_price"] / p["arrival_mid"],
                                              rel=1e-6)
    assert report["tca"]["by_executor"]["maker_chase"]["maker_fill_share"] > 0.5
