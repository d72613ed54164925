"""A component that raises is isolated, named and journaled; fill handlers are retried alone."""

from __future__ import annotations

import sys
from pathlib import Path

from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.journal import Journal
from hean_framework.testing import isolated_plugins

ROOT = Path(__file__).resolve().parents[1]
BTC_5M = ROOT / "examples" / "data" / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"
sys.path.insert(0, str(ROOT / "examples" / "plugins" / "hean-ema-cross"))

from hean_ema_cross import EmaCross  # noqa: E402

from hean_framework import hookimpl  # noqa: E402
from hean_framework.components import Executor, Gate, Strategy  # noqa: E402


class FlakyFillStrategy(EmaCross):
    """Raises on the first two calls of on_fill, then works."""

    def on_start(self) -> None:
        super().on_start()
        self.calls = 0
        self.ok = 0

    def on_fill(self, fill):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls <= 2:
            raise RuntimeError("boom in on_fill")
        self.ok += 1


class ExplodingGate(Gate):
    """Always raises: the pipeline must fail closed (BLOCK COMPONENT_ERROR)."""

    def vote(self, signal, decision):  # type: ignore[no-untyped-def]
        raise ValueError("gate bug")


class OffGridExecutor(Executor):
    """Sends a quantity off the lot grid: the venue rejects every order (invalid_qty)."""

    def execute(self, signal, decision):  # type: ignore[no-untyped-def]
        self.ctx.orders.submit(signal, decision, decision.qty + 0.0003, executor=self)
        return None


class ErrorListener(Gate):
    """Records ``on_error`` calls."""

    def on_start(self) -> None:
        self.seen: list[tuple[int, str, str, str]] = []

    def on_error(self, ts: int, source: str, kind: str, message: str) -> None:
        self.seen.append((ts, source, kind, message))


class RaisingErrorListener(ErrorListener):
    """Records ``on_error`` calls, then raises in it."""

    def on_error(self, ts: int, source: str, kind: str, message: str) -> None:
        super().on_error(ts, source, kind, message)
        raise RuntimeError("bug in on_error")


class RaisingDecisionStrategy(Strategy):
    """Buys once with a one-hour time stop and raises in every callback it overrides."""

    def on_start(self) -> None:
        self.decisions: list[str] = []
        self.fills = 0
        self.entered = False

    def on_bar(self, bar):  # type: ignore[no-untyped-def]
        if self.entered:
            return None
        self.entered = True
        return self.signal(bar.symbol, "buy", bar.ts, bar.close, size=0.01,
                           max_hold_ms=3_600_000)

    def on_decision(self, decision):  # type: ignore[no-untyped-def]
        self.decisions.append(decision.decision)
        raise RuntimeError("bug in on_decision")

    def on_fill(self, fill):  # type: ignore[no-untyped-def]
        self.fills += 1
        raise RuntimeError("bug in on_fill")


class Plugin:
    @hookimpl
    def hean_register_strategies(self, register):  # type: ignore[no-untyped-def]
        from hean_ema_cross import EmaCrossConfig

        register("flaky", FlakyFillStrategy, config=EmaCrossConfig)
        register("raising_decision", RaisingDecisionStrategy)

    @hookimpl
    def hean_register_gates(self, register):  # type: ignore[no-untyped-def]
        register("exploding", ExplodingGate)
        register("listener", ErrorListener)
        register("listener_raising", RaisingErrorListener)

    @hookimpl
    def hean_register_executors(self, register):  # type: ignore[no-untyped-def]
        register("offgrid", OffGridExecutor)


def _run(tmp: Path, gates: dict, **more: dict) -> tuple[Engine, object]:
    pm = isolated_plugins(Plugin(), names=["test_dlq"])
    raw = {"strategies": {"flaky": {"qty": 0.01}}, **more, "account": {"capital": 10_000},
           "data": {"files": [{"kind": "bars", "symbol": "BTC/USDT:USDT", "path": str(BTC_5M)}]},
           "gates": gates,
           "pipeline": {"require_stop_loss": False, **more.get("pipeline", {})},
           "report": {"progress": False}}
    eng = Engine(load_setup(None, pm.registry, raw=raw), pm, out_dir=tmp, progress=False)
    res = eng.run()
    eng.close()
    return eng, res


