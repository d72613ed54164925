"""The cost gate on candle data (no bid/ask), on the real bars bundled under examples/data.

Invariants:

* where a quote exists the spread is the quote's and every cost, edge and decision is what it
  was (``spread_source: quote``); bars never change a quoted number;
* without a quote the spread is, in this order, ``cost.spread_bps[symbol]`` (``config``), the
  Corwin-Schultz (2012) high/low estimate over the symbol's last ``bar_spread_window`` bars
  floored at one price tick (``corwin_schultz(20 bars)``), else the assumed
  ``no_quote_half_spread_bps`` (``assumed``); the decision names the source;
* the estimator is the paper's formula; on the bundled BTC 5m bars it gives a spread between
  0.1 and 10 bps (above the ~0.02 bps one-tick spread of the bundled BBO: an upper-side
  estimate, volatility dominates 5-minute ranges);
* a signal without ``edge_bps`` gets the documented edge estimate (``docs/small_capital.md``,
  "Edge estimator") on that spread, never the old -1000 bps placeholder;
* the engine keeps ``SymbolState.bars`` (high, low, volume) the same on the per-bar path and on
  the batch fast path, so a strategy's decisions do not depend on which path ran;
* a BLOCK's message says what the author can change (edge_bps, take_profit, prefer_maker,
  cost_edge_multiplier, small_capital.enabled: false);
* a plain bar-only strategy (stop + take_profit, maker entry, no edge_bps) trades with the
  default small-capital gating on.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import math
import statistics
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from hean_framework import hookimpl
from hean_framework.components import Analyzer, ComponentConfig, Strategy
from hean_framework.config import load_setup
from hean_framework.engine import Engine
from hean_framework.execution.costs import (
    CostConfig,
    CostEngine,
    corwin_schultz_bps,
    estimate_edge,
    estimate_spread,
)
from hean_framework.execution.trade_gate import TradeGate
from hean_framework.models import Bar, OrderDecision, Signal
from hean_framework.testing import build_component, isolated_plugins, make_context

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
BTC = "BTC/USDT:USDT"
BTC_BARS = DATA / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"
BTC_BBO = DATA / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz"
CS20 = "corwin_schultz(20 bars)"


def _bars(n: int | None = None) -> list[Bar]:
    """The bundled BTC 5m candles as the engine dispatches them (stamped at their close)."""
    out: list[Bar] = []
    with gzip.open(BTC_BARS, "rt", newline="") as fh:
        rd = csv.DictReader(fh)
        for row in rd:
            if n is not None and len(out) >= n:
                break
            out.append(Bar(int(row["timestamp"]) + 300_000, BTC, float(row["open"]),
                           float(row["high"]), float(row["low"]), float(row["close"]),
                           float(row["volume"]), 300_000))
    return out


def _feed(ctx: Any, bars: list[Bar]) -> Any:
    """Apply ``bars`` to the market state the way the engine's bar branch does."""
    st = ctx.market[BTC]
    for b in bars:
        ctx.now = st.ts = b.ts
        st.last = b.close
        st.prices.append(b.close)
        st.bars.append((b.high, b.low, b.volume))
    return st


# ------------------------------------------------------------------ the estimator


def _cs_pair(h0: float, l0: float, h1: float, l1: float) -> float:
    """Corwin and Schultz (2012), eqs. (14)-(18), for one pair of bars (a fraction)."""
    beta = math.log(h0 / l0) ** 2 + math.log(h1 / l1) ** 2
    gamma = math.log(max(h0, h1) / min(l0, l1)) ** 2
    k = 3 - 2 * math.sqrt(2)
    alpha = (math.sqrt(2 * beta) - math.sqrt(beta)) / k - math.sqrt(gamma / k)
    return 2 * (math.exp(alpha) - 1) / (1 + math.exp(alpha))


