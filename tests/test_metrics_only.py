"""Optimizer-mode runs (``Engine(metrics_only=True)``, what ``optimize.run_with`` builds).

Invariants (real Binance BTC 5m candles bundled under examples/data, a channel breakout with a
stop and a target, so entries, protective exits and round trips all happen):

* a metrics-only run builds neither the markouts observer nor the transaction-cost analysis
  (the only outputs of both are report sections an optimizer never reads);
* everything else is identical to the same run built normally: decisions, fills, fees, the
  equity curve, closed trades, positions, the funnel, per-strategy numbers, the metrics and
  every other report section -- only ``markouts`` and ``tca`` are missing;
* ``run_with`` is such a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.markouts import Markouts
from hean_framework.metrics import compute_metrics_with_notes
from hean_framework.models import Bar, Signal
from hean_framework.optimize import run_with
from hean_framework.plugins import HeanPluginManager
from hean_framework.run import RunResult
from hean_framework.testing import isolated_plugins

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
BTC = "BTC/USDT:USDT"
#: sections only the report reads, left out of a metrics-only run
REPORT_ONLY = {"markouts", "tca"}


class BreakoutConfig(ComponentConfig):
    lookback: int = Field(24, ge=5, le=60)
    stop_pct: float = Field(0.01, gt=0.0, lt=0.1)


class Breakout(Strategy):
    """Channel breakout both ways with a stop and a 2R target."""

    config: BreakoutConfig

    def on_start(self) -> None:
        self.closes: list[float] = []

    def on_bar(self, bar: Bar) -> Signal | None:
        cfg = self.config
        h = self.closes
        h.append(bar.close)
        if len(h) <= cfg.lookback:
            return None
        del h[:-cfg.lookback - 1]
        if bar.close > max(h[:-1]):
            return self.signal(bar.symbol, "buy", bar.ts, bar.close,
                               stop_loss=bar.close * (1 - cfg.stop_pct),
                               take_profit=bar.close * (1 + 2 * cfg.stop_pct))
        if bar.close < min(h[:-1]):
            return self.signal(bar.symbol, "sell", bar.ts, bar.close,
                               stop_loss=bar.close * (1 + cfg.stop_pct),
                               take_profit=bar.close * (1 - 2 * cfg.stop_pct))
        return None


class _Plugin:
    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("breakout", Breakout, config=BreakoutConfig)


def _pm() -> HeanPluginManager:
    return isolated_plugins(_Plugin(), names=["metrics_only_test"])


RAW: dict[str, Any] = {
    "run": {"name": "metrics_only", "seed": 3}, "account": {"capital": 10_000},
    "small_capital": {"enabled": False},
    "data": {"files": [{"kind": "bars", "symbol": BTC, "path": str(
        DATA / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz")}], "end": "2025-03-20"},
    "strategies": {"breakout": {}},
    "report": {"progress": False},
}


def _same_run(a: RunResult, b: RunResult) -> None:
    for name in ("events", "start_ts", "end_ts", "equity_curve", "closed_trades", "fills",
                 "fees", "funding", "turnover", "final_equity", "final_positions",
                 "per_strategy", "funnel", "rejections", "recent_decisions", "dead_letters"):
        assert getattr(a, name) == getattr(b, name), name


def test_metrics_only_run_skips_report_observers_and_changes_nothing_else() -> None:
    pm = _pm()
    setup = load_setup(None, pm.registry, raw=RAW, environ={})
    full_eng = Engine(setup, pm, journal=False, progress=False)
    lean_eng = Engine(setup, pm, journal=False, progress=False, metrics_only=True)
    full, lean = full_eng.run(), lean_eng.run()
    assert full.fills > 20 and len(full.closed_trades) > 10
    assert full_eng.parts.router.tca is not None and lean_eng.parts.router.tca is None
    watched = {type(getattr(fn, "__self__", None))
               for fns in lean_eng.parts.faults.observers.values() for fn in fns}
    assert Markouts not in watched
    assert Markouts in {type(getattr(fn, "__self__", None))
                        for fns in full_eng.parts.faults.observers.values() for fn in fns}
    _same_run(full, lean)
    assert full.config == lean.config
    assert compute_metrics_with_notes(full) == compute_metrics_with_notes(lean)
    assert set(full.sections) >= REPORT_ONLY
    assert not REPORT_ONLY & set(lean.sections)
    assert {k: v for k, v in full.sections.items() if k not in REPORT_ONLY} == lean.sections


def test_run_with_is_a_metrics_only_run() -> None:
    pm = _pm()
    setup = load_setup(None, pm.registry, raw=RAW, environ={})
    events = list(Engine(setup, pm, journal=False, progress=False).build().feed.blocks())
    cand = {"lookback": 30, "stop_pct": 0.02}
    got = run_with(setup, pm, "breakout", cand, events)
    raw = {**RAW, "strategies": {"breakout": cand}}
    full = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, journal=False,
                  progress=False).run()
    assert got.fills > 0
    _same_run(full, got)
    assert "tca" in full.sections and not REPORT_ONLY & set(got.sections)
