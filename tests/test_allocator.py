"""The ``allocator`` (:mod:`hean_framework.risk.allocator`): reserve, the seed's $300 table,
capped-simplex bounds, shrinkage, phase matching, drift/cooldown/step-limited rebalancing,
journaling."""

from __future__ import annotations

import random
from typing import Any

import pytest

from hean_framework.facts import BUDGETS, PHASE
from hean_framework.models import ClosedTrade
from hean_framework.risk.allocator import (
    AllocatorConfig,
    CapitalAllocator,
    project_capped_simplex,
)
from hean_framework.testing import make_context

SEED = {"impulse_engine": 18, "funding_harvester": 14, "basis_arbitrage": 10,
        "inventory_neutral_mm": 10, "hf_scalping": 8, "liquidity_sweep": 10,
        "momentum_trader": 8, "enhanced_grid": 6, "correlation_arb": 6, "rebate_farmer": 5,
        "sentiment_strategy": 5}
SEED_USD = [43.2, 33.6, 24.0, 24.0, 19.2, 24.0, 19.2, 14.4, 14.4, 12.0, 12.0]


class Recorder:
    """Stands in for the journal."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str, dict[str, Any]]] = []

    def event(self, ts: int, kind: str, payload: dict[str, Any]) -> None:
        self.events.append((ts, kind, payload))


def _alloc(capital: float = 300.0, **cfg: Any) -> CapitalAllocator:
    ctx = make_context(capital=capital, price=80_000.0)
    ctx.journal = Recorder()  # type: ignore[assignment]
    a = CapitalAllocator(AllocatorConfig(**cfg), ctx, name="allocator")
    a.on_start()
    return a


def _trade(sid: str, pnl: float, ts: int) -> ClosedTrade:
    return ClosedTrade(sid, "BTC/USDT:USDT", "long", 0.001, 80_000.0, 80_000.0 + pnl * 1000,
                       ts - 60_000, ts, pnl, 0.0, 0.0)


def test_seed_table_300_usd() -> None:
    a = _alloc(weights={k: v / 100 for k, v in SEED.items()})
    assert a.deployable() == pytest.approx(240.0)
    budgets = a.ctx.facts.get(BUDGETS)
    assert [round(budgets[k], 6) for k in SEED] == pytest.approx(SEED_USD)
    assert sum(budgets.values()) == pytest.approx(240.0)
    # published for engine.budget() from on_start, journaled and in the report
    kinds = [k for _, k, _ in a.ctx.journal.events]
    assert kinds == ["allocation"]
    rep = a.ctx.sections["allocation"]()
    assert rep["budgets"]["impulse_engine"] == pytest.approx(43.2)


def test_default_is_equal_split_of_deployable() -> None:
    a = _alloc(weights=dict.fromkeys(["a", "b", "c", "d"], 0.0))
    assert all(v == pytest.approx(60.0) for v in a.budgets().values())


@pytest.mark.parametrize("seed", range(300))
def test_projection_bounds_always_hold(seed: int) -> None:
    rng = random.Random(seed)
    while True:  # draw until the bounds admit a solution: every seed checks a projection
        n = rng.randint(2, 15)
        target = [rng.random() ** 3 * rng.choice([0, 1, 1, 1]) for _ in range(n)]
        lo = [rng.uniform(0, 0.06) for _ in range(n)]
        hi = [rng.uniform(max(x, 0.1), 0.9) for x in lo]
        if sum(lo) <= 1 <= sum(hi):
            break
    w = project_capped_simplex(target, lo, hi)
    assert sum(w) == pytest.approx(1.0, abs=1e-9)
    for x, a, b in zip(w, lo, hi):
        assert a - 1e-12 <= x <= b + 1e-12


def test_bounds_5_40_and_proportional_inside() -> None:
    w = project_capped_simplex([0.9, 0.05, 0.03, 0.02], [0.05] * 4, [0.4] * 4)
    assert w[0] == pytest.approx(0.4)
    assert min(w) >= 0.05 - 1e-12
    assert sum(w) == pytest.approx(1.0)
    # the free weights keep their ratios: 0.6 shared 5:3:2
    assert w[1] / w[2] == pytest.approx(0.05 / 0.03)
    assert w == pytest.approx([0.4, 0.3, 0.18, 0.12])


def test_single_strategy_relaxes_max_and_ceiling_keeps_cash() -> None:
    a = _alloc(weights={"only": 1.0})
    assert a.budgets()["only"] == pytest.approx(240.0)
    a = _alloc(weights={"only": 1.0}, ceilings={"only": 19.2})
    assert a.budgets()["only"] == pytest.approx(19.2)
    assert a.ctx.journal.events[0][2]["unallocated"] == pytest.approx(220.8)


def test_rebalance_shrinkage_drift_cooldown_and_step() -> None:
    a = _alloc(weights={"good": 0.5, "bad": 0.5}, min_weight=0.05, max_weight=0.95)
    ts = 1_741_257_000_000
    # 10 winners vs 10 losers: Sortino 10 vs 0 -> w_perf = (1, 0); shrunk with n = 10:
    # (10·1 + 10·0.5)/20 = 0.75; hybrid 0.7·0.75 + 0.3·0.5 = 0.675 (phase = prior)
    for i in range(10):
        a._returns["good"].append(0.01 + 0.001 * i)
        a._trades["good"] += 1
        a._returns["bad"].append(-0.01)
        a._trades["bad"] += 1
    t = a.target_weights()
    assert t["good"] == pytest.approx(0.675)
    assert a.maybe_rebalance(ts)
    # step limited to 10 % of deployable: 0.5 -> 0.6 (not 0.675)
    assert a.weights["good"] == pytest.approx(0.6)
    assert a.budgets()["good"] == pytest.approx(0.6 * 240)
    assert a.ctx.facts.get(BUDGETS)["good"] == pytest.approx(144.0)
    # cooldown 1 h
    assert not a.maybe_rebalance(ts + 30 * 60_000)
    assert a.maybe_rebalance(ts + 3_600_000)
    assert a.weights["good"] == pytest.approx(0.675)
    # drift below 5 pp -> nothing
    assert not a.maybe_rebalance(ts + 3 * 3_600_000)
    kinds = [p["reason"] for _, k, p in a.ctx.journal.events if k == "allocation"]
    assert kinds == ["start", "rebalance", "rebalance"]
    assert a.report()["rebalances"] == 2


def test_position_closed_triggers_rebalance() -> None:
    a = _alloc(weights={"good": 0.5, "bad": 0.5}, max_weight=0.95, prior_trades=0)
    ts = 1_741_257_000_000
    a.on_position_closed(_trade("good", 1.0, ts))
    a.on_position_closed(_trade("bad", -1.0, ts + 1))
    assert a.weights["good"] > 0.5
    assert a.rebalances == 1


def test_phase_affinity() -> None:
    a = _alloc(weights={"funding_harvester": 0.5, "momentum_trader": 0.5})
    assert a.phase_weights() == pytest.approx(a.prior)
    a.ctx.facts.set(PHASE, "ICE")
    pw = a.phase_weights()
    # ice: funding ×2·1.0, momentum ×0.5 -> 0.8 / 0.2
    assert pw["funding_harvester"] == pytest.approx(0.8)
    assert pw["momentum_trader"] == pytest.approx(0.2)


def test_budgets_follow_equity() -> None:
    a = _alloc(weights={"x": 1.0, "y": 1.0})
    a.ctx.portfolio.cash = 200.0
    a.on_equity(1, 200.0)
    assert a.ctx.facts.get(BUDGETS)["x"] == pytest.approx(80.0)


def test_config_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError):
        AllocatorConfig(min_weight=0.5, max_weight=0.4)
    with pytest.raises(ValueError):
        AllocatorConfig(weights={"a": -1.0})
