"""FundingHarvester in real engine runs of its example YAML (Binance USDⓈ-M BTC, ETH, ADA 5m
candles of 2025-01..03 with their real 8-hour funding, 10,000 USDT, journal on).

Invariants:

* the original's defect fixed, the strategy keeps trading over many settlements: more than two
  carry trades open and close (the original's position counter stopped it after two), and it
  never holds more than ``max_positions`` at once;
* funding accounting: every closed trade's funding equals an independent sum over the funding
  file's settlements inside its holding time (``−signed qty × mark × rate``), and the journal's
  funding events of its symbol over that time sum to the same; a trade closed by its time stop
  was held through exactly ``settlements_to_hold`` settlements and closed ``exit_margin_s``
  (+ at most one bar) after the last;
* no look-ahead: the run cut at a time ``t`` decides everything before ``t`` exactly as the
  full run;
* delta-neutral mode: each entry is one order group of the perpetual and the opposite spot leg
  with the same quantity; both legs are closed at the same time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Journaled = Any  # the conftest's run record (tests/conftest.py)
Rows = Callable[[Path, str], list[tuple[int, float, float]]]

pytestmark = pytest.mark.shared_data

SYMS = {"BTC/USDT:USDT": "BTCUSDT", "ETH/USDT:USDT": "ETHUSDT", "ADA/USDT:USDT": "ADAUSDT"}
H = 3_600_000


@pytest.fixture(scope="module")
def example(run_example: Callable[..., Journaled], shared_data: Path) -> Journaled:
    return run_example()


def test_bug_keeps_trading_over_many_settlements(example: Journaled) -> None:
    trades = example.trades
    assert len(trades) > 2, example.stats
    assert example.stats["entries"] == len(trades) == example.stats["closed"]
    # entries after the second carry trade closed: the original would have stopped for good
    second_close = sorted(t["closed_ts"] for t in trades)[1]
    assert any(t["opened_ts"] > second_close for t in trades)
    cap = example.strategy.config.max_positions
    for t in trades:
        at = t["opened_ts"]
        open_then = [u for u in trades if u["opened_ts"] <= at < u["closed_ts"]]
        assert len(open_then) <= cap


def test_journaled_funding_equals_the_file(example: Journaled, shared_data: Path,
                                          funding_rows: Rows) -> None:
    cfg = example.strategy.config
    longest = 0
    for t in example.trades:
        rows = funding_rows(shared_data, SYMS[t["symbol"]])
        held = [r for r in rows if t["opened_ts"] < r[0] <= t["closed_ts"]]
        signed = t["qty"] if t["side"] == "long" else -t["qty"]
        want = sum(-signed * mark * rate for _, rate, mark in held)
        assert t["funding"] == pytest.approx(want, rel=1e-9, abs=1e-9)
        journaled = sum(e["payload"]["amount"] for e in example.funding_events
                        if e["payload"]["symbol"] == t["symbol"]
                        and t["opened_ts"] < e["ts"] <= t["closed_ts"])
        assert journaled == pytest.approx(want, rel=1e-9, abs=1e-9)
        longest = max(longest, len(held))
        if t["closed_ts"] - t["opened_ts"] >= cfg.settlements_to_hold * 8 * H - 4 * H:
            # closed by the time stop: held through every settlement, closed just after
            assert len(held) == cfg.settlements_to_hold
            after = t["closed_ts"] - held[-1][0]
            assert cfg.exit_margin_s * 1000 - 1_000 <= after <= cfg.exit_margin_s * 1000 + 300_000
    assert longest >= 10, "some position must be held across many settlements"
    total = sum(t["funding"] for t in example.trades)
    assert total == pytest.approx(example.result.per_strategy["funding_harvester"]
                                  .get("funding", total), rel=1e-9, abs=1e-9)


def test_no_look_ahead(run_example: Callable[..., Journaled], example: Journaled) -> None:
    cut = 1_739_000_000_000  # 2025-02-08 07:33 UTC
    short = run_example(end=cut)

    def key(d: dict[str, Any]) -> tuple[Any, ...]:
        return (d["ts"], d["symbol"], d["side"], d["decision"], d["stage"], d["qty"],
                tuple(d["reason_codes"]))

    before = [key(d) for d in example.decisions if d["ts"] < cut]
    assert before, "the cut must leave decisions before it"
    assert [key(d) for d in short.decisions if d["ts"] < cut] == before


def test_delta_neutral_legs_are_one_group(run_example: Callable[..., Journaled],
                                          shared_data: Path) -> None:
    spot = tuple({"kind": "bars", "symbol": f"{b}/USDT", "path": str(
        shared_data / f"ohlcv/binance_spot_{b}USDT_5m_20250101_20250506.csv.gz")}
        for b in ("BTC", "ETH", "ADA"))
    run = run_example({"mode": "delta_neutral", "settlements_to_hold": 45, "carry_margin": 1.0,
                       "symbols": [*SYMS, "BTC/USDT", "ETH/USDT", "ADA/USDT"]},
                      end=1_743_465_600_000, extra_files=spot)
    assert run.stats["entries"] >= 1, run.stats
    assert run.stats["needs_spot_short"] > 0  # negative rates need a short spot leg: refused
    entries = [o for o in run.orders if o["tag"] == "FUNDING_CARRY"]
    assert len(entries) == 2 * run.stats["entries"]
    by_decision = {d["decision_id"]: d for d in run.decisions}
    groups: dict[int, list[dict[str, Any]]] = {}
    for o in entries:
        gid = by_decision[o["decision_id"]]["details"]["group_id"]
        groups.setdefault(gid, []).append(o)
    assert len(groups) == run.stats["entries"]
    for legs in groups.values():
        perp = next(o for o in legs if ":" in o["symbol"])
        spot_leg = next(o for o in legs if ":" not in o["symbol"])
        assert spot_leg["symbol"] == perp["symbol"].split(":")[0]
        assert perp["side"] != spot_leg["side"] and spot_leg["side"] == "buy"
        assert perp["qty"] == pytest.approx(spot_leg["qty"], rel=1e-9)
        assert perp["ts"] == spot_leg["ts"]
    exits = [o for o in run.orders if o["reduce_only"] and o["status"] == "filled"]
    by_ts: dict[int, set[str]] = {}
    for o in exits:
        by_ts.setdefault(o["ts"], set()).add(o["symbol"])
    assert run.stats["exits_sent"] >= 1 and by_ts
    for syms in by_ts.values():  # both legs together
        assert len(syms) == 2 and {s.split(":")[0] for s in syms} == {min(syms, key=len)}
