"""The aggregation formula of the original SentimentAggregator, checked with numbers computed
by hand.

Invariants:

* a source's score is the confidence-weighted mean of its items; S is the weighted mean of the
  source scores with the weights normalised over the sources present (a source without items
  or with weight 0 is absent);
* agreement per source: 1 for the sign of S, 0.5 when both |s| and |S| are below 0.1, else 0;
* confidence = 0.4 agree + 0.2 min(1, items/100) + 0.3 min(1, |S|/0.8) + 0.1 min(1, n/3);
* action: HOLD below confidence 0.5; BUY/SELL only with |S| > 0.5 and confidence > 0.7;
* :class:`SourceWindow`'s rolling sums equal a direct recomputation over the items still in
  the lookback after random sequences of adds and evictions (seeded here; a hypothesis
  property in ``test_properties.py`` when hypothesis is installed), and an item leaves exactly
  when it is ``lookback`` old.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hean_sentiment.aggregate import (
    SourceSummary,
    SourceWindow,
    Thresholds,
    action_of,
    aggregate,
    agreement_of,
)


def window(items: list[tuple[float, float]], lookback_ms: int = 3_600_000) -> SourceWindow:
    w = SourceWindow(lookback_ms)
    for i, (s, c) in enumerate(items):
        w.add(1_000 + i, s, c)
    return w


def test_three_sources_by_hand() -> None:
    news = window([(0.8, 0.9), (0.6, 0.5)])
    twitter = window([(-0.2, 0.5)])
    reddit = window([(0.5, 1.0), (0.3, 1.0)])
    # source scores: confidence-weighted means
    s_news = (0.8 * 0.9 + 0.6 * 0.5) / (0.9 + 0.5)  # 1.02 / 1.4 = 0.728571...
    assert news.score == pytest.approx(0.7285714285714286, abs=1e-15)
    assert twitter.score == pytest.approx(-0.2)
    assert reddit.score == pytest.approx(0.4)
    agg = aggregate([news.summary("news", 0.5), twitter.summary("twitter", 0.3),
                     reddit.summary("reddit", 0.2)])
    s = 0.5 * s_news + 0.3 * -0.2 + 0.2 * 0.4  # weights sum to 1
    assert s == pytest.approx(0.38428571428571423)
    assert agg.score == pytest.approx(s, abs=1e-12)
    # agreement: news +, twitter - (and |S| >= 0.1), reddit +
    assert agg.agreement == pytest.approx(2 / 3)
    conf = 0.4 * (2 / 3) + 0.2 * (5 / 100) + 0.3 * (s / 0.8) + 0.1 * (3 / 3)
    assert conf == pytest.approx(0.520774, abs=1e-6)
    assert agg.confidence == pytest.approx(conf, abs=1e-12)
    assert (agg.items, agg.n_sources, agg.action) == (5, 3, "HOLD")
    assert agg.sources == (("news", pytest.approx(s_news), 2), ("reddit", 0.4, 2),
                           ("twitter", -0.2, 1))


def test_weights_are_normalised_over_the_sources_present() -> None:
    # twitter has no item: S = (0.5 * 0.9 + 0.2 * 0.7) / 0.7
    agg = aggregate([SourceSummary("news", 0.9, 10, 0.5), SourceSummary("twitter", 0.0, 0, 0.3),
                     SourceSummary("reddit", 0.7, 40, 0.2)])
    s = (0.45 + 0.14) / 0.7
    assert agg.score == pytest.approx(s)  # 0.842857
    # agree 1; items 50 -> 0.1; |S| >= 0.8 -> full 0.3; 2 sources -> 0.0667
    assert agg.confidence == pytest.approx(0.4 + 0.1 + 0.3 + 0.1 * 2 / 3)
    assert agg.action == "BUY" and agg.n_sources == 2


def test_a_strong_bearish_consensus_sells() -> None:
    agg = aggregate([SourceSummary("news", -0.9, 60, 0.5), SourceSummary("twitter", -0.7, 50, 0.3),
                     SourceSummary("reddit", -0.6, 10, 0.2)])
    s = -(0.45 + 0.21 + 0.12)
    assert agg.score == pytest.approx(s)  # -0.78
    assert agg.confidence == pytest.approx(0.4 + 0.2 + 0.3 * 0.78 / 0.8 + 0.1)  # 0.9925
    assert agg.action == "SELL"


def test_zero_weight_and_zero_confidence_sources_are_absent() -> None:
    w = window([(0.9, 0.0), (0.8, 0.0)])  # confidences sum to 0
    assert w.summary("reddit", 0.2).items == 0
    agg = aggregate([w.summary("reddit", 0.2), SourceSummary("news", 0.7, 3, 0.0)])
    assert agg.n_sources == 0 and agg.action == "HOLD" and agg.confidence == 0.0


@pytest.mark.parametrize(("s", "total", "expected"), [
    (0.3, 0.5, 1.0), (-0.3, -0.05, 1.0), (-0.05, 0.05, 0.5), (0.0, 0.0, 0.5), (0.0, 0.2, 0.0),
    (-0.3, 0.05, 0.0), (0.09, -0.2, 0.0),
])
def test_agreement_cases(s: float, total: float, expected: float) -> None:
    assert agreement_of(s, total) == expected


@pytest.mark.parametrize(("score", "conf", "action"), [
    (0.9, 0.49, "HOLD"), (0.51, 0.71, "BUY"), (0.5, 0.9, "HOLD"), (0.9, 0.7, "HOLD"),
    (-0.51, 0.71, "SELL"), (-0.9, 0.6, "HOLD"), (0.2, 0.95, "HOLD"),
])
def test_action_rule(score: float, conf: float, action: str) -> None:
    assert action_of(score, conf) == action


def test_thresholds_change_the_constants() -> None:
    summaries = [SourceSummary("news", 0.4, 10, 1.0)]
    default = aggregate(summaries)
    assert default.confidence == pytest.approx(0.4 + 0.02 + 0.15 + 0.1 / 3)
    loose = aggregate(summaries, Thresholds(volume_full=10, strength_full=0.4, full_sources=1,
                                            action_score=0.3, action_confidence=0.6))
    assert loose.confidence == pytest.approx(1.0) and loose.action == "BUY"


def test_items_leave_the_window_exactly_at_the_lookback() -> None:
    w = SourceWindow(60_000)
    w.add(1_000, 0.5, 1.0)
    w.add(2_000, -0.5, 0.5)
    w.evict(60_999)  # 1_000 is 59.999 s old: still in
    assert len(w) == 2
    w.evict(61_000)  # exactly 60 s old: out
    assert len(w) == 1 and w.score == pytest.approx(-0.5)
    w.evict(62_000)
    assert len(w) == 0 and w.score == 0.0 and (w.sum_sc, w.sum_c) == (0.0, 0.0)
    assert w.newest == 2_000


def test_rolling_sums_equal_a_direct_recomputation(
        window_check: Callable[[list[tuple[int, float, float, bool]], int], None]) -> None:
    rng = random.Random(11)
    for _ in range(300):
        steps = [(rng.randrange(0, 5_000), rng.uniform(-1, 1), rng.random(), rng.random() < 0.3)
                 for _ in range(rng.randrange(0, 80))]
        window_check(steps, rng.randrange(100, 3_000))
