"""The batch fast path: column blocks give exactly the run of the row-by-row path."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from hean_framework.blocks import BarBlock, TradeBlock
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.feeds import CsvFeed, CsvFeedConfig, MemoryFeed
from hean_framework.feeds.csv_feed import BLOCK_ROWS
from hean_framework.journal import Journal
from hean_framework.plugins import load_plugins
from hean_framework.testing import isolated_plugins

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = EXAMPLES / "data"
EMA_DIR = EXAMPLES / "plugins" / "hean-ema-cross"
BTC_5M = DATA / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"
ETH_5M = DATA / "binance_usdm_perp_ETHUSDT_5m_20250306_20250413.csv.gz"
BTC_TRADES = DATA / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz"
BTC_FUNDING = DATA / "binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz"


def _ema_plugins() -> Any:
    if str(EMA_DIR) not in sys.path:
        sys.path.insert(0, str(EMA_DIR))
    return isolated_plugins("hean_ema_cross")


def _flatten(items: Any) -> list[tuple[Any, ...]]:
    out = []
    for it in items:
        evs = it.events() if isinstance(it, BarBlock | TradeBlock) else [it]
        for ev in evs:
            out.append((type(ev).__name__, ev.ts, ev.symbol,
                        getattr(ev, "close", getattr(ev, "price", None))))
    return out


def _feed_config(*files: dict[str, Any]) -> CsvFeedConfig:
    return CsvFeedConfig.model_validate({"files": list(files)})


def test_memory_blocks_replay_the_same_events_as_events() -> None:
    cfg = _feed_config({"kind": "bars", "symbol": "BTC/USDT:USDT", "path": str(BTC_5M)},
                       {"kind": "bars", "symbol": "ETH/USDT:USDT", "path": str(ETH_5M)},
                       {"kind": "funding", "symbol": "BTC/USDT:USDT", "path": str(BTC_FUNDING)})
    feed = MemoryFeed(cfg, None)
    items = list(feed.blocks())
    blocks = [b for b in items if isinstance(b, BarBlock)]
    assert blocks and all(len(b) >= 1 for b in blocks)
    # a block never mixes symbols
    assert all(b.symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT") for b in blocks)
    assert _flatten(items) == _flatten(feed.events())
    assert len(_flatten(items)) == len(feed)


def test_csv_blocks_stream_one_file_in_chunks_and_merge_several() -> None:
    one = CsvFeed(_feed_config({"kind": "trades", "symbol": "BTC/USDT:USDT",
                                "path": str(BTC_TRADES)}), None)
    items = list(one.blocks())
    assert all(isinstance(b, TradeBlock) and len(b) <= BLOCK_ROWS for b in items)
    assert len(items) > 1
    assert _flatten(items) == _flatten(one.events())
    many = CsvFeed(_feed_config({"kind": "bars", "symbol": "BTC/USDT:USDT", "path": str(BTC_5M)},
                                {"kind": "bars", "symbol": "ETH/USDT:USDT", "path": str(ETH_5M)}),
                   None)
    assert not any(isinstance(b, BarBlock) for b in many.blocks())


def _digest_of_run(pm: Any, raw: dict[str, Any] | None, config: Path | None, out: Path,
                   use_blocks: bool) -> tuple[str, Any, int]:
    """(journal digest, run result, rows that went through the batch fast path)."""
    setup = load_setup(config, pm.registry, raw=raw,
                       sets=["report.progress=false", "report.html=false"])
    eng = Engine(setup, pm, out_dir=out, progress=False).build()
    assert eng.feed is not None
    feed = MemoryFeed.from_feed(eng.feed)
    try:
        res = eng.run(events=feed.blocks() if use_blocks else feed.events())
    finally:
        eng.close()
    return Journal.open_readonly(out / "journal.sqlite").digest(), res, eng.batched_rows


@pytest.mark.parametrize("kind,path", [("bars", BTC_5M), ("trades", BTC_TRADES)])
def test_fast_path_run_equals_the_row_by_row_run(tmp_path: Path, kind: str, path: Path) -> None:
    """ema_cross (overrides on_bars/on_trades) takes the fast path; journals are identical."""
    raw = {
        "run": {"name": "ema", "seed": 1}, "account": {"capital": 100_000},
        "venue": {"name": "sim", "exchange": "binance"},
        "data": {"files": [{"kind": kind, "symbol": "BTC/USDT:USDT", "path": str(path)}]},
        "strategies": {"ema_cross": {"qty": 0.01}},
        "pipeline": {"require_stop_loss": False},
        "report": {"equity_interval_ms": 600_000},
    }
    pm = _ema_plugins()
    da, ra, fast_a = _digest_of_run(pm, raw, None, tmp_path / "rows", use_blocks=False)
    db, rb, fast_b = _digest_of_run(pm, raw, None, tmp_path / "blocks", use_blocks=True)
    assert ra.fills > 20
    # the block run really took the fast path (all rows: market orders fill on arrival)
    assert fast_a == 0 and fast_b == rb.events
    assert (rb.fills, rb.events, rb.final_equity, len(rb.equity_curve)) == \
        (ra.fills, ra.events, ra.final_equity, len(ra.equity_curve))
    assert da == db


def test_fast_path_with_latency_and_open_orders_equals_row_by_row(tmp_path: Path) -> None:
    """With latency the venue holds orders in flight: the block replays rows one by one
    until it is idle again, and the run is still identical."""
    raw = {
        "run": {"name": "ema", "seed": 1}, "account": {"capital": 100_000},
        "venue": {"name": "sim", "exchange": "binance", "latency_ms": 900_000},
        "data": {"files": [{"kind": "bars", "symbol": "BTC/USDT:USDT", "path": str(BTC_5M)},
                           {"kind": "funding", "symbol": "BTC/USDT:USDT",
                            "path": str(BTC_FUNDING)}]},
        "strategies": {"ema_cross": {"qty": 0.01}},
        "pipeline": {"require_stop_loss": False},
    }
    pm = _ema_plugins()
    da, ra, _ = _digest_of_run(pm, raw, None, tmp_path / "rows", use_blocks=False)
    db, rb, fast = _digest_of_run(pm, raw, None, tmp_path / "blocks", use_blocks=True)
    assert ra.fills > 20 and rb.fills == ra.fills
    # both paths were taken: rows while orders were in flight went one by one
    assert 0 < fast < rb.events
    assert da == db


def test_quickstart_through_blocks_equals_row_by_row(tmp_path: Path) -> None:
    """A strategy without on_bars (momentum_trader, with stops and targets resting at the
    venue) gets every row as an event either way."""
    pytest.importorskip("hean_momentum_trader")
    pm = load_plugins()
    cfg = EXAMPLES / "quickstart.yaml"
    da, ra, _ = _digest_of_run(pm, None, cfg, tmp_path / "rows", use_blocks=False)
    db, rb, fast = _digest_of_run(pm, None, cfg, tmp_path / "blocks", use_blocks=True)
    assert ra.fills > 50 and rb.fills == ra.fills and fast == 0
    assert da == db


def test_a_strategy_returning_a_row_outside_its_block_is_an_error(tmp_path: Path) -> None:
    from hean_framework.errors import HeanError

    raw = {
        "run": {"name": "ema"}, "account": {"capital": 100_000},
        "venue": {"name": "sim", "exchange": "binance"},
        "data": {"files": [{"kind": "bars", "symbol": "BTC/USDT:USDT", "path": str(BTC_5M)}]},
        "strategies": {"ema_cross": {"qty": 0.01}},
        "pipeline": {"require_stop_loss": False},
    }
    pm = _ema_plugins()
    setup = load_setup(None, pm.registry, raw=raw, sets=["report.progress=false"])
    eng = Engine(setup, pm, out_dir=tmp_path, journal=False, progress=False).build()
    strat = eng.strategies["ema_cross"]
    real = type(strat).on_bars

    def broken(block: BarBlock, start: int, stop: int) -> Any:
        res = real(strat, block, start, stop)
        return None if res is None else (stop + 5, res[1])

    strat.on_bars = broken  # type: ignore[method-assign]
    from hean_framework.assembly import build_dispatch

    eng.parts.dispatch, eng.parts.batch = build_dispatch(eng.parts.analyzers, eng.strategies)
    with pytest.raises(HeanError, match="outside the rows"):
        eng.run()