def test_corwin_schultz_is_the_papers_formula() -> None:
    """Pairs by hand, negative pairs set to zero, the mean over the pairs."""
    hl = [(100.10, 99.95), (100.12, 99.97), (100.1, 100.0), (101.1, 101.0)]
    pairs = [_cs_pair(*a, *b) for a, b in itertools.pairwise(hl)]
    assert pairs[0] > 0 and pairs[2] < 0     # a jump between two narrow bars: negative
    assert corwin_schultz_bps(hl[:2]) == pytest.approx(pairs[0] * 1e4, rel=1e-12)
    assert corwin_schultz_bps(hl[2:]) == 0.0
    assert corwin_schultz_bps(hl) == pytest.approx(sum(max(p, 0.0) for p in pairs) / 3 * 1e4)
    assert corwin_schultz_bps(hl[:1]) is None


def test_estimate_on_bundled_btc_5m_is_plausible_against_the_real_bbo() -> None:
    """Rolling 20-bar estimates over all 10,906 bundled BTC 5m bars: median between 0.1 and
    10 bps.  The bundled BBO (2024-08-08, another day) quotes BTC at one tick, ~0.02 bps: the
    high/low estimate is an upper-side figure, two orders of magnitude above it on 5m bars."""
    hl = [(b.high, b.low) for b in _bars()]
    rolling = [corwin_schultz_bps(hl[i - 20:i]) for i in range(20, len(hl) + 1)]
    est = statistics.median(r for r in rolling if r is not None)
    with gzip.open(BTC_BBO, "rt", newline="") as fh:
        quoted = [(float(r["ask_price"]) - float(r["bid_price"]))
                  / ((float(r["ask_price"]) + float(r["bid_price"])) / 2) * 1e4
                  for r in csv.DictReader(fh)]
    bbo = statistics.median(quoted)
    assert 0.1 < est < 10.0, est                       # ~4.45 bps
    assert 0.005 < bbo < 0.1, bbo                       # ~0.016 bps: one 0.1 USDT tick
    assert 10.0 < est / bbo < 1000.0                    # upper side, ~2.4 orders of magnitude


def test_spread_sources_in_order_quote_config_bars_assumed() -> None:
    ctx = make_context(symbols=[BTC])
    inst = ctx.instruments.get(BTC)
    bars = _bars(40)
    st = ctx.market[BTC]
    assert estimate_spread(st, inst).source == "assumed"
    _feed(ctx, bars[:19])
    sp = estimate_spread(st, inst)
    assert (sp.bps, sp.source) == (None, "assumed")     # fewer bars than the window
    _feed(ctx, bars[19:])
    sp = estimate_spread(st, inst)
    assert sp.source == CS20
    assert sp.bps == pytest.approx(corwin_schultz_bps([(b.high, b.low) for b in bars[-20:]]))
    cfg = CostConfig(spread_bps={BTC: 0.05}, bar_spread_window=10)
    assert (estimate_spread(st, inst, cfg).bps, estimate_spread(st, inst, cfg).source) == \
        (0.05, "config")
    assert estimate_spread(st, inst, CostConfig(bar_spread_window=10)).source == \
        "corwin_schultz(10 bars)"
    assert estimate_spread(st, inst, CostConfig(bar_spread_estimator="none")).source == \
        "assumed"
    # flat bars estimate 0: floored at one tick of the instrument
    st.bars.extend([(st.last, st.last, 1.0)] * 20)
    sp = estimate_spread(st, inst)
    assert sp.bps is not None and sp.bps > 0
    assert sp.bps == pytest.approx(inst.tick_size / st.last * 1e4)
    # a quote wins over everything, and is the quote's own number
    st.bid, st.ask = st.last - 0.05, st.last + 0.05
    sp = estimate_spread(st, inst, cfg)
    assert (sp.bps, sp.source) == (st.spread_bps(), "quote")


