"""Each way this strategy differs from the original HEAN one, shown on the behaviour it fixes.

Invariants checked:

* **regime families**: a whitelist meant as "RANGE or NORMAL" trades in every RANGE-like,
  neutral and trend regime (RANGE, ACCUMULATION, NORMAL, MARKUP, MARKDOWN) and in no volatile
  one (IMPULSE, DISTRIBUTION); the original label list would have refused ACCUMULATION, MARKUP
  and MARKDOWN.  No regime published passes.  The families equal the analyzers' own grouping
  when that package is installed;
* **unknown order flow is not "no pressure"**: with ``OFI_SOURCE`` empty (no book) and the OFI
  at its default 0.0 the entry is made (the original read OFI 0 as no aggression and refused);
  a known OFI of 0.0, or one against the side, refuses it; ``ofi_source: book`` ignores an OFI
  measured from the best bid/offer; ``off`` ignores all;
* **reward:risk**: the defaults' target/stop is 35/12 = 2.92; in an engine run with the
  ``risk_limits`` gate (reward:risk >= 2) no entry is refused for it, while the original 25/15
  (1.67) has every entry refused with ``RISK_BLOCKED``;
* **the time stop travels with the signal**: every position closed by the time stop in an
  engine run closed exactly ``max_hold_s`` (90 s) after its entry fill -- no global 900 s stop;
* **maker entries are real post-only orders**: every entry order of the run is a post-only
  limit at the touch the signal named;
* **price-anomaly block**: no entry while the analyzers' block timestamp is ahead of ``now``
  (``respect_anomaly_block``), and the neutral default never blocks.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hean_hf_scalping import FAMILIES, HFScalping, family_of
from hean_hf_scalping.strategy import ANOMALY_BLOCKED_UNTIL, OFI, OFI_SOURCE

from hean_framework.facts import REGIME
from hean_framework.models import Trade
from hean_framework.testing import build_component, isolated_plugins, make_context

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
UP = [100.0, 100.02, 100.05, 100.08, 100.12]    # +12 bps over 5 ticks: a buy
DOWN = [100.0, 99.98, 99.95, 99.92, 99.88]      # -12 bps: a sell
ORIGINAL_WHITELIST = {"RANGE", "NORMAL"}


def _strategy(config: dict[str, Any] | None = None) -> HFScalping:
    ctx = make_context(price=100.0, bid=99.995, ask=100.005)
    strat = build_component(isolated_plugins("hean_hf_scalping.plugin"), "strategy",
                            "hf_scalping", ctx, {"tick_ms": 0, **(config or {})})
    assert isinstance(strat, HFScalping)
    return strat


def _last(strat: HFScalping, prices: list[float]) -> Any:
    out = None
    for i, p in enumerate(prices):
        strat.ctx.now = 1_000 + i
        out = strat.on_trade(Trade(1_000 + i, BTC, p, 1.0, "buy"))
    return out


@pytest.mark.parametrize(("regime", "trades"), [
    ("", True), ("RANGE", True), ("ACCUMULATION", True), ("NORMAL", True), ("MARKUP", True),
    ("MARKDOWN", True), ("IMPULSE", False), ("DISTRIBUTION", False), ("range", True),
    ("SOMETHING_NEW", True),
])
def test_regime_families_replace_the_label_whitelist(regime: str, trades: bool) -> None:
    strat = _strategy()
    if regime:
        strat.ctx.facts.set(REGIME, regime, BTC)
    assert (_last(strat, UP) is not None) is trades
    assert strat.stats()["regime_excluded"] == (0 if trades else 1)
    if regime.upper() in {"ACCUMULATION", "MARKUP", "MARKDOWN"}:
        assert regime not in ORIGINAL_WHITELIST  # what the original silently refused


def test_volatile_family_can_be_allowed_and_trend_removed() -> None:
    strat = _strategy({"regime_families": ["VOLATILE"]})
    strat.ctx.facts.set(REGIME, "IMPULSE", BTC)
    assert _last(strat, UP) is not None
    strat = _strategy({"regime_families": ["RANGE_LIKE", "NEUTRAL"]})
    strat.ctx.facts.set(REGIME, "MARKUP", BTC)
    assert _last(strat, UP) is None and strat.stats()["regime_excluded"] == 1


@pytest.mark.skipif(importlib.util.find_spec("hean_market_analyzers") is None,
                    reason="needs the optional hean-market-analyzers plugin")
def test_families_and_fact_keys_are_the_analyzers_own() -> None:
    import hean_market_analyzers.facts as F

    assert dict(FAMILIES) == dict(F.FAMILIES)
    for label in ("RANGE", "ACCUMULATION", "NORMAL", "MARKUP", "IMPULSE", "X", ""):
        assert family_of(label) == F.family_of(label)
    assert OFI is F.OFI and OFI_SOURCE is F.OFI_SOURCE
    assert ANOMALY_BLOCKED_UNTIL is F.ANOMALY_BLOCKED_UNTIL


@pytest.mark.parametrize(("source", "ofi", "prices", "mode", "trades"), [
    ("", 0.0, UP, "any", True),          # unknown: skipped (the original refused: OFI 0)
    ("book", 0.0, UP, "any", False),     # known and neutral: not in the side's favour
    ("book", 0.25, UP, "any", True),
    ("book", -0.25, UP, "any", False),
    ("book", -0.25, DOWN, "any", True),
    ("book", 0.25, DOWN, "any", False),
    ("book", 0.2, UP, "any", True),      # exactly min_ofi
    ("quote", 0.0, UP, "any", False),
    ("quote", 0.0, UP, "book", True),    # an OFI from the BBO is ignored with ofi_source: book
    ("book", -0.9, UP, "off", True),
])
def test_unknown_ofi_skips_the_rule(source: str, ofi: float, prices: list[float], mode: str,
                                    trades: bool) -> None:
    strat = _strategy({"ofi_source": mode})
    if source:
        strat.ctx.facts.set(OFI_SOURCE, source, BTC)
    strat.ctx.facts.set(OFI, ofi, BTC)
    sig = _last(strat, prices)
    assert (sig is not None) is trades
    st = strat.stats()
    assert st["ofi_against"] == (0 if trades else 1)
    assert st["ofi_unknown"] == (1 if trades and not source else 0)
    if sig is not None and mode != "off" and source and (mode == "any" or source == "book"):
        assert sig.metadata["ofi"] == ofi and sig.metadata["ofi_source"] == source


def test_anomaly_block_is_read_from_the_facts() -> None:
    strat = _strategy()
    strat.ctx.facts.set(ANOMALY_BLOCKED_UNTIL, 1_000 + 10, BTC)  # blocked until after the ticks
    assert _last(strat, UP) is None and strat.stats()["anomaly_blocked"] == 1
    strat = _strategy({"respect_anomaly_block": False})
    strat.ctx.facts.set(ANOMALY_BLOCKED_UNTIL, 1_000 + 10, BTC)
    assert _last(strat, UP) is not None
    strat = _strategy()
    strat.ctx.facts.set(ANOMALY_BLOCKED_UNTIL, 1_000 + 4, BTC)  # over at the 5th tick
    assert _last(strat, UP) is not None


def test_default_reward_risk_is_above_two() -> None:
    sig = _last(_strategy(), UP)
    assert sig is not None and sig.stop_loss is not None and sig.take_profit is not None
    rr = (sig.take_profit - sig.entry_price) / (sig.entry_price - sig.stop_loss)
    assert rr == pytest.approx(35 / 12) and rr >= 2.0


def _raw(data: Path, tick_files: Callable[..., list[dict[str, str]]],
         **strategy: Any) -> dict[str, Any]:
    return {
        "run": {"name": "hf-fixes", "seed": 7}, "account": {"capital": 1000},
        "venue": {"name": "sim", "exchange": "binance"},
        "data": {"files": tick_files(data)},
        "small_capital": {"enabled": False},
        "strategies": {"hf_scalping": {"symbols": [BTC, ETH], "min_move_bps": 5,
                                       "edge_hint_factor": 0, **strategy}},
        "sizers": {"fixed_risk": {"risk_pct": 0.01, "max_leverage": 3}},
        "gates": {"risk_limits": {"consecutive_losses_default": 100,
                                  "consecutive_losses": {"hf_scalping": 100}}},
        "report": {"html": False, "progress": False},
    }


@pytest.fixture(scope="module")
def runs(sample_data: Path, tick_files: Callable[..., list[dict[str, str]]],
         run_engine: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
         ) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("fixes")
    return {
        "new": run_engine(_raw(sample_data, tick_files), base / "new"),
        "orig": run_engine(_raw(sample_data, tick_files, take_profit_bps=25, stop_loss_bps=15),
                           base / "orig"),
    }


def _entries(run: Any) -> list[dict[str, Any]]:
    return [d for d in run.decisions if d["stage"] != "exit"]


def test_original_reward_risk_is_refused_the_new_one_passes(runs: dict[str, Any]) -> None:
    new, orig = _entries(runs["new"]), _entries(runs["orig"])
    assert new and orig
    assert not any("RISK_BLOCKED" in d["reason_codes"] for d in new)
    assert sum(d["decision"] == "CREATE" for d in new) >= 3
    assert all(d["decision"] == "BLOCK" and d["stage"] == "gate:risk_limits"
               and d["reason_codes"] == ["RISK_BLOCKED"] for d in orig)
    assert all(d["message"].startswith("reward:risk 1.66") for d in orig), orig[0]["message"]


def test_time_stop_is_the_signals_90_seconds(runs: dict[str, Any]) -> None:
    run = runs["new"]
    timeouts = [o for o in run.orders if o["tag"] == "TIMEOUT_TTL" and o["status"] == "filled"]
    assert timeouts, "the run has no time-stop exit"
    for o in timeouts:
        (trade,) = [t for t in run.trades if t["closed_ts"] == o["ts"]
                    and t["symbol"] == o["symbol"]]
        assert trade["closed_ts"] - trade["opened_ts"] == 90_000


def test_entries_are_post_only_limits_at_the_signals_price(runs: dict[str, Any]) -> None:
    run = runs["new"]
    created = {d["decision_id"]: d for d in _entries(run) if d["decision"] == "CREATE"}
    entries = [o for o in run.orders if o["tag"] in ("HF_SCALP_LONG", "HF_SCALP_SHORT")]
    assert entries and {o["decision_id"] for o in entries} == set(created)
    for o in entries:
        assert o["order_type"] == "limit" and o["post_only"] and not o["reduce_only"]
    for did, d in created.items():
        first = min((o for o in entries if o["decision_id"] == did), key=lambda o: o["order_id"])
        assert first["price"] == d["price"]  # the touch the signal named
    assert all(f["is_maker"] for f in run.fills
               if any(o["order_id"] == f["order_id"] for o in entries))
