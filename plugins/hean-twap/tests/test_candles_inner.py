"""``twap`` on real 1-minute candles, and with an inner executor.

Invariants:

* on Binance USDT-M BTCUSDT 1m candles (``../shared/data``, May 2025) the participation comes
  from the candle volume: the filled quantity over the summed volume of the candles that closed
  during the parent's life (a candle is dispatched at its close), computed here from the CSV;
* ``inner: maker_chase`` sends a parent below the threshold through the run's maker chase
  (a post-only limit at the touch) while a large parent is still sliced; both are parents of
  ``twap`` in the transaction-cost report;
* ``inner`` naming an executor the run does not have stops the run before it starts, with the
  YAML path, the executors allowed and a hint.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.errors import ConfigError
from hean_framework.testing import isolated_plugins

BTC = "BTC/USDT:USDT"
T0 = 1_723_161_270_000
DAY = 1_746_403_200_000  # 2025-05-05 00:00 UTC
CANDLES = "binance_usdm_perp_BTCUSDT_1m_20250504_20250603.csv.gz"


def test_participation_from_candle_volume(tmp_path: Path, shared_data: Path,
                                          run_twap: Callable[..., Any]) -> None:
    path = shared_data / "ohlcv" / CANDLES
    at = DAY + 30 * 60_000
    r = run_twap(tmp_path, [{"kind": "bars", "symbol": BTC, "path": str(path)}],
                 twap={"slices": 5, "duration_s": 300}, parents=[(at, "buy", 0.5)],
                 raw={"data": {"start": DAY, "end": DAY + 2 * 3_600_000}})
    [row] = r.twap["parents"]
    assert row["status"] == "complete" and row["slices_filled"] == 5
    assert row["ts"] == at and row["volume_source"] == "bars"
    # a candle is dispatched at its close (open time + 1 min): the candles closing after the
    # one that triggered the parent, until the last slice
    with gzip.open(path, "rt") as f:
        bars = [(int(b["timestamp"]), float(b["volume"])) for b in csv.DictReader(f)
                if at < int(b["timestamp"]) + 60_000 < row["end_ts"]]
    assert len(bars) >= 3
    vol = sum(v for _, v in bars)
    assert row["market_volume"] == pytest.approx(vol, rel=1e-12)
    assert row["participation"] == pytest.approx(0.5 / vol, rel=1e-9)
    # slices were sent at their (jittered) times, each at the last close before it
    [parent] = r.events["twap_parent"]
    assert [s["ts"] for s in r.events["twap_slice"]] == [at + o for o in parent["offsets_ms"]]


def test_inner_executor_takes_the_small_parents(tmp_path: Path, run_twap: Callable[..., Any],
                                                btc_files: Callable[..., Any]) -> None:
    r = run_twap(tmp_path, btc_files(),
                 twap={"inner": "maker_chase", "slices": 4, "duration_s": 40},
                 parents=[(T0, "buy", 0.005), (T0 + 60_000, "sell", 0.2)],
                 raw={"executors": {"maker_chase": {"max_rest_ms": 20_000}}})
    small, big = sorted((d for d in r.decisions if d["stage"] == "executor:twap"),
                        key=lambda d: d["ts"])
    assert small["details"]["twap"]["sliced"] is False
    assert small["details"]["twap"]["executor"] == "twap.maker_chase"
    assert small["details"]["execution"] == "maker_chase" and small["maker_or_taker"] == "maker"
    [o] = [o for o in r.orders if o["decision_id"] == small["decision_id"]][:1]
    assert o["post_only"] and o["order_type"] == "limit"
    assert big["details"]["twap"]["sliced"] is True
    assert len(r.slices(big["decision_id"])) == 4
    tca = {p["decision_id"]: p for p in r.tca["parents"]}
    assert tca[small["decision_id"]]["executor"] == "twap"
    assert tca[big["decision_id"]]["executor"] == "twap"
    assert r.result.sections["twap"]["totals"]["inner"] == 1


def test_unknown_inner_stops_the_run_with_a_clear_error(tmp_path: Path,
                                                        btc_files: Callable[..., Any]) -> None:
    pm = isolated_plugins("hean_twap.plugin")
    raw = {"run": {"name": "bad"}, "data": {"files": btc_files()},
           "venue": {"name": "sim", "exchange": "binance"},
           "executors": {"twap": {"inner": "smart_order"}, "maker_chase": {}},
           "report": {"progress": False}}
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    with pytest.raises(ConfigError) as exc:
        eng = Engine(setup, pm, out_dir=tmp_path, journal=False, progress=False)
        try:
            eng.run()
        finally:
            eng.close()
    text = str(exc.value)
    assert "executors.twap.inner: 'smart_order' is not another executor of this run" in text
    assert "allowed: maker_chase" in text and "hint:" in text
