"""``sentiment_source``: reading the items file, the clock, staleness and the market proxy.

Invariants:

* the items file is read once in ``on_start`` (plain or gzip, ``#`` comments, columns in any
  order); bad rows are skipped and counted per reason; a missing file or a header without the
  five columns is a ``DataError`` naming the file -- and the source then publishes nothing
  (readers stay neutral) without failing on later events;
* **no look-ahead**: an item stamped T is not in any reading published before T and is in the
  one published at T; a reading's ``ts`` is never after the clock;
* each source keeps only its lookback; an asset whose newest input is older than
  ``stale_min`` gets the neutral reading (``reason="stale"``) at the first event after the
  limit; items of assets the source does not trade are counted and dropped;
* a reading is published under the symbols of its asset only;
* no file is opened after ``on_start``: a whole replay of the bundled candles with file access
  made to fail gives the same signals;
* the market proxy's funding z-score, momentum and OFI components match hand-computed numbers,
  OFI only when hean-market-analyzers publishes a known value; a proxy-only reading has the
  aggregation's confidence for one source and one item;
* the config refuses mismatched weights/lookbacks, the reserved source name ``market`` and a
  source with nothing to publish.
"""

from __future__ import annotations

import builtins
import gzip
import io
import math
import pathlib
from pathlib import Path
from typing import Any

import pytest
from hean_sentiment import SENTIMENT, SentimentSourceConfig, load_items
from hean_sentiment.items import REJECT_REASONS
from hean_sentiment.proxy import MarketProxy
from pydantic import ValidationError

from hean_framework.errors import DataError
from hean_framework.models import Bar, Funding

HEADER = "timestamp,asset,source,score,confidence\n"
T0 = 1_741_300_000_000
MIN = 60_000


def write(tmp: Path, body: str, name: str = "items.csv", header: str = HEADER) -> Path:
    p = tmp / name
    p.write_text(header + body, encoding="utf-8")
    return p


def bar(ts: int, symbol: str, close: float = 100.0) -> Bar:
    return Bar(ts, symbol, close, close, close, close, 1.0, 300_000)


def source(kit: Any, path: Path | None, symbols: list[str] | None = None,
           **cfg: Any) -> tuple[Any, Any]:
    ctx = kit.context(base_dir=path.parent if path else kit.PLUGIN)
    config = {"path": path.name if path else None, **cfg}
    return ctx, kit.build(ctx, "analyzer", "sentiment_source", config, symbols)


# ------------------------------------------------------------------ the file


def test_rows_are_validated_and_counted(tmp_path: Path) -> None:
    body = ("# a comment line\n"
            f"{T0 + 2},btc,News,0.5,0.9\n"
            f"{T0 + 1},BTC,twitter,-0.4,0.8\n"
            f"{T0 + 1},ETH,reddit,0.1,0.7\n"
            f"{T0},BTC,news,1.5,0.9\n"          # bad_score
            f"{T0},BTC,news,0.5,-0.1\n"         # bad_confidence
            f"{T0},BTC,news,nan,0.5\n"          # bad_score
            f"abc,BTC,news,0.5,0.5\n"           # bad_timestamp
            f"{T0}.5,BTC,news,0.5,0.5\n"        # bad_timestamp
            f"{T0}, ,news,0.5,0.5\n"            # no_asset
            f"{T0},BTC,telegram,0.5,0.5\n"      # unknown_source
            f"{T0},BTC\n")                      # malformed
    items, rej = load_items(write(tmp_path, body), frozenset({"news", "twitter", "reddit"}))
    assert [(i.ts, i.asset, i.source) for i in items] == [
        (T0 + 1, "BTC", "twitter"), (T0 + 1, "ETH", "reddit"), (T0 + 2, "BTC", "news")]
    assert rej == {"malformed": 1, "bad_timestamp": 2, "bad_score": 2, "bad_confidence": 1,
                   "no_asset": 1, "unknown_source": 1}
    assert set(rej) == set(REJECT_REASONS)


def test_gzip_and_column_order(tmp_path: Path) -> None:
    p = tmp_path / "items.csv.gz"
    with gzip.open(p, "wt", encoding="utf-8") as fh:
        fh.write("confidence,score,source,asset,timestamp,extra\n0.9,0.5,news,BTC,123,x\n")
    items, _ = load_items(p)
    assert [(i.ts, i.score, i.confidence) for i in items] == [(123, 0.5, 0.9)]


