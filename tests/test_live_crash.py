"""Crash recovery: ``kill -9`` a live ``hean run`` against the fake Bybit, then restart it.

Invariants (a real process killed with SIGKILL while it trades; the fake keeps running):

* the killed session's journal is intact and reads as cut short; the restart moves it to
  ``sessions/1/`` and says it resumes;
* no order is submitted twice: every client order id exists once on the exchange, and the
  restarted session uses new ids (session 2);
* the orders the killed session left open on the exchange are adopted (reconciliation at
  start), its position is attributed to its strategy from the ledger (nothing unowned), the
  run continues (new decisions, fills) and its stop cancels what is open.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hean_framework.testing.fake_bybit import API_KEY, API_SECRET, FakeBybit, default_script
from hean_framework.testing.fake_bybit.demo import config


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    f = FakeBybit(script=default_script()).start()
    f.warm_up()
    yield f
    f.stop()


def _hean(cfg: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HEAN_API_KEY": API_KEY, "HEAN_API_SECRET": API_SECRET}
    return subprocess.Popen(
        [sys.executable, "-m", "hean_framework.testing.fake_bybit.demo", "run", str(cfg),
         "--mode", "live", "--live", "--out", str(out), *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_kill_9_then_restart_adopts_and_never_duplicates(fake: FakeBybit,
                                                         tmp_path: Path) -> None:
    cfg = config(tmp_path / "live.yaml", fake.rest_url, fake.ws_url, mode="live", every=5,
                 name="crash")
    out = tmp_path / "run"
    first = _hean(cfg, out)
    try:
        deadline = time.monotonic() + 20
        while fake.connections()[1] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        fake.play(500)
        # kill once it holds a position and resting exit orders on the exchange, and has
        # traded for longer than a journal flush (one tick)
        first_order = 0.0
        while time.monotonic() < deadline:
            if fake.exchange.orders and not first_order:
                first_order = time.monotonic()
            pos = fake.exchange.positions.get("BTCUSDT")
            if pos and pos.size and len(fake.exchange.open_orders()) >= 2 and \
                    len(fake.exchange.orders) >= 4 and time.monotonic() - first_order > 0.6:
                break
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    left_open = {o["orderLinkId"] for o in fake.exchange.open_orders()}
    assert left_open, "the killed run left no open order to adopt"
    second = _hean(cfg, out, "--duration", "3")
    _, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr
    assert "resuming" in stderr

    old = out / "sessions" / "1" / "journal.sqlite"
    assert _rows(old, "SELECT status FROM run_status") == [("running",)]  # cut short, intact
    assert _rows(old, "SELECT COUNT(*) FROM decisions")[0][0] >= 1
    links = [o["orderLinkId"] for o in fake.exchange.orders.values()]
    assert len(links) == len(set(links)), "an order was placed twice"
    new = out / "journal.sqlite"
    (rec,) = [json.loads(p) for (p,) in
              _rows(new, "SELECT payload FROM events WHERE kind = 'reconcile'")][:1]
    assert rec["when"] == "start"
    assert rec["adopted_orders"] + rec["closed_orders"] >= len(left_open)
    assert rec["unowned_positions"] == [] and rec["adopted_positions"]
    assert _rows(new, "SELECT COUNT(*) FROM decisions")[0][0] >= 1  # the run continued
    assert any(c.split("-")[1] == "2" for (c,) in _rows(new, "SELECT client_id FROM orders")
               if c.startswith("h"))
    (end,) = [json.loads(p) for (p,) in
              _rows(new, "SELECT payload FROM events WHERE kind = 'run_end'")]
    assert end["open_orders_left"] == [] and not fake.exchange.open_orders()
