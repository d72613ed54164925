"""Exit groups on real Binance BTC spot + USD-M perpetual 5m candles (2025-01) and funding.

Invariants:

* a basis group (long spot, short perp) and its exit group (``OrderGroup.exit``) each decide
  once: one ``group_decision`` event plus one decision per leg, linked by ``group_id``; the
  exit's legs carry ``closes`` = the entry group and both positions are flat after it;
* an exit group whose one leg has nothing to close sends nothing (every leg SKIP);
* the exit leg policy: one exit leg left resting past ``after_ms`` is closed by taker
  (``hedge``) or the filled leg is re-opened (``unwind``), with the fills recorded;
* the group's PnL in ``report["group_pnl"]`` equals spot-leg PnL + perp-leg PnL + funding −
  the fees of all four fills, each computed in the test from the candle and funding files and
  the instruments' fee rates (market orders fill at the bar close, no slippage);
* ``hean why`` lists the group decisions.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.groups import LegPolicy, OrderGroup
from hean_framework.journal import Journal
from hean_framework.models import Bar, OrderDecision
from hean_framework.run import RunResult
from hean_framework.testing import isolated_plugins

SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"
QTY = 0.01
SPOT_FILE = "ohlcv/binance_spot_BTCUSDT_5m_20250101_20250506.csv.gz"
PERP_FILE = "ohlcv/binance_usdm_perp_BTCUSDT_5m_20250101_20250331.csv.gz"
FUND_FILE = "funding/binance_usdm_perp_BTCUSDT_funding_8h_20250101_20250306.csv.gz"


class Scripted(Strategy):
    """Calls ``script(self, bar)`` on every perp bar (the spot bar of the same time is
    already in ``ctx.market``)."""

    style = "carry"
    script: Callable[[Scripted, Bar], Any] = staticmethod(lambda s, b: None)

    def on_start(self) -> None:
        self.groups: list[int] = []
        self.n = 0

    def on_bar(self, bar: Bar) -> Any:
        if bar.symbol != PERP:
            return None
        self.n += 1
        return type(self).script(self, bar)

    def on_decision(self, decision: OrderDecision) -> None:
        gid = decision.details.get("group_id")
        if gid and gid not in self.groups:
            self.groups.append(gid)


def run(tmp_path: Path, data: Path, script: Callable[[Scripted, Bar], Any], *,
        end: str = "2025-01-04", venue: dict[str, Any] | None = None
        ) -> tuple[RunResult, Engine]:
    class S(Scripted):
        pass

    S.script = staticmethod(script)  # type: ignore[assignment]

    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("basis", S, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["exit_groups_test"])
    files = [{"kind": "bars", "symbol": SPOT, "path": str(data / SPOT_FILE)},
             {"kind": "bars", "symbol": PERP, "path": str(data / PERP_FILE)},
             {"kind": "funding", "symbol": PERP, "path": str(data / FUND_FILE)}]
    raw = {"run": {"name": "exit_groups"}, "account": {"capital": 10_000},
           "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
           "venue": venue or {}, "data": {"files": files, "end": end},
           "strategies": {"basis": {"symbols": [SPOT, PERP]}}, "report": {"progress": False}}
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=tmp_path, journal=True, progress=False)
    res = eng.run()
    eng.close()
    return res, eng


def events(tmp_path: Path, kind: str) -> list[dict[str, Any]]:
    with Journal.open_readonly(tmp_path / "journal.sqlite") as j:
        rows = j._conn.execute("SELECT ts, payload FROM events WHERE kind = ? ORDER BY rowid",
                               (kind,)).fetchall()
    return [{"ts": ts, **json.loads(p)} for ts, p in rows]


def decisions(tmp_path: Path) -> list[dict[str, Any]]:
    with Journal.open_readonly(tmp_path / "journal.sqlite") as j:
        return j.decisions()


def entry(s: Scripted, bar: Bar) -> OrderGroup:
    return OrderGroup([s.signal(SPOT, "buy", bar.ts, 0.0, size=QTY),
                       s.signal(PERP, "sell", bar.ts, bar.close, size=QTY)])


def exit_(s: Scripted, bar: Bar, reason: str = "CONVERGED") -> OrderGroup:
    return OrderGroup.exit(s.name, [SPOT, PERP], s.ctx.portfolio, closes=s.groups[0],
                           reason=reason, ts=bar.ts)


def read_rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt") as f:
        return list(csv.DictReader(f))


def close_at(rows: list[dict[str, str]], ts: int) -> float:
    """Close of the 5m candle dispatched at ``ts`` (the candle's close time)."""
    for r in rows:
        if int(r["timestamp"]) + 300_000 == ts:
            return float(r["close"])
    raise AssertionError(f"no candle closing at {ts}")


ENTER_AT, EXIT_AT = 20, 400  # perp bars: 01:40 on day 1 .. 09:20 on day 2 (4 stamps)


def basis_script(s: Scripted, bar: Bar) -> Any:
    if s.n == ENTER_AT:
        return entry(s, bar)
    if s.n == EXIT_AT:
        return exit_(s, bar)
    return None


def test_basis_group_exits_as_one_decision_and_pnl_adds_up(tmp_path: Path,
                                                           shared_data: Path) -> None:
    res, eng = run(tmp_path, shared_data, basis_script)
    pf = eng.ctx.portfolio
    assert pf.position_qty("basis", SPOT) == 0.0 and pf.position_qty("basis", PERP) == 0.0
    groups = events(tmp_path, "group_decision")
    assert [(g["kind"], g["decision"]) for g in groups] == [("all_or_none", "CREATE"),
                                                           ("exit", "CREATE")]
    entry_g, exit_g = groups
    assert exit_g["closes"] == entry_g["group_id"] and exit_g["reason"] == "CONVERGED"
    ds = {d["decision_id"]: d for d in decisions(tmp_path)}
    for g in groups:  # one decision per leg, linked by group id
        assert len(g["legs"]) == 2
        for leg in g["legs"]:
            assert ds[leg["decision_id"]]["details"]["group_id"] == g["group_id"]
    exit_legs = [ds[leg["decision_id"]] for leg in exit_g["legs"]]
    assert all(d["stage"] == "exit" and d["reason_codes"] == ["CONVERGED"] for d in exit_legs)
    ends = events(tmp_path, "order_group_end")
    assert [e["status"] for e in ends] == ["filled", "filled"]

    # ---- independent PnL: candle closes, instrument fee rates, the funding file
    spot_rows = read_rows(shared_data / SPOT_FILE)
    perp_rows = read_rows(shared_data / PERP_FILE)
    t_in, t_out = groups[0]["ts"], groups[1]["ts"]
    s_in, s_out = close_at(spot_rows, t_in), close_at(spot_rows, t_out)
    p_in, p_out = close_at(perp_rows, t_in), close_at(perp_rows, t_out)
    inst = eng.ctx.instruments
    spot_fee, perp_fee = inst.get(SPOT).taker_fee, inst.get(PERP).taker_fee
    spot_pnl = (s_out - s_in) * QTY
    perp_pnl = (p_in - p_out) * QTY  # short
    fees = QTY * (s_in + s_out) * spot_fee + QTY * (p_in + p_out) * perp_fee
    stamps = [r for r in read_rows(shared_data / FUND_FILE) if t_in < int(r["timestamp"]) <= t_out]
    assert len(stamps) == 4
    funding = sum(QTY * float(r["mark_price"]) * float(r["funding_rate"]) for r in stamps)
    want = spot_pnl + perp_pnl + funding - fees

    (g,) = res.sections["group_pnl"]
    assert g["group_id"] == entry_g["group_id"] and g["exit_groups"] == [exit_g["group_id"]]
    assert not g["open"] and g["exit_reason"] == "CONVERGED"
    legs = {leg["symbol"]: leg for leg in g["legs"]}
    assert math.isclose(legs[SPOT]["realized"], spot_pnl, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(legs[PERP]["realized"], perp_pnl, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(legs[PERP]["funding"], funding, rel_tol=1e-9)
    assert legs[SPOT]["funding"] == 0.0  # spot never receives funding
    assert math.isclose(g["fees"], fees, rel_tol=1e-9)
    assert math.isclose(g["net_pnl"], want, rel_tol=1e-9, abs_tol=1e-9)
    # the group is the whole account here: equity moved by exactly the group's PnL
    assert math.isclose(pf.equity() - pf.initial_cash, want, rel_tol=1e-9, abs_tol=1e-9)


def test_an_exit_group_with_a_leg_to_nothing_sends_nothing(tmp_path: Path,
                                                          shared_data: Path) -> None:
    def script(s: Scripted, bar: Bar) -> Any:
        if s.n == 5:
            return s.signal(PERP, "sell", bar.ts, bar.close, size=QTY)
        if s.n == 10:  # no spot position: the whole exit is refused
            return OrderGroup([s.signal(SPOT, "sell", bar.ts, 0.0, reduce_only=True),
                               s.signal(PERP, "buy", bar.ts, 0.0, reduce_only=True)],
                              kind="exit", reason="MAX_HOLD")
        return None

    _, eng = run(tmp_path, shared_data, script, end="2025-01-02")
    (g,) = events(tmp_path, "group_decision")
    assert g["kind"] == "exit" and g["decision"] == "SKIP"
    ds = {d["decision_id"]: d for d in decisions(tmp_path)}
    codes = [ds[leg["decision_id"]]["reason_codes"] for leg in g["legs"]]
    assert codes == [["NO_POSITION"], ["GROUP_LEG_BLOCKED"]]
    assert eng.ctx.portfolio.position_qty("basis", PERP) == -QTY  # not closed alone
    assert not events(tmp_path, "order_group")


@pytest.mark.parametrize("action", ["hedge", "unwind"])
def test_exit_leg_policy_when_one_exit_leg_does_not_fill(tmp_path: Path, shared_data: Path,
                                                         action: str) -> None:
    def script(s: Scripted, bar: Bar) -> Any:
        if s.n == 5:
            return entry(s, bar)
        if s.n == 10:  # the spot exit rests far above the market; the perp exit fills
            far = round(s.ctx.market[SPOT].price * 1.5, 2)
            return OrderGroup([s.signal(SPOT, "sell", bar.ts, 0.0, reduce_only=True,
                                        order_type="limit", limit_price=far),
                               s.signal(PERP, "buy", bar.ts, 0.0, reduce_only=True)],
                              kind="exit", policy=LegPolicy(action, 60_000),
                              closes=s.groups[0], reason="CONVERGED")
        return None

    res, eng = run(tmp_path, shared_data, script, end="2025-01-02")
    pf = eng.ctx.portfolio
    ends = events(tmp_path, "order_group_end")
    assert ends[-1]["status"] == ("hedged" if action == "hedge" else "unwound")
    with Journal.open_readonly(tmp_path / "journal.sqlite") as j:
        tags = [o["tag"] for o in j.rows("orders") if o["status"] == "filled"]
    if action == "hedge":  # the spot rest closed by taker: both legs flat
        assert "GROUP_EXIT_HEDGE" in tags
        assert pf.position_qty("basis", SPOT) == 0.0 and pf.position_qty("basis", PERP) == 0.0
        assert not res.sections["group_pnl"][0]["open"]
    else:  # the perp short re-opened: the pair is hedged again
        assert "GROUP_EXIT_UNWIND" in tags
        assert pf.position_qty("basis", SPOT) == QTY
        assert pf.position_qty("basis", PERP) == -QTY
        assert res.sections["group_pnl"][0]["open"]
    # every fill's fee is in the group's fees (four or five fills, none lost)
    g = res.sections["group_pnl"][0]
    assert math.isclose(g["fees"], pf.fees, rel_tol=1e-12)


def test_hean_why_lists_group_decisions(tmp_path: Path, shared_data: Path) -> None:
    from hean_framework.report import write_report
    from hean_framework.why import load_why

    res, _ = run(tmp_path, shared_data, basis_script)
    write_report(res, tmp_path)
    data = load_why(tmp_path)
    groups = data["groups"]
    assert [(g["kind"], g["decision"]) for g in groups] == [("all_or_none", "CREATE"),
                                                           ("exit", "CREATE")]
    assert groups[1]["closes"] == groups[0]["group_id"]
    assert groups[0]["status"] == "filled" and groups[0]["net_pnl"] is not None


def test_funding_goes_to_a_group_leg_by_its_share_of_the_position() -> None:
    """A position partly outside the group: the group's leg gets leg qty / position qty of
    each payment, not the whole of it."""
    from hean_framework.group_ledger import GroupLedger
    from hean_framework.models import Fill, Funding, Order
    from hean_framework.testing import make_context

    ctx = make_context(symbols=[SPOT, PERP], price=95_000.0)
    pf, ledger = ctx.portfolio, GroupLedger(ctx)
    ledger.open_group(7, "s", [1, 2], [SPOT, PERP])
    for oid, did, sym, side, qty in ((11, 1, SPOT, "buy", 0.01), (12, 2, PERP, "sell", 0.01),
                                     (13, 99, PERP, "sell", 0.03)):  # 99: not in the group
        f = Fill(oid, oid, "s", sym, side, qty, 95_000.0, 0.0, False, ctx.now)
        pf.apply_fill(f)
        ledger.on_fill(f, Order(oid, "s", sym, side, qty, decision_id=did))
    paid = pf.apply_funding(Funding(ctx.now, PERP, 0.0001, 95_000.0))
    ledger.on_funding()
    leg = ledger.groups[7].legs[PERP]
    assert math.isclose(leg.funding, paid * 0.25, rel_tol=1e-12)  # 0.01 of the 0.04 short
    assert ledger.groups[7].legs[SPOT].funding == 0.0
