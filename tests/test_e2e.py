"""End to end through the CLI and the engine, on real bundled data."""

from __future__ import annotations

import csv
import gzip
import importlib
import json
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from hean_framework.cli import make_cli
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.kinds import SCAFFOLD_KINDS
from hean_framework.testing import isolated_plugins

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
EMA_DIR = EXAMPLES / "plugins" / "hean-ema-cross"
BTC_5M = EXAMPLES / "data" / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"


def _ema_plugins():
    if str(EMA_DIR) not in sys.path:
        sys.path.insert(0, str(EMA_DIR))
    return isolated_plugins("hean_ema_cross")


def _ema_config(path: Path, qty: float = 0.01) -> dict:
    return {
        "run": {"name": "ema", "seed": 1},
        "account": {"capital": 10_000},
        "venue": {"name": "sim", "exchange": "binance", "taker_fee": 0.00055,
                  "maker_fee": 0.00055},
        "data": {"files": [{"kind": "bars", "symbol": "BTC/USDT:USDT", "path": str(path)}]},
        "strategies": {"ema_cross": {"qty": qty}},
        "pipeline": {"require_stop_loss": False},
        "report": {"progress": False, "html": False},
    }


def _run(raw: dict, out: Path):
    pm = _ema_plugins()
    setup = load_setup(None, pm.registry, raw=raw)
    eng = Engine(setup, pm, out_dir=out, progress=False)
    try:
        res = eng.run()
    finally:
        eng.close()
    return res


def test_backtest_cli_writes_report_and_funnel(tmp_path: Path) -> None:
    pytest.importorskip("hean_momentum_trader")
    out = tmp_path / "qs"
    r = CliRunner().invoke(make_cli(), ["backtest", str(EXAMPLES / "quickstart.yaml"),
                                        "--out", str(out), "--no-progress"])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    for k in ("net_pnl", "fees", "funding", "fills", "trades", "total_return", "sharpe",
              "sortino", "max_drawdown", "profit_factor", "win_rate", "turnover", "exposure"):
        assert k in rep["metrics"], k
    f = rep["funnel"]
    assert f["signals"] >= f["passed_filters"] >= f["sized"] >= f["passed_gates"] >= 1
    assert f["fills"] >= 1 and rep["metrics"]["fills"] == f["fills"]
    assert sum(f["decisions"].values()) == f["signals"]
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    assert (out / "journal.sqlite").is_file()


def _anchor_loop(prices: list[float], qty: float = 1.0) -> tuple[int, float, float]:
    """The anchor rules of ../shared/bench, written independently of the engine: EMA(10) /
    EMA(30), long/flat ``qty``, fills at the event price, 0.055 % fee; returns (fills, fees,
    PnL marked at the last price)."""
    af, aslow, fee = 2 / 11, 2 / 31, 0.00055
    fast = slow = prices[0]
    pos, cash, fills, fees = 0.0, 0.0, 0, 0.0
    for i, px in enumerate(prices):
        fast = af * px + (1 - af) * fast
        slow = aslow * px + (1 - aslow) * slow
        if i >= 29:
            if fast > slow and pos == 0.0:
                pos, cash = qty, cash - px * qty
            elif not fast > slow and pos != 0.0:
                pos, cash = 0.0, cash + px * qty
            else:
                continue
            fees += px * qty * fee
            fills += 1
    return fills, fees, cash - fees + pos * prices[-1]


def _column(path: Path, column: str) -> list[float]:
    with gzip.open(path, "rt", newline="") as fh:
        return [float(row[column]) for row in csv.DictReader(fh)]


