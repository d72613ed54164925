"""The loop pushed instead of pulled, timers on the clock, and ``run.mode``.

Invariants (real Binance BTC/ETH 5m candles and funding bundled under examples/data):

* recorded events pushed one by one (``Engine.start/push/finish``) and pushed from an async
  source (``Engine.run_async`` on anyio) give a journal with the same digest as the pull path
  (``Engine.run`` over the feed's column blocks) -- exits, time stops and funding included;
* ``Engine.advance`` and the async ticker fire due timers on the clock, with no market event;
* ``run.mode: paper``/``live`` refuse to start with a recorded-data feed or (live) a simulated
  venue, naming what to change.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from hean_framework import hookimpl
from hean_framework.components import ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.errors import HeanError
from hean_framework.journal import Journal
from hean_framework.models import Bar, Signal
from hean_framework.plugins import HeanPluginManager
from hean_framework.testing import isolated_plugins, sample_bars

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class Breakout(Strategy):
    """Buys a 24-bar high / sells a 24-bar low with stop, target and a 6 h time stop."""

    def on_start(self) -> None:
        self.closes: dict[str, list[float]] = {}

    def on_bar(self, bar: Bar) -> Signal | None:
        h = self.closes.setdefault(bar.symbol, [])
        h.append(bar.close)
        if len(h) <= 24:
            return None
        del h[:-25]
        hi, lo = max(h[:-1]), min(h[:-1])
        if bar.close > hi:
            return self.signal(bar.symbol, "buy", bar.ts, bar.close, stop_loss=bar.close * 0.99,
                               take_profit=bar.close * 1.02, max_hold_ms=6 * 3_600_000)
        if bar.close < lo:
            return self.signal(bar.symbol, "sell", bar.ts, bar.close,
                               stop_loss=bar.close * 1.01, take_profit=bar.close * 0.98,
                               max_hold_ms=6 * 3_600_000)
        return None


class _Plugin:
    @hookimpl
    def hean_register_strategies(self, register: Any) -> None:
        register("breakout", Breakout, config=ComponentConfig)


def _plugins() -> HeanPluginManager:
    return isolated_plugins(_Plugin(), names=["push_test"])


def _raw(**run: Any) -> dict[str, Any]:
    files = [{"kind": "bars", "symbol": s, "path": str(DATA / f"binance_usdm_perp_{n}_5m_"
                                                     "20250306_20250413.csv.gz")}
             for s, n in ((BTC, "BTCUSDT"), (ETH, "ETHUSDT"))]
    files.append({"kind": "funding", "symbol": BTC, "path": str(
        DATA / "binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz")})
    return {"run": {"name": "push", **run}, "account": {"capital": 10_000},
            "small_capital": {"enabled": False},
            "data": {"files": files, "end": "2025-03-20"},
            "strategies": {"breakout": {}}, "report": {"progress": False}}


def _engine(out: Path, raw: dict[str, Any] | None = None) -> Engine:
    pm = _plugins()
    setup = load_setup(None, pm.registry, raw=raw or _raw(), environ={})
    return Engine(setup, pm, out_dir=out, journal=True, progress=False)


def _digest(out: Path) -> str:
    with Journal.open_readonly(out / "journal.sqlite") as j:
        return j.digest()


def test_pushed_and_async_replay_equal_the_pull_path(tmp_path: Path) -> None:
    pull = _engine(tmp_path / "pull")
    res = pull.run()
    pull.close()
    assert res.fills > 20 and res.funnel["exits"] > 0 and res.funding != 0.0

    push = _engine(tmp_path / "push").build()
    push.start()
    for ev in push.feed.events():
        push.push(ev)
    res_push = push.finish()
    push.close()

    eng = _engine(tmp_path / "async").build()

    async def source() -> AsyncIterator[Any]:
        for ev in eng.feed.events():
            yield ev
            await anyio.lowlevel.checkpoint()

    res_async = anyio.run(lambda: eng.run_async(source()))
    eng.close()
    assert (res_push.fills, res_push.events) == (res.fills, res.events)
    assert (res_async.fills, res_async.final_equity) == (res.fills, res.final_equity)
    assert _digest(tmp_path / "push") == _digest(tmp_path / "pull")
    assert _digest(tmp_path / "async") == _digest(tmp_path / "pull")


def test_timers_fire_on_the_clock_without_a_market_event() -> None:
    pm = _plugins()
    setup = load_setup(None, pm.registry, raw={"run": {"mode": "paper"}}, environ={})
    eng = Engine(setup, pm, journal=False, progress=False).build()
    eng.start()
    bars = list(sample_bars(3))
    eng.push(bars[0])
    fired: list[tuple[int, int]] = []
    ctx = eng.ctx
    h = ctx.clock.schedule(bars[0].ts + 1_000, lambda ts: fired.append((ts, ctx.now)))
    dropped = ctx.clock.schedule(bars[0].ts + 1_500, lambda ts: fired.append((-1, -1)))
    assert ctx.clock.cancel(dropped) and not ctx.clock.cancel(dropped)
    eng.advance(bars[0].ts + 999)
    assert fired == []
    eng.advance(bars[0].ts + 2_000)
    assert fired == [(bars[0].ts + 1_000, bars[0].ts + 1_000)]
    assert ctx.now == bars[0].ts + 2_000 and not ctx.clock.cancel(h)
    eng.advance(bars[0].ts)  # never back
    assert ctx.now == bars[0].ts + 2_000
    eng.finish()


def test_run_async_ticks_the_clock_between_events() -> None:
    pm = _plugins()
    setup = load_setup(None, pm.registry, raw={"run": {"mode": "paper"}}, environ={})
    eng = Engine(setup, pm, journal=False, progress=False).build()
    bars = list(sample_bars(2))
    fired: list[int] = []
    wall = [bars[0].ts]

    async def source() -> AsyncIterator[Bar]:
        yield bars[0]
        eng.ctx.clock.schedule(bars[0].ts + 60_000, fired.append)
        wall[0] = bars[0].ts + 90_000  # the wall clock moves on; no market event comes
        with anyio.fail_after(5):
            while not fired:
                await anyio.sleep(0.001)
        yield bars[1]

    res = anyio.run(lambda: eng.run_async(source(), tick_ms=1, clock=lambda: wall[0]))
    assert fired == [bars[0].ts + 60_000]
    assert res.events == 2


@pytest.mark.parametrize(("mode", "words"), [
    ("paper", "data.feed 'csv' replays recorded files"),
    ("live", "venue.name 'sim' is simulated"),
])
def test_paper_and_live_refuse_recorded_parts(tmp_path: Path, mode: str, words: str) -> None:
    eng = _engine(tmp_path, _raw(mode=mode))
    with pytest.raises(HeanError) as e:
        eng.build()
    assert f"run.mode: {mode!r} needs live parts" in e.value.message and words in e.value.message
    assert "run.mode: backtest" in (e.value.hint or "")


def test_push_before_start_is_an_error(tmp_path: Path) -> None:
    eng = _engine(tmp_path).build()
    with pytest.raises(HeanError, match="before start"):
        eng.push(next(iter(sample_bars(1))))


@pytest.mark.skipif(importlib.util.find_spec("hean_momentum_trader") is None,
                    reason="needs the hean-momentum-trader plugin (the 'all' tox env)")
def test_quickstart_pushed_gives_the_backtest_digest(tmp_path: Path) -> None:
    from hean_framework.session import prepare

    config = Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml"
    digests = []
    for how in ("pull", "push"):
        setup, pm = prepare(config, ["report.progress=false"])
        eng = Engine(setup, pm, out_dir=tmp_path / how, progress=False).build()
        if how == "pull":
            eng.run()
        else:
            eng.start()
            for ev in eng.feed.events():
                eng.push(ev)
            eng.finish()
        eng.close()
        digests.append(_digest(tmp_path / how))
    assert digests[0] == digests[1]
