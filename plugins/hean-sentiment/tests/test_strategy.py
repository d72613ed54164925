"""``sentiment_strategy``: the entry rules on readings set directly through ``ctx.facts``.

Invariants:

* the strategy trades a reading **whoever publishes it** (here the test, standing in for an LLM
  scorer or a live client): BUY -> buy, SELL -> sell at the price, stop 1 % and target 2 % away
  (reward:risk 2), time stop ``max_hold_min``, confidence = the reading's, urgency 0.4, maker
  entry, ``edge_bps`` = target bps x confidence;
* it fires on the first price update after a qualifying reading and trades one update at most
  once; a reading whose newest input is older than ``stale_min`` (or the source's neutral stale
  reading) is not traded;
* every price update that does not become a signal is counted under exactly one reason, so
  ``evaluations`` = the reasons + ``entries`` + ``fallback_entries``;
* thresholds, sides, cooldown and open positions are respected;
* the momentum fallback is off by default; on, it engages only while there is no live reading
  -- including when the source is absent or its reading is stale -- and its rolling sums equal
  ``mean(last 5) / mean(previous 15) - 1`` computed directly on real candles.
"""

from __future__ import annotations

from typing import Any

import pytest
from hean_sentiment import SENTIMENT, SentimentReading
from hean_sentiment.strategy import SKIP_REASONS

from hean_framework.models import Bar, Fill
from hean_framework.testing import sample_bars

T0 = 1_741_300_000_000
MIN = 60_000


def reading(score: float = -0.8, conf: float = 0.8, action: str = "SELL", ts: int = T0,
            **kw: Any) -> SentimentReading:
    return SentimentReading(True, "BTC", score, conf, action, ts, ts, 40, 3, 1.0, (), **kw)


class Harness:
    def __init__(self, kit: Any, **cfg: Any) -> None:
        self.kit = kit
        self.ctx = kit.context(symbols=[kit.BTC])
        self.strat = kit.build(self.ctx, "strategy", "sentiment_strategy", cfg, [kit.BTC])

    def publish(self, r: SentimentReading) -> None:
        self.ctx.facts.set(SENTIMENT, r, self.kit.BTC)

    def bar(self, ts: int, close: float = 80_000.0) -> Any:
        self.ctx.now = ts
        return self.strat.on_bar(Bar(ts, self.kit.BTC, close, close, close, close, 1.0,
                                     300_000))

    def counts(self) -> dict[str, int]:
        c = self.strat.stats()
        assert c["evaluations"] == (sum(c[r] for r in SKIP_REASONS) + c["entries"]
                                    + c["fallback_entries"])
        return c


def test_a_published_reading_is_traded_with_its_exits(kit: Any) -> None:
    h = Harness(kit)
    h.publish(reading(-0.8, 0.8, "SELL", T0))
    s = h.bar(T0 + 4 * MIN, 80_000.0)
    assert s is not None and (s.side, s.ts, s.entry_price) == ("sell", T0 + 4 * MIN, 80_000.0)
    assert s.stop_loss == pytest.approx(80_800.0) and s.take_profit == pytest.approx(78_400.0)
    assert s.confidence == 0.8 and s.urgency == 0.4 and s.prefer_maker
    assert s.edge_bps == pytest.approx(200 * 0.8) and s.max_hold_ms == 240 * MIN
    assert s.tag == "SENTIMENT" and s.metadata["age_s"] == 240.0
    h.publish(reading(0.7, 0.9, "BUY", T0 + 40 * MIN))
    s = h.bar(T0 + 45 * MIN, 81_000.0)
    assert s is not None and s.side == "buy"
    assert (s.stop_loss, s.take_profit) == pytest.approx((80_190.0, 82_620.0))
    assert h.counts()["entries"] == 2


def test_one_update_is_traded_once_and_stale_ones_never(kit: Any) -> None:
    h = Harness(kit, cooldown_min=15)
    h.publish(reading(ts=T0))
    assert h.bar(T0) is not None  # the first update after the reading fires
    assert h.bar(T0 + 5 * MIN) is None
    assert h.counts()["already_traded"] == 1
    h.publish(reading(ts=T0 + 30 * MIN))
    assert h.bar(T0 + 45 * MIN) is not None  # 15 min old: still fresh
    h.publish(reading(ts=T0 + 50 * MIN))
    assert h.bar(T0 + 65 * MIN + 1) is None  # 15 min + 1 ms old: stale
    h.publish(SentimentReading(asset="BTC", ts=T0, reason="stale"))
    assert h.bar(T0 + 70 * MIN) is None
    c = h.counts()
    assert (c["stale"], c["stale_reading"], c["entries"]) == (1, 1, 2)


