"""A paper session replays to the same decisions: timers, mark prices and arrival order kept.

Invariants (a paper session against the fake Bybit on 127.0.0.1, real BTCUSDT ticks; the
strategy decides on a wall-clock timer only, from the mark price and the number of mark
updates it has seen):

* the session's ``recorded/events.csv`` holds every event in the order the engine got it --
  mark/index updates included, different kinds sharing a millisecond in arrival order -- and
  the clock ticks between events (the market goes quiet at the end: the timer's last
  decisions follow clock ticks alone);
* ``hean backtest recorded/replay.yaml`` (the ``recorded`` feed) gives exactly the session's
  decisions and fills;
* the replay depends on what was recorded: with the mark lines but the first left out, the
  same strategy decides differently (so the equality above is not an accident of a strategy
  that ignores marks).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hean_framework.live.replay import parse
from hean_framework.testing.fake_bybit import FakeBybit, default_script
from hean_framework.testing.fake_bybit.demo import main
from hean_framework.testing.fake_bybit.harness import rows, run_session

DECISIONS = ("SELECT decision_id, strategy_id, symbol, side, ts, decision, stage, qty, price, "
             "reason_codes FROM decisions ORDER BY decision_id")
FILLS = "SELECT order_id, side, qty, price, fee, ts FROM fills ORDER BY fill_id"


@pytest.fixture
def fake() -> Iterator[FakeBybit]:
    f = FakeBybit(script=default_script(), ticker_every=4).start()
    f.warm_up()
    yield f
    f.stop()


def backtest(replay: Path, out: Path, capsys: Any) -> None:
    try:
        main(["backtest", str(replay), "--out", str(out), "--quiet"])
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    capsys.readouterr()


def journal(out: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(out / "journal.sqlite")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_timer_and_mark_driven_paper_session_replays_exactly(fake: FakeBybit, tmp_path: Path,
                                                             capsys: Any) -> None:
    extra = {"strategies": {"timer": {"plugin": "timer_flip", "period_ms": 90}},
             "exchange": {"tick_ms": 40}, "data": {"record_csv": True}}
    out = tmp_path / "paper"
    # the market goes quiet for the last ~0.8 s: the timer decides on clock ticks alone
    run_session(fake, out, mode="paper", seconds=2.6, rate=500, count=700, extra=extra)
    decisions = rows(out, DECISIONS)
    assert len(decisions) >= 10
    assert len({d[3] for d in decisions}) == 2  # both sides: the marks steer it
    fills = rows(out, FILLS)
    assert fills

    stream = out / "recorded" / "events.csv"
    lines = stream.read_text().splitlines()[1:]
    kinds = [ln.split(",", 1)[0] for ln in lines]
    assert {"trade", "book", "mark", "clock"} <= set(kinds)
    recs = [parse(ln) for ln in lines]
    evs = [r for r in recs if not isinstance(r, int)]
    assert decisions[-1][4] > evs[-1].ts  # decided after the last event: clock ticks only
    assert all(b.ts >= a.ts for a, b in itertools.pairwise(evs))  # the engine's order
    # different kinds within one millisecond, in an order the CSV feed would change
    # (it puts l2 before trades): kept as they arrived
    assert any(a.ts == b.ts and a.kind == "trade" and b.kind in ("book", "mark")
               for a, b in itertools.pairwise(evs))

    # the per-kind files of the csv feed's formats hold the same trades (no marks: no kind)
    trades = (out / "recorded" / "trades_BTCUSDT_USDT.csv").read_text().splitlines()
    assert len(trades) - 1 == kinds.count("trade")
    assert not list((out / "recorded").glob("mark*"))

    replay = out / "recorded" / "replay.yaml"
    cfg = yaml.safe_load(replay.read_text())
    assert cfg["data"]["feed"] == "recorded" and cfg["run"]["mode"] == "backtest"
    backtest(replay, tmp_path / "replay", capsys)
    assert journal(tmp_path / "replay", DECISIONS) == decisions
    assert journal(tmp_path / "replay", FILLS) == fills

    # with only the first mark record kept, the same strategy decides otherwise
    first_mark = kinds.index("mark")
    kept = [ln for i, ln in enumerate(lines) if i == first_mark or not ln.startswith("mark,")]
    (out / "recorded" / "nomark.csv").write_text(
        "\n".join([stream.read_text().splitlines()[0], *kept]) + "\n")
    cfg["data"]["path"] = "nomark.csv"
    (out / "recorded" / "nomark.yaml").write_text(yaml.safe_dump(cfg))
    backtest(out / "recorded" / "nomark.yaml", tmp_path / "nomark", capsys)
    other = journal(tmp_path / "nomark", DECISIONS)
    assert len(other) >= 10 and other != decisions
