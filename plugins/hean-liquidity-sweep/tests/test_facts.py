"""Shared facts the strategy reads, and what it does when nobody publishes them.

Invariants:

* without ``hean-market-analyzers`` installed (simulated here; the plugin's own tox environment
  has only the kernel) the strategy trades exactly as with the analyzers installed but
  publishing nothing: the anomaly and OFI checks pass, the size multiplier is the volume one;
* with ``hean-market-analyzers`` (skipped when it is not installed):
  - a price-anomaly block of the symbol (``ANOMALY_BLOCKED_UNTIL`` after now) silences it,
    counted ``anomaly_blocked``; ``respect_anomaly_block: false`` ignores it;
    ``ANOMALY_SIZE_MULTIPLIER`` scales ``size_multiplier``;
  - with ``ofi_confirm``, a *known* book imbalance (``OFI_SOURCE`` set) that does not exceed
    ``ofi_min`` in the trade's direction refuses the signal (``ofi_against``): only the sides
    it favours trade (none when it is within ±``ofi_min``); an *unknown* one (``OFI_SOURCE``
    ``""``) never blocks; without ``ofi_confirm`` the imbalance is not read.
* a refused sweep is not consumed and starts no cooldown, so a later tick of the same sweep
  may still trade (or be refused again, counted again).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hean_liquidity_sweep import LiquiditySweep

from hean_framework.context import RunContext
from hean_framework.models import Bar, Signal
from hean_framework.testing import sample_bars

Make = Callable[..., tuple[LiquiditySweep, RunContext]]
BTC = "BTC/USDT:USDT"
BARS: list[Bar] = list(sample_bars(4000))


def replay(strat: LiquiditySweep, ctx: RunContext,
           before: Callable[[RunContext, Bar], None] | None = None) -> list[Signal]:
    out = []
    for bar in BARS:
        ctx.now = bar.ts
        if before is not None:
            before(ctx, bar)
        sig = strat.on_bar(bar)
        if sig is not None:
            out.append(sig)
    return out


def key(sigs: list[Signal]) -> list[tuple[Any, ...]]:
    return [(s.ts, s.side, s.stop_loss, s.size_multiplier) for s in sigs]


def test_neutral_without_the_analyzers(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    import hean_liquidity_sweep.strategy as mod

    with_pkg = key(replay(*make({"ofi_confirm": True})))
    monkeypatch.setattr(mod, "_analyzer_facts", lambda: None)
    strat, ctx = make({"ofi_confirm": True})
    assert strat._ma is None
    without = key(replay(strat, ctx))
    assert without == with_pkg and len(without) > 100


@pytest.fixture
def ma() -> Any:
    return pytest.importorskip("hean_market_analyzers.facts")


def test_anomaly_block_and_size(make: Make, ma: Any) -> None:
    free = replay(*make())
    strat, ctx = make()

    def blocked(c: RunContext, bar: Bar) -> None:
        c.facts.set(ma.ANOMALY_BLOCKED_UNTIL, bar.ts + 1, BTC)

    assert replay(strat, ctx, blocked) == []
    # a refused sweep starts no cooldown and is not consumed: more sweeps reach the check
    assert strat.counts["anomaly_blocked"] >= len(free) > 50
    strat, ctx = make({"respect_anomaly_block": False})
    assert key(replay(strat, ctx, blocked)) == key(free)
    strat, ctx = make()
    ctx.facts.set(ma.ANOMALY_SIZE_MULTIPLIER, 0.5, BTC)
    halved = replay(strat, ctx)
    assert [s.size_multiplier for s in halved] == [0.5 * s.size_multiplier for s in free]


@pytest.mark.parametrize(("ofi", "source", "buys", "sells"), [
    (0.5, "book", True, False), (-0.5, "quote", False, True), (0.1, "book", False, False),
    (-0.9, "", True, True),
])
def test_ofi_confirmation(make: Make, ma: Any, ofi: float, source: str, buys: bool,
                          sells: bool) -> None:
    free = replay(*make())
    strat, ctx = make({"ofi_confirm": True, "ofi_min": 0.2})
    ctx.facts.set(ma.OFI, ofi, BTC)
    ctx.facts.set(ma.OFI_SOURCE, source, BTC)
    got = replay(strat, ctx)
    assert all(buys if sig.side == "buy" else sells for sig in got)
    if buys and sells:
        assert key(got) == key(free)
    elif not buys and not sells:
        assert got == []
    else:
        assert got
    assert (strat.counts["ofi_against"] > 0) == (not (buys and sells))
    strat, ctx = make()  # ofi_confirm off: not read
    ctx.facts.set(ma.OFI, ofi, BTC)
    ctx.facts.set(ma.OFI_SOURCE, source, BTC)
    assert key(replay(strat, ctx)) == key(free)
