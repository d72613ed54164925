"""impulse_engine inside real engine runs (``hean_framework.engine.Engine`` + ``load_setup``).

The run is the plugin's example YAML: 5 weeks of real Binance BTC and ETH 5m candles with their
funding, a 1,000 USDT account (small-capital gating on), journal on.

Invariants:

* the decision trail explains every signal: each journaled SKIP / BLOCK names its stage and at
  least one reason code; the strategy's own ``decision_trail`` (from ``on_decision``) equals the
  journal's decisions of the strategy grouped by decision, stage and codes; the kernel's signal
  count is the strategy's emitted entries plus the time-stop exits; every tick is accounted for
  (``ticks == emitted + sum(rejected)``), so a bar without a signal has a reason too;
* the fixed defect -- one close request at the time stop: every ``TIMEOUT_TTL`` exit is sent
  exactly ``max_time_in_trade_s`` after its position's first entry fill, at most one per round
  trip, never for a flat position, and the strategy itself sends no exit;
* break-even: every stop the strategy moved is a replacement (``parent_id``) of the kernel's
  ``SL_HIT`` stop at the position's entry price (within one tick), sent after the price reached
  TP1 and before the position closed; it is either the exit that closed the position or
  cancelled when the position went flat -- no protective order outlives its position;
* two runs of the same config give the same journal (digest);
* with the market analyzers installed, the same holds on real trades and best bid/offer with
  all six analyzers publishing (skipped otherwise).
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hean_framework.config import load_setup, read_yaml
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.testing import isolated_plugins

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "impulse_engine.yaml"
NAME = "impulse_engine"


def run_engine(raw: dict[str, Any], out: Path, *modules: str) -> tuple[Engine, Any]:
    pm = isolated_plugins("hean_impulse_engine.plugin", *modules)
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=out, journal=True, progress=False)
    try:
        result = eng.run()
    finally:
        eng.close()
    return eng, result


def example_raw() -> dict[str, Any]:
    raw = read_yaml(EXAMPLE)
    raw["base_dir"] = str(EXAMPLE.parent)
    for f in raw["data"]["files"]:
        if not (EXAMPLE.parent / f["path"]).is_file():
            pytest.skip(f"bundled data {f['path']} not found (the example expects the plugin "
                        "inside the HEAN repository)")
    return raw


class Journaled:
    """A finished run and its journal's rows."""

    def __init__(self, out: Path, eng: Engine, result: Any) -> None:
        self.out, self.eng, self.result = out, eng, result
        with Journal.open_readonly(out / "journal.sqlite") as j:
            self.decisions = j.decisions(strategy_id=NAME)
            self.orders = j.orders()
            self.trades = j.rows("closed_trades")
            self.fills = j.rows("fills")
            self.digest = j.digest()
        self.stats = eng.strategies[NAME].stats()


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Journaled:
    out = tmp_path_factory.mktemp("impulse") / "run"
    eng, result = run_engine(example_raw(), out)
    return Journaled(out, eng, result)


def check_trail(run: Journaled) -> None:
    assert run.decisions
    for d in run.decisions:
        if d["decision"] != "CREATE":
            assert d["stage"] and d["stage"] != "pipeline", d
            assert d["reason_codes"] and all(c == c.upper() for c in d["reason_codes"]), d
    journal = Counter(f"{d['decision']} {d['stage']} {','.join(d['reason_codes']) or '-'}"
                      for d in run.decisions)
    assert dict(journal) == run.stats["decision_trail"]
    st = run.stats
    exits = sum(1 for d in run.decisions if d["stage"] == "exit")
    assert run.result.per_strategy[NAME]["signals"] == st["emitted"] + exits


def test_decision_trail_explains_every_signal(example: Journaled) -> None:
    check_trail(example)
    st = example.stats
    assert st["ticks"] == st["emitted"] + sum(st["rejected"].values())
    assert st["ticks"] == 2 * 10_906
    assert st["one_step"] == st["emitted"] and "candidates_confirmed" not in st
    trail = st["decision_trail"]
    assert trail.get("BLOCK gate:trade_gate MAKER_ONLY_ENFORCED", 0) == st["emitted_breakout"]
    created = sum(v for k, v in trail.items() if k.startswith("CREATE executor:"))
    assert created > 100 and example.result.fills > 200