def test_quoted_costs_ignore_the_bars() -> None:
    """With a quote, the bars in the state change no number of the cost or the edge."""
    ctx = make_context(symbols=[BTC])
    inst = ctx.instruments.get(BTC)
    st = _feed(ctx, _bars(60))
    st.bid, st.ask = st.last * (1 - 2e-4), st.last * (1 + 2e-4)   # a 4 bps quote
    eng = CostEngine(CostConfig())
    sig = Signal("s", BTC, "buy", ctx.now, st.last, stop_loss=st.last * 0.99,
                 take_profit=st.last * 1.01)
    with_bars = eng.estimate(symbol=BTC, side="buy", maker=True, st=st, inst=inst, qty=0.01)
    e_bars = estimate_edge(sig, st, "NORMAL")
    st.bars.clear()
    without = eng.estimate(symbol=BTC, side="buy", maker=True, st=st, inst=inst, qty=0.01)
    assert with_bars.breakdown() == without.breakdown()
    assert with_bars.spread_source == "quote" and with_bars.volume_impact_bps is None
    assert "quoted_spread_bps" in with_bars.breakdown()
    assert estimate_edge(sig, st, "NORMAL") == e_bars and e_bars.spread_bps == \
        pytest.approx(4.0)


def test_bar_cost_uses_the_estimate_and_the_volume() -> None:
    ctx = make_context(symbols=[BTC])
    inst = ctx.instruments.get(BTC)
    bars = _bars(60)
    st = _feed(ctx, bars)
    eng = CostEngine(CostConfig())
    c = eng.estimate(symbol=BTC, side="buy", maker=True, st=st, inst=inst, qty=0.01)
    s = corwin_schultz_bps([(b.high, b.low) for b in bars[-20:]])
    assert s is not None
    assert c.spread_source == CS20
    assert c.spread_bps == pytest.approx(max(1.0, s / 2))      # maker: half, floor 1 bp
    vols = [b.volume for b in bars[-20:]]
    impact = 2 * st.log_return_std(20) * math.sqrt(0.01 / (sum(vols) / 20)) * 1e4
    assert c.volume_impact_bps == pytest.approx(impact)
    bd = c.breakdown()
    assert bd["estimated_spread_bps"] == pytest.approx(s, abs=1e-6)
    assert "quoted_spread_bps" not in bd
    parts = (bd["fees_round_trip_bps"] + bd["spread_bps"] + bd["slippage_bps"]
             + bd["funding_bps"])
    assert parts == pytest.approx(bd["total_cost_bps"], abs=1e-5)


def test_edge_without_edge_bps_on_bars_is_the_documented_estimate() -> None:
    """Old code: -1000 bps without a bid/ask, whatever the target."""
    ctx = make_context(symbols=[BTC])
    st = _feed(ctx, _bars(60))
    px = st.last
    sig = Signal("s", BTC, "buy", ctx.now, px, stop_loss=px * 0.995, take_profit=px * 1.01)
    e = estimate_edge(sig, st, "NORMAL")
    s = corwin_schultz_bps(list(st.bars)[-20:])
    assert s is not None
    assert e.spread_source == CS20 and e.spread_bps == pytest.approx(s)
    fill = min(0.95, max(0.3, 0.75 * (1 - 0.8 * min(s / 16, 0.6))))
    vol_pen = min(50 * st.volatility(19), 0.5)
    assert e.move_bps == pytest.approx(100.0)
    assert e.edge_bps == pytest.approx((100.0 * fill - s) * (1 - vol_pen))
    assert e.edge_bps > 0


# ------------------------------------------------------------------ the gate's messages


def _gate_on_bars(**cfg: Any) -> tuple[TradeGate, Any]:
    ctx = make_context(symbols=[BTC])
    _feed(ctx, _bars(500)[-60:])   # a 20-bar estimate of 4.7 bps (the file's median: 4.45)
    gate = build_component(isolated_plugins(), "gate", "trade_gate", ctx, cfg)
    assert isinstance(gate, TradeGate)
    return gate, ctx


