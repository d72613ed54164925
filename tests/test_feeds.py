"""CsvFeed / MemoryFeed on the bundled real data; synthetic files only for the bad-row tests."""

from __future__ import annotations

import gzip
import shutil
import tracemalloc
import types
from pathlib import Path
from typing import Any

import pytest

from hean_framework.book import OrderBook
from hean_framework.builtin import feeds as builtin_feeds
from hean_framework.errors import DataError
from hean_framework.feeds import (
    KIND_ORDER,
    CsvFeed,
    CsvFeedConfig,
    MemoryFeed,
    MemoryFeedConfig,
    load_bar_columns,
    parse_time,
)
from hean_framework.models import Bar, BookUpdate, Funding, Quote, Trade, to_dict

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
BARS_BTC = "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"
BARS_ETH = "binance_usdm_perp_ETHUSDT_5m_20250306_20250413.csv.gz"
FUND_BTC = "binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz"
TRADES_BTC = "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz"
TRADES_ETH = "binance_usdm_perp_ETHUSDT_trades_20240808.csv.gz"
BBO_BTC = "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz"
BBO_ETH = "binance_usdm_perp_ETHUSDT_bbo_20240808.csv.gz"
L2_BTC = "binance_usdm_perp_BTCUSDT_l2_20240808_first60s.csv.gz"

KIND_OF_CLASS = {Funding: "funding", BookUpdate: "l2", Quote: "bbo", Trade: "trades",
                 Bar: "bars"}


def ctx_for(base: Path) -> Any:
    """A stand-in RunContext: only ``config.base_dir`` is read by the feed."""
    return types.SimpleNamespace(config=types.SimpleNamespace(base_dir=str(base)))


def make_feed(base: Path, *files: tuple[str, str, str], **kw: Any) -> CsvFeed:
    cfg = CsvFeedConfig(files=[{"kind": k, "symbol": s, "path": p} for k, s, p in files], **kw)
    return CsvFeed(cfg, ctx_for(base), name="csv")


def write_gz(path: Path, text: str) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.write(text)
    return path


def as_rows(events: Any) -> list[tuple[Any, ...]]:
    return [(type(e).__name__, *to_dict(e).values()) for e in events]


# ------------------------------------------------------------------------------ ordering


def test_merged_order_and_tie_rule(sample_data: Path) -> None:
    files = [("trades", ETH, TRADES_ETH), ("bbo", BTC, BBO_BTC), ("trades", BTC, TRADES_BTC),
             ("l2", BTC, L2_BTC), ("bbo", ETH, BBO_ETH)]
    feed = make_feed(sample_data, *files)
    index = {(k, s): i for i, (k, s, _) in enumerate(files)}
    events = list(feed.events())
    assert feed.rejections() == {}
    counts: dict[tuple[str, str], int] = {}
    prev_key: tuple[int, int, int] | None = None
    last_trade_id: dict[str, int] = {}
    ties = cross_kind_ties = 0
    for e in events:
        kind = KIND_OF_CLASS[type(e)]
        counts[kind, e.symbol] = counts.get((kind, e.symbol), 0) + 1
        key = (e.ts, KIND_ORDER[kind], index[kind, e.symbol])
        if prev_key is not None:
            assert key >= prev_key, f"out of order: {prev_key} then {key}"
            if key[0] == prev_key[0]:
                ties += 1
                cross_kind_ties += key[1] != prev_key[1]
        prev_key = key
        if isinstance(e, Trade):  # row order inside a file is kept (trade ids increase)
            assert e.trade_id > last_trade_id.get(e.symbol, 0)
            last_trade_id[e.symbol] = e.trade_id
    assert ties > 1000 and cross_kind_ties > 100  # the tie rule was really exercised
    assert counts["trades", BTC] == 21_313 and counts["trades", ETH] == 14_051
    assert counts["bbo", BTC] == 66_088 and counts["bbo", ETH] == 53_984
    assert counts["l2", BTC] > 900  # one event per message, not per row