def test_missing_file_and_columns_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_items(tmp_path / "nope.csv")
    with pytest.raises(DataError, match=r"no column \['confidence'\]"):
        load_items(write(tmp_path, "1,BTC,news,0.5\n", header="timestamp,asset,source,score\n"))


def test_a_missing_file_leaves_the_source_neutral(kit: Any, tmp_path: Path) -> None:
    ctx = kit.context(base_dir=tmp_path)
    with pytest.raises(DataError, match=r"nope\.csv"):
        kit.build(ctx, "analyzer", "sentiment_source", {"path": "nope.csv"})
    # the engine journals the failure and keeps calling the analyzer: it must not raise
    from hean_sentiment.source import SentimentSource, SentimentSourceConfig
    src = SentimentSource(SentimentSourceConfig(path="nope.csv"), ctx, "sentiment_source",
                          [kit.BTC])
    with pytest.raises(DataError):
        src.on_start()
    ctx.now = T0
    src.on_bar(bar(T0, kit.BTC))
    assert not ctx.facts.has(SENTIMENT, kit.BTC)


# ------------------------------------------------------------------ the clock


def test_an_item_is_applied_when_the_clock_reaches_it_never_before(kit: Any,
                                                                   tmp_path: Path) -> None:
    p = write(tmp_path, f"{T0},BTC,news,0.8,0.9\n{T0 + 5 * MIN},BTC,news,-0.8,0.9\n")
    ctx, src = source(kit, p, [kit.BTC])
    ctx.now = T0 - 1
    src.on_bar(bar(T0 - 1, kit.BTC))
    assert not ctx.facts.get(SENTIMENT, kit.BTC).known
    ctx.now = T0
    src.on_bar(bar(T0, kit.BTC))
    r = ctx.facts.get(SENTIMENT, kit.BTC)
    assert r.known and r.score == pytest.approx(0.8) and r.ts == T0 <= ctx.now
    ctx.now = T0 + 5 * MIN - 1  # the second item is 1 ms in the future: not seen
    src.on_bar(bar(ctx.now, kit.BTC))
    assert ctx.facts.get(SENTIMENT, kit.BTC).score == pytest.approx(0.8)
    ctx.now = T0 + 5 * MIN
    src.on_bar(bar(ctx.now, kit.BTC))
    r = ctx.facts.get(SENTIMENT, kit.BTC)
    assert r.score == pytest.approx(0.0) and r.items == 2 and r.ts == ctx.now


def test_readings_never_contain_future_items_on_the_sample(kit: Any, sample_data: Path) -> None:
    ctx = kit.context()
    src = kit.build(ctx, "analyzer", "sentiment_source",
                    {"path": "data/" + kit.SAMPLE_ITEMS.name})
    items, _ = load_items(kit.SAMPLE_ITEMS)
    seen = 0
    for b in kit.real_bars(sample_data)[:3000]:
        ctx.now = b.ts
        src.on_bar(b)
        r = ctx.facts.get(SENTIMENT, b.symbol)
        if r.known:
            seen += 1
            assert r.ts <= b.ts and r.updated_ts == b.ts
            # exactly the items due by now were applied
            assert src.stats()["items_applied"] == sum(1 for i in items if i.ts <= b.ts)
    assert seen > 2000


def test_lookbacks_and_staleness(kit: Any, tmp_path: Path) -> None:
    p = write(tmp_path, f"{T0},BTC,news,0.6,1.0\n{T0 + MIN},BTC,twitter,0.9,1.0\n")
    ctx, src = source(kit, p, [kit.BTC], stale_min=90, refresh_s=60)

    def at(ts: int) -> Any:
        ctx.now = ts
        src.on_bar(bar(ts, kit.BTC))
        return ctx.facts.get(SENTIMENT, kit.BTC)

    r = at(T0 + MIN)
    assert r.n_sources == 2 and r.score == pytest.approx((0.5 * 0.6 + 0.3 * 0.9) / 0.8)
    r = at(T0 + 61 * MIN)  # the twitter item is 60 min old: out of its 1 h lookback
    assert r.known and r.n_sources == 1 and r.score == pytest.approx(0.6)
    assert r.ts == T0  # the newest input the reading still contains is the news item
    r = at(T0 + 90 * MIN)  # 90 min after it: still fresh
    assert r.known
    r = at(T0 + 90 * MIN + 1)  # older than stale_min: neutral
    assert not r.known and r.reason == "stale" and r.score == 0.0
    assert src.stats()["readings_stale"] == 1