def _vote(gate: TradeGate, ctx: Any, **kw: Any) -> tuple[Any, OrderDecision]:
    px = ctx.market[BTC].last
    sig = Signal("s", BTC, "buy", ctx.now, px, stop_loss=px * 0.995, **kw)
    d = OrderDecision(1, 1, "s", BTC, "buy", ctx.now, price=px, qty=0.01, notional=px * 0.01)
    return gate.vote(sig, d), d


def test_blocked_messages_say_what_to_do() -> None:
    gate, ctx = _gate_on_bars()
    px = ctx.market[BTC].last
    v, d = _vote(gate, ctx, take_profit=px * 1.001, prefer_maker=True)   # 10 bps target
    assert v is not None and v.code == "EDGE_TOO_LOW_FOR_COST"
    assert d.details["spread_source"] == CS20 and d.details["edge_source"] == "estimator"
    assert d.details["edge_estimate"]["move_bps"] == pytest.approx(10.0)
    for hint in ("edge_bps", "take_profit", "cost_edge_multiplier",
                 "small_capital.enabled: false", CS20):
        assert hint in v.message, (hint, v.message)
    assert "-1000" not in v.message
    v, _ = _vote(gate, ctx, prefer_maker=True)                           # no target
    assert v is not None and "no take_profit" in v.message
    v, _ = _vote(gate, ctx, take_profit=px * 1.02)                       # market order
    assert v is not None and v.code == "MAKER_ONLY_ENFORCED"
    for hint in ("prefer_maker", "convert_taker_to_maker", "allow_taker_if_edge_strong",
                 "small_capital.enabled: false"):
        assert hint in v.message, (hint, v.message)
    v, d = _vote(gate, ctx, take_profit=px * 1.001, prefer_maker=True, edge_bps=5.0)
    assert v is not None and d.details["edge_source"] == "signal"
    assert "larger signal edge_bps" in v.message and "cost_edge_multiplier" in v.message


def test_a_signal_with_a_real_target_passes_on_bars() -> None:
    gate, ctx = _gate_on_bars()
    px = ctx.market[BTC].last
    v, d = _vote(gate, ctx, take_profit=px * 1.02, prefer_maker=True)    # 200 bps target
    assert v is None, v
    assert d.maker_or_taker == "maker" and d.details["spread_source"] == CS20
    assert d.expected_edge_bps is not None and d.required_edge_bps is not None
    assert d.expected_edge_bps >= d.required_edge_bps
    assert gate.small_capital_mode()["spread_sources"] == {CS20: 1}


# ------------------------------------------------------------------ through the engine


class Plain(Strategy):
    """A newcomer's bar strategy: long when the close breaks the highest close of the 48 bars
    before it; stop 0.5 % below, target 1.5 % above, 6 h time stop, a maker entry, no
    ``edge_bps`` (the gate estimates it).  Reads nothing but the bar, so its batch form below
    is exact."""

    def on_start(self) -> None:
        self.closes: dict[str, deque[float]] = {}

    def on_bar(self, bar: Bar) -> Signal | None:
        w = self.closes.setdefault(bar.symbol, deque(maxlen=48))
        sig = None
        if len(w) == 48 and bar.close > max(w):
            sig = self.signal(bar.symbol, "buy", bar.ts, bar.close,
                              stop_loss=bar.close * 0.995, take_profit=bar.close * 1.015,
                              max_hold_ms=6 * 3_600_000, prefer_maker=True)
        w.append(bar.close)
        return sig


class PlainBatch(Plain):
    """The same rule through the engine's batch fast path."""

    def on_bars(self, block: Any, start: int, stop: int) -> Any:
        for i in range(start, stop):
            out = self.on_bar(block.bar(i))
            if out is not None:
                return i, out
        return None


class Recorder(Analyzer):
    """Keeps every entry decision the trade gate saw."""

    def on_start(self) -> None:
        self.decisions: list[OrderDecision] = []

    def on_decision(self, decision: OrderDecision) -> None:
        if decision.cost_bps is not None:
            self.decisions.append(decision)