def test_funding_before_bar_closing_at_the_same_ms(sample_data: Path) -> None:
    feed = make_feed(sample_data, ("bars", BTC, BARS_BTC), ("funding", BTC, FUND_BTC))
    events = list(feed.events())
    fundings = [i for i, e in enumerate(events) if isinstance(e, Funding)]
    assert len(fundings) == 266
    # 2025-03-06 16:00:00.000 settlement: the bar opened 15:55 closes at the same ms
    first = events[fundings[0]]
    assert first.ts == 1741276800000 and first.rate == pytest.approx(0.00006818)
    assert first.mark_price == pytest.approx(90776.94748889)
    nxt = events[fundings[0] + 1]
    assert isinstance(nxt, Bar) and nxt.ts == first.ts
    assert isinstance(events[fundings[0] - 1], Bar) and events[fundings[0] - 1].ts < first.ts


def test_bars_are_emitted_at_close_time(sample_data: Path, tmp_path: Path) -> None:
    feed = make_feed(sample_data, ("bars", BTC, BARS_BTC))
    bars = list(feed.events())
    assert len(bars) == 10_906
    first = bars[0]
    # first row: open time 2025-03-06T10:30Z, O 91616.5 H 91616.5 L 91383.1 C 91437.5
    assert first.ts == 1741257000000 + 300_000 and first.interval_ms == 300_000
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        91616.5, 91616.5, 91383.1, 91437.5, 1029.223)
    assert bars[-1].ts == parse_time("2025-04-13T07:20:00Z")
    # the same file under a name without "_5m_": the interval comes from the timestamps
    other = tmp_path / "btc_candles.csv.gz"
    shutil.copy(sample_data / BARS_BTC, other)
    feed2 = make_feed(tmp_path, ("bars", BTC, other.name))
    assert next(iter(feed2.events())).ts == first.ts
    assert feed2.interval_ms(0) == 300_000


def test_start_end_window(sample_data: Path) -> None:
    feed = make_feed(sample_data, ("bars", BTC, BARS_BTC), ("funding", BTC, FUND_BTC),
                     start="2025-03-10", end="2025-03-11T00:00:00Z")
    events = list(feed.events())
    lo, hi = parse_time("2025-03-10"), parse_time("2025-03-11")
    assert all(lo <= e.ts < hi for e in events)
    bars = [e for e in events if isinstance(e, Bar)]
    assert len(bars) == 288 and bars[0].ts == lo and bars[-1].ts == hi - 300_000
    assert sum(isinstance(e, Funding) for e in events) == 3


def test_start_inside_l2_file_emits_catch_up_snapshot(sample_data: Path) -> None:
    start = 1723161256501 + 20_000
    feed = make_feed(sample_data, ("l2", BTC, L2_BTC), ("bbo", BTC, BBO_BTC), start=start)
    book = OrderBook(BTC)
    books = [e for e in feed.events() if isinstance(e, BookUpdate)]
    assert books[0].snapshot and books[0].ts >= start and not books[1].snapshot
    assert all(e.ts >= start for e in books)
    for m in books:
        book.apply(m)
        assert not book.is_crossed()
    full = OrderBook(BTC)
    for m in make_feed(sample_data, ("l2", BTC, L2_BTC)).events():
        full.apply(m)
    assert full.levels("bid", 10**6) == book.levels("bid", 10**6)
    assert full.levels("ask", 10**6) == book.levels("ask", 10**6)


# ------------------------------------------------------------------------------ errors


def test_missing_file_names_yaml_path(sample_data: Path) -> None:
    with pytest.raises(DataError) as ei:
        make_feed(sample_data, ("bars", BTC, BARS_BTC), ("trades", BTC, "nope/missing.csv.gz"))
    msg = str(ei.value)
    assert "data.files[1].path" in msg
    assert str(sample_data / "nope/missing.csv.gz") in msg
    assert ei.value.hint


def test_relative_paths_config_dir_first_then_current_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A path typed with --set (relative to where the command runs) is found too; the run
    config's directory wins when both hold the file."""
    conf_dir, cwd = tmp_path / "conf", tmp_path / "cwd"
    conf_dir.mkdir()
    (cwd / "d").mkdir(parents=True)
    bars = "timestamp,open,high,low,close,volume\n60000,10,11,9,10.5,1\n"
    write_gz(cwd / "d" / "x_1m.csv.gz", bars)
    monkeypatch.chdir(cwd)
    feed = make_feed(conf_dir, ("bars", BTC, "d/x_1m.csv.gz"))
    assert [e.close for e in feed.events()] == [10.5]
    (conf_dir / "d").mkdir()
    write_gz(conf_dir / "d" / "x_1m.csv.gz", bars.replace("10.5", "10.25"))
    feed = make_feed(conf_dir, ("bars", BTC, "d/x_1m.csv.gz"))
    assert [e.close for e in feed.events()] == [10.25]
    with pytest.raises(DataError, match="data file not found") as ei:
        make_feed(conf_dir, ("bars", BTC, "d/none.csv.gz"))
    assert str(conf_dir) in str(ei.value) and str(cwd) in ei.value.hint


