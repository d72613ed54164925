"""``twap`` in real engine runs on the 2024-08-08 Binance USDT-M BTCUSDT capture
(``../shared/data``: trades, best bid/offer and the complete L2 book).

Invariants:

* a pinned parent (buy 0.5 BTC at the first trade after 23:54:30, 10 slices over 240 s,
  seed 7) is sent as the schedule of the documented formula -- slice ``i`` at start +
  offset ``i``, ``u`` drawn from ``Random("hean-twap:<seed>:<decision id>")`` -- and every
  slice fills; every slice order carries the parent's decision id and the journal links each
  ``twap_slice`` to the parent;
* the transaction-cost report shows the parent once, executor ``twap``, with all the slices'
  fills: the same filled quantity, average price and shortfall as the twap section;
* the same seed gives the same slice times in another run; another seed other times;
* an adverse move beyond ``abort_adverse_bps`` aborts at the first slice whose mid (from
  the best bid/offer file) is that far against the arrival price, with the reason and numbers;
* the real risk governor (tight thresholds) reaching HARD_STOP aborts the next slice;
* below the threshold the parent is one market order;
* with venue latency the slices fill after they are sent and the parent completes on the last
  slice's fill.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

T0 = 1_723_161_270_000


def expected_offsets(seed: int, decision_id: int, n: int, duration_ms: int,
                     jitter: float = 0.2, min_ms: int = 1_000) -> list[int]:
    """The documented schedule, written out here."""
    rng = random.Random(f"hean-twap:{seed}:{decision_id}")
    t, out = 0.0, [0]
    for _ in range(n - 1):
        t += max(min_ms, duration_ms / n * (1.0 + rng.uniform(-jitter, jitter)))
        out.append(round(t))
    return out


def first_trade_at_or_after(shared_data: Path, ts: int) -> int:
    path = shared_data / "trades" / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz"
    with gzip.open(path, "rt") as f:
        return next(int(r["timestamp"]) for r in csv.DictReader(f) if int(r["timestamp"]) >= ts)


def bbo_mids(shared_data: Path) -> list[tuple[int, float]]:
    path = shared_data / "orderbook" / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz"
    with gzip.open(path, "rt") as f:
        return [(int(r["timestamp"]), (float(r["bid_price"]) + float(r["ask_price"])) / 2)
                for r in csv.DictReader(f)]


def mid_before(mids: list[tuple[int, float]], ts: int) -> float:
    """The mid of the last best bid/offer strictly before ``ts`` (a timer due at ``ts`` fires
    before the events stamped ``ts``)."""
    return [m for t, m in mids if t < ts][-1]


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory, run_twap: Callable[..., Any],
           btc_files: Callable[..., Any]) -> Any:
    return run_twap(tmp_path_factory.mktemp("pinned"), btc_files(l2=True),
                    twap={"slices": 10, "duration_s": 240}, parents=[(T0, "buy", 0.5)])


def test_pinned_parent_follows_the_schedule_and_every_slice_fills(pinned: Any,
                                                                  shared_data: Path) -> None:
    [parent] = pinned.events["twap_parent"]
    did = parent["decision_id"]
    start = first_trade_at_or_after(shared_data, T0)
    assert parent["ts"] == start and parent["qty"] == 0.5
    assert parent["qtys"] == [0.05] * 10 and parent["merge"] is None
    offsets = expected_offsets(7, did, 10, 240_000)
    assert parent["offsets_ms"] == offsets
    assert len(set(b - a for a, b in itertools.pairwise(offsets))) > 1  # jittered
    slices = pinned.slices(did)
    assert [s["index"] for s in slices] == list(range(10))
    assert [s["ts"] for s in slices] == [start + o for o in offsets]
    assert [s["planned_ts"] for s in slices] == [start + o for o in offsets]
    orders = {o["order_id"]: o for o in pinned.orders}
    for s in slices:
        o = orders[s["order_id"]]
        assert o["decision_id"] == did and o["ts"] == s["ts"] and o["qty"] == 0.05
        assert o["status"] == "filled" and o["order_type"] == "market"
    [row] = pinned.twap["parents"]
    assert row["status"] == "complete" and row["slices_filled"] == 10
    assert row["slices_sent"] == 10 and row["slices_aborted"] == 0
    assert row["filled_qty"] == pytest.approx(0.5, abs=1e-12)
    [d] = [d for d in pinned.decisions if d["decision_id"] == did]
    assert d["decision"] == "CREATE" and d["stage"] == "executor:twap"
    assert d["details"]["twap"]["offsets_ms"] == offsets


def test_tca_shows_one_parent_with_the_slices_fills(pinned: Any) -> None:
    [row] = pinned.twap["parents"]
    did = row["decision_id"]
    slice_orders = {s["order_id"] for s in pinned.slices(did)}
    fills = [f for f in pinned.fills if f["order_id"] in slice_orders]
    assert len(fills) >= 10  # a slice walking several L2 levels fills more than once
    qty = sum(f["qty"] for f in fills)
    vwap = sum(f["qty"] * f["price"] for f in fills) / qty
    tca = pinned.tca
    assert tca["by_executor"]["twap"]["parents"] == 1
    assert tca["by_executor"]["twap"]["fills"] == len(fills)
    [p] = [p for p in tca["parents"] if p["executor"] == "twap"]
    assert p["decision_id"] == did and p["fills"] == len(fills)
    assert p["filled_qty"] == pytest.approx(0.5, abs=1e-9)
    assert p["avg_fill_price"] == pytest.approx(vwap, rel=1e-12)
    assert row["vwap"] == pytest.approx(vwap, rel=1e-9)
    assert p["arrival_mid"] == row["arrival_price"]
    assert p["is_bps"] == pytest.approx(row["is_total_bps"], abs=1e-5)
    fee_bps = sum(f["fee"] for f in fills) / (qty * row["arrival_price"]) * 1e4
    assert row["is_bps"] == pytest.approx((vwap - row["arrival_price"])
                                          / row["arrival_price"] * 1e4, abs=1e-5)
    assert row["fees_bps"] == pytest.approx(fee_bps, abs=1e-5)


def test_participation_is_our_volume_over_the_market_trades(pinned: Any,
                                                            shared_data: Path) -> None:
    [row] = pinned.twap["parents"]
    path = shared_data / "trades" / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz"
    with gzip.open(path, "rt") as f:
        rows = [(int(r["timestamp"]), float(r["size"])) for r in csv.DictReader(f)]
    # after the trade that triggered the parent, until the last slice's timer (which fires
    # before the trades stamped with its time)
    first = next(i for i, (t, _) in enumerate(rows) if t >= T0)
    vol = sum(q for t, q in rows[first + 1:] if t < row["end_ts"])
    assert row["volume_source"] == "trades"
    assert row["market_volume"] == pytest.approx(vol, abs=1e-9)
    assert row["participation"] == pytest.approx(0.5 / vol, rel=1e-9)


def test_same_seed_same_schedule_other_seed_another(tmp_path: Path,
                                                    run_twap: Callable[..., Any],
                                                    btc_files: Callable[..., Any]) -> None:
    def times(seed: int, name: str) -> list[int]:
        r = run_twap(tmp_path / name, btc_files(), twap={"slices": 8, "duration_s": 120},
                     parents=[(T0, "sell", 0.2)], seed=seed)
        return [s["ts"] for s in r.events["twap_slice"]]

    a, b, c = times(7, "a"), times(7, "b"), times(8, "c")
    assert len(a) == 8 and a == b
    assert c != a and c[0] == a[0] and len(c) == 8


def test_minimum_merge_on_a_small_account(tmp_path: Path, run_twap: Callable[..., Any],
                                          btc_files: Callable[..., Any]) -> None:
    """1,000 USDT account, a 0.004 BTC parent (~247 USDT) above a 100 USDT threshold: ten
    slices would be 0.0004 BTC, below Binance's 0.001 BTC minimum -> 4 slices of 0.001."""
    r = run_twap(tmp_path, btc_files(), twap={"threshold_notional": 100, "slices": 10,
                                              "duration_s": 60},
                 parents=[(T0, "buy", 0.004)], capital=1_000.0)
    [merge] = r.events["twap_merge"]
    assert (merge["planned"], merge["slices"], merge["min_qty"]) == (10, 4, 0.001)
    assert merge["reason"] == "slice_below_exchange_minimum"
    [row] = r.twap["parents"]
    assert row["merge"]["slices"] == 4 and row["slices_planned"] == 4
    assert row["slices_filled"] == 4 and row["status"] == "complete"
    slices = r.slices(row["decision_id"])
    assert [s["qty"] for s in slices] == [0.001] * 4
    orders = {o["order_id"]: o for o in r.orders}
    for s in slices:
        o = orders[s["order_id"]]
        assert o["qty"] >= 0.001 and o["qty"] * o["avg_price"] >= 5.0  # min qty, min notional
    [d] = [d for d in r.decisions if d["decision_id"] == row["decision_id"]]
    assert d["details"]["twap"]["merge"]["slices"] == 4


