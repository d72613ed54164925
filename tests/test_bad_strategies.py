"""Strategies that misbehave, and runs whose window the data does not fill.

Invariants (real Binance BTC 5m candles and funding bundled under examples/data):

* whatever a strategy returns that is not a usable signal (a str, a dict, a size of NaN, inf or
  ``"0.002"``, a NaN entry price, ``order_type: iceberg`` ...) ends as one recorded ``BLOCK
  INVALID_SIGNAL`` decision naming the field and value, plus a dead letter naming the plugin
  and its distribution -- never a traceback, never a fill;
* an exception in ``on_start`` disables that strategy only; the run goes on;
* a strategy disabled after errors gets no more calls (``on_bar`` stops at the error budget,
  also on the batch fast path), and the report says which and why;
* funding settlements outside their symbol's prices are not applied nor dispatched and are
  counted; the run's window is where its prices are;
* a run with no market event in its window is an error, not an empty green report.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.errors import HeanError
from hean_framework.journal import Journal
from hean_framework.models import Bar, Signal
from hean_framework.run import RunResult
from hean_framework.testing import isolated_plugins

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
BTC = "BTC/USDT:USDT"
BARS = str(DATA / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz")
FUNDING = str(DATA / "binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz")


class Bad(Strategy):
    """Returns ``emit(self, bar)`` on the 50th bar; counts its calls."""

    emit: ClassVar[Any] = None
    raise_on_start: ClassVar[bool] = False
    raise_on_bar: ClassVar[bool] = False

    def on_start(self) -> None:
        self.calls = 0
        if self.raise_on_start:
            raise RuntimeError("cannot start")

    def on_bar(self, bar: Bar) -> Any:
        self.calls += 1
        if self.raise_on_bar:
            raise ValueError("broken strategy")
        return type(self).emit(self, bar) if self.calls == 50 else None

    def stats(self) -> dict[str, Any]:
        return {"calls": self.calls}


def _run(tmp_path: Path, cls: type[Strategy], raw_extra: dict[str, Any] | None = None,
         files: list[dict[str, Any]] | None = None,
         end: str | None = "2025-03-12") -> tuple[Engine, RunResult]:
    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("bad", cls, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["bad_plugin"])
    raw: dict[str, Any] = {
        "run": {"name": "bad"}, "account": {"capital": 10_000},
        "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
        "data": {"files": files or [{"kind": "bars", "symbol": BTC, "path": BARS}],
                 **({"end": end} if end else {})},
        "strategies": {"bad": {}}, "report": {"progress": False}, **(raw_extra or {})}
    eng = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, out_dir=tmp_path,
                 progress=False)
    try:
        res = eng.run()
    finally:
        eng.close()
    return eng, res


def _emitting(fn: Any) -> type[Strategy]:
    class S(Bad):
        emit = staticmethod(fn)
    return S


def _dead_letters(path: Path) -> list[tuple[str, str, str]]:
    with Journal.open_readonly(path / "journal.sqlite") as j:
        return j._conn.execute(
            "SELECT component, plugin, error FROM dead_letters").fetchall()


@pytest.mark.parametrize(("emit", "field"), [
    (lambda s, b: "buy", "output"),
    (lambda s, b: {"side": "buy"}, "output"),
    (lambda s, b: 42, "output"),
    (lambda s, b: s.signal(BTC, "buy", b.ts, b.close, size=math.nan), "size"),
    (lambda s, b: s.signal(BTC, "buy", b.ts, b.close, size=math.inf), "size"),
    (lambda s, b: s.signal(BTC, "buy", b.ts, b.close, size="0.002"), "size"),
    (lambda s, b: s.signal(BTC, "buy", b.ts, math.nan, size=0.01), "entry_price"),
    (lambda s, b: s.signal(BTC, "buy", b.ts, b.close, size=0.01, order_type="iceberg"),
     "order_type"),
    (lambda s, b: s.signal(BTC, "long", b.ts, b.close, size=0.01), "side"),
    (lambda s, b: s.signal(BTC, "buy", b.ts, b.close, stop_loss=-1.0), "stop_loss"),
    (lambda s, b: [s.signal(BTC, "buy", b.ts, b.close, size=0.01), None], "output"),
])
def test_a_malformed_output_is_one_invalid_signal_decision(tmp_path: Path, emit: Any,
                                                           field: str) -> None:
    _, res = _run(tmp_path, _emitting(emit))
    bad = [d for d in res.recent_decisions if "INVALID_SIGNAL" in d["reason_codes"]]
    assert len(bad) == 1 and bad[0]["decision"] == "BLOCK"
    assert bad[0]["details"]["field"] == field and bad[0]["strategy_id"] == "bad"
    assert res.funnel["fills"] == 0 or field == "output"  # a list's good part may trade
    [(component, plugin, _error)] = _dead_letters(tmp_path)
    assert (component, plugin) == ("bad", "bad_plugin")
    assert res.dead_letters == 1


def test_on_start_failure_disables_that_strategy_only(tmp_path: Path) -> None:
    class S(Bad):
        raise_on_start = True

    eng, res = _run(tmp_path, S)
    assert res.events > 1000 and eng.strategies["bad"].calls == 0  # type: ignore[attr-defined]
    assert "on_start raised RuntimeError" in res.per_strategy["bad"]["disabled_why"]


@pytest.mark.parametrize("batched", [False, True])
def test_a_disabled_strategy_is_not_called_again(tmp_path: Path, batched: bool) -> None:
    class S(Bad):
        raise_on_bar = True

    class SB(S):
        def on_bars(self, block: Any, start: int, stop: int) -> Any:
            return super().on_bars(block, start, stop)

    eng, res = _run(tmp_path, SB if batched else S,
                    {"pipeline": {"require_stop_loss": False, "max_component_errors": 5}})
    assert eng.strategies["bad"].calls == 5  # type: ignore[attr-defined]
    assert res.per_strategy["bad"]["disabled_after_errors"] == 5
    assert "broken strategy" in res.per_strategy["bad"]["disabled_why"]
    assert len(_dead_letters(tmp_path)) == 5


def test_funding_outside_the_prices_is_not_applied(tmp_path: Path) -> None:
    """The funding file runs to June 3; the candles end on April 13."""
    class Hold(Bad):
        emit = staticmethod(lambda s, b: s.signal(BTC, "sell", b.ts, b.close, size=0.01))

    files = [{"kind": "bars", "symbol": BTC, "path": BARS},
             {"kind": "funding", "symbol": BTC, "path": FUNDING}]
    _, res = _run(tmp_path, Hold, files=files, end=None)
    last_bar = 1744528800000  # the candles' last close
    assert last_bar <= res.end_ts <= last_bar + 600_000  # at most two bars after it
    with Journal.open_readonly(tmp_path / "journal.sqlite") as j:
        paid = [r[0] for r in j._conn.execute("SELECT ts FROM events WHERE kind='funding'")]
    assert len(paid) > 100 and max(paid) <= res.end_ts and min(paid) >= res.start_ts
    assert res.rejections["funding_outside_prices"] >= 150  # April 13 .. June 3, 8-hourly


def test_a_run_with_no_event_in_its_window_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(HeanError, match="no market event"):
        _run(tmp_path, Bad, {"data": {"files": [{"kind": "bars", "symbol": BTC, "path": BARS}],
                                      "start": "2030-01-01"}})
    # a library run that raised leaves a journal that says so, not one that looks finished
    with Journal.open_readonly(tmp_path / "journal.sqlite") as j:
        assert j.status() == "failed"


def test_a_good_signal_still_trades(tmp_path: Path) -> None:
    _, res = _run(tmp_path, _emitting(
        lambda s, b: Signal("bad", BTC, "buy", b.ts, b.close, size=0.01)))
    assert res.fills == 1 and res.dead_letters == 0


def test_a_stop_that_fills_with_its_entry_leaves_no_orphan_target(tmp_path: Path) -> None:
    """A limit entry and its stop both trade inside one real 5m bar: the target is not sent
    (it used to be, and the venue rejected it: no position to reduce)."""
    class Dip(Bad):
        def on_bar(self, bar: Bar) -> Any:
            if self.ctx.portfolio.position_qty("bad", BTC):
                return None
            px = bar.close
            return self.signal(BTC, "buy", bar.ts, px, size=0.01, order_type="limit",
                               limit_price=round(px * 0.999, 1),
                               stop_loss=round(px * 0.9975, 1),
                               take_profit=round(px * 1.01, 1))

    pm = isolated_plugins(_dip_plugin(Dip), names=["dip"])
    res = Engine(load_setup(None, pm.registry, raw=_raw(), environ={}), pm, journal=False,
                 progress=False).run()
    venue = res.sections["components"]["venue:sim"]
    assert venue["fills"] > 20 and res.funnel["fills"] == venue["fills"]
    assert "reduce_only_no_position" not in venue["rejections"], venue["rejections"]


def _dip_plugin(cls: type[Strategy]) -> Any:
    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("bad", cls, config=ComponentConfig)
    return Plugin()


def _raw() -> dict[str, Any]:
    return {"run": {"name": "dip"}, "account": {"capital": 100_000},
            "small_capital": {"enabled": False}, "pipeline": {"require_stop_loss": False},
            "data": {"files": [{"kind": "bars", "symbol": BTC, "path": BARS}],
                     "end": "2025-03-20"},
            "strategies": {"bad": {}}, "report": {"progress": False}}


def test_backtest_exits_3_when_a_strategy_was_disabled(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The run finishes and writes its report, but the exit status and a warning say which
    strategy was disabled and why (it used to exit 0)."""
    import orjson
    from click.testing import CliRunner

    import hean_framework.session as session
    from hean_framework.cli import make_cli

    class S(Bad):
        raise_on_bar = True

    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("bad", S, config=ComponentConfig)

    monkeypatch.setattr(session, "load_plugins", lambda disabled=(), **kw: isolated_plugins(
        Plugin(), names=["bad_plugin"]))
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(orjson.dumps({
        "run": {"name": "bad"}, "account": {"capital": 10_000},
        "small_capital": {"enabled": False}, "pipeline": {"max_component_errors": 3},
        "data": {"files": [{"kind": "bars", "symbol": BTC, "path": BARS}],
                 "end": "2025-03-08"},
        "strategies": {"bad": {}}, "report": {"progress": False, "html": False}}).decode())
    res = CliRunner().invoke(make_cli(), ["backtest", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 3, res.output
    assert "strategy 'bad' was disabled during the run" in res.output
    assert "broken strategy" in res.output and (tmp_path / "o" / "report.json").is_file()


def test_capital_plan_refuses_a_non_finite_capital() -> None:
    from click.testing import CliRunner

    from hean_framework.risk.capital_plan import capital_plan

    for bad in ("inf", "nan", "-5"):
        res = CliRunner().invoke(capital_plan, ["x.yaml", "--capital", bad])
        assert res.exit_code == 2 and "must be a finite number > 0" in res.output, res.output


_VALUES = [None, 0, 1, -1, 0.5, 2.0, -0.5, math.nan, math.inf, -math.inf, "1", True, [1]]


def _reference_bad(s: Signal) -> bool:
    """The field rules of ``malformed``, written plainly (the test oracle)."""
    def num(x: Any) -> bool:
        return type(x) in (float, int) and math.isfinite(x)

    return not (
        s.side in ("buy", "sell") and isinstance(s.symbol, str) and bool(s.symbol)
        and isinstance(s.strategy_id, str) and bool(s.strategy_id)
        and num(s.entry_price) and s.entry_price >= 0
        and (s.size is None or (num(s.size) and s.size > 0))
        and all(v is None or (num(v) and v > 0)
                for v in (s.stop_loss, s.take_profit, s.limit_price))
        and s.order_type in ("market", "limit")
        and not (s.order_type == "limit" and s.limit_price is None)
        and num(s.size_multiplier) and s.size_multiplier >= 0
        and (s.max_hold_ms is None or (type(s.max_hold_ms) is int and s.max_hold_ms > 0)))


def test_the_fast_signal_check_agrees_with_the_field_rules() -> None:
    """``malformed`` decides in one expression for ordinary signals; on 4,000 generated
    signals (NaN, inf, strings, bools, negatives in every field) it agrees with the plain
    rules, and names a field whenever it refuses."""
    import random

    from hean_framework.pipeline import malformed

    rng = random.Random(5)
    for _ in range(4000):
        kw = {f: rng.choice(_VALUES) for f in ("size", "stop_loss", "take_profit",
                                                "limit_price", "max_hold_ms")}
        s = Signal("s", rng.choice([BTC, "", 3]), rng.choice(["buy", "sell", "long"]), 0,
                   rng.choice(_VALUES + [100.0] * 4),
                   order_type=rng.choice(["market", "limit", "iceberg"]),
                   size_multiplier=rng.choice([1.0, 0.0, -1.0, math.nan, "2"]), **kw)
        bad = malformed(s)
        assert (bad is not None) == _reference_bad(s), s
        assert bad is None or bad[0] in {"side", "symbol", "strategy_id", "entry_price",
                                         "size", "stop_loss", "take_profit", "limit_price",
                                         "order_type", "size_multiplier", "max_hold_ms"}


def test_an_amended_stop_stays_one_cancels_other(tmp_path: Path) -> None:
    """A strategy moves its stop (``ctx.orders.amend``; the simulated venue cancels and
    replaces): the exit plan follows the replacement, so the moved stop is the one the plan
    cancels or resizes with the position (it used to keep the dead order's id and leave the
    moved stop out of one-cancels-other)."""
    seen: list[tuple[int, list[int]]] = []

    class MoveStop(Bad):
        def on_bar(self, bar: Bar) -> Any:
            if self.ctx.portfolio.position_qty("bad", BTC) or getattr(self, "done", False):
                return None
            self.done = True
            return self.signal(BTC, "buy", bar.ts, bar.close, size=0.01,
                               stop_loss=bar.close * 0.95, take_profit=bar.close * 1.003)

        def on_fill(self, fill: Any) -> Any:
            for o in self.ctx.orders.open_orders(BTC):
                if o.tag == "SL_HIT" and not seen:
                    moved = self.ctx.orders.amend(o.order_id, price=o.price * 1.01)
                    assert moved is not None and moved.order_id != o.order_id
                    plan = eng.parts.exits.plans[("bad", BTC)]
                    seen.append((moved.order_id, list(plan.order_ids)))
            return None

    pm = isolated_plugins(_dip_plugin(MoveStop), names=["dip"])
    eng = Engine(load_setup(None, pm.registry, raw=_raw(), environ={}), pm, journal=False,
                 progress=False)
    eng.run()
    [(moved_id, plan_ids)] = seen
    assert moved_id in plan_ids
    assert eng.parts.router.open_orders() == []