def test_staleness_is_published_between_refreshes(kit: Any, tmp_path: Path) -> None:
    p = write(tmp_path, f"{T0},BTC,news,0.6,1.0\n")
    ctx, src = source(kit, p, [kit.BTC], stale_min=15, refresh_s=86_400)
    for ts in (T0, T0 + 15 * MIN, T0 + 15 * MIN + 1):
        ctx.now = ts
        src.on_bar(bar(ts, kit.BTC))
    assert ctx.facts.get(SENTIMENT, kit.BTC).reason == "stale"


def test_readings_go_to_the_symbols_of_their_asset(kit: Any, tmp_path: Path) -> None:
    p = write(tmp_path, f"{T0},BTC,news,0.6,1.0\n{T0},SOL,news,0.6,1.0\n{T0},ETH,news,-0.6,1.0\n")
    ctx, src = source(kit, p, [kit.BTC, kit.ETH])
    ctx.now = T0
    src.on_bar(bar(T0, kit.BTC))
    assert ctx.facts.get(SENTIMENT, kit.BTC).score == pytest.approx(0.6)
    assert ctx.facts.get(SENTIMENT, kit.ETH).score == pytest.approx(-0.6)
    assert ctx.facts.get(SENTIMENT, kit.BTC).asset == "BTC"
    assert src.stats()["items_unmapped"] == 1  # SOL: no symbol of the source trades it


# ------------------------------------------------------------------ no I/O per event


