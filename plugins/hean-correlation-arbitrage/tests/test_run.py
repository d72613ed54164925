"""CorrelationArbitrage in real engine runs of its example YAML (Binance spot BTC/USDT and
ETH/USDT 5m candles of 2023, 10,000 USDT, journal on).

Invariants:

* the pinned situation: the first entry of the run is one order group whose legs match an
  independent fit of the 288 common samples before it (``statistics.linear_regression`` of the
  CSV's log closes): |z| > 2, the rich symbol sold and the other bought, the secondary's
  notional beta x the primary's (within lot rounding), both legs in one group;
* every pair trade's legs are opened at the same time and closed at the same time (one exit
  decision per pair, never a per-leg stop or target), for one of the group's exit rules;
* no look-ahead: the run cut at a time ``t`` decides everything before ``t`` as the full run;
* the 1m perpetual candles run too (common clock on files of different lengths).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.shared_data

Journaled = Any  # the conftest's run record (tests/conftest.py)
Closes = Callable[[Path], dict[int, float]]

CUT = 1_680_000_000_000  # 2023-03-28 10:40 UTC


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory, shared_data: Path,
            run_example: Callable[..., Journaled]) -> Journaled:
    return run_example(tmp_path_factory.mktemp("pairs") / "run")


def groups_of(run: Journaled) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for d in run.decisions:
        gid = d["details"].get("group_id")
        if gid and d["stage"] != "exit":
            out.setdefault(gid, []).append(d)
    return out


def test_pinned_first_entry_matches_an_independent_fit(example: Journaled, shared_data: Path,
                                                       closes: Closes) -> None:
    base = shared_data / "ohlcv"
    a = closes(base / "binance_spot_BTCUSDT_5m_20221231_20240102.csv.gz")
    b = closes(base / "binance_spot_ETHUSDT_5m_20221231_20240102.csv.gz")
    groups = groups_of(example)
    assert len(groups) == example.stats["entries"] > 10
    gid = min(groups)
    legs = sorted(groups[gid], key=lambda d: d["symbol"])  # BTC/USDT, ETH/USDT
    assert [d["decision"] for d in legs] == ["CREATE", "CREATE"]
    ts = legs[0]["ts"]
    assert legs[1]["ts"] == ts
    common = sorted(t for t in set(a) & set(b) if t < ts)[-288:]
    xs = [math.log(b[t]) for t in common]
    ys = [math.log(a[t]) for t in common]
    beta, alpha = statistics.linear_regression(xs, ys)
    sigma = statistics.pstdev([y - alpha - beta * x for x, y in zip(xs, ys)])
    z = (math.log(a[ts]) - alpha - beta * math.log(b[ts])) / sigma
    assert abs(z) > 2.0
    assert legs[0]["side"] == ("sell" if z > 0 else "buy")
    assert legs[1]["side"] == ("buy" if z > 0 else "sell")
    notional_a = legs[0]["qty"] * a[ts]
    notional_b = legs[1]["qty"] * b[ts]
    assert notional_b / notional_a == pytest.approx(beta, rel=2e-3)
    assert notional_a == pytest.approx(3000.0, rel=2e-3)


def test_legs_open_and_close_together(example: Journaled) -> None:
    st = example.stats
    assert st["exits_converged"] > 0 and st["exits_max_hold"] > 0
    trades = example.trades
    assert trades and len(trades) % 2 == 0
    by_open: dict[int, list[dict[str, Any]]] = {}
    for t in trades:
        by_open.setdefault(t["opened_ts"], []).append(t)
    for pair in by_open.values():
        assert sorted(t["symbol"] for t in pair) == ["BTC/USDT", "ETH/USDT"]
        assert pair[0]["closed_ts"] == pair[1]["closed_ts"]
        assert {t["side"] for t in pair} == {"long", "short"}
    exits = [o for o in example.orders if o["reduce_only"]]
    assert exits and all(o["tag"] in ("CONVERGED", "Z_STOP", "MAX_HOLD", "GROUP_EXIT_HEDGE",
                                      "GROUP_UNWIND") for o in exits)
    assert not any(o["order_type"] == "stop_market" for o in example.orders)
    hold = example.strategy.config.max_hold_s * 1000
    assert all(t["closed_ts"] - t["opened_ts"] <= hold + 300_000 for t in trades)


def test_no_look_ahead(example: Journaled, tmp_path_factory: pytest.TempPathFactory,
                      run_example: Callable[..., Journaled]) -> None:
    short = run_example(tmp_path_factory.mktemp("pairs-cut") / "run", end=CUT)

    def key(d: dict[str, Any]) -> tuple[Any, ...]:
        return (d["ts"], d["symbol"], d["side"], d["decision"], d["stage"], d["qty"],
                tuple(d["reason_codes"]))

    before = [key(d) for d in example.decisions if d["ts"] < CUT]
    assert len(before) > 20
    assert [key(d) for d in short.decisions if d["ts"] < CUT] == before


def test_runs_on_the_1m_perpetuals(tmp_path_factory: pytest.TempPathFactory,
                                   shared_data: Path) -> None:
    from hean_correlation_arbitrage import CorrelationArbitrage  # noqa: F401

    from hean_framework.config import load_setup
    from hean_framework.engine import Engine
    from hean_framework.testing import isolated_plugins

    base = shared_data / "ohlcv"
    raw = {
        "run": {"name": "pairs-1m", "seed": 7}, "account": {"capital": 10_000},
        "venue": {"name": "sim", "exchange": "binance"},
        "data": {"files": [
            {"kind": "bars", "symbol": "BTC/USDT:USDT",
             "path": str(base / "binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz")},
            {"kind": "bars", "symbol": "ETH/USDT:USDT",
             "path": str(base / "binance_usdm_perp_ETHUSDT_1m_20250504_20250615.csv.gz")}]},
        "strategies": {"correlation_arb": {"symbols": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
                                           "window": 240, "min_edge_cost_ratio": 1.0}},
    }
    pm = isolated_plugins("hean_correlation_arbitrage.plugin")
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=tmp_path_factory.mktemp("pairs-1m") / "run",
                 journal=False, progress=False)
    try:
        eng.run()
    finally:
        eng.close()
    st = eng.strategies["correlation_arb"].stats()
    assert st["samples"] > 40_000 and st["entries"] > 0
    exits = st["exits_converged"] + st["exits_z_stop"] + st["exits_max_hold"]
    assert exits >= st["entries"] - st["entry_refused"] - 1