def test_failed_fill_handler_is_retried_for_that_handler_only(tmp_path: Path) -> None:
    eng, res = _run(tmp_path, {})
    strat = eng.strategies["flaky"]
    # first call fails, its retry fails again, the second retry succeeds: every fill reached
    # the strategy exactly once successfully, and only the failed handler was re-called
    assert strat.ok == res.fills
    assert strat.calls == res.fills + 2
    assert eng.parts.faults.retried_fills == 1
    j = Journal.open_readonly(tmp_path / "journal.sqlite")
    dls = j.dead_letters()
    assert len(dls) == 2 and "boom in on_fill" in dls[0]["error"]
    assert dls[0]["component"] == "flaky" and dls[0]["plugin"] == "test_dlq"
    assert len(j.events("dead_letter_retried")) == 1


def test_raising_gate_fails_closed(tmp_path: Path) -> None:
    _, res = _run(tmp_path, {"exploding": {}})
    f = res.funnel
    assert f["passed_gates"] == 0 and f["orders"] == 0
    assert f["decisions"]["BLOCK"] >= 1
    gate = next(s for s in f["stages"] if s["stage"] == "gate")
    assert gate["reasons"] == {"COMPONENT_ERROR": f["decisions"]["BLOCK"]}
    assert res.dead_letters == f["decisions"]["BLOCK"]


def _gate(eng: Engine, name: str):  # type: ignore[no-untyped-def]
    return next(g for g in eng.components["gate"] if g.name == name)


def test_component_errors_reach_the_governor_error_rate(tmp_path: Path) -> None:
    """Dead letters are ``on_error`` calls; above the error rate the governor soft-brakes."""
    eng, res = _run(tmp_path, {"exploding": {}, "listener": {},
                               "governor": {"error_limit": 3, "error_window_minutes": 1440}})
    seen = _gate(eng, "listener").seen
    assert len(seen) == res.dead_letters > 3
    assert {(src, kind) for _, src, kind, _ in seen} == {("exploding", "handler")}
    assert seen[0][3] == "ValueError: gate bug"
    gov = _gate(eng, "governor")
    first = gov.transitions[0]
    assert first["state"] == "SOFT_BRAKE" and first["trigger_type"] == "ERROR_RATE"
    assert first["ts"] == seen[3][0]  # the 4th error within the window
    with Journal.open_readonly(tmp_path / "journal.sqlite") as j:
        ev = [e for e in j.events("risk_state") if e["payload"].get("trigger_type")]
    assert ev[0]["payload"]["trigger_type"] == "ERROR_RATE"


def test_order_rejections_reach_on_error(tmp_path: Path) -> None:
    eng, res = _run(tmp_path, {"listener": {}, "governor": {"error_limit": 2,
                                                            "error_window_minutes": 1440}},
                    executors={"offgrid": {}})
    assert res.fills == 0 and res.funnel["orders"] > 2
    seen = _gate(eng, "listener").seen
    assert len(seen) == res.funnel["orders"]
    assert all(k == "order_rejected" and m.startswith("invalid_qty: ")
               and s == "BTC/USDT:USDT" for _, s, k, m in seen)
    reason = _gate(eng, "governor").transitions[0]["reason"]
    assert "order_rejected" in reason and "invalid_qty" in reason


def test_an_error_inside_on_error_is_a_dead_letter_not_a_loop(tmp_path: Path) -> None:
    eng, res = _run(tmp_path, {"exploding": {}, "listener_raising": {}})
    blocks = res.funnel["decisions"]["BLOCK"]
    assert blocks > 0
    assert len(_gate(eng, "listener_raising").seen) == blocks  # told once per gate error
    assert res.dead_letters == 2 * blocks  # the gate's error and the listener's, no more


def test_a_disabled_strategy_gets_no_more_callbacks(tmp_path: Path) -> None:
    """Disabled after its first error, a strategy hears nothing of the exit the engine still
    makes for its position (the time stop's decision and fill)."""
    eng, res = _run(tmp_path, {}, strategies={"raising_decision": {}},
                    pipeline={"max_component_errors": 1})
    strat = eng.strategies["raising_decision"]
    assert res.fills == 2  # the entry and the time stop's exit
    with Journal.open_readonly(tmp_path / "journal.sqlite") as j:
        assert [(d["side"], d["decision"]) for d in j.decisions()] == [("buy", "CREATE"),
                                                                        ("sell", "CREATE")]
        dls = j.dead_letters()
        dropped = j.events("dead_letter_dropped")
    # the entry's on_fill raised first and disabled it: its retry is dropped, not called, and
    # neither the entry's on_decision nor anything of the exit reaches the strategy
    assert [x["error"] for x in dls] == ["RuntimeError: bug in on_fill"]
    assert strat.fills == 1 and strat.decisions == []
    assert [e["payload"]["reason"] for e in dropped] == ["strategy disabled"]
    assert res.dead_letters == 1
