"""The plugin inside real engine runs (``Engine`` + ``load_setup``) on the bundled real data.

Invariants:

* the plugin's example YAML validates and runs; its first decision is the pinned ETH sell of
  2025-03-06 17:05 UTC (CREATE by the maker-chase executor) and it fills;
* the decision trail explains every signal: each decision is CREATE, SKIP or BLOCK with its
  stage and UPPER_SNAKE_CASE reason codes; the funnel's per-stage reasons add up to the SKIP
  and BLOCK decisions; a taker-entry instance is blocked at ``gate:trade_gate`` with
  ``MAKER_ONLY_ENFORCED`` and a too-small account at ``sizer:exchange`` with
  ``POSITION_SIZER_ZERO``; each strategy's stats account for every price update
  (``evaluations`` = reasons + entries) and its signals are its entries plus its exits;
* a missing items file is the analyzer's journaled failure (a dead letter), not a crash: the
  run completes, the strategy stays neutral -- and, with ``momentum_fallback``, trades the
  fallback (the original's fallback never engaged when its sources were unreachable);
* with hean-market-analyzers installed, the market proxy reads the ``OFI`` fact the
  ``ofi_monitor`` published for the same event (on best bid/offer data the proxy is exactly
  the OFI); without ``use_ofi`` tick data gives the proxy nothing, so no reading.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hean_sentiment import SENTIMENT
from hean_sentiment.strategy import SKIP_REASONS

from hean_framework import Strategy, hookimpl
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.models import Quote, Trade
from hean_framework.testing import isolated_plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sentiment.yaml"
ETH_TS = 1_741_280_700_000
STAGES = ("validation", "filter:", "sizer:", "gate:", "executor:", "group", "exit", "pipeline")


def engine_run(tmp: Path, raw: dict[str, Any] | None = None, path: Path | None = None,
               *modules: Any) -> tuple[Engine, Any, list[dict[str, Any]]]:
    pm = isolated_plugins("hean_sentiment.plugin", *modules)
    setup = load_setup(path, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=tmp, journal=True, progress=False)
    res = eng.run()
    eng.close()
    with Journal.open_readonly(tmp / "journal.sqlite") as j:
        decisions = j.decisions()
    return eng, res, decisions


def check_trail(res: Any, decisions: list[dict[str, Any]]) -> None:
    """Every decision explained; the funnel adds up; the strategies' stats add up."""
    assert decisions
    for d in decisions:
        assert d["decision"] in ("CREATE", "SKIP", "BLOCK")
        assert d["stage"].startswith(STAGES), d
        assert d["reason_codes"] and all(c == c.upper() and " " not in c
                                         for c in d["reason_codes"]), d
        if d["decision"] != "CREATE":
            assert d["message"], d
    stopped = sum(1 for d in decisions if d["decision"] != "CREATE")
    assert sum(sum(s["reasons"].values()) for s in res.funnel["stages"]) == stopped
    for name, st in res.per_strategy.items():
        own = [d for d in decisions if d["strategy_id"] == name]
        exits = sum(1 for d in own if d["stage"] == "exit")
        assert st["signals"] == len(own) == st["entries"] + st["fallback_entries"] + exits
        assert st["evaluations"] == (sum(st[r] for r in SKIP_REASONS) + st["entries"]
                                     + st["fallback_entries"])


def test_the_example_runs_and_explains_itself(tmp_path: Path, sample_data: Path) -> None:
    _, res, decisions = engine_run(tmp_path, path=EXAMPLE)
    check_trail(res, decisions)
    first = decisions[0]
    assert (first["ts"], first["symbol"], first["side"], first["price"]) == (
        ETH_TS, "ETH/USDT:USDT", "sell", 2206.41)
    assert (first["decision"], first["stage"]) == ("CREATE", "executor:maker_chase")
    assert res.fills > 50 and res.closed_trades
    src = res.sections["components"]["analyzer:sentiment_source"]
    assert src["items_loaded"] == src["items_applied"] == 8598
    assert sum(v for k, v in src.items() if k.startswith("rejected_")) == 0
    st = res.per_strategy["sentiment_strategy"]
    assert st["entries"] > 50 and st["in_position"] > 0 and st["hold"] > 10_000