def test_bug_one_close_request_at_the_time_stop(example: Journaled) -> None:
    hold = 3_600_000
    timeouts = [o for o in example.orders if o["tag"] == "TIMEOUT_TTL"]
    assert timeouts, "some positions must reach the time stop on the real bars"
    entries = {o["order_id"]: o for o in example.orders
               if o["tag"].startswith("IMPULSE_") and not o["reduce_only"]}
    first_fill: dict[int, int] = {}
    for f in example.fills:
        if f["order_id"] in entries:
            first_fill.setdefault(f["signal_id"], f["ts"])
    per_trade: Counter[int] = Counter()
    for o in timeouts:
        trade = next(t for t in example.trades if t["symbol"] == o["symbol"]
                     and t["opened_ts"] <= o["ts"] <= t["closed_ts"])
        per_trade[trade["id"]] += 1
        assert o["ts"] == first_fill[trade["signal_id"]] + hold
        assert o["status"] == "filled" and o["reduce_only"]
    assert max(per_trade.values()) == 1
    assert len(timeouts) == example.stats["decision_trail"]["CREATE exit TIMEOUT_TTL"]
    # the strategy itself never sends an exit: every reduce-only order is the kernel's
    assert {o["tag"] for o in example.orders if o["reduce_only"]} <= {"SL_HIT", "TP_HIT",
                                                                      "TIMEOUT_TTL"}


def test_break_even_moves_in_the_journal(example: Journaled) -> None:
    by_id = {o["order_id"]: o for o in example.orders}
    moved = [o for o in example.orders if o["parent_id"] and o["tag"] == "SL_HIT"]
    assert len(moved) == example.stats["break_even_moves"] > 5
    tick = {"BTC/USDT:USDT": 0.1, "ETH/USDT:USDT": 0.01}
    for o in moved:
        old = by_id[o["parent_id"]]
        assert old["status"] == "cancelled" and old["reason"].startswith("amend")
        trade = next(t for t in example.trades if t["symbol"] == o["symbol"]
                     and t["opened_ts"] <= o["ts"] <= t["closed_ts"])
        assert abs(o["price"] - trade["entry_price"]) <= tick[o["symbol"]] + 1e-9
        assert o["side"] == ("sell" if trade["side"] == "long" else "buy")
        if o["status"] == "filled":
            assert o["done_ts"] == trade["closed_ts"]
        else:
            assert o["status"] == "cancelled"
            assert o["done_ts"] == trade["closed_ts"]
    # a moved stop left when the position closed is cancelled: by the kernel's exit plan,
    # which follows the replacement (one-cancels-other), else by the strategy itself
    assert example.stats.get("break_even_stops_cancelled", 0) <= \
        sum(1 for o in moved if o["status"] == "cancelled")
    live = [o for o in example.orders if o["status"] in ("new", "open", "partially_filled")
            and o["reduce_only"]]
    open_positions = {p.symbol for p in example.result.final_positions if p.qty}
    assert all(o["symbol"] in open_positions for o in live)


def test_same_config_same_journal(example: Journaled,
                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("impulse-again") / "run"
    eng, result = run_engine(example_raw(), out)
    again = Journaled(out, eng, result)
    assert again.digest == example.digest
    assert again.stats == example.stats


def test_engine_run_with_all_analyzers(sample_data: Path,
                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    if importlib.util.find_spec("hean_market_analyzers") is None:
        pytest.skip("hean-market-analyzers is not installed")
    files = []
    for sym, n in (("BTC/USDT:USDT", "BTCUSDT"), ("ETH/USDT:USDT", "ETHUSDT")):
        files += [{"kind": "bbo", "symbol": sym,
                   "path": str(sample_data / f"binance_usdm_perp_{n}_bbo_20240808.csv.gz")},
                  {"kind": "trades", "symbol": sym,
                   "path": str(sample_data / f"binance_usdm_perp_{n}_trades_20240808.csv.gz")}]
    raw = {
        "run": {"name": "impulse-ticks", "seed": 7}, "account": {"capital": 1000},
        "venue": {"name": "sim", "exchange": "binance"}, "data": {"files": files},
        "analyzers": {"regime_detector": {}, "ofi_monitor": {}, "price_anomaly": {},
                      "execution_edge": {}, "multi_factor": {},
                      "edge_confirmation": {"timeout_s": 5}},
        "strategies": {NAME: {"symbols": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
                              "base_threshold": 0.0002, "cooldown_s": 10, "use_hours": False,
                              "max_time_in_trade_s": 60, "sl_pct": 0.001, "tp_pct": 0.004,
                              "tp1_pct": 0.002, "breakout_sl_pct": 0.001,
                              "breakout_tp_pct": 0.005, "breakout_tp1_pct": 0.003}},
    }
    out = tmp_path_factory.mktemp("impulse-ticks") / "run"
    eng, result = run_engine(raw, out, "hean_market_analyzers.plugin")
    run = Journaled(out, eng, result)
    check_trail(run)
    st = run.stats
    assert st["emitted"] == st["candidates_confirmed"] > 0
    assert st["rejected"]["REGIME"] > 0 and st["rejected"]["EDGE_CANDIDATE"] > 0
    timeouts = Counter(o["symbol"] for o in run.orders if o["tag"] == "TIMEOUT_TTL")
    assert sum(timeouts.values()) == st["decision_trail"].get("CREATE exit TIMEOUT_TTL", 0)
