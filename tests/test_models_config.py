"""Event model round-trips, causal ids, JSON Schema and env overrides."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hean_framework.cli import make_cli
from hean_framework.config import load_config
from hean_framework.config_overrides import apply_overrides
from hean_framework.models import (
    Bar,
    BookUpdate,
    Fill,
    Funding,
    Order,
    OrderDecision,
    Quote,
    Signal,
    Trade,
    from_json,
    to_json,
)


def test_every_record_round_trips_through_orjson() -> None:
    recs = [
        Bar(1, "BTC/USDT:USDT", 1.0, 2.0, 0.5, 1.5, 10.0, 300_000, seq=7),
        Trade(2, "BTC/USDT:USDT", 61_000.5, 0.01, "buy", 99, seq=8),
        Quote(3, "ETH/USDT:USDT", 2680.1, 3.0, 2680.2, 4.0, 5),
        BookUpdate(4, "BTC/USDT:USDT", True, [(1.0, 2.0)], [(1.1, 3.0)], 1, 2, 0),
        Funding(5, "BTC/USDT:USDT", 0.0001, 61_000.0),
        Signal("s", "BTC/USDT:USDT", "buy", 6, 100.0, stop_loss=99.0, metadata={"z": 2.1},
               signal_id=3, cause_seq=8),
        OrderDecision(1, 3, "s", "BTC/USDT:USDT", "buy", 6, reason_codes=["ACCEPTED"],
                      cost_breakdown={"fee_bps": 2.0}, cause_seq=8),
        Order(11, "s", "BTC/USDT:USDT", "buy", 0.01, signal_id=3, decision_id=1),
        Fill(12, 11, "s", "BTC/USDT:USDT", "buy", 0.01, 100.0, 0.0005, False, 6, 3),
    ]
    for r in recs:
        assert from_json(to_json(r)) == r


def test_causal_chain_fill_to_market_event() -> None:
    sig = Signal("s", "X", "buy", 1, 1.0, signal_id=3, cause_seq=42)
    d = OrderDecision(9, sig.signal_id, "s", "X", "buy", 1, cause_seq=sig.cause_seq)
    o = Order(5, "s", "X", "buy", 1.0, signal_id=sig.signal_id, decision_id=d.decision_id)
    f = Fill(6, o.order_id, "s", "X", "buy", 1.0, 1.0, 0.0, False, 1, o.signal_id)
    assert (f.order_id, o.decision_id, d.signal_id, d.cause_seq) == (5, 9, 3, 42)


def test_env_overrides_and_dotted_sets() -> None:
    raw: dict = {"run": {"seed": 1}}
    applied = apply_overrides(raw, ["account.capital=500"], {"HEAN__RUN__SEED": "9"})
    assert raw == {"run": {"seed": 9}, "account": {"capital": 500}}
    assert len(applied) == 2
    cfg, _ = load_config(raw=raw)
    assert cfg.run.seed == 9 and cfg.account.capital == 500


def test_config_schema_covers_every_installed_component() -> None:
    r = CliRunner().invoke(make_cli(), ["config", "schema"])
    assert r.exit_code == 0, r.output
    schema = json.loads(r.output)
    props = schema["properties"]
    assert "fixed_risk" in props["sizers"]["properties"]
    assert "trade_gate" in props["gates"]["properties"]
    assert "risk" in props["sizers"]["properties"]
    strat = props["sizers"]["properties"]["fixed_risk"]["properties"]
    assert "risk_pct" in strat


def test_venue_instruments_errors_name_the_yaml_path() -> None:
    import pytest

    from hean_framework.config import load_setup
    from hean_framework.errors import ConfigError
    from hean_framework.testing import isolated_plugins

    raw = {"venue": {"instruments": {"SOL/USDT": {"tick_size": 0, "lot": 0.001}}},
           "run": {"mode": "paper"}}
    with pytest.raises(ConfigError) as err:
        load_setup(None, isolated_plugins().registry, raw=raw)
    msg = str(err.value)
    assert "venue.instruments.SOL/USDT.tick_size: Input should be greater than 0" in msg
    assert "venue.instruments.SOL/USDT.lot: unknown key; allowed keys: contract_size, " in msg
    ok = load_setup(None, isolated_plugins().registry,
                    raw={"venue": {"exchange": "ideal",
                                   "instruments": {"SOL/USDT": {"min_notional": 5}}},
                         "run": {"mode": "paper"}})
    assert ok.venue_section.exchange == "ideal"
    assert ok.venue_section.instruments["SOL/USDT"].min_notional == 5.0


def test_set_indexes_lists() -> None:
    import pytest

    from hean_framework.config_overrides import set_dotted
    from hean_framework.errors import ConfigError

    raw: dict = {"data": {"files": [{"kind": "bars", "path": "a"}]}, "m": {"0": 1, "a": 2}}
    set_dotted(raw, "data.files[0].path", "b")
    set_dotted(raw, "data.files.0.symbol", "XRP/USDT:USDT")
    set_dotted(raw, "data.files[1]", {"kind": "trades"})  # one past the end appends
    set_dotted(raw, "new.files[0].path", "p")
    set_dotted(raw, "m.0", 3)  # a numeric key of a mapping stays a key
    assert raw == {"data": {"files": [{"kind": "bars", "path": "b", "symbol": "XRP/USDT:USDT"},
                                      {"kind": "trades"}]},
                   "m": {"0": 3, "a": 2}, "new": {"files": [{"path": "p"}]}}
    with pytest.raises(ConfigError, match=r"index 5 does not exist \(data.files is a list of 2"):
        set_dotted(raw, "data.files[5].path", "c")
    applied = apply_overrides(raw, ["data.files[0].path=c.csv.gz"], {})
    assert applied == ["--set data.files[0].path"] and raw["data"]["files"][0]["path"] == "c.csv.gz"
