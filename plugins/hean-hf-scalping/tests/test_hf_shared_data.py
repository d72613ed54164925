"""The longer real data in ``../shared/data`` (skipped, with the reason, when it is absent).

Invariants checked:

* with the complete 6-minute L2 books of BTC and ETH (2024-08-08, 445k and 430k rows) instead of
  the best bid/offer, the order-flow imbalance comes from the book (``ofi_monitor`` reads only
  book updates), the decision trail explains every SKIP/BLOCK and the run gives the numbers the
  README states (4 entries, 3 trades, net -11.86 USDT); needs ``hean-market-analyzers``;
* on a month of real Binance BTC 1m candles as ticks (43,199 bars, ``require_quote: false``),
  every signal is exactly what an independent computation from the raw rows gives, and every
  tick ends in one counter.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hean_hf_scalping import REASONS
from hean_hf_scalping.strategy import NOT_TICKS

pytestmark = pytest.mark.shared_data

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
HAVE_ANALYZERS = importlib.util.find_spec("hean_market_analyzers") is not None


@pytest.mark.skipif(not HAVE_ANALYZERS,
                    reason="needs the optional hean-market-analyzers plugin (OFI from the book)")
def test_full_l2_books(shared_data: Path, run_engine: Callable[..., Any],
                       tmp_path: Path) -> None:
    ob, tr = shared_data / "orderbook", shared_data / "trades"
    files = []
    for sym, n in ((BTC, "BTCUSDT"), (ETH, "ETHUSDT")):
        files.append({"kind": "l2", "symbol": sym,
                      "path": str(ob / f"binance_usdm_perp_{n}_l2_20240808.csv.gz")})
        files.append({"kind": "trades", "symbol": sym,
                      "path": str(tr / f"binance_usdm_perp_{n}_trades_20240808.csv.gz")})
    raw = {
        "run": {"name": "hf-l2", "seed": 7}, "account": {"capital": 1000},
        "venue": {"name": "sim", "exchange": "binance"}, "data": {"files": files},
        "analyzers": {"regime_detector": {}, "ofi_monitor": {}, "price_anomaly": {}},
        "strategies": {"hf_scalping": {"symbols": [BTC, ETH], "min_move_bps": 5,
                                       "edge_hint_factor": 0}},
        "sizers": {"fixed_risk": {"risk_pct": 0.01, "max_leverage": 3}},
        "gates": {"trade_gate": {}, "risk_limits": {}},
        "report": {"html": False, "progress": False},
    }
    run = run_engine(raw, tmp_path, analyzers=True)
    st = run.strategy.stats()
    assert st["events"] == sum(st[k] for k in NOT_TICKS) + st["ticks"]
    assert st["ticks"] == st["entries"] + sum(st[k] for k in REASONS)
    assert st["entries"] == 4 and st["ofi_unknown"] == 0
    entries = [d for d in run.decisions if d["stage"] != "exit"]
    assert len(entries) == 4
    for d in run.decisions:
        if d["decision"] != "CREATE":
            assert d["stage"].startswith("gate:") and d["reason_codes"] and d["message"]
    ofi = run.stats["analyzer:ofi_monitor"]
    assert sum(ofi["ofi_quotes"].values()) == 0 and min(ofi["ofi_book_updates"].values()) > 6000
    assert len(run.trades) == 3
    assert run.result.final_equity - run.result.initial_capital == pytest.approx(-11.86,
                                                                                 abs=0.01)


def test_month_of_1m_candles_as_ticks(shared_data: Path, read_events: Callable[..., Any],
                                      replay: Callable[..., Any]) -> None:
    path = shared_data / "ohlcv" / "binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz"
    events = read_events([{"kind": "bars", "symbol": BTC, "path": str(path)}])
    cfg = {"tick_source": "bars", "require_quote": False, "min_move_bps": 30}
    r = replay(events, cfg, symbols=[BTC])
    with gzip.open(path, "rt", newline="") as fh:
        bars = [(int(row["timestamp"]) + 60_000, float(row["close"]))
                for row in csv.DictReader(fh)]
    want, last = [], -(1 << 62)
    for i in range(4, len(bars)):
        ts, p = bars[i]
        move = (p / bars[i - 4][1] - 1) * 1e4
        if abs(move) >= 30 and ts - last >= 30_000:
            want.append((ts, "buy" if move > 0 else "sell"))
            last = ts
    got = [(s.ts, s.side) for s in r.signals]
    assert len(got) > 100 and got == want
    assert all(s.entry_price == s.limit_price for s in r.signals)
    st = r.strategy.stats()
    assert st["ticks"] == len(bars) == st["entries"] + sum(st[k] for k in REASONS)