def _raw(sample_data: Path, items: str, strategies: dict[str, Any], capital: float = 1000.0,
         **source: Any) -> dict[str, Any]:
    d = sample_data
    files = [
        {"kind": "bars", "symbol": "BTC/USDT:USDT",
         "path": str(d / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz")},
        {"kind": "bars", "symbol": "ETH/USDT:USDT",
         "path": str(d / "binance_usdm_perp_ETHUSDT_5m_20250306_20250413.csv.gz")},
        {"kind": "funding", "symbol": "BTC/USDT:USDT",
         "path": str(d / "binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz")},
    ]
    return {"run": {"name": "sentiment-test"}, "account": {"capital": capital},
            "data": {"files": files, "end": "2025-03-24"},
            "analyzers": {"sentiment_source": {"path": items, **source}},
            "strategies": strategies, "report": {"progress": False}}


def test_skips_and_blocks_carry_stage_and_reason(tmp_path: Path, sample_data: Path,
                                                 kit: Any) -> None:
    raw = _raw(sample_data, str(kit.SAMPLE_ITEMS), {
        "sentiment_strategy": {"symbols": ["BTC/USDT:USDT", "ETH/USDT:USDT"]},
        "sentiment_taker": {"plugin": "sentiment_strategy", "prefer_maker": False,
                            "symbols": ["BTC/USDT:USDT", "ETH/USDT:USDT"]}}, capital=60.0)
    _, res, decisions = engine_run(tmp_path, raw)
    check_trail(res, decisions)
    codes = {(d["strategy_id"], d["stage"], c) for d in decisions if d["decision"] != "CREATE"
             for c in d["reason_codes"]}
    assert ("sentiment_taker", "gate:trade_gate", "MAKER_ONLY_ENFORCED") in codes
    assert any(s == "sizer:exchange" and c == "POSITION_SIZER_ZERO" for _, s, c in codes)


def test_a_missing_items_file_is_a_journaled_failure(tmp_path: Path, sample_data: Path) -> None:
    raw = _raw(sample_data, str(tmp_path / "no_such_items.csv"), {
        "sentiment_strategy": {"symbols": ["BTC/USDT:USDT"]},
        "sentiment_fallback": {"plugin": "sentiment_strategy", "momentum_fallback": True,
                               "symbols": ["ETH/USDT:USDT"]}})
    _, res, decisions = engine_run(tmp_path / "run", raw)
    assert res.dead_letters >= 1
    with Journal.open_readonly(tmp_path / "run" / "journal.sqlite") as j:
        letters = j.dead_letters()
    assert any("no_such_items.csv" in str(x) for x in letters)
    plain = res.per_strategy["sentiment_strategy"]
    assert plain["signals"] == plain["entries"] == 0
    assert plain["no_sentiment"] == plain["evaluations"] > 0
    fb = res.per_strategy["sentiment_fallback"]
    assert fb["fallback_entries"] > 5 and fb["entries"] == 0
    assert {d["strategy_id"] for d in decisions} == {"sentiment_fallback"}
    check_trail(res, decisions)


class Probe(Strategy):
    """Records (now, OFI, OFI_SOURCE, reading) after the analyzers ran, on every event."""

    def on_start(self) -> None:
        from hean_market_analyzers.facts import OFI, OFI_SOURCE

        self.keys = (OFI, OFI_SOURCE)
        self.rows: list[tuple[int, float, str, Any]] = []

    def _see(self, ev: Any) -> None:
        f = self.ctx.facts
        self.rows.append((self.ctx.now, f.get(self.keys[0], ev.symbol),
                          f.get(self.keys[1], ev.symbol), f.get(SENTIMENT, ev.symbol)))

    def on_quote(self, quote: Quote) -> None:
        self._see(quote)

    def on_trade(self, trade: Trade) -> None:
        self._see(trade)


@hookimpl
def hean_register_strategies(register: Any) -> None:
    register("probe", Probe)


@pytest.mark.parametrize("use_ofi", [True, False])
def test_the_proxy_reads_the_ofi_of_the_same_event(tmp_path: Path, sample_data: Path,
                                                   use_ofi: bool) -> None:
    pytest.importorskip("hean_market_analyzers", reason="hean-market-analyzers is not "
                        "installed (the proxy's order-flow component is optional)")
    d = sample_data
    files = [{"kind": "bbo", "symbol": "BTC/USDT:USDT",
              "path": str(d / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz")},
             {"kind": "trades", "symbol": "BTC/USDT:USDT",
              "path": str(d / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz")}]
    raw = {"run": {"name": "proxy-ofi"}, "account": {"capital": 1000},
           "small_capital": {"enabled": False},
           "data": {"files": files, "end": 1_723_161_256_000 + 120_000},
           "analyzers": {"ofi_monitor": {"source": "quote"},
                         "sentiment_source": {"market_proxy": True, "use_ofi": use_ofi,
                                              "refresh_s": 1}},
           "strategies": {"probe": {}}, "report": {"progress": False}}
    eng, _, _ = engine_run(tmp_path, raw, None, sys.modules[__name__],
                             "hean_market_analyzers.plugin")
    probe = eng.strategies["probe"]
    assert isinstance(probe, Probe)
    # the events at which the reading was recomputed (a new object), with a known OFI
    refreshed = [(now, ofi, r) for (now, ofi, src, r), prev in
                 zip(probe.rows, [None, *probe.rows]) if src and r.updated_ts == now
                 and (prev is None or prev[3] is not r)]
    if not use_ofi:
        assert all(not r.known for *_, r in probe.rows)
        return
    assert len(refreshed) > 50
    for _, ofi, r in refreshed:
        assert r.known and r.sources == (("market", pytest.approx(ofi), 1),)
    assert len({round(r.score, 6) for *_, r in refreshed}) > 10
