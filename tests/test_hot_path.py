"""The shortcuts of the per-signal path give the same answers as the general code they skip.

* the exchange-rounding stage accepts a lot-rounded size without computing the minimum order
  quantity when the size already meets every minimum: the verdict must equal the full check
  (``qty >= instrument.min_order_qty(price)``) on real Binance and Bybit metadata;
* ``Instruments.find`` / ``Portfolio.position_qty`` are the lookups without an exception or a
  new object, and agree with ``get`` / ``position``;
* an executor the engine did not build still gets its orders' callbacks;
* ``Journal.equity_curve`` stores what one ``equity`` call per sample stores, and a curve the
  journal follows (``follow_equity``, how the engine journals the portfolio's curve) stores the
  same again, written with the batches as the curve grows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hean_framework.builtin.pipeline import (
    FixedRiskConfig,
    FixedRiskSizer,
    PlainConfig,
    PlainExecutor,
)
from hean_framework.instruments import Instruments
from hean_framework.journal import Journal
from hean_framework.models import Fill, Order, OrderDecision, Signal
from hean_framework.pipeline import Pipeline
from hean_framework.portfolio import Portfolio
from hean_framework.testing import make_context


@pytest.mark.parametrize(("exchange", "symbol", "price"), [
    ("binance", "BTC/USDT:USDT", 80_000.0),   # min qty 0.001, min notional 100
    ("binance", "ETH/USDT:USDT", 2_000.0),
    ("bybit", "BTC/USDT:USDT", 97_531.5),
    ("bybit", "ETH/USDT:USDT", 3_210.7),
])
def test_exchange_rounding_verdict_equals_the_full_minimum_check(
        exchange: str, symbol: str, price: float) -> None:
    ctx = make_context(exchange=exchange, symbols=[symbol], capital=1e9, price=price)
    ctx.budgets.budget_value = 1e9
    sizer = FixedRiskSizer(FixedRiskConfig(), ctx, name="fixed_risk")
    pipe = Pipeline(ctx, sizers=[sizer],
                    executors={"plain": PlainExecutor(PlainConfig(), ctx, name="plain")},
                    default_executor="plain", require_stop_loss=False)
    inst = ctx.instruments.get(symbol)
    min_qty = inst.min_order_qty(price)
    lot = inst.lot_size
    sizes = [min_qty + k * lot * f for k in range(-3, 4) for f in (1.0, 0.5, 0.999999, 1.000001)]
    sizes += [min_qty * 0.1, min_qty * 10, lot, lot * 0.5]
    seen = set()
    for size in sizes:
        if size <= 0:
            continue
        d = pipe.process(Signal("s", symbol, "buy", ctx.now, price, size=size))
        rounded = inst.round_qty(size)
        expect = rounded > 0.0 and rounded + 1e-12 >= min_qty
        assert (d.decision == "CREATE") == expect, (size, rounded, min_qty, d.reason_codes)
        if not expect:
            assert d.reason_codes == ["POSITION_SIZER_ZERO"]
        seen.add(expect)
    assert seen == {True, False}  # both sides of the boundary were exercised


def test_find_and_position_qty_agree_with_get_and_position() -> None:
    inst = Instruments.load("binance", ["BTC/USDT:USDT"])
    assert inst.find("BTC/USDT:USDT") is inst.get("BTC/USDT:USDT")
    assert inst.find("NOPE/USDT") is None
    ctx = make_context(price=80_000.0)
    pf: Portfolio = ctx.portfolio
    sym = "BTC/USDT:USDT"
    assert pf.position_qty("s", sym) == 0.0 == pf.position("s", sym).qty
    pf.apply_fill(Fill(1, 1, "s", sym, "sell", 0.002, 80_000.0, 0.1, False, ctx.now))
    assert pf.position_qty("s", sym) == pytest.approx(-0.002) == pf.position("s", sym).qty
    assert pf.position_qty("other", sym) == 0.0


def test_executor_the_engine_did_not_build_gets_its_callbacks(tmp_path: Path) -> None:
    from hean_framework.config import load_setup
    from hean_framework.engine import Engine
    from hean_framework.testing import isolated_plugins

    class Watching(PlainExecutor):
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__(*a, **k)  # type: ignore[arg-type]
            self.fills: list[Fill] = []
            self.updates: list[str] = []

        def on_fill(self, fill: Fill) -> None:
            self.fills.append(fill)

        def on_order_update(self, order: Order) -> None:
            self.updates.append(order.status)

    pm = isolated_plugins()
    setup = load_setup(Path(__file__).parents[1] / "examples" / "quickstart.yaml", pm.registry,
                       sets=["strategies={}", "journal.enabled=false"])
    engine = Engine(setup, pm, out_dir=tmp_path, journal=False, progress=False).build()
    engine.start()
    ctx = engine.ctx
    sym = next(iter(ctx.instruments))
    st = ctx.market[sym]
    st.last, st.ts = 100.0, ctx.now
    ex = Watching(PlainConfig(), ctx, name="watching")
    inst = ctx.instruments.get(sym)
    qty = inst.min_order_qty(100.0)
    d = OrderDecision(1, 1, "s", sym, "buy", ctx.now, price=100.0)
    ctx.orders.submit(Signal("s", sym, "buy", ctx.now, 100.0), d, qty, executor=ex)
    assert [f.side for f in ex.fills] == ["buy"]
    assert ex.updates == ["filled"]


def test_equity_curve_in_bulk_equals_one_call_per_sample(tmp_path: Path) -> None:
    samples = [(1_000 + i, 100.0 + i * 0.5, float(i % 7)) for i in range(25)]
    with Journal(tmp_path / "a.sqlite", batch_size=4) as a:
        for s in samples:
            a.equity(*s)
        da = a.digest()
    with Journal(tmp_path / "b.sqlite", batch_size=4) as b:
        b.equity(*samples[0])
        b.equity_curve(samples[1:])
        db = b.digest()
        assert b.rows_written == len(samples)
    assert da == db
    with Journal.open_readonly(tmp_path / "b.sqlite") as r:
        assert r.equity() == samples


@pytest.mark.parametrize("writer", ["inline", "process"])
def test_a_followed_equity_curve_is_journaled_with_the_batches(tmp_path: Path,
                                                               writer: str) -> None:
    samples = [(1_000 + i, 100.0 + i * 0.5, float(i % 7)) for i in range(25)]
    curve: list[tuple[int, float, float]] = []
    with Journal(tmp_path / "f.sqlite", batch_size=4, writer=writer) as j:
        j.follow_equity(curve)
        for i, s in enumerate(samples):
            curve.append(s)
            j.decision(OrderDecision(i + 1, i + 1, "s", "BTC/USDT:USDT", "buy", s[0]))
            if i == 10:  # a batch went out since the first sample: it took the samples along
                assert j.rows_written >= 8 + 8
        followed = j.digest()
    with Journal(tmp_path / "b.sqlite", batch_size=4, writer=writer) as b:
        for i, s in enumerate(samples):
            b.decision(OrderDecision(i + 1, i + 1, "s", "BTC/USDT:USDT", "buy", s[0]))
        b.equity_curve(samples)
        assert b.digest() == followed
    with Journal.open_readonly(tmp_path / "f.sqlite") as r:
        assert r.equity() == samples
        assert r.counts()["decisions"] == 25
        indexes = {row[0] for row in r._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"ix_decisions_signal", "ix_orders_decision", "ix_fills_order"} <= indexes


def test_next_id_is_run_unique_and_increasing() -> None:
    ctx = make_context(price=80_000.0)
    ids = [ctx.next_id() for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