def test_no_file_is_opened_after_on_start(kit: Any, sample_data: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    bars = kit.real_bars(sample_data)

    def run(block_io: bool) -> list[Any]:
        ctx = kit.context()
        src = kit.build(ctx, "analyzer", "sentiment_source",
                        {"path": "data/" + kit.SAMPLE_ITEMS.name})
        strat = kit.build(ctx, "strategy", "sentiment_strategy")
        if block_io:
            def refuse(*a: Any, **k: Any) -> Any:
                raise AssertionError("file opened after on_start")
            with monkeypatch.context() as m:
                for mod, name in ((builtins, "open"), (io, "open"), (gzip, "open"),
                                  (pathlib.Path, "open"), (pathlib.Path, "read_text")):
                    m.setattr(mod, name, refuse)
                return kit.replay(ctx, bars, src, strat)
        return kit.replay(ctx, bars, src, strat)

    free = run(False)
    blocked = run(True)
    assert len(free) > 50
    assert [(s.ts, s.symbol, s.side) for s in blocked] == [(s.ts, s.symbol, s.side)
                                                             for s in free]


# ------------------------------------------------------------------ the market proxy


def test_proxy_components_by_hand() -> None:
    p = MarketProxy(momentum_bars=2, momentum_scale=0.05, funding_window=21,
                    funding_z_scale=4.0, funding_contrarian=False)
    for r in (1e-4, 2e-4, 3e-4, 4e-4, 5e-4):
        p.on_funding(r)
    assert p.funding_component() is None  # z needs 5 earlier settlements
    p.on_funding(6e-4)
    # earlier: mean 3e-4, population sd sqrt(2)e-4 -> z = 3 / sqrt(2) = 2.1213
    assert p.funding_z == pytest.approx(3 / math.sqrt(2))
    assert p.funding_component() == pytest.approx(3 / math.sqrt(2) / 4)
    assert p.momentum() is None
    for c in (100.0, 101.0, 102.0):
        p.on_close(c)
    assert p.momentum() == pytest.approx(math.log(1.02) / 0.05)
    score, n = p.score(None) or (0.0, 0)
    assert n == 2 and score == pytest.approx((3 / math.sqrt(2) / 4 + math.log(1.02) / 0.05) / 2)
    score, n = p.score(-0.4) or (0.0, 0)
    assert n == 3
    assert score == pytest.approx((3 / math.sqrt(2) / 4 + math.log(1.02) / 0.05 - 0.4) / 3)
    contra = MarketProxy(2, 0.05, 21, 4.0, True)
    for r in (1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4):
        contra.on_funding(r)
    assert contra.funding_component() == pytest.approx(-3 / math.sqrt(2) / 4)


def test_proxy_funding_window_rolls(kit: Any) -> None:
    p = MarketProxy(2, 0.05, 6, 2.0, False)
    rates = [1e-4, -2e-4, 3e-4, 0.5e-4, 2e-4, 1e-4, 4e-4, -1e-4, 2.5e-4]
    for i, r in enumerate(rates):
        p.on_funding(r)
        prev = rates[max(0, i - 6):i]
        if len(prev) >= 5:
            mean = sum(prev) / len(prev)
            sd = math.sqrt(sum((x - mean) ** 2 for x in prev) / len(prev))
            assert p.funding_z == pytest.approx((r - mean) / sd, rel=1e-9)


def test_proxy_only_reading(kit: Any) -> None:
    ctx = kit.context(symbols=[kit.BTC])
    src = kit.build(ctx, "analyzer", "sentiment_source",
                    {"market_proxy": True, "momentum_bars": 2, "momentum_scale": 0.05,
                     "use_ofi": False}, [kit.BTC])
    events: list[Any] = [Funding(T0 + i * 8 * 60 * MIN, kit.BTC, r)
                         for i, r in enumerate((1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4))]
    last = events[-1].ts
    events += [bar(last + 5 * MIN * (i + 1), kit.BTC, c)
               for i, c in enumerate((100.0, 101.0, 102.0))]
    kit.replay(ctx, events, src)
    r = ctx.facts.get(SENTIMENT, kit.BTC)
    # funding z = 3 / sqrt(2) = 2.12 -> 2.12 / 2 clamps to 1; momentum ln(1.02) / 0.05
    proxy = (1.0 + math.log(1.02) / 0.05) / 2
    assert r.known and r.sources == (("market", pytest.approx(proxy), 1),)
    assert r.score == pytest.approx(proxy) and r.ts == ctx.now
    assert r.confidence == pytest.approx(0.4 + 0.2 * 0.01 + 0.3 * min(1, proxy / 0.8) + 0.1 / 3)


def test_proxy_reads_ofi_only_when_known(kit: Any) -> None:
    facts = pytest.importorskip("hean_market_analyzers.facts",
                                reason="hean-market-analyzers is not installed (optional)")
    ctx = kit.context(symbols=[kit.BTC])
    src = kit.build(ctx, "analyzer", "sentiment_source",
                    {"market_proxy": True, "momentum_bars": 1, "momentum_scale": 0.05},
                    [kit.BTC])
    kit.replay(ctx, [bar(T0, kit.BTC, 100.0), bar(T0 + 5 * MIN, kit.BTC, 101.0)], src)
    mom = math.log(1.01) / 0.05
    assert ctx.facts.get(SENTIMENT, kit.BTC).score == pytest.approx(mom)
    ctx.facts.set(facts.OFI, 0.0, kit.BTC)  # published, but OFI_SOURCE '' = unknown
    kit.replay(ctx, [bar(T0 + 10 * MIN, kit.BTC, 101.0)], src)
    assert ctx.facts.get(SENTIMENT, kit.BTC).score == pytest.approx(0.0)  # momentum 0 only
    ctx.facts.set(facts.OFI, -0.6, kit.BTC)
    ctx.facts.set(facts.OFI_SOURCE, "quote", kit.BTC)
    kit.replay(ctx, [bar(T0 + 15 * MIN, kit.BTC, 102.0)], src)
    mom = math.log(102.0 / 101.0) / 0.05
    assert ctx.facts.get(SENTIMENT, kit.BTC).score == pytest.approx((mom - 0.6) / 2)


# ------------------------------------------------------------------ config


@pytest.mark.parametrize(("bad", "match"), [
    ({"path": "x.csv", "weights": {"news": 1.0}}, "same sources"),
    ({"path": "x.csv", "weights": {"news": 1.0, "market": 1.0},
      "lookback_min": {"news": 60, "market": 60}}, "reserved|market proxy"),
    ({}, "nothing to publish"),
    ({"path": "x.csv", "weights": {"news": 0.0}, "lookback_min": {"news": 60}},
     "positive weight"),
    ({"path": "x.csv", "weights": {"news": -1.0}, "lookback_min": {"news": 60}}, "0..1000"),
    ({"path": "x.csv", "lookback_min": {"news": 0, "twitter": 60, "reddit": 60}}, "1..100000"),
    ({"path": "x.csv", "refresh_s": 0}, "greater than or equal"),
    ({"path": "x.csv", "nope": 1}, "Extra inputs"),
])
def test_config_refuses(bad: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        SentimentSourceConfig(**bad)
