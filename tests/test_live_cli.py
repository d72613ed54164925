"""``hean run`` paper and live against the fake Bybit exchange, through the CLI.

Invariants (real BTCUSDT trades and L2 replayed by the fake on 127.0.0.1; the demo strategy
trades every 10 prints):

* a paper run and a live run start from YAML through ``hean run``, print what they will
  trade, run for a bounded time, stop cleanly (the run's open orders cancelled, a
  ``run_end`` event with the reason, journal ``complete``) and leave a report that
  ``hean why`` reads;
* live: every order the run created is on the exchange exactly once (by client order id),
  the exchange's position equals the portfolio's, fills carry the exchange's fees; no exit
  is refused 110017 (reduce-only rule) by the exchange;
* a paper session's recorded events replayed with ``hean backtest recorded/replay.yaml``
  give the same decisions;
* the CLI refuses a ``--mode`` that disagrees with ``run.mode``, a live run without
  ``--live`` / ``HEAN_LIVE=1``, and a live run without keys in the environment; the API
  secret appears in no output file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hean_framework.testing.fake_bybit import API_KEY, API_SECRET, FakeBybit, default_script
from hean_framework.testing.fake_bybit.demo import config, main

BTC = "BTC/USDT:USDT"


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    f = FakeBybit(script=default_script()).start()
    f.warm_up()
    yield f
    f.stop()


def hean(args: list[str], capsys: Any) -> tuple[int, str, str]:
    """Run ``hean`` (builtins + the demo strategy) in this process."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def play_later(fake: FakeBybit, rate: float, count: int, private: bool = False) -> None:
    """Publish ``count`` events at ``rate``/s once the run has subscribed."""
    def go() -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            pub, priv = fake.connections()
            if pub >= 1 and (priv >= 1 or not private):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        fake.play(rate, count)
    threading.Thread(target=go, daemon=True).start()


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


DECISION_COLS = "decision_id, strategy_id, symbol, side, ts, decision, stage, qty, price"


def test_paper_run_replays_to_the_same_decisions(fake: FakeBybit, tmp_path: Path,
                                                 capsys: Any) -> None:
    cfg = config(tmp_path / "paper.yaml", fake.rest_url, fake.ws_url, mode="paper", every=10)
    out = tmp_path / "paper"
    play_later(fake, 800, 1500)
    code, stdout, err = hean(["run", str(cfg), "--mode", "paper", "--out", str(out),
                              "--duration", "4"], capsys)
    assert code == 0, err
    assert "hean run: PAPER on custom endpoint" in stdout and "symbols: BTC/USDT:USDT" in stdout
    db = out / "journal.sqlite"
    decisions = rows(db, f"SELECT {DECISION_COLS} FROM decisions ORDER BY decision_id")
    assert len(decisions) >= 5
    (end,) = rows(db, "SELECT payload FROM events WHERE kind = 'run_end'")
    assert json.loads(end[0])["reason"] == "duration"
    assert rows(db, "SELECT status FROM run_status") == [("complete",)]
    report = json.loads((out / "report.json").read_text())
    assert report["funnel"]["signals"] == len(decisions)
    code, why, _ = hean(["why", str(out)], capsys)
    assert code == 0 and "CREATE" in why

    replay = out / "recorded" / "replay.yaml"
    code, _, err = hean(["backtest", str(replay), "--out", str(tmp_path / "replay"), "--quiet"],
                        capsys)
    assert code == 0, err
    again = rows(tmp_path / "replay" / "journal.sqlite",
                 f"SELECT {DECISION_COLS} FROM decisions ORDER BY decision_id")
    assert again == decisions


def test_live_run_places_each_order_once(fake: FakeBybit, tmp_path: Path, capsys: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEAN_API_KEY", API_KEY)
    monkeypatch.setenv("HEAN_API_SECRET", API_SECRET)
    cfg = config(tmp_path / "live.yaml", fake.rest_url, fake.ws_url, mode="live", every=10)
    out = tmp_path / "live"
    play_later(fake, 800, 1500, private=True)
    code, stdout, err = hean(["run", str(cfg), "--mode", "live", "--live", "--out", str(out),
                              "--duration", "4"], capsys)
    assert code == 0, err
    assert "REAL ORDERS will be placed" in stdout
    db = out / "journal.sqlite"
    orders = rows(db, "SELECT client_id, status, reason FROM orders")
    assert len(orders) >= 5
    links = [o["orderLinkId"] for o in fake.exchange.orders.values()]
    assert len(links) == len(set(links))  # no client order id twice on the exchange
    placed = {c for c, status, _ in orders if status != "rejected"}
    assert placed and placed <= set(links)
    refused = [r for _, status, r in orders if status == "rejected"]
    # stale exits (the strategy's position went before they were sent) are never sent
    assert all(r.startswith(("EXCHANGE_", "STOPPING", "reduce_only_no_position"))
               for r in refused), refused
    # exits racing reversals: the reduce-only mapping leaves the exchange nothing to refuse
    assert not [r for r in refused if r.startswith("EXCHANGE_110017")]
    assert not fake.exchange.open_orders()  # the stop cancelled what was resting
    fills = rows(db, "SELECT qty, price, fee FROM fills")
    exch = [e for e in fake.exchange.executions]
    assert sum(f for *_, f in fills) == pytest.approx(sum(float(e["execFee"]) for e in exch))
    report = json.loads((out / "report.json").read_text())
    net = sum(p["qty"] for p in report.get("final_positions", []) if p["symbol"] == BTC) \
        if "final_positions" in report else None
    pos = fake.exchange.positions.get("BTCUSDT")
    if net is not None:
        assert net == pytest.approx(pos.size if pos else 0.0, abs=1e-9)
    (end,) = rows(db, "SELECT payload FROM events WHERE kind = 'run_end'")
    assert json.loads(end[0])["open_orders_left"] == []
    code, why, _ = hean(["why", str(out)], capsys)
    assert code == 0 and "CREATE" in why
    for path in out.rglob("*"):
        if path.is_file():
            assert API_SECRET.encode() not in path.read_bytes(), path
    assert API_SECRET not in stdout + err


def test_refusals(fake: FakeBybit, tmp_path: Path, capsys: Any,
                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEAN_LIVE", raising=False)
    monkeypatch.delenv("HEAN_API_KEY", raising=False)
    paper = config(tmp_path / "p.yaml", fake.rest_url, fake.ws_url, mode="paper")
    live = config(tmp_path / "l.yaml", fake.rest_url, fake.ws_url, mode="live")
    code, _, err = hean(["run", str(paper), "--mode", "live", "--live"], capsys)
    assert code == 2 and "must agree" in err and "run.mode" in err
    code, _, err = hean(["run", str(live), "--mode", "live"], capsys)
    assert code == 2 and "--live" in err and "HEAN_LIVE=1" in err
    monkeypatch.setenv("HEAN_LIVE", "1")
    code, _, err = hean(["run", str(live), "--mode", "live"], capsys)
    assert code == 2 and "HEAN_API_KEY" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(paper.read_text().replace("rate_limit: false", "rate_limit: false\n"
                                             "  testnet: true\n  demo: true"))
    code, _, err = hean(["run", str(bad), "--mode", "paper"], capsys)
    assert code == 2 and "exchange" in err and "only one" in err
    leaked = tmp_path / "leak.yaml"
    leaked.write_text(paper.read_text().replace("rate_limit: false",
                                                "rate_limit: false\n  api_secret: abc"))
    code, _, err = hean(["run", str(leaked), "--mode", "paper"], capsys)
    assert code == 2 and "secret" in err
