"""Order groups on real data through the simulated venue (BTC and ETH 5m candles, Binance rules).

Invariants:

* every leg passes the pipeline or none is sent: one stopped leg blocks the others
  (``GROUP_LEG_BLOCKED``) and no order exists;
* all legs share one ``details.group_id``, journaled with an ``order_group`` event;
* a leg that fills alone is unwound by the executor after ``policy.after_ms`` (position flat
  again, ``order_group_end`` status ``unwound``);
* a quote replaces the previous quote of the same strategy and symbol: its orders are
  cancelled (``requote``), none is left behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.groups import LegPolicy, OrderGroup
from hean_framework.journal import Journal
from hean_framework.models import Bar
from hean_framework.run import RunResult
from hean_framework.testing import isolated_plugins

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class Pairs(Strategy):
    """Calls ``make(self, bar)`` on every BTC bar; returns what it returns."""

    make: Callable[[Strategy, Bar], Any] = staticmethod(lambda s, b: None)

    def on_bar(self, bar: Bar) -> Any:
        return type(self).make(self, bar) if bar.symbol == BTC else None


def _run(tmp_path: Path, make: Callable[[Strategy, Bar], Any]) -> tuple[RunResult, Path]:
    class P(Pairs):
        pass

    P.make = staticmethod(make)  # type: ignore[assignment]

    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("pairs", P, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["pairs_test"])
    files = [{"kind": "bars", "symbol": s, "path": str(DATA / f"binance_usdm_perp_{n}_5m_"
                                                     "20250306_20250413.csv.gz")}
             for s, n in ((BTC, "BTCUSDT"), (ETH, "ETHUSDT"))]
    raw = {"run": {"name": "groups"}, "account": {"capital": 50_000},
           "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
           "data": {"files": files, "end": "2025-03-08"}, "strategies": {"pairs": {}},
           "report": {"progress": False}}
    setup = load_setup(None, pm.registry, raw=raw, environ={})
    eng = Engine(setup, pm, out_dir=tmp_path, journal=True, progress=False)
    res = eng.run()
    eng.close()
    return res, tmp_path / "journal.sqlite"


def _events(path: Path, kind: str) -> list[dict[str, Any]]:
    with Journal.open_readonly(path) as j:
        rows = j._conn.execute("SELECT payload FROM events WHERE kind = ?", (kind,)).fetchall()
    return [json.loads(r[0]) for r in rows]


def _decisions(res: RunResult) -> list[dict[str, Any]]:
    return [d for d in res.recent_decisions if "group_id" in d["details"]]


def once(at: int) -> Callable[[Callable[[Strategy, Bar], Any]], Callable[[Strategy, Bar], Any]]:
    def deco(fn: Callable[[Strategy, Bar], Any]) -> Callable[[Strategy, Bar], Any]:
        seen = [0]

        def wrapped(s: Strategy, bar: Bar) -> Any:
            seen[0] += 1
            return fn(s, bar) if seen[0] == at else None
        return wrapped
    return deco


def test_all_legs_pass_and_share_one_group_id(tmp_path: Path) -> None:
    @once(30)
    def make(s: Strategy, bar: Bar) -> Any:
        eth = s.ctx.market[ETH].price
        return OrderGroup([s.signal(BTC, "buy", bar.ts, bar.close, size=0.01),
                           s.signal(ETH, "sell", bar.ts, eth, size=0.2)])

    res, journal = _run(tmp_path, make)
    ds = _decisions(res)
    assert [d["decision"] for d in ds] == ["CREATE", "CREATE"]
    assert len({d["details"]["group_id"] for d in ds}) == 1
    [ev] = _events(journal, "order_group")
    assert [leg["decision_id"] for leg in ev["legs"]] == [d["decision_id"] for d in ds]
    assert _events(journal, "order_group_end")[0]["status"] == "filled"
    assert res.fills >= 2


def test_one_blocked_leg_sends_none(tmp_path: Path) -> None:
    @once(30)
    def make(s: Strategy, bar: Bar) -> Any:
        eth = s.ctx.market[ETH].price
        # 0.00001 BTC rounds below Binance's 0.001 BTC minimum: that leg is stopped
        return OrderGroup([s.signal(BTC, "buy", bar.ts, bar.close, size=0.00001),
                           s.signal(ETH, "sell", bar.ts, eth, size=0.2)])

    res, journal = _run(tmp_path, make)
    codes = [d["reason_codes"][0] for d in _decisions(res)]
    assert codes == ["POSITION_SIZER_ZERO", "GROUP_LEG_BLOCKED"]
    assert res.fills == 0 and res.funnel["orders"] == 0
    assert _events(journal, "order_group") == []


def test_a_leg_filled_alone_is_unwound_after_the_policy_delay(tmp_path: Path) -> None:
    @once(30)
    def make(s: Strategy, bar: Bar) -> Any:
        eth = s.ctx.market[ETH].price
        far = s.signal(ETH, "buy", bar.ts, eth, size=0.2, order_type="limit",
                       limit_price=round(eth * 0.5, 2))  # never fills
        return OrderGroup([s.signal(BTC, "buy", bar.ts, bar.close, size=0.01), far],
                          policy=LegPolicy("unwind", after_ms=600_000))

    res, journal = _run(tmp_path, make)
    [end] = _events(journal, "order_group_end")
    assert end["status"] == "unwound" and end["filled"][1] == 0.0
    assert all(abs(p.qty) < 1e-12 for p in res.final_positions)
    assert res.fills == 2  # the entry and its unwind


def test_a_quote_replaces_the_previous_quote(tmp_path: Path) -> None:
    def make(s: Strategy, bar: Bar) -> Any:
        n = s.__dict__.setdefault("n", 0) + 1
        s.__dict__["n"] = n
        if n not in (30, 31):
            return None
        px = bar.close
        return OrderGroup([s.signal(BTC, "buy", bar.ts, px, size=0.01, order_type="limit",
                                    limit_price=round(px * 0.9, 1)),
                           s.signal(BTC, "sell", bar.ts, px, size=0.01, order_type="limit",
                                    limit_price=round(px * 1.1, 1))], kind="quote")

    res, journal = _run(tmp_path, make)
    ends = _events(journal, "order_group_end")
    assert ends and ends[0]["status"] == "replaced"
    with Journal.open_readonly(journal) as j:
        reasons = [r[0] for r in j._conn.execute("SELECT reason FROM orders")]
    assert reasons.count("requote") == 2
    assert len(_decisions(res)) == 4