def test_an_interval_the_timestamps_contradict_is_an_error(tmp_path: Path) -> None:
    """Declared 1m on 5m bars would show each bar 4 minutes before it closed."""
    rows = "\n".join(f"{i * 300_000},10,11,9,10.5,1" for i in range(5))
    text = "timestamp,open,high,low,close,volume\n" + rows + "\n"
    write_gz(tmp_path / "x_5m.csv.gz", text)
    write_gz(tmp_path / "y_1m.csv.gz", text)
    write_gz(tmp_path / "z.csv.gz", text)
    cfg = CsvFeedConfig(files=[{"kind": "bars", "symbol": BTC, "path": "x_5m.csv.gz",
                                "interval": "1m"}])
    with pytest.raises(DataError, match=r"data.files\[0\].interval: interval '1m', but the bars "
                                        r"of x_5m.csv.gz are 300000 ms apart \(5m\)") as ei:
        CsvFeed(cfg, ctx_for(tmp_path), name="csv")
    assert "close before it did" in str(ei.value) and "interval: '5m'" in ei.value.hint
    with pytest.raises(DataError, match=r"the file name's interval \(1m\).*close before"):
        make_feed(tmp_path, ("bars", BTC, "y_1m.csv.gz"))
    # inferred from the name or the timestamps: bars close 5 minutes after they open
    for name in ("x_5m.csv.gz", "z.csv.gz"):
        bars = list(make_feed(tmp_path, ("bars", BTC, name)).events())
        assert [b.ts for b in bars] == [300_000 * (i + 1) for i in range(5)]


def test_wrong_kind_is_a_data_error(sample_data: Path) -> None:
    with pytest.raises(DataError, match=r"data.files\[0\].*missing column"):
        make_feed(sample_data, ("bbo", BTC, TRADES_BTC))


def test_kind_aliases_and_the_allowed_kinds() -> None:
    files = [{"kind": k, "symbol": BTC, "path": "x"} for k in
             ("ohlcv", "candles", "orderbook", "book", "quotes", "aggtrades", "trades")]
    got = [f.kind for f in CsvFeedConfig(files=files).files]
    assert got == ["bars", "bars", "l2", "l2", "bbo", "trades", "trades"]
    with pytest.raises(ValueError, match="'bars', 'trades', 'bbo', 'l2' or 'funding'"):
        CsvFeedConfig(files=[{"kind": "ticks", "symbol": BTC, "path": "x"}])


def test_bad_window_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="before end"):
        CsvFeedConfig(files=[{"kind": "bars", "symbol": BTC, "path": "x"}],
                      start="2025-03-02", end="2025-03-01")
    with pytest.raises(ValueError, match="invalid time"):
        CsvFeedConfig(files=[{"kind": "bars", "symbol": BTC, "path": "x"}], start="yesterday")


# ------------------------------------------------------------------------------ bad rows


def test_bad_bar_rows_are_counted_and_dropped(tmp_path: Path) -> None:
    write_gz(tmp_path / "bad_bars_1m_x.csv.gz", "\n".join([
        "timestamp,open,high,low,close,volume",
        "60000,10,11,9,10.5,1",         # good
        "120000,10,11,9,abc,1",         # malformed
        "180000,10,11,9",               # malformed (missing fields)
        "240000,10,11,nan,10,1",        # non_finite
        "300000,10,inf,9,10,1",         # non_finite
        "360000,0,11,9,10,1",           # non_positive_price
        "420000,10,11,9,10,-1",         # negative_size
        "480000,10,11,10.2,10,1",       # ohlc_inconsistent: low > close
        "540000,10,9.5,9,10,1",         # ohlc_inconsistent: high < open
        "600000,10,11,9,10,2",          # good
        "300000,10,11,9,10,1",          # time_backwards
        "660000,10,11,9,10,3",          # good
    ]) + "\n")
    feed = make_feed(tmp_path, ("bars", BTC, "bad_bars_1m_x.csv.gz"))
    bars = list(feed.events())
    assert [(b.ts, b.volume) for b in bars] == [(120000, 1.0), (660000, 2.0), (720000, 3.0)]
    assert feed.rejections() == {"malformed": 2, "non_finite": 2, "non_positive_price": 1,
                                 "negative_size": 1, "ohlc_inconsistent": 2,
                                 "time_backwards": 1}
    assert feed.rejections_by_file == {"bad_bars_1m_x.csv.gz": feed.rejections()}
    # counts restart with each replay instead of accumulating
    list(feed.events())
    assert feed.rejections()["ohlc_inconsistent"] == 2