def test_ema_cross_fees_and_pnl_equal_a_hand_computation(tmp_path: Path) -> None:
    """The engine's fills, fees and PnL equal an independent loop over the same real bars."""
    res = _run(_ema_config(BTC_5M), tmp_path / "a")
    fills, fees, pnl = _anchor_loop(_column(BTC_5M, "close"), qty=0.01)
    assert res.fills == fills
    assert res.fees == pytest.approx(fees, rel=1e-9)
    assert res.final_equity - res.initial_capital == pytest.approx(pnl, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(("kind", "symbol", "name", "column"), [
    # one unit of XRP (~2 USDT) is below Binance's 5 USDT minimum order value
    ("bars", "XRP/USDT:USDT", "ohlcv/binance_usdm_perp_XRPUSDT_1m_20250504_20250603.csv.gz",
     "close"),
    # SOL/USDT spot is not in the shipped Binance market metadata
    ("bars", "SOL/USDT", "ohlcv/binance_spot_SOLUSDT_5m_20221231_20240102.csv.gz", "close"),
    ("trades", "ETH/USDT", "trades/binance_ETHUSDT_aggtrades_20230202.csv.gz", "price"),
])
def test_bench_config_on_other_files_equals_an_independent_loop(
        tmp_path: Path, shared_data: Path, kind: str, symbol: str, name: str,
        column: str) -> None:
    """examples/bench_ema_cross.yaml pointed at other real files (any symbol, any price level)
    gives exactly the fills and PnL of the anchor rules written as a plain loop."""
    path = shared_data / name
    out = tmp_path / "run"
    spec = f"data.files=[{{kind: {kind}, symbol: {symbol}, path: {path}}}]"
    pm = _ema_plugins()
    eng = Engine(load_setup(EXAMPLES / "bench_ema_cross.yaml", pm.registry, sets=[spec]), pm,
                 out_dir=out, progress=False)
    try:
        res = eng.run()
    finally:
        eng.close()
    fills, _, pnl = _anchor_loop(_column(path, column))
    assert (res.fills, round(res.final_equity - res.initial_capital, 2)) == (fills, round(pnl, 2))
    assert fills > 20
    with Journal.open_readonly(out / "journal.sqlite") as j:
        inst = j.manifest()["instruments"]
    assert inst["exchange"] == "ideal" and list(inst["symbols"]) == [symbol]
    assert inst["symbols"][symbol]["min_notional"] == 0.0
    assert inst["symbols"][symbol]["taker_fee"] == 0.00055
    assert res.manifest["instruments"] == inst  # report.json's manifest says it too


def test_same_config_gives_identical_journals(tmp_path: Path) -> None:
    _run(_ema_config(BTC_5M), tmp_path / "a")
    _run(_ema_config(BTC_5M), tmp_path / "b")
    da = Journal.open_readonly(tmp_path / "a" / "journal.sqlite").digest()
    db = Journal.open_readonly(tmp_path / "b" / "journal.sqlite").digest()
    assert da == db


def test_the_journal_holds_the_runs_equity_curve(tmp_path: Path) -> None:
    raw = _ema_config(BTC_5M)
    raw["journal"] = {"writer": "process", "batch_size": 50}  # many batches during the run
    res = _run(raw, tmp_path / "r")
    with Journal.open_readonly(tmp_path / "r" / "journal.sqlite") as r:
        assert r.equity() == [tuple(s) for s in res.equity_curve]
    assert len(res.equity_curve) > 100


def test_no_look_ahead(tmp_path: Path) -> None:
    """Changing the data after time t leaves every decision before t unchanged."""
    with gzip.open(BTC_5M, "rt") as fh:
        lines = fh.read().splitlines()
    header, rows = lines[0], lines[1:4001]
    cut = 2500
    t_cut = int(rows[cut].split(",")[0])
    altered = rows[:cut] + [",".join([r.split(",")[0]] + [f"{float(x) * 1.07:.2f}"
                                                           for x in r.split(",")[1:5]]
                                      + [r.split(",")[5]]) for r in rows[cut:]]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("\n".join([header, *rows]) + "\n")
    b.write_text("\n".join([header, *altered]) + "\n")
    _run(_ema_config(a), tmp_path / "ra")
    _run(_ema_config(b), tmp_path / "rb")

    def before(run: Path) -> list:
        ds = Journal.open_readonly(run / "journal.sqlite").decisions()
        return [(d["ts"], d["side"], d["decision"], d["price"]) for d in ds if d["ts"] < t_cut]

    da, db = before(tmp_path / "ra"), before(tmp_path / "rb")
    assert len(da) > 10
    assert da == db


def test_config_validate_reports_path_and_allowed_keys(tmp_path: Path) -> None:
    pytest.importorskip("hean_momentum_trader")
    cfg = tmp_path / "bad.yaml"
    text = (EXAMPLES / "quickstart.yaml").read_text().replace("z_entry: 2.0", "z_entri: 2.0")
    text = text.replace("data/", str(EXAMPLES / "data") + "/")
    cfg.write_text(text)
    r = CliRunner().invoke(make_cli(), ["config", "validate", str(cfg)])
    assert r.exit_code != 0
    assert "strategies.momentum_trader.z_entri" in r.output
    assert "allowed keys" in r.output and "z_entry" in r.output
    assert str(cfg) in r.output


def test_unknown_component_lists_installed(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{files: [{{kind: bars, symbol: BTC/USDT:USDT, path: {BTC_5M}}}]}}\n"
                   "strategies: {no_such_strategy: {}}\n")
    r = CliRunner().invoke(make_cli(), ["config", "validate", str(cfg)])
    assert r.exit_code != 0
    assert "strategies.no_such_strategy" in r.output and "installed:" in r.output


