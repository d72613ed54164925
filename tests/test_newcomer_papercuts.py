"""What a new user hits in the first hour (the issue "The first hour of a new user").

Every test here failed on the code before its fix; none depends on which external plugins
are installed (the plugin manager is the builtins plus this module's strategy, through
:func:`hean_framework.testing.isolated_plugins`).

* **defaults stay** (item 4): listing one filter or gate keeps small-capital mode's other
  components; a listed instance named like a default overrides its settings, ``enabled:
  false`` removes one; ``hean config show --resolved`` says what runs and where it came from;
  ``hean config show`` never prints ``executors: null`` while ``maker_chase`` runs.
* **tables** (item 6): ``hean plugins list`` and ``hean capital-plan`` at 80 columns show every
  plugin, component, strategy and symbol name whole.
* **what help says** (item 7): a plugin that fails to import is told once (the error of a
  command that needs it, else a warning); ``hean --help`` says paper and live runs need a live
  exchange plugin; a scaffolded config's docstring names its YAML path (``strategies.my_rsi``).
  The docs' console commands are run by ``tests/test_doc_commands.py``.
* **papercuts** (item 8): ``hean config validate`` takes several files; a missing component
  that a plugin folder of this repository provides says where it is and how to install it;
  ``hean why`` separates BLOCK from SKIP reasons and shows the ``validated`` column; the
  progress shows a percentage and time left once the data's span is known, and without a
  terminal prints a line every ~10 s (never per event); the summary's last line does not
  wrap mid-phrase at 80 columns.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from click.testing import CliRunner, Result

from hean_framework import hookimpl, session
from hean_framework.cli import make_cli
from hean_framework.components import Strategy
from hean_framework.config import RunSetup, load_setup
from hean_framework.testing import isolated_plugins

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BTC_5M = EXAMPLES / "data" / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"
SMALL_CAPITAL_FILTERS = ["no_tick_data", "stale_data", "missing_quote", "wide_spread",
                         "invalid_spread", "thin_book"]


class Hold(Strategy):
    """Never signals: these tests are about what is built, not what it trades."""


class Pester(Strategy):
    """Every bar a signal: odd bars a short without a stop (BLOCK ``MISSING_STOP_LOSS``), even
    bars a long with a stop (CREATE once, then SKIP ``POSITION_OPEN`` while it is held)."""

    def on_start(self) -> None:
        self.n = 0

    def on_bar(self, bar):  # type: ignore[no-untyped-def]
        self.n += 1
        if self.n % 2:
            return self.signal(bar.symbol, "sell", bar.ts, bar.close)
        return self.signal(bar.symbol, "buy", bar.ts, bar.close, size=0.002,
                           stop_loss=bar.close * 0.5, take_profit=bar.close * 2)


class Plugin:
    @hookimpl
    def hean_register_strategies(self, register):  # type: ignore[no-untyped-def]
        register("hold", Hold)
        register("pester", Pester)


def plugins() -> Any:
    return isolated_plugins(Plugin(), names=["hold_plugin"])


@pytest.fixture(autouse=True)
def _test_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``hean`` commands load only the builtins and this module's strategy."""
    monkeypatch.setattr(session, "load_plugins", lambda disabled=(), **kw: plugins())


def raw_config(capital: float = 300, **sections: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "run": {"name": "papercut"}, "account": {"capital": capital},
        "data": {"files": [{"kind": "bars", "symbol": "BTC/USDT:USDT", "path": str(BTC_5M)}]},
        "strategies": {"hold": {}}, "report": {"progress": False}}
    raw.update(sections)
    return raw


def setup_of(**kw: Any) -> RunSetup:
    return load_setup(None, plugins().registry, raw=raw_config(**kw))


def names(setup: RunSetup, kind: str) -> list[str]:
    return [rc.instance for rc in setup.components[kind]]


def sources(setup: RunSetup, kind: str) -> dict[str, str]:
    return {rc.instance: rc.source for rc in setup.components[kind]}