def test_bad_trade_bbo_funding_rows(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("\n".join([
        "timestamp,trade_id,price,size,side",
        "1000,1,100.5,0.1,buy",
        "1001,2,100.5,0.1,hold",        # malformed side
        "1002,3,-1,0.1,sell",           # non_positive_price
        "1003,4,100.5,-0.1,sell",       # negative_size
        "999,5,100.5,0.1,sell",         # time_backwards
        "1004,6,100.4,0.2,sell",
    ]) + "\n")
    write_gz(tmp_path / "q.csv.gz", "\n".join([
        "timestamp,update_id,bid_price,bid_size,ask_price,ask_size",
        "1000,1,100.4,1,100.5,1",
        "1001,2,100.5,1,100.5,1",       # crossed_book (bid == ask)
        "1002,3,100.6,1,100.5,1",       # crossed_book
        "1003,4,NaN,1,100.5,1",         # non_finite
        "1004,5,100.4,2,100.5,1",
    ]) + "\n")
    write_gz(tmp_path / "f.csv.gz", "\n".join([
        "timestamp,symbol,funding_rate,mark_price",
        "1000,BTC/USDT:USDT,0.0001,100",
        "1001,ETH/USDT:USDT,0.0001,100",  # unknown_symbol
        "1002,BTC/USDT:USDT,,100",        # malformed
        "1003,BTC/USDT:USDT,-0.0002,",    # good, no mark price
    ]) + "\n")
    feed = make_feed(tmp_path, ("trades", BTC, "t.csv"), ("bbo", BTC, "q.csv.gz"),
                     ("funding", BTC, "f.csv.gz"))
    events = list(feed.events())
    trades = [e for e in events if isinstance(e, Trade)]
    quotes = [e for e in events if isinstance(e, Quote)]
    funding = [e for e in events if isinstance(e, Funding)]
    assert [(t.trade_id, t.side) for t in trades] == [(1, "buy"), (6, "sell")]
    assert [q.update_id for q in quotes] == [1, 5]
    assert [(f.ts, f.rate, f.mark_price) for f in funding] == [(1000, 0.0001, 100.0),
                                                               (1003, -0.0002, 0.0)]
    assert feed.rejections() == {"malformed": 2, "non_positive_price": 1, "negative_size": 1,
                                 "time_backwards": 1, "crossed_book": 2, "non_finite": 1,
                                 "unknown_symbol": 1}
    by_file = feed.rejections_by_file
    assert by_file["q.csv.gz"] == {"crossed_book": 2, "non_finite": 1}
    assert by_file["f.csv.gz"] == {"unknown_symbol": 1, "malformed": 1}


L2_HEADER = ("timestamp,action,side,price,size,first_update_id,last_update_id,"
             "prev_last_update_id")


def test_bad_l2_messages(tmp_path: Path) -> None:
    write_gz(tmp_path / "l2.csv.gz", "\n".join([
        L2_HEADER,
        "1000,snapshot,bid,99,1,,100,",
        "1000,snapshot,bid,98,1,,100,",
        "1000,snapshot,ask,101,1,,100,",
        "1000,snapshot,ask,102,1,,100,",
        "1001,update,bid,99.5,2,95,105,90",     # first after snapshot: U <= 101 <= u: ok
        "1001,update,ask,101,-3,95,105,90",     # negative_size (row dropped, rest kept)
        "1002,update,bid,101.5,1,106,110,105",  # crossed_book: bid above best ask
        "1003,update,ask,100.5,1,111,115,110",  # ok (chain advanced over the crossed one)
        "1004,update,bid,99,0,116,120,115",
        "1004,update,bid,97,x,116,120,115",     # malformed row
        "1002,update,bid,98,3,121,125,120",     # time_backwards
        "1005,update,bid,98,3,121,125,119",     # sequence_gap (pu != 120)
        "1006,update,bid,98,4,126,130,125",     # rejected until the next snapshot
        "1007,snapshot,bid,98,1,,200,",
        "1007,snapshot,ask,100,1,,200,",
        "1008,update,ask,100,0,150,190,149",    # stale_update (u < 200)
        "1009,update,ask,100.2,1,199,205,190",  # ok
    ]) + "\n")
    feed = make_feed(tmp_path, ("l2", BTC, "l2.csv.gz"))
    msgs = list(feed.events())
    assert [(m.ts, m.snapshot) for m in msgs] == [(1000, True), (1001, False), (1003, False),
                                                  (1004, False), (1007, True), (1009, False)]
    assert msgs[1].asks == [] and msgs[1].bids == [(99.5, 2.0)]
    assert msgs[3].bids == [(99.0, 0.0)]
    assert feed.rejections() == {"negative_size": 1, "crossed_book": 1, "malformed": 1,
                                 "time_backwards": 1, "sequence_gap": 2, "stale_update": 1}
    book = OrderBook(BTC)
    for m in msgs:
        book.apply(m)
    assert (book.bid, book.ask, book.last_id) == (98.0, 100.0, 205)


def test_spot_style_sequence_gap(tmp_path: Path) -> None:
    write_gz(tmp_path / "spot_l2.csv.gz", "\n".join([
        L2_HEADER,
        "1000,snapshot,bid,99,1,,100,",
        "1000,snapshot,ask,101,1,,100,",
        "1001,update,bid,99,2,90,110,",
        "1002,update,bid,99,3,111,120,",
        "1003,update,bid,99,4,122,130,",   # gap: U != 121
        "1004,update,bid,99,5,131,140,",   # still waiting for a snapshot
    ]) + "\n")
    feed = make_feed(tmp_path, ("l2", "BTC/USDT", "spot_l2.csv.gz"))
    assert [m.last_id for m in feed.events()] == [100, 110, 120]
    assert feed.rejections() == {"sequence_gap": 2}


def test_gap_in_real_l2_file_is_detected(sample_data: Path, tmp_path: Path) -> None:
    """Drop one real diff-depth message: the chain breaks and the rest waits for a snapshot."""
    with gzip.open(sample_data / L2_BTC, "rt") as fh:
        lines = fh.read().splitlines()
    keys: list[str] = []
    for line in lines[1:]:
        f = line.split(",")
        if f[1] == "update" and (not keys or keys[-1] != f[6]):
            keys.append(f[6])
    victim = keys[100]
    kept = [ln for ln in lines if ln.split(",")[6:7] != [victim]]
    write_gz(tmp_path / "gap_l2.csv.gz", "\n".join(kept) + "\n")
    feed = make_feed(tmp_path, ("l2", BTC, "gap_l2.csv.gz"))
    msgs = list(feed.events())
    assert len(msgs) == 1 + 100  # the snapshot and the 100 messages before the hole
    assert feed.rejections() == {"sequence_gap": len(keys) - 101}


# ------------------------------------------------------------------------------ streaming


def test_events_stream_without_reading_the_file_up_front(sample_data: Path,
                                                         tmp_path: Path) -> None:
    plain = tmp_path / "btc_bbo.csv"  # real data, uncompressed: ~3.5 MB of text
    with gzip.open(sample_data / BBO_BTC, "rb") as src, plain.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    size = plain.stat().st_size
    assert size > 3_000_000
    feed = make_feed(tmp_path, ("bbo", BTC, plain.name))
    gen = feed.events()
    assert isinstance(gen, types.GeneratorType)
    tracemalloc.start()
    try:
        first = next(gen)
        _, peak_first = tracemalloc.get_traced_memory()
        n = 1
        for _ in gen:
            n += 1
        _, peak_all = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(first, Quote) and first.ts == 1723161256313
    assert n == 66_088
    assert peak_first < size / 20  # the first event came before the file was read
    assert peak_all < size / 10  # memory stayed flat over the whole replay


# ------------------------------------------------------------------------------ memory feed


def test_memory_feed_replays_identical_events(sample_data: Path) -> None:
    files = [("funding", BTC, FUND_BTC), ("bars", ETH, BARS_ETH), ("trades", BTC, TRADES_BTC),
             ("bbo", BTC, BBO_BTC), ("l2", BTC, L2_BTC)]
    csv_feed = make_feed(sample_data, *files)
    expected = as_rows(csv_feed.events())
    cfg = MemoryFeedConfig(files=[{"kind": k, "symbol": s, "path": p} for k, s, p in files])
    mem = MemoryFeed(cfg, ctx_for(sample_data), name="memory")
    assert len(mem) == len(expected)
    first = list(mem.events())
    second = list(mem.events())
    assert as_rows(first) == expected
    assert as_rows(second) == expected
    assert all(a is not b for a, b in zip(first[:1000], second[:1000]))  # fresh objects
    assert mem.rejections() == {}


def test_load_bar_columns_matches_csv_feed(sample_data: Path) -> None:
    cols = load_bar_columns(sample_data / BARS_BTC, BTC)
    assert len(cols) == 10_906 and cols.rejections == {}
    assert cols.ts[0] == 1741257000000 + 300_000 and cols.close[0] == 91437.5
    mem = MemoryFeed.from_bar_columns(cols)
    expected = as_rows(make_feed(sample_data, ("bars", BTC, BARS_BTC)).events())
    assert as_rows(mem.events()) == expected
    assert as_rows(mem.events()) == expected
    assert as_rows(MemoryFeed.from_events(iter(mem.events())).events()) == expected


def test_builtin_plugin_registers_both_feeds() -> None:
    got: dict[str, tuple[type, type]] = {}

    def register(name: str, cls: type, *, config: type | None = None,
                 description: str = "") -> None:
        assert description
        got[name] = (cls, config)  # type: ignore[assignment]

    builtin_feeds.hean_register_feeds(register)
    from hean_framework.live.config import LiveFeedConfig
    from hean_framework.live.feed import BybitFeed
    from hean_framework.live.replay import RecordedFeed, RecordedFeedConfig

    assert got == {"csv": (CsvFeed, CsvFeedConfig), "memory": (MemoryFeed, MemoryFeedConfig),
                   "bybit": (BybitFeed, LiveFeedConfig),  # paper/live (docs/live.md)
                   "recorded": (RecordedFeed, RecordedFeedConfig)}


def test_anchor_benchmark_layouts(tmp_path: Path) -> None:
    """``make_data.py`` layouts: ``ts_ms`` column, trades without ``trade_id``."""
    (tmp_path / "bars_1m.csv").write_text(
        "ts_ms,open,high,low,close,volume\n"
        "1704067200000,40000.00,40010.00,39990.00,40005.00,1.500\n"
        "1704067260000,40005.00,40000.00,39990.00,40001.00,2.000\n"  # high < open: rejected
        "1704067320000,40001.00,40020.00,40000.00,40015.00,0.700\n")
    (tmp_path / "ticks.csv").write_text(
        "ts_ms,price,size,side\n"
        "1704067200000,40000.00,0.010,buy\n"
        "1704067200100,40000.50,0.020,sideways\n"  # rejected
        "1704067200200,40001.00,0.030,sell\n")
    feed = make_feed(tmp_path, ("bars", BTC, "bars_1m.csv"), ("trades", BTC, "ticks.csv"))
    events = list(feed.events())
    bars = [e for e in events if isinstance(e, Bar)]
    trades = [e for e in events if isinstance(e, Trade)]
    assert [(b.ts, b.close, b.interval_ms) for b in bars] == [
        (1704067260000, 40005.0, 60_000), (1704067380000, 40015.0, 60_000)]
    assert [(t.ts, t.side, t.trade_id) for t in trades] == [(1704067200000, "buy", 0),
                                                            (1704067200200, "sell", 0)]
    assert feed.rejections() == {"ohlc_inconsistent": 1, "malformed": 1}
    cols = load_bar_columns(tmp_path / "bars_1m.csv", BTC)
    assert list(cols.ts) == [1704067260000, 1704067380000]
    assert cols.rejections == {"ohlc_inconsistent": 1}