def test_plugins_list_json_and_yaml_disable(tmp_path: Path) -> None:
    r = CliRunner().invoke(make_cli(), ["plugins", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = {p["name"]: p for p in orjson.loads(r.output)}
    assert rows["builtin.pipeline"]["builtin"] and rows["builtin.pipeline"]["enabled"]
    assert "sizer" in rows["builtin.pipeline"]["kinds"]
    cfg = tmp_path / "d.yaml"
    cfg.write_text("plugins: {disabled: [builtin.pipeline]}\n")
    r = CliRunner().invoke(make_cli(), ["plugins", "list", "--json", "--config", str(cfg)])
    rows = {p["name"]: p for p in orjson.loads(r.output)}
    assert rows["builtin.pipeline"]["enabled"] is False
    assert rows["builtin.pipeline"]["status"] == "disabled"
    assert rows["builtin.pipeline"]["components"] == []


def test_set_override_and_secret_refusal(tmp_path: Path) -> None:
    pm = _ema_plugins()
    raw = _ema_config(BTC_5M)
    setup = load_setup(None, pm.registry, raw=raw, sets=["run.seed=42"])
    assert setup.config.run.seed == 42
    raw["venue"]["api_key"] = "abc"
    with pytest.raises(Exception, match="secrets are not allowed"):
        load_setup(None, pm.registry, raw=raw)


@pytest.mark.parametrize("kind", SCAFFOLD_KINDS)
def test_plugins_new_scaffold_passes_its_own_tests(tmp_path: Path, kind: str) -> None:
    r = CliRunner().invoke(make_cli(), ["plugins", "new", f"my_{kind}", "--kind", kind,
                                        "--dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    root = tmp_path / f"hean-my-{kind}"
    assert (root / "pyproject.toml").is_file() and (root / "README.md").is_file()
    # its own way to run its tests anywhere: a [test] extra with pytest, its own tox.ini
    assert 'test = ["pytest' in (root / "pyproject.toml").read_text()
    assert f"env_list = hean-my-{kind}" in (root / "tox.ini").read_text()
    assert (root / "example.yaml").is_file() == (kind == "strategy")
    sys.path.insert(0, str(root))
    try:
        importlib.invalidate_caches()
        ret = pytest.main(["-q", "-p", "no:cacheprovider", str(root / "tests")])
    finally:
        sys.path.remove(str(root))
        sys.modules.pop(f"hean_my_{kind}", None)
    assert ret == 0


def test_every_fill_links_back_to_its_decision_and_market_event(tmp_path: Path) -> None:
    """Fill -> order -> CREATE decision -> signal and the market event that caused it, on a
    real run's journal (the causal chain the models promise)."""
    res = _run(_ema_config(BTC_5M), tmp_path / "r")
    with Journal.open_readonly(tmp_path / "r" / "journal.sqlite") as r:
        orders = {o["order_id"]: o for o in r.orders()}
        decisions = {d["decision_id"]: d for d in r.decisions()}
        fills = r.fills()
    assert len(fills) == res.fills > 100
    seqs = []
    for f in fills:
        o = orders[f["order_id"]]
        d = decisions[o["decision_id"]]
        assert d["decision"] == "CREATE"
        assert f["signal_id"] == o["signal_id"] == d["signal_id"]
        assert (f["symbol"], f["side"]) == (o["symbol"], o["side"]) == (d["symbol"], d["side"])
        seqs.append(d["cause_seq"])
    assert all(0 < s <= res.events for s in seqs) and seqs == sorted(seqs)


def test_strategy_hears_its_order_updates_and_round_trips(tmp_path: Path) -> None:
    """on_order_update for every status change of its orders, on_position_closed for every
    round trip; a signal returned from on_position_closed goes through the pipeline."""
    _ema_plugins()
    from hean_ema_cross import EmaCross, EmaCrossConfig

    from hean_framework import hookimpl

    class Listening(EmaCross):
        def on_start(self) -> None:
            super().on_start()
            self.updates: list[tuple[int, str]] = []
            self.closed: list[float] = []
            self.sent = None

        def on_order_update(self, order):  # type: ignore[no-untyped-def]
            self.updates.append((order.order_id, order.status))

        def on_position_closed(self, trade):  # type: ignore[no-untyped-def]
            self.closed.append(trade.net_pnl)
            if self.sent is None:  # once: an exit with nothing left to close
                self.sent = self.signal(trade.symbol, "sell", 0, 1.0, reduce_only=True)
                return self.sent
            return None

    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register):  # type: ignore[no-untyped-def]
            register("listening", Listening, config=EmaCrossConfig)

    raw = _ema_config(BTC_5M)
    raw["strategies"] = {"listening": {"qty": 0.01}}
    pm = isolated_plugins(Plugin(), names=["test_listening"])
    eng = Engine(load_setup(None, pm.registry, raw=raw), pm, out_dir=tmp_path, progress=False)
    res = eng.run()
    eng.close()
    strat = eng.strategies["listening"]
    with Journal.open_readonly(tmp_path / "journal.sqlite") as j:
        closed = j.closed_trades()
        orders = j.orders()
        extra = j.rows("decisions", "signal_id = ?", [strat.sent.signal_id])
    assert strat.closed == pytest.approx([t["net_pnl"] for t in closed]) and len(closed) > 10
    assert {(o["order_id"], o["status"]) for o in orders} <= set(strat.updates)
    assert len(orders) == res.fills  # every market order filled
    assert len(extra) == 1 and extra[0]["decision"] == "SKIP"