@pytest.mark.parametrize(("r", "reason"), [
    (reading(-0.8, 0.8, "HOLD"), "hold"),
    (reading(-0.8, 0.74, "SELL"), "low_confidence"),
    (reading(-0.59, 0.8, "SELL"), "weak_score"),
    (SentimentReading(), "no_sentiment"),
])
def test_thresholds(kit: Any, r: SentimentReading, reason: str) -> None:
    h = Harness(kit)
    h.publish(r)
    assert h.bar(T0 + MIN) is None
    assert h.counts()[reason] == 1


def test_at_the_thresholds_it_trades(kit: Any) -> None:
    h = Harness(kit)
    h.publish(reading(-0.6, 0.75, "SELL"))
    assert h.bar(T0 + MIN) is not None


def test_sides(kit: Any) -> None:
    h = Harness(kit, sides="long")
    h.publish(reading(-0.8, 0.8, "SELL"))
    assert h.bar(T0) is None and h.counts()["side_filtered"] == 1
    h.publish(reading(0.8, 0.8, "BUY", T0 + MIN))
    assert h.bar(T0 + MIN) is not None


def test_cooldown_and_open_position(kit: Any) -> None:
    h = Harness(kit)
    h.publish(reading(ts=T0))
    s = h.bar(T0)
    assert s is not None
    h.publish(reading(ts=T0 + 10 * MIN))
    assert h.bar(T0 + 10 * MIN) is None and h.counts()["cooldown"] == 1
    h.ctx.portfolio.apply_fill(Fill(h.ctx.next_id(), 1, h.strat.name, h.kit.BTC, "sell", 0.01,
                                    80_000.0, 0.0, True, T0 + MIN))
    h.publish(reading(ts=T0 + 35 * MIN))
    assert h.bar(T0 + 35 * MIN) is None and h.counts()["in_position"] == 1


def test_fallback_is_off_by_default(kit: Any) -> None:
    h = Harness(kit)
    for i, b in enumerate(sample_bars(400)):
        h.ctx.now = b.ts
        assert h.strat.on_bar(b) is None, i
    assert h.counts()["no_sentiment"] == 400


def test_fallback_matches_its_definition_on_real_candles(kit: Any) -> None:
    h = Harness(kit, momentum_fallback=True, cooldown_min=15)
    bars = list(sample_bars(3000))
    closes: list[float] = []
    fired = 0
    for b in bars:
        closes.append(b.close)
        h.ctx.now = b.ts
        s = h.strat.on_bar(b)
        book = h.strat._books[kit.BTC]
        if len(closes) >= 20:
            m = (sum(closes[-5:]) / 5) / (sum(closes[-20:-5]) / 15) - 1
            assert book.momentum() == pytest.approx(m, abs=1e-12)
        if s is not None:
            fired += 1
            m = s.metadata["momentum"]
            assert abs(m) >= 0.003 and (s.side == "buy") == (m > 0)
            assert s.confidence == pytest.approx(min(0.7, 50 * abs(m)))
            assert s.urgency == 0.3 and s.tag == "SENTIMENT_FALLBACK"
            sign = 1 if s.side == "buy" else -1
            assert s.stop_loss == pytest.approx(b.close * (1 - sign * 0.008))
            assert s.take_profit == pytest.approx(b.close * (1 + sign * 0.016))
    c = h.counts()
    assert fired == c["fallback_entries"] > 10
    assert c["fallback_warmup"] == 19


def test_fallback_yields_to_a_live_reading_and_returns_when_it_goes_stale(kit: Any) -> None:
    h = Harness(kit, momentum_fallback=True, cooldown_min=15)
    price = 80_000.0
    for i in range(20):  # a steady climb: m well above 0.3 %, fires once at the 20th price
        h.bar(T0 + i * 5 * MIN, price * (1 + 0.002 * i))
    assert h.counts()["fallback_entries"] == 1
    h.publish(reading(0.3, 0.6, "HOLD", ts=T0 + 100 * MIN))  # live, but not tradable
    assert h.bar(T0 + 100 * MIN, price * 1.05) is None
    assert h.counts()["hold"] == 1
    s = h.bar(T0 + 116 * MIN, price * 1.06)  # the reading is 16 min old: the fallback again
    assert s is not None and s.tag == "SENTIMENT_FALLBACK" and s.side == "buy"
    assert s.metadata["no_sentiment"] == "stale"
