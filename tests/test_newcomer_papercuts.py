"""What a new user hits in the first hour (the issue "The first hour of a new user").

Every test here failed on the code before its fix; none depends on which external plugins
are installed (the plugin manager is the builtins plus this module's strategy, through
:func:`hean_framework.testing.isolated_plugins`).

* **defaults stay** (item 4): listing one filter or gate keeps small-capital mode's other
  components; a listed instance named like a default overrides its settings, ``enabled:
  false`` removes one; ``hean config show --resolved`` says what runs and where it came from;
  ``hean config show`` never prints ``executors: null`` while ``maker_chase`` runs.
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


class Plugin:
    @hookimpl
    def hean_register_strategies(self, register):  # type: ignore[no-untyped-def]
        register("hold", Hold)


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
