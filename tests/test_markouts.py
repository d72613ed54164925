"""Markouts, rebates, fill rate, inventory and the PnL split (report section ``markouts``).

Invariants, on real data (2024-08-08 BTC USDⓈ-M trades + BBO; BTC 5m candles):

* every maker fill's markout at 1 s / 10 s / 60 s is ``side × (mid(t+h) − price) / price`` in
  bps, with the mid as the last recorded best bid/ask *before* ``t + h`` -- recomputed here
  from the recorded quotes, fill by fill;
* on candles the horizons are 1 and 5 bars and the mid is the later bar's close;
* maker fees follow the venue's maker rate (a negative rate is a rebate: ``maker_fee_bps``
  equals the rate in bps);
* ``spread_capture + inventory == gross`` and ``gross − fees == net``; fees equal the fills'
  fees; the fill rate is filled / posted post-only orders.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.groups import OrderGroup
from hean_framework.models import Bar, Fill, Quote
from hean_framework.run import RunResult
from hean_framework.testing import isolated_plugins

BTC = "BTC/USDT:USDT"
KERNEL_DATA = Path(__file__).resolve().parents[1] / "examples" / "data"


class Touch(Strategy):
    """Quotes 0.002 BTC at the best bid and ask on every mid move (bars: close ± 0.1 %)."""

    style = "quoting"
    fills: ClassVar[list[Fill]] = []

    def _quote(self, bid: float, ask: float) -> OrderGroup:
        return OrderGroup([self.signal(BTC, "buy", 0, bid, size=0.002, order_type="limit",
                                       limit_price=round(bid, 1), prefer_maker=True),
                           self.signal(BTC, "sell", 0, ask, size=0.002, order_type="limit",
                                       limit_price=round(ask, 1), prefer_maker=True)],
                          kind="quote")

    def on_quote(self, quote: Quote) -> Any:
        return self._quote(quote.bid, quote.ask)

    def on_bar(self, bar: Bar) -> Any:
        return self._quote(bar.close * 0.999, bar.close * 1.001)

    def on_fill(self, fill: Fill) -> Any:
        type(self).fills.append(fill)
        return None


def run(files: list[dict[str, str]], tmp_path: Path, end: str | None = None,
        maker_fee: float = -0.0001) -> tuple[RunResult, list[Fill]]:
    class T(Touch):
        fills: ClassVar[list[Fill]] = []

    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("touch", T, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["touch_test"])
    data: dict[str, Any] = {"files": files}
    if end:
        data["end"] = end
    raw = {"run": {"name": "markouts"}, "account": {"capital": 50_000},
           "venue": {"name": "sim", "exchange": "binance", "maker_fee": maker_fee},
           "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
           "data": data, "strategies": {"touch": {"symbols": [BTC]}},
           "report": {"progress": False}}
    eng = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, out_dir=tmp_path,
                 journal=False, progress=False)
    res = eng.run()
    eng.close()
    return res, T.fills


@pytest.fixture(scope="module")
def tick_run(shared_data: Path, tmp_path_factory: Any, read_events: Any
             ) -> tuple[RunResult, list[Fill], list[Quote]]:
    files = [{"kind": "bbo", "symbol": BTC, "path": str(
                 shared_data / "orderbook/binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
             {"kind": "trades", "symbol": BTC, "path": str(
                 shared_data / "trades/binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}]
    res, fills = run(files, tmp_path_factory.mktemp("ticks"))
    quotes = [e for e in read_events(files) if type(e) is Quote]
    return res, fills, quotes


def test_tick_markouts_match_the_recorded_mids(tick_run: Any) -> None:
    res, fills, quotes = tick_run
    makers = [f for f in fills if f.is_maker]
    assert len(makers) > 20
    ts = [q.ts for q in quotes]
    end = res.end_ts
    sums: dict[str, list[float]] = {"1s": [], "10s": [], "60s": []}
    for f in makers:
        for label, ms in (("1s", 1_000), ("10s", 10_000), ("60s", 60_000)):
            if f.ts + ms > end:
                continue
            q = quotes[bisect.bisect_left(ts, f.ts + ms) - 1]  # last quote before t + h
            mid = (q.bid + q.ask) / 2
            sign = 1.0 if f.side == "buy" else -1.0
            sums[label].append(sign * (mid - f.price) / f.price * 1e4)
    sym = res.sections["markouts"]["strategies"]["touch"]["symbols"][BTC]
    for label, values in sums.items():
        assert sym["markouts_counted"][label] == len(values) > 0
        assert sym["markout_bps"][label] == pytest.approx(sum(values) / len(values), abs=1e-3)


def test_rebates_fill_rate_and_pnl_split(tick_run: Any) -> None:
    res, fills, _ = tick_run
    strat = res.sections["markouts"]["strategies"]["touch"]
    sym = strat["symbols"][BTC]
    makers = [f for f in fills if f.is_maker]
    assert sym["maker_fills"] == len(makers)
    assert sym["maker_fees"] == pytest.approx(sum(f.fee for f in makers), abs=1e-9)
    assert sym["maker_fees"] < 0.0 and sym["maker_fee_bps"] == pytest.approx(-1.0, abs=1e-6)
    pnl = sym["pnl"]
    assert pnl["spread_capture"] + pnl["inventory"] == pytest.approx(pnl["gross"], abs=1e-6)
    assert pnl["gross"] - pnl["fees"] == pytest.approx(pnl["net"], abs=1e-6)
    assert pnl["fees"] == pytest.approx(sum(f.fee for f in fills), abs=1e-9)
    # quoting at the touch earns half the spread against the mid on every maker fill
    assert pnl["spread_capture"] > 0.0
    assert 0 < strat["maker_orders_filled"] <= strat["maker_orders_posted"]
    assert strat["maker_fill_rate"] == pytest.approx(
        strat["maker_orders_filled"] / strat["maker_orders_posted"])
    inv = sym["inventory"]
    assert inv and inv[-1][1] == pytest.approx(sym["final_position"])
    assert max(abs(p[1]) for p in inv) > 0.0


def test_bar_markouts_use_later_closes(tmp_path: Path) -> None:
    path = KERNEL_DATA / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"
    res, fills = run([{"kind": "bars", "symbol": BTC, "path": str(path)}], tmp_path,
                     end="2025-03-09", maker_fee=0.0002)
    makers = [f for f in fills if f.is_maker]
    assert makers
    from hean_framework.testing.pytest_plugin import _read_events

    bars = [e for e in _read_events([{"kind": "bars", "symbol": BTC, "path": str(path)}])
            if type(e) is Bar]
    close_at = {b.ts: b.close for b in bars}
    got: dict[str, list[float]] = {"1bar": [], "5bar": []}
    for f in makers:
        for label, n in (("1bar", 1), ("5bar", 5)):
            later = close_at.get(f.ts + n * 300_000)
            if later is not None and f.ts + n * 300_000 < res.end_ts:
                sign = 1.0 if f.side == "buy" else -1.0
                got[label].append(sign * (later - f.price) / f.price * 1e4)
    sym = res.sections["markouts"]["strategies"]["touch"]["symbols"][BTC]
    assert set(sym["markout_bps"]) == {"1bar", "5bar"}
    for label, values in got.items():
        assert sym["markouts_counted"][label] == len(values) > 0
        assert sym["markout_bps"][label] == pytest.approx(sum(values) / len(values), abs=1e-3)
    assert sym["maker_fee_bps"] == pytest.approx(2.0, abs=1e-6)