def test_adverse_move_aborts_the_remaining_slices(tmp_path: Path, shared_data: Path,
                                                  run_twap: Callable[..., Any],
                                                  btc_files: Callable[..., Any]) -> None:
    """Sell 0.5 BTC from 23:54:30 while the price falls ~36 bps: abort beyond 15 bps."""
    r = run_twap(tmp_path, btc_files(), twap={"slices": 10, "duration_s": 240,
                                              "abort_adverse_bps": 15},
                 parents=[(T0, "sell", 0.5)])
    [parent] = r.events["twap_parent"]
    [abort] = r.events["twap_abort"]
    start, arrival = parent["ts"], parent["arrival_price"]
    mids = bbo_mids(shared_data)
    due = [start + o for o in parent["offsets_ms"]]
    adverse = [(arrival - mid_before(mids, t)) / arrival * 1e4 for t in due]
    k = next(i for i in range(1, 10) if adverse[i] > 15.0)
    assert 1 < k < 10  # some slices went out, some did not
    assert abort["reason"] == "adverse_move" and abort["ts"] == due[k]
    assert abort["adverse_bps"] == pytest.approx(adverse[k], abs=1e-6)
    assert abort["slices_left"] == 10 - k and abort["qty_left"] == pytest.approx(0.05 * (10 - k))
    assert [s["index"] for s in r.slices(parent["decision_id"])] == list(range(k))
    [row] = r.twap["parents"]
    assert row["status"] == "aborted" and row["slices_aborted"] == 10 - k
    assert row["slices_sent"] == k and row["filled_qty"] == pytest.approx(0.05 * k)
    assert r.twap["totals"]["aborts"] == {"adverse_move": 1}


