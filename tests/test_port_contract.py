"""One port contract, two implementations: the engine's ports and the testing kit's fake.

Invariant: everything :class:`hean_framework.testing.ports.PortContract` checks holds for both,
so a plugin tested against ``make_context()`` meets the same ports in a run.  The engine side
runs on real Binance BTC 5m candles shipped with the kernel.
"""

from __future__ import annotations

from typing import Any

from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.testing import isolated_plugins, make_context, sample_bars
from hean_framework.testing.ports import PortContract


class TestEnginePorts(PortContract):
    def context(self) -> Any:
        pm = isolated_plugins()
        raw = {"run": {"mode": "paper"}, "account": {"capital": 10_000},
               "small_capital": {"enabled": False}, "venue": {"latency_ms": 0},
               "pipeline": {"require_stop_loss": False}}
        eng = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, journal=False,
                     progress=False).build()
        eng.start()
        for bar in sample_bars(30):
            eng.push(bar)
        self.engine = eng
        return eng.ctx

    def advance(self, ctx: Any, ts: int) -> None:
        self.engine.advance(ts)


class TestFakePorts(PortContract):
    def context(self) -> Any:
        return make_context(price=80_000.0)

    def advance(self, ctx: Any, ts: int) -> None:
        ctx.clock.run_due(ts)
        ctx.now = max(ctx.now, ts)