def write(tmp_path: Path, raw: dict[str, Any], name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def hean(*args: str) -> Result:
    return CliRunner().invoke(make_cli(), list(args))


# ------------------------------------------------------------------ item 4: defaults stay


def test_listing_a_gate_keeps_the_trade_gate_filters_and_maker_chase() -> None:
    s = setup_of(gates={"risk_limits": {"max_open_positions": 3}})
    assert names(s, "gate") == ["risk_limits", "trade_gate"]
    assert names(s, "filter") == SMALL_CAPITAL_FILTERS
    assert names(s, "executor") == ["maker_chase"]
    assert sources(s, "gate") == {"risk_limits": "YAML", "trade_gate": "small_capital default"}
    assert sum(len(v) for v in s.components.values()) == 11  # 10 before + the risk gate


def test_listing_one_filter_keeps_the_other_five_and_overrides_its_settings() -> None:
    s = setup_of(filters={"stale_data": {"max_age_ms": 5000}, "passthrough": {}})
    assert names(s, "filter") == ["stale_data", "passthrough"] + [
        f for f in SMALL_CAPITAL_FILTERS if f != "stale_data"]
    stale = s.components["filter"][0]
    assert stale.config.max_age_ms == 5000
    assert stale.source == "YAML over small_capital default"
    assert names(s, "gate") == ["trade_gate"]


def test_a_listed_default_keeps_the_default_settings_it_does_not_override() -> None:
    s = setup_of(gates={"trade_gate": {"min_notional_usd": 20}})
    gate = s.components["gate"][0].config
    assert gate.min_notional_usd == 20
    assert (gate.cost_edge_multiplier, gate.taker_edge_multiplier) == (4.0, 8.0)


def test_enabled_false_removes_one_default_in_either_place() -> None:
    here = setup_of(filters={"thin_book": {"enabled": False}})
    there = setup_of(small_capital={"filters": {"thin_book": {"enabled": False}}})
    expected = [f for f in SMALL_CAPITAL_FILTERS if f != "thin_book"]
    assert names(here, "filter") == names(there, "filter") == expected
    assert names(here, "gate") == names(there, "gate") == ["trade_gate"]


def test_small_capital_off_removes_every_default() -> None:
    s = setup_of(small_capital={"enabled": False}, gates={"risk_limits": {}})
    assert names(s, "filter") == []
    assert names(s, "gate") == ["risk_limits"]
    assert sources(s, "executor") == {"plain": "default"}
    big = setup_of(capital=50_000, filters={"passthrough": {}})
    assert names(big, "filter") == ["passthrough"] and names(big, "gate") == []


def test_a_listed_executor_stays_the_strategies_default_and_maker_chase_is_available() -> None:
    s = setup_of(executors={"plain": {"maker_offset_bps": 1.0}})
    assert names(s, "executor") == ["plain", "maker_chase"]
    assert sources(s, "executor") == {"plain": "YAML", "maker_chase": "small_capital default"}


def test_a_default_name_with_another_plugin_replaces_the_default() -> None:
    s = setup_of(filters={"stale_data": {"plugin": "passthrough"}})
    first = s.components["filter"][0]
    assert (first.instance, first.spec.name) == ("stale_data", "passthrough")
    assert first.source == "YAML (replaces the small_capital default)"
    assert names(s, "filter") == ["stale_data"] + [
        f for f in SMALL_CAPITAL_FILTERS if f != "stale_data"]


def test_config_show_resolved_lists_what_runs_in_order_with_sources(tmp_path: Path) -> None:
    cfg = write(tmp_path, raw_config(gates={"risk_limits": {}}))
    r = hean("config", "show", "--resolved", str(cfg))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    gates = lines.index("gates:")
    assert lines[gates + 1].startswith("  risk_limits: YAML; builtin plugin 'builtin.risk'")
    assert lines[gates + 2].startswith("  trade_gate: small_capital default; builtin plugin "
                                       "'builtin.costs' (hean-framework ")
    assert "  maker_chase: small_capital default; builtin plugin 'builtin.costs'" in r.output
    assert "  hold: YAML; plugin 'hold_plugin'" in r.output
    assert "  fixed_risk: default; builtin plugin 'builtin.pipeline'" in r.output
    assert "small_capital mode: on (account.capital 300 < account_below 10000)" in r.output
    assert [ln.strip().split(":")[0] for ln in lines[lines.index("filters:") + 1:][:6]] == \
        SMALL_CAPITAL_FILTERS


def test_config_show_prints_the_executors_that_run_not_null(tmp_path: Path) -> None:
    r = hean("config", "show", str(write(tmp_path, raw_config())))
    assert r.exit_code == 0, r.output
    shown = orjson.loads(r.output)
    assert shown["executors"] == {"maker_chase": {"chase_interval_ms": 2000, "max_chases": 3,
                                                  "max_chase_bps": 5.0}}
    assert shown["sizers"] == {"fixed_risk": {}}
    assert list(shown["filters"]) == SMALL_CAPITAL_FILTERS
    off = orjson.loads(hean("config", "show", str(write(
        tmp_path, raw_config(small_capital={"enabled": False}), "off.yaml"))).output)
    assert off["executors"] == {"plain": {}} and off["gates"] == {}


# ------------------------------------------------------------------ item 6: tables at 80 columns


def whole(name: str, text: str) -> bool:
    """``name`` appears in ``text`` as a whole token (not cut, not folded across lines)."""
    return re.search(rf"(?<![\w.:/-]){re.escape(name)}(?![\w.:/-])", text) is not None


def test_plugins_list_at_80_columns_shows_every_name_whole() -> None:
    r = CliRunner(env={"COLUMNS": "80"}).invoke(make_cli(), ["plugins", "list"])
    assert r.exit_code == 0, r.output
    rows = orjson.loads(hean("plugins", "list", "--json").output)
    assert "…" not in r.output
    assert max(map(len, r.output.splitlines())) <= 80
    for row in rows:
        for name in (row["name"], row["distribution"], *row["components"]):
            assert whole(name, r.output), (name, r.output)
    assert "builtin.optimizers" in r.output and "optimizer:random_search" in r.output


def test_plugins_table_keeps_long_names_whole_at_80_columns() -> None:
    from io import StringIO

    from rich.console import Console

    from hean_framework.cli import plugins_table

    rows = [{"name": "market_analyzers_x", "distribution": "hean-market-analyzers-x",
             "version": "10.2.3", "status": "autoload off (HEAN_PLUGINS)",
             "components": ["analyzer:edge_confirmation_v2", "strategy:sentiment_strategy"]},
            {"name": "b", "distribution": "hean-b", "version": "0.1.0", "status": "enabled",
             "components": []}]
    con = Console(width=80, file=StringIO())
    con.print(plugins_table(rows, 80))
    out = con.file.getvalue()  # type: ignore[attr-defined]
    assert max(map(len, out.splitlines())) <= 80
    for name in ("market_analyzers_x", "analyzer:edge_confirmation_v2",
                 "strategy:sentiment_strategy", "b", "hean-market-analyzers-x", "hean-b"):
        assert whole(name, out), (name, out)


def test_capital_plan_at_80_columns_shows_strategies_and_symbols_whole(tmp_path: Path) -> None:
    eth = str(BTC_5M).replace("BTCUSDT", "ETHUSDT")
    raw = raw_config(strategies={"my_breakout_strategy": {
        "plugin": "hold", "symbols": ["BTC/USDT:USDT", "ETH/USDT:USDT"]}})
    raw["data"]["files"].append({"kind": "bars", "symbol": "ETH/USDT:USDT", "path": eth})
    r = CliRunner(env={"COLUMNS": "80"}).invoke(
        make_cli(), ["capital-plan", str(write(tmp_path, raw)), "--capital", "300"])
    assert r.exit_code == 0, r.output
    table = r.output.split("\n- ")[0]  # the table, before the one-line explanations
    assert "…" not in table
    assert max(map(len, table.splitlines())) <= 80
    for name in ("my_breakout_strategy", "BTC/USDT:USDT", "ETH/USDT:USDT"):
        assert len(re.findall(rf"(?<![\w/:]){re.escape(name)}(?![\w/:])", table)) >= 1, table
    assert "viable" in table


# ------------------------------------------------------------------ item 8: papercuts


def test_config_validate_takes_several_files_and_reports_each(tmp_path: Path) -> None:
    good = write(tmp_path, raw_config(), "good.yaml")
    other = write(tmp_path, raw_config(capital=500), "other.yaml")
    bad = write(tmp_path, {**raw_config(), "account": {"capital": -1}}, "bad.yaml")
    r = hean("config", "validate", str(good), str(bad), str(other))
    assert r.exit_code == 2, r.output
    assert f"{good}: valid (" in r.output and f"{other}: valid (" in r.output
    assert f"invalid configuration in {bad}" in r.output
    assert "account.capital: Input should be greater than 0" in r.output
    assert "1 of 3 files refused" in r.output
    ok = hean("config", "validate", str(good), str(other))
    assert ok.exit_code == 0 and ok.output.count(": valid (") == 2


def test_missing_component_names_the_plugin_folder_of_this_repository(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "plugins" / "hean-my-rsi"
    (folder / "hean_my_rsi").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "hean-my-rsi"\n[project.entry-points.hean]\n'
        'rsi_pack = "hean_my_rsi.plugin"\n')
    (folder / "hean_my_rsi" / "plugin.py").write_text('register("my_rsi", MyRsi)\n')
    monkeypatch.chdir(tmp_path)
    raw = raw_config(strategies={"my_rsi": {}, "rsi_pack": {}, "nowhere": {}})
    r = hean("config", "validate", str(write(tmp_path, raw)))
    assert r.exit_code == 2, r.output
    hint = "is in plugins/hean-my-rsi: pip install -e plugins/hean-my-rsi"
    assert f"strategies.my_rsi: no installed strategy named 'my_rsi'; installed: hold, " \
           f"pester (my_rsi {hint})" in r.output
    assert f"(rsi_pack {hint})" in r.output
    assert "strategies.nowhere: no installed strategy named 'nowhere'; installed: hold, " \
           "pester (pip install the plugin that provides it, or fix the name)" in r.output


def test_the_repository_s_own_plugins_are_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from hean_framework.config import local_plugin

    monkeypatch.chdir(ROOT)
    assert local_plugin("ema_cross") == "examples/plugins/hean-ema-cross"
    assert local_plugin("breakout") == "examples/plugins/hean-breakout"
    assert local_plugin("momentum_trader") == "plugins/hean-momentum-trader"
    assert local_plugin("regime_detector") == "plugins/hean-market-analyzers"
    assert local_plugin("no_such_component_anywhere") is None


@pytest.fixture(scope="module")
def pester_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run with BLOCK MISSING_STOP_LOSS and SKIP POSITION_OPEN decisions."""
    base = tmp_path_factory.mktemp("pester")
    raw = raw_config(capital=10_000, strategies={"pester": {}},
                     small_capital={"enabled": False})
    raw["data"].update(start="2025-03-06", end="2025-03-07")
    mp = pytest.MonkeyPatch()
    mp.setattr(session, "load_plugins", lambda disabled=(), **kw: plugins())
    try:
        r = hean("backtest", str(write(base, raw)), "--out", str(base / "run"), "--no-progress")
    finally:
        mp.undo()
    assert r.exit_code == 0, r.output
    return base / "run"


def test_why_separates_block_and_skip_reasons(pester_run: Path) -> None:
    r = hean("why", str(pester_run), "--json")
    assert r.exit_code == 0, r.output
    blk = orjson.loads(r.output)["small_capital_mode"]
    assert [x["reason"] for x in blk["top_block_reasons"]] == ["MISSING_STOP_LOSS"]
    assert [x["reason"] for x in blk["top_skip_reasons"]] == ["POSITION_OPEN"]
    counts = blk["decision_counts"]
    assert blk["top_block_reasons"][0]["count"] == counts["block"]
    assert blk["top_skip_reasons"][0]["count"] == counts["skip"]
    assert blk["reasons_source"] == "journal"


def test_why_without_journal_splits_the_reports_decisions(pester_run: Path,
                                                          tmp_path: Path) -> None:
    (tmp_path / "report.json").write_bytes((pester_run / "report.json").read_bytes())
    blk = orjson.loads(hean("why", str(tmp_path), "--json").output)["small_capital_mode"]
    assert {x["reason"] for x in blk["top_block_reasons"]} == {"MISSING_STOP_LOSS"}
    assert {x["reason"] for x in blk["top_skip_reasons"]} == {"POSITION_OPEN"}
    assert blk["reasons_source"].startswith("report.decisions (the last ")


def test_why_human_output_has_validated_and_both_reason_lists(pester_run: Path) -> None:
    r = hean("why", str(pester_run))
    assert r.exit_code == 0, r.output
    block_line = next(ln for ln in r.output.splitlines() if "top_block_reasons" in ln)
    skip_line = next(ln for ln in r.output.splitlines() if "top_skip_reasons" in ln)
    assert "MISSING_STOP_LOSS" in block_line and "POSITION_OPEN" not in block_line
    assert "POSITION_OPEN" in skip_line
    header = next(ln for ln in r.output.splitlines() if "passed_filters" in ln)
    assert header.index("signals") < header.index("validated") < header.index("passed_filters")


def test_progress_without_a_terminal_prints_a_line_every_10_seconds_with_eta() -> None:
    from io import StringIO

    from hean_framework.progress import progress_bar

    now = [100.0]
    out = StringIO()
    day = 86_400_000
    update = progress_bar(True, span=(0, 10 * day), stream=out, clock=lambda: now[0])
    assert update is not None  # no terminal: lines, not nothing
    for i in range(1, 40):  # one call per 2.5 s of wall time; the data advances a quarter day
        now[0] += 2.5
        update(i * 32_768, i * day // 4)
    lines = out.getvalue().splitlines()
    assert len(lines) == 9  # 97.5 s: one line per 10 s, not one per call
    assert lines[0] == ("backtest: 10% of the data (131,072 events, data time 1970-01-02 "
                        "00:00 UTC), 0:10 elapsed, about 1:30 left")
    update(40 * 32_768, 10 * day, done=True)
    assert out.getvalue().splitlines()[-1] == "backtest: done, 1,310,720 events in 1:38"
    quiet = StringIO()
    short = progress_bar(True, stream=quiet, clock=lambda: 0.0)
    assert short is not None
    short(32_768, day)
    short(32_768, day, done=True)
    assert quiet.getvalue() == ""  # a run shorter than 10 s prints nothing
    assert progress_bar(False, stream=quiet) is None


def test_data_span_of_the_bundled_candles_and_its_use_by_the_engine(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from hean_framework import engine as engine_mod
    from hean_framework.engine import Engine
    from hean_framework.progress import data_span, file_span

    first, last = file_span(BTC_5M)
    assert (first, last) == (1741257000000, 1744528500000)  # 2025-03-06 10:30, 04-13 07:15
    seen: dict[str, Any] = {}

    def spy(show: bool, what: str = "backtest", **kw: Any) -> None:
        seen.update(kw, what=what)

    monkeypatch.setattr(engine_mod, "progress_bar", spy)
    setup = setup_of(capital=10_000)
    eng = Engine(setup, plugins(), journal=False)
    eng.start()
    assert seen["what"] == "backtest"
    five_min = 300_000
    assert seen["span"]() == data_span(eng.feed) == (first + five_min, last + five_min)
    clipped = setup_of(capital=10_000, data={"files": [
        {"kind": "bars", "symbol": "BTC/USDT:USDT", "path": str(BTC_5M)}],
        "start": "2025-03-10", "end": "2025-03-11"})
    assert data_span(Engine(clipped, plugins(), journal=False).feed) == (
        1741564800000, 1741651200000)


def test_summary_last_lines_do_not_wrap_mid_phrase_at_80_columns() -> None:
    from io import StringIO

    from rich.console import Console

    from hean_framework.report import print_summary

    funnel = {"signals": 123_456, "orders": 12_345, "fills": 23_456, "validated": 100_000,
              "decisions": {"CREATE": 12_345, "SKIP": 23_456, "BLOCK": 87_655},
              "validation_reasons": {"POSITION_OPEN": 23_456},
              "stages": [{"stage": "sizer", "in": 100_000, "out": 12_345,
                          "reasons": {"POSITION_SIZER_ZERO": 87_655}}]}
    con = Console(width=80, file=StringIO())
    print_summary({"run": {"mode": "backtest", "name": "x"}, "metrics": {}, "funnel": funnel},
                  con)
    lines = con.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert "signals 123456 → orders 12345 → fills 23456" in lines
    assert "decisions: CREATE 12345  SKIP 23456  BLOCK 87655" in lines


# ------------------------------------------------------------------ item 7: what help says


def test_a_plugin_that_fails_to_import_is_told_once(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    from hean_framework import cli
    from hean_framework.errors import PluginError

    message = "plugin 'broken' (hean-broken 0.1.0) failed to import (hean_broken): ImportError: x"

    def load(disabled: Any = (), autoload: bool = True, **kw: Any) -> Any:
        if autoload and "broken" not in disabled:
            raise PluginError(message, "disable it: HEAN_DISABLED_PLUGINS=broken")
        return plugins()

    monkeypatch.setattr(cli, "load_plugins", load)
    monkeypatch.setattr(session, "load_plugins", load)
    cfg = str(write(tmp_path, raw_config()))
    refused = hean("config", "validate", cfg)
    assert refused.exit_code == 2
    assert refused.output.count(message) == 1, refused.output  # not a warning and an error
    assert f"error: {message}" in refused.output
    version = hean("version")
    assert version.exit_code == 0 and version.output.startswith("hean-framework ")
    assert version.output.count(message) == 1 and f"warning: {message}" in version.output
    skipped = hean("config", "validate", cfg, "--set", "plugins.disabled=[broken]")
    assert skipped.exit_code == 0, skipped.output
    assert ": valid (" in skipped.output and skipped.output.count(message) == 1


def test_help_says_how_to_run_paper_and_live_sessions() -> None:
    text = " ".join(hean("--help").output.split())
    assert "need a live exchange plugin" not in text  # builtin.live provides one (issue 20)
    assert "hean run CONFIG --mode paper|live" in text and "docs/live.md" in text


def test_scaffolded_config_docstring_names_the_yaml_path(tmp_path: Path) -> None:
    from hean_framework.scaffold import scaffold

    for kind, path in (("strategy", "strategies.my_rsi"), ("gate", "gates.my_rsi")):
        root = scaffold("my_rsi", kind, tmp_path / kind)
        module = (root / "hean_my_rsi" / "__init__.py").read_text()
        assert f"``{path}``" in " ".join(module.split()), module
