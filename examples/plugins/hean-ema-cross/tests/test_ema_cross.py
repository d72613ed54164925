"""ema_cross: the kernel's strategy contract and the benchmark's rules, on real candles."""

from __future__ import annotations

from hean_framework.testing import (
    StrategyContract,
    build_component,
    isolated_plugins,
    make_context,
    sample_bars,
)


class TestContract(StrategyContract):
    plugin_name = "ema_cross"
    plugin_module = "hean_ema_cross"


def test_matches_a_plain_loop_on_real_bars() -> None:
    """Same signals as an independent EMA(10)/EMA(30) long/flat loop on 3,000 real bars."""
    bars = list(sample_bars(3000))
    strat = build_component(isolated_plugins("hean_ema_cross"), "strategy", "ema_cross",
                            make_context())
    got = []
    for b in bars:
        s = strat.on_bar(b)
        if s is not None:
            got.append((b.ts, s.side, s.reduce_only))
    af, aslow = 2 / 11, 2 / 31
    fast = slow = bars[0].close
    pos = 0
    want = []
    for i, b in enumerate(bars):
        fast = af * b.close + (1 - af) * fast
        slow = aslow * b.close + (1 - aslow) * slow
        if i >= 29:
            if fast > slow and pos == 0:
                pos = 1
                want.append((b.ts, "buy", False))
            elif not fast > slow and pos == 1:
                pos = 0
                want.append((b.ts, "sell", True))
    assert got == want
    assert len(got) > 50