def _backtest(tmp_path: Path, cls: type[Strategy]) -> tuple[Engine, Any]:
    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("plain", cls, config=ComponentConfig)

        @hookimpl
        def hean_register_analyzers(self, register: Any) -> None:
            register("recorder", Recorder, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["plain_plugin"])
    raw: dict[str, Any] = {
        "run": {"name": "plain"}, "account": {"capital": 1000},   # small-capital mode: auto
        "venue": {"name": "sim", "exchange": "binance", "slippage_bps": 2},
        "data": {"files": [{"kind": "bars", "symbol": BTC, "path": str(BTC_BARS)}],
                 "end": "2025-03-20"},
        "strategies": {"plain": {"symbols": [BTC]}}, "analyzers": {"recorder": {}},
        "report": {"progress": False, "html": False}}
    eng = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, out_dir=tmp_path,
                 progress=False)
    try:
        res = eng.run()
    finally:
        eng.close()
    return eng, res


def _recorded(eng: Engine) -> list[OrderDecision]:
    [rec] = [c for c in eng.components["analyzer"] if isinstance(c, Recorder)]
    return rec.decisions


def test_plain_bar_strategy_trades_with_the_default_gating(tmp_path: Path) -> None:
    """Old code: every entry BLOCK EDGE_TOO_LOW_FOR_COST at edge -1000 bps, 0 fills."""
    eng, res = _backtest(tmp_path / "row", Plain)
    assert "trade_gate" in [g.name for g in eng.pipeline.gates]    # the default gating is on
    gated = _recorded(eng)
    created = [d for d in gated if d.decision == "CREATE"]
    assert created and res.fills > 0 and res.closed_trades
    assert {d.details["spread_source"] for d in gated} == {CS20}
    assert {d.details["edge_source"] for d in gated} == {"estimator"}
    assert all(d.expected_edge_bps is not None and d.expected_edge_bps > -100 for d in gated)
    assert res.sections["small_capital_mode"]["spread_sources"] == {CS20: len(gated)}


def test_the_batch_fast_path_keeps_the_same_bars(tmp_path: Path) -> None:
    """Per-bar path and batch fast path: the same decisions with the same estimated costs."""
    eng_row, _ = _backtest(tmp_path / "row", Plain)
    eng_batch, _ = _backtest(tmp_path / "batch", PlainBatch)
    assert eng_batch.batched_rows > 0                               # the fast path ran

    def key(d: OrderDecision) -> tuple[Any, ...]:
        return (d.ts, d.decision, d.expected_edge_bps, d.cost_bps, d.cost_breakdown,
                d.details.get("spread_source"))

    row, batch = [key(d) for d in _recorded(eng_row)], [key(d) for d in _recorded(eng_batch)]
    assert row and row == batch
    assert {k[-1] for k in batch} == {CS20}


@pytest.mark.parametrize("gated", [False, True])
def test_candles_are_kept_only_when_the_trade_gate_reads_them(gated: bool) -> None:
    """``SymbolState.bars`` costs a tuple per candle: the engine keeps them only when a
    component asked (``ctx.market.keep_bars``; the trade gate does), on both the per-bar and
    the batch path."""
    class Quiet(Strategy):
        def on_bar(self, bar: Bar) -> None:
            return None

    class Plugin:
        @hookimpl
        def hean_register_strategies(self, register: Any) -> None:
            register("quiet", Quiet, config=ComponentConfig)

    pm = isolated_plugins(Plugin(), names=["quiet_plugin"])
    raw = {"run": {"name": "keep"}, "account": {"capital": 1000},
           "small_capital": {"enabled": gated},
           "data": {"files": [{"kind": "bars", "symbol": BTC, "path": str(BTC_BARS)}],
                    "end": "2025-03-08"},
           "strategies": {"quiet": {}}, "report": {"progress": False}}
    eng = Engine(load_setup(None, pm.registry, raw=raw, environ={}), pm, journal=False,
                 progress=False)
    eng.run()
    assert eng.ctx.market.keep_bars is gated
    assert (len(eng.ctx.market[BTC].bars) > 0) is gated