def test_governor_hard_stop_aborts_the_remaining_slices(tmp_path: Path,
                                                        run_twap: Callable[..., Any],
                                                        btc_files: Callable[..., Any]) -> None:
    """Buy ~1 BTC on a 20,000 USDT account while the price falls; the kernel's governor with
    tight thresholds (HARD_STOP at 0.5 % drawdown) stops trading during the parent."""
    gov = {"soft_brake_pct": 0.002, "quarantine_pct": 0.003, "hard_stop_pct": 0.005,
           "recover_pct": 0.001}
    r = run_twap(tmp_path, btc_files(), twap={"slices": 10, "duration_s": 240,
                                              "abort_adverse_bps": None},
                 parents=[(T0, "buy", 1.0)], capital=20_000.0,
                 raw={"gates": {"governor": gov}, "report": {"equity_interval_ms": 1_000}})
    [parent] = r.events["twap_parent"]
    stop = next(e for e in r.events["risk_state"] if e["state"] == "HARD_STOP")
    due = [parent["ts"] + o for o in parent["offsets_ms"]]
    k = next(i for i, t in enumerate(due) if t > stop["ts"])
    [abort] = r.events["twap_abort"]
    assert abort["reason"] == "stop_trading" and abort["risk_state"] == "HARD_STOP"
    assert abort["ts"] == due[k] and abort["slices_left"] == 10 - k >= 1
    assert len(r.slices(parent["decision_id"])) == k
    [row] = r.twap["parents"]
    assert row["status"] == "aborted" and row["abort"]["reason"] == "stop_trading"


def test_below_the_threshold_one_market_order(tmp_path: Path, run_twap: Callable[..., Any],
                                              btc_files: Callable[..., Any]) -> None:
    r = run_twap(tmp_path, btc_files(), twap={"threshold_notional": 500},
                 parents=[(T0, "buy", 0.005)])  # ~309 USDT
    [d] = [d for d in r.decisions if d["stage"] == "executor:twap"]
    assert d["details"]["twap"]["sliced"] is False
    assert d["details"]["twap"]["why"] == "below_threshold"
    assert [o["qty"] for o in r.orders if o["decision_id"] == d["decision_id"]] == [0.005]
    assert "twap_parent" not in r.events and r.twap["totals"]["direct"] == 1


def test_with_venue_latency_slices_complete_when_their_fills_arrive(
        tmp_path: Path, run_twap: Callable[..., Any], btc_files: Callable[..., Any]) -> None:
    """250 ms of simulated latency: each slice is still open when sent, fills later; the
    parent completes on the last slice's fill, not when it is sent."""
    r = run_twap(tmp_path, btc_files(), twap={"slices": 5, "duration_s": 60},
                 parents=[(T0, "buy", 0.2)],
                 raw={"venue": {"name": "sim", "exchange": "binance", "latency_ms": 250}})
    [row] = r.twap["parents"]
    slices = r.slices(row["decision_id"])
    assert len(slices) == 5 and all(s["status"] != "filled" for s in slices)  # not yet
    fills = {f["order_id"]: f for f in r.fills}
    for s in slices:
        assert fills[s["order_id"]]["ts"] >= s["ts"] + 250
    assert row["status"] == "complete" and row["slices_filled"] == 5
    assert row["end_ts"] == max(fills[s["order_id"]]["ts"] for s in slices)
