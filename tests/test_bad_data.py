"""Honest runs under bad input: the data files read by the ``csv`` and ``memory`` feeds.

Invariants (formats and reasons: :mod:`hean_framework.feeds.rows`, file checks:
:mod:`hean_framework.feeds.source`):

* every bad input ends in a :class:`~hean_framework.errors.DataError` (a file listed twice:
  :class:`~hean_framework.errors.ConfigError`) that names the file - and the line where
  reading stopped, the unit found, the entries - and says what to do, which ``hean
  backtest`` prints without a traceback and exits with status 2; or in a correct result: the
  bad rows rejected and counted by reason, every other row used.  No other exception escapes
  the readers;
* one bad timestamp never cuts a file short: a row outside the window is skipped and reading
  goes on; a row that goes back in time (``time_backwards``), repeats the timestamp of a
  candle or settlement (``duplicate_ts``) or repeats a trade/quote (``duplicate_row``), and a
  lone timestamp far ahead of its neighbours (``ts_outlier``) are rejected and counted, and
  neither end nor start the run;
* timestamps in seconds, microseconds or nanoseconds are refused (never converted), naming
  the unit and the conversion to ms;
* a gzip file that cannot be read to its end fails before the run starts; a plain file cut
  inside its last row loses that row (``truncated_row``), never reads it with a cut value;
* a header-only file says it has no data rows, a newest-first file says its rows descend;
* generated files (wrong types, NaN/inf, wrong units, out of order, duplicates, truncation)
  give exactly the valid rows inside the window as events and count each bad row once under
  its reason (property tests).

Market data is real (the bundled ``examples/data`` files, copied to ``tmp_path`` and
corrupted there); only the property tests generate the corruptions.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections import Counter
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hean_framework.book import OrderBook
from hean_framework.cli import make_cli
from hean_framework.errors import ConfigError, DataError
from hean_framework.feeds import CsvFeed, CsvFeedConfig, MemoryFeed, MemoryFeedConfig
from hean_framework.feeds.rows import MAX_TS, OUTLIER_GAP_BARS
from hean_framework.models import Bar, BookUpdate, Funding, Quote, Trade

from .conftest import EXAMPLES, SAMPLE_DATA

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
BARS_BTC = SAMPLE_DATA / "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"
BARS_ETH = SAMPLE_DATA / "binance_usdm_perp_ETHUSDT_5m_20250306_20250413.csv.gz"
TRADES_BTC = SAMPLE_DATA / "binance_usdm_perp_BTCUSDT_trades_20240808.csv.gz"
BBO_BTC = SAMPLE_DATA / "binance_usdm_perp_BTCUSDT_bbo_20240808.csv.gz"
FUND_BTC = SAMPLE_DATA / "binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz"
L2_BTC = SAMPLE_DATA / "binance_usdm_perp_BTCUSDT_l2_20240808_first60s.csv.gz"
QUICKSTART = EXAMPLES / "quickstart.yaml"
FIVE_MIN = 300_000
YEAR_MS = 365 * 86_400_000


@cache
def real_lines(path: Path) -> tuple[str, tuple[str, ...]]:
    """The header and the data lines of a real file."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    return lines[0], tuple(lines[1:])


def write(path: Path, header: str, rows: list[str] | tuple[str, ...]) -> Path:
    """``header`` and ``rows`` as a CSV (gzip when the name ends in .gz), newline-terminated."""
    text = "\n".join([header, *rows]) + "\n"
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def with_ts(line: str, ts: int) -> str:
    """``line`` with its first field (the timestamp) replaced."""
    return f"{ts},{line.split(',', 1)[1]}"


def ts_of(line: str) -> int:
    return int(line.split(",", 1)[0])


def feed(*files: tuple[str, str, Path] | dict[str, Any], **window: Any) -> CsvFeed:
    """A csv feed over ``(kind, symbol, path)`` entries (or full entry mappings)."""
    entries = [f if isinstance(f, dict) else {"kind": f[0], "symbol": f[1], "path": str(f[2])}
               for f in files]
    return CsvFeed(CsvFeedConfig(files=entries, **window), None)


def bars_2000(tmp_path: Path, edit: Any = None,
              name: str = "btc_5m.csv.gz") -> tuple[Path, list[str]]:
    """The first 2,000 real BTC 5m candles (after ``edit`` of a list copy) and the originals."""
    header, lines = real_lines(BARS_BTC)
    rows = list(lines[:2000])
    edited = list(rows)
    if edit is not None:
        edit(edited)
    return write(tmp_path / name, header, edited), rows


def bar_keys(events: Any) -> list[tuple[int, float]]:
    return [(e.ts, e.close) for e in events]


def expected_bars(rows: list[str], end: int | None = None) -> list[tuple[int, float]]:
    """(close time, close) of real candle lines, closing before ``end``."""
    out = [(ts_of(r) + FIVE_MIN, float(r.split(",")[4])) for r in rows]
    return [k for k in out if end is None or k[0] < end]


def assert_user_error(res: Any, *needles: str) -> str:
    """``hean`` exited with status 2, printed ``error:`` and no traceback."""
    out = res.output
    assert res.exit_code == 2, out
    assert "error:" in out and "Traceback" not in out, out
    for n in needles:
        assert n in out, f"{n!r} not in:\n{out}"
    return str(out)


def backtest(tmp_path: Path, files: str, *sets: str) -> Any:
    """``hean backtest examples/quickstart.yaml`` with ``data.files`` replaced (and the
    strategy trading BTC only)."""
    pytest.importorskip("hean_momentum_trader")
    return CliRunner().invoke(make_cli(), [
        "backtest", str(QUICKSTART), "--no-progress", "--out", str(tmp_path / "run"),
        "--set", f"data.files={files}", "--set", f"strategies.momentum_trader.symbols=[{BTC}]",
        "--set", "report.html=false", *sets])


# ----------------------------------------------------------------- 1. one bad timestamp


@pytest.mark.parametrize("end", [None, "2025-04-01", "2025-03-10T12:00:00Z"])
@pytest.mark.parametrize("bad", [
    pytest.param(lambda t: t + 10**11, id="plus_1e11_ms"),
    pytest.param(lambda t: t * 10**9, id="times_1e9"),
    pytest.param(lambda t: t + 3 * YEAR_MS, id="three_years_ahead"),
    pytest.param(lambda t: t * 1000, id="one_row_in_microseconds"),
    pytest.param(lambda t: -t, id="negative"),
])
def test_one_bad_timestamp_is_one_rejected_row(tmp_path: Path, bad: Any,
                                               end: str | None) -> None:
    """Before: the reader stopped at the first row past ``data.end`` (half the events, 0
    rejections) or took the row and rejected every later one as going back in time (the run
    'ended' in 2028)."""
    def edit(rows: list[str]) -> None:
        rows[1000] = with_ts(rows[1000], bad(ts_of(rows[1000])))

    path, rows = bars_2000(tmp_path, edit)
    f = feed(("bars", BTC, path), end=end)
    events = list(f.events())
    stop = f.end
    assert bar_keys(events) == expected_bars(rows[:1000] + rows[1001:], stop)
    assert f.rejections() == {"ts_outlier": 1}
    assert f.rejections_by_file == {str(path): {"ts_outlier": 1}}


def test_the_first_row_far_from_the_rest_is_rejected(tmp_path: Path) -> None:
    """A first row in seconds (1970) would start the run 55 years early."""
    def edit(rows: list[str]) -> None:
        rows[0] = with_ts(rows[0], ts_of(rows[0]) // 1000)

    path, rows = bars_2000(tmp_path, edit)
    f = feed(("bars", BTC, path))
    assert bar_keys(f.events()) == expected_bars(rows[1:])
    assert f.rejections() == {"ts_outlier": 1}


def test_a_real_gap_in_the_data_is_kept(tmp_path: Path) -> None:
    """Rows after a jump longer than the outlier distance continue it: a gap, not an error."""
    header, lines = real_lines(BARS_BTC)
    shift = (OUTLIER_GAP_BARS + 500) * FIVE_MIN
    rows = list(lines[:300]) + [with_ts(r, ts_of(r) + shift) for r in lines[300:600]]
    path = write(tmp_path / "gap_5m.csv.gz", header, rows)
    f = feed(("bars", BTC, path))
    assert bar_keys(f.events()) == expected_bars(rows)
    assert f.rejections() == {}


def test_rows_out_of_order_and_repeated_are_rejected_and_counted(tmp_path: Path) -> None:
    """Before: duplicate rows and duplicate timestamps were fed as extra candles."""
    def edit(rows: list[str]) -> None:
        rows[500], rows[501] = rows[501], rows[500]  # the second of the pair goes back
        rows.insert(700, rows[699])  # the same row twice
        a = rows[900].split(",")
        rows.insert(901, ",".join([a[0], a[1], a[2], a[3], a[3], a[5]]))  # same ts, new values

    path, rows = bars_2000(tmp_path, edit)
    f = feed(("bars", BTC, path))
    assert bar_keys(f.events()) == expected_bars(rows[:500] + rows[501:])
    assert f.rejections() == {"time_backwards": 1, "duplicate_ts": 2}


def test_repeated_trades_quotes_and_settlements(tmp_path: Path) -> None:
    """Trades and quotes share milliseconds (kept); a repeated one (same ms, id not above the
    last) is a ``duplicate_row``; a repeated funding settlement a ``duplicate_ts``."""
    for kind, src, at in (("trades", TRADES_BTC, 3000), ("bbo", BBO_BTC, 5000),
                          ("funding", FUND_BTC, 100)):
        header, lines = real_lines(src)
        rows = list(lines)
        rows.insert(at + 1, rows[at])  # the row again
        rows.insert(at + 10, rows[at + 5])  # a row replayed a few rows later
        path = write(tmp_path / f"{kind}.csv.gz", header, rows)
        f = feed((kind, BTC, path))
        events = list(f.events())
        assert len(events) == len(lines), kind
        # the replayed row (original at + 4) comes after original at + 8
        repeat = "duplicate_ts" if kind == "funding" else "duplicate_row"
        later = "time_backwards" if ts_of(lines[at + 4]) < ts_of(lines[at + 8]) else repeat
        assert f.rejections() == dict(Counter([repeat, later])), kind
    # same-ms trades with rising ids are normal: the real file is read in full
    f = feed(("trades", BTC, TRADES_BTC))
    assert sum(1 for _ in f.events()) == 21_313 and f.rejections() == {}


def test_a_row_after_the_end_is_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    """A row outside the window is skipped uncounted; one out of order is counted anywhere."""
    def edit(rows: list[str]) -> None:
        rows.insert(1800, rows[10])  # out of order, after data.end

    path, rows = bars_2000(tmp_path, edit)
    end = ts_of(rows[1500])
    f = feed(("bars", BTC, path), end=end)
    assert bar_keys(f.events()) == expected_bars(rows, end)
    assert f.rejections() == {"time_backwards": 1}


def test_a_bad_l2_timestamp_does_not_end_the_book(tmp_path: Path) -> None:
    """An L2 message 3 years ahead: rejected (``ts_outlier``), reading goes on and the rest of
    the file is accounted for (the book cannot be trusted after the lost message, so updates
    wait for a snapshot: ``sequence_gap``).  Before: the message ended the replay at
    ``data.end``, every later message silently dropped."""
    header, lines = real_lines(L2_BTC)
    keys = []
    for line in lines:
        f = line.split(",")
        if f[1] == "update" and (not keys or keys[-1] != f[6]):
            keys.append(f[6])
    victim = keys[50]
    rows = [with_ts(r, ts_of(r) + 3 * YEAR_MS) if r.split(",")[6] == victim else r
            for r in lines]
    path = write(tmp_path / "l2.csv.gz", header, rows)
    f = feed(("l2", BTC, path), end="2024-08-09")
    msgs = list(f.events())
    assert len(msgs) == 1 + 50  # the snapshot and the 50 updates before the bad one
    assert f.rejections() == {"ts_outlier": 1, "sequence_gap": len(keys) - 51}
    assert all(isinstance(m, BookUpdate) and m.ts < f.end for m in msgs)


# ------------------------------------------------------------------- 2. timestamp units


@pytest.mark.parametrize(("unit", "convert", "fix"), [
    ("seconds", lambda t: t // 1000, "* 1000"),
    ("microseconds", lambda t: t * 1000, "// 1000"),
    ("nanoseconds", lambda t: t * 10**6, "// 1_000_000"),
])
@pytest.mark.parametrize("name", ["btc_candles.csv.gz", "btc_5m.csv.gz", "declared.csv"])
def test_timestamps_in_another_unit_are_refused(tmp_path: Path, unit: str, convert: Any,
                                                fix: str, name: str) -> None:
    """Before: seconds gave a 10-minute run in 1970 (bars 300 ms apart) or, with an
    interval declared, an error whose hint said to set '300ms'; microseconds a 6,941-day run.
    """
    header, lines = real_lines(BARS_BTC)
    path = write(tmp_path / name, header, [with_ts(r, convert(ts_of(r))) for r in lines[:500]])
    entry = {"kind": "bars", "symbol": BTC, "path": str(path)}
    if name == "declared.csv":
        entry["interval"] = "5m"
    with pytest.raises(DataError) as ei:
        feed(entry)
    msg, hint = ei.value.message, ei.value.hint
    assert "data.files[0].path" in msg and str(path) in msg
    assert f"are in {unit}, not milliseconds" in msg and "2025-03-06 10:30:00 UTC" in msg
    assert f"ms = {unit} {fix}" in hint and "300ms" not in hint


def test_trades_in_microseconds_are_refused(tmp_path: Path) -> None:
    header, lines = real_lines(TRADES_BTC)
    path = write(tmp_path / "t.csv.gz", header,
                 [with_ts(r, ts_of(r) * 1000) for r in lines[:300]])
    with pytest.raises(DataError, match=r"are in microseconds, not milliseconds"):
        feed(("trades", BTC, path))


def test_unit_error_through_the_cli(tmp_path: Path) -> None:
    header, lines = real_lines(BARS_BTC)
    path = write(tmp_path / "secs.csv.gz", header,
                 [with_ts(r, ts_of(r) // 1000) for r in lines[:500]])
    res = backtest(tmp_path, f"[{{kind: bars, symbol: {BTC}, path: {path}}}]",
                   "--set", "data.files[0].interval=5m")
    assert_user_error(res, str(path), "are in seconds, not milliseconds", "hint:")
    assert not (tmp_path / "run" / "journal.sqlite").exists()


# ---------------------------------------------------------------- 3. one file, one entry


def test_a_file_listed_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    """Before: its rows were fed twice (3 x 10,906 events for BTC, ETH, BTC)."""
    monkeypatch.chdir(SAMPLE_DATA)
    other = f"../data/{BARS_BTC.name}"  # the same file under another spelling
    with pytest.raises(ConfigError) as ei:
        feed(("bars", BTC, BARS_BTC), ("bars", ETH, BARS_ETH), ("bars", BTC, Path(other)))
    (problem,) = ei.value.problems
    assert problem.startswith("data.files[2].path: ")
    assert "same file as data.files[0].path" in problem and "fed twice" in problem
    assert ei.value.hint
    link = tmp_path / "link_5m.csv.gz"
    os.symlink(BARS_BTC, link)
    for cls, cfg in ((CsvFeed, CsvFeedConfig), (MemoryFeed, MemoryFeedConfig)):
        with pytest.raises(ConfigError, match=r"data.files\[1\].path: .*data.files\[0\]"):
            cls(cfg(files=[{"kind": "bars", "symbol": BTC, "path": str(BARS_BTC)},
                           {"kind": "bars", "symbol": ETH, "path": str(link)}]), None)


def test_a_file_listed_twice_through_the_cli(tmp_path: Path) -> None:
    files = (f"[{{kind: bars, symbol: {BTC}, path: {BARS_BTC}}}, "
             f"{{kind: bars, symbol: {ETH}, path: {BARS_ETH}}}, "
             f"{{kind: bars, symbol: {BTC}, path: {BARS_BTC}}}]")
    res = backtest(tmp_path, files)
    assert_user_error(res, "invalid configuration in", "quickstart.yaml",
                      "data.files[2].path", "data.files[0].path", "fed twice")


# --------------------------------------------------------- 4. files that cannot be read


def complete_lines(data: bytes) -> int:
    """Lines a gzip stream cut to ``data`` still decompresses to."""
    return zlib.decompressobj(wbits=31).decompress(data).count(b"\n")


def test_a_truncated_gzip_is_an_error_naming_the_file_and_line(tmp_path: Path) -> None:
    """Before: exit 0 on half the data, ``data rejected: 1 (read_error 1)``, file not named."""
    data = BARS_BTC.read_bytes()
    cut = tmp_path / "cut_5m.csv.gz"
    cut.write_bytes(data[: len(data) // 2])
    line = complete_lines(data[: len(data) // 2])
    assert 1000 < line < 10_000
    with pytest.raises(DataError) as ei:  # when the feed is built: before the run starts
        feed(("bars", BTC, cut))
    msg = ei.value.message
    assert msg.startswith("data.files[0].path: ") and str(cut) in msg
    assert f"reading stopped after line {line} (data row {line - 1}" in msg
    assert "truncated or corrupt" in ei.value.hint
    # a file cut while the run reads it: the same error, from the replay
    whole = tmp_path / "whole_5m.csv.gz"
    whole.write_bytes(data)
    f = feed(("bars", BTC, whole))
    events = f.events()
    next(events)
    whole.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"whole_5m.csv.gz cannot be read to its end: reading "
                                        r"stopped after line \d+"):
        list(events)


def test_a_corrupt_gzip_is_an_error(tmp_path: Path) -> None:
    data = bytearray(BARS_BTC.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(64)
    bad = tmp_path / "bad_5m.csv.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"bad_5m.csv.gz cannot be read to its end"):
        feed(("bars", BTC, bad))


def test_a_truncated_gzip_through_the_cli(tmp_path: Path) -> None:
    data = BARS_BTC.read_bytes()
    cut = tmp_path / "cut_5m.csv.gz"
    cut.write_bytes(data[: len(data) // 2])
    res = backtest(tmp_path, f"[{{kind: bars, symbol: {BTC}, path: {cut}}}]")
    assert_user_error(res, str(cut), "cannot be read to its end", "reading stopped after line")
    assert not (tmp_path / "run" / "journal.sqlite").exists()


def test_a_plain_csv_cut_inside_its_last_row(tmp_path: Path) -> None:
    """``...,1029.223`` cut to ``...,10`` must not be read as a volume of 10."""
    header, lines = real_lines(BARS_BTC)
    text = "\n".join([header, *lines[:100]]) + "\n"
    path = tmp_path / "btc_5m.csv"
    path.write_text(text[:-4], encoding="utf-8")  # the last row loses its last 3 characters
    f = feed(("bars", BTC, path))
    assert bar_keys(f.events()) == expected_bars(list(lines[:99]))
    assert f.rejections() == {"truncated_row": 1}


@pytest.mark.parametrize("kind,src", [("bars", BARS_BTC), ("trades", TRADES_BTC),
                                      ("funding", FUND_BTC)])
def test_a_header_only_file_says_it_has_no_data_rows(tmp_path: Path, kind: str,
                                                     src: Path) -> None:
    """Before: 'cannot infer the bar interval' (bars) or a silent run without that file."""
    header, _ = real_lines(src)
    path = write(tmp_path / "empty.csv.gz", header, [])
    with pytest.raises(DataError, match=r"data.files\[0\].path: .*empty.csv.gz has a header "
                                        r"but no data rows"):
        feed((kind, BTC, path))


@pytest.mark.parametrize("name", ["btc_candles.csv.gz", "btc_5m.csv.gz"])
def test_a_file_in_descending_time_says_so(tmp_path: Path, name: str) -> None:
    """Before: 'cannot infer the bar interval', or (interval in the name) one bar and every
    other row rejected as going back in time."""
    header, lines = real_lines(BARS_BTC)
    path = write(tmp_path / name, header, list(reversed(lines[:500])))
    with pytest.raises(DataError, match="in descending time order") as ei:
        feed(("bars", BTC, path))
    assert "oldest first" in ei.value.hint


# ---------------------------------------------------------------------- 5. properties
#
# A slice of a real file is written with generated corruptions.  Each corruption is chosen
# so that exactly the corrupted row is rejected, under a reason known in advance:
#   field corruptions (replace a row): junk / NaN-inf / non-positive price / negative size /
#   inconsistent OHLC / crossed quote / missing or extra field / a garbage line;
#   inserted rows (at most two, at most one far ahead): the previous row again, an earlier
#   row again, a row far ahead (+1e11 ms, x1000, x1e9, +3 years), one in seconds, a negative
#   one; blank lines (ignored).
# Expected: the events are the uncorrupted rows inside the window, the rejections count each
# corruption once under its reason; and nothing but DataError ever escapes.

KINDS: dict[str, dict[str, Any]] = {
    # numeric fields (by column index) and what they are
    "bars": {"src": BARS_BTC, "prices": (1, 2, 3, 4), "sizes": (5,), "floats": (1, 2, 3, 4, 5),
             "repeat": "duplicate_ts"},
    "trades": {"src": TRADES_BTC, "prices": (2,), "sizes": (3,), "floats": (2, 3),
               "repeat": "duplicate_row"},
    "bbo": {"src": BBO_BTC, "prices": (2, 4), "sizes": (3, 5), "floats": (2, 3, 4, 5),
            "repeat": "duplicate_row"},
    "funding": {"src": FUND_BTC, "prices": (), "sizes": (), "floats": (2, 3),
                "repeat": "duplicate_ts"},
}
NON_FINITE = ("nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999")
FAR_AHEAD = (lambda t: t + 10**11, lambda t: t * 1000, lambda t: t * 10**9,
             lambda t: t + 3 * YEAR_MS)
JUNK_ALPHABET = st.characters(blacklist_characters=',"\r\n', blacklist_categories=("Cs",))


def unparsable(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return bool(text.strip())
    return False


junk_text = st.one_of(st.sampled_from(["abc", "1;5", "0x1F", "--1", "\x00",
                                       "1e", "١٢x", "\ufffd"]),
                      st.text(JUNK_ALPHABET, min_size=1, max_size=6).filter(unparsable))


@st.composite
def corrupted_file(draw: Any, kind: str) -> tuple[list[str], list[int], Counter[str]]:
    """(file lines without header, indexes of the valid rows into the slice, reasons)."""
    spec = KINDS[kind]
    _, lines = real_lines(spec["src"])
    n = draw(st.integers(40, 90))
    at = draw(st.integers(0, min(len(lines), 400) - n))
    base = list(lines[at:at + n])
    reasons: Counter[str] = Counter()
    # field corruptions
    field_ops = draw(st.dictionaries(st.integers(0, n - 1), st.integers(0, 9), max_size=n // 4))
    out_rows: dict[int, str] = {}
    for i, op in field_ops.items():
        f = base[i].split(",")
        if op == 0:  # junk in a numeric field (or the timestamp)
            col = draw(st.sampled_from((0, *spec["floats"])))
            f[col] = draw(junk_text)
            reason = "malformed"
        elif op == 1:
            f[draw(st.sampled_from((0, *spec["floats"])))] = draw(st.sampled_from(NON_FINITE))
            reason = "non_finite"
        elif op == 2 and (spec["prices"] or kind == "funding"):
            if kind == "funding":
                f[3] = "-1"
            else:
                f[draw(st.sampled_from(spec["prices"]))] = draw(st.sampled_from(["0", "-1.5"]))
            reason = "non_positive_price"
        elif op == 3 and spec["sizes"]:
            f[draw(st.sampled_from(spec["sizes"]))] = "-0.5"
            reason = "negative_size"
        elif op == 4 and kind == "bars":
            f[2] = repr(float(f[3]) / 2)  # high below open and close
            reason = "ohlc_inconsistent"
        elif op == 4 and kind == "bbo":
            f[2] = f[4]  # bid == ask
            reason = "crossed_book"
        elif op == 5:
            f = f[:-1]
            reason = "malformed"
        elif op == 6:
            f = [*f, "1"]
            reason = "malformed"
        elif op == 7 and kind == "trades":
            f[4] = draw(st.sampled_from(["hold", "", "b"]))
            reason = "malformed"
        else:  # a garbage line
            f = [draw(junk_text)]
            reason = "malformed"
        out_rows[i] = ",".join(f)
        reasons[reason] += 1
    valid = [i for i in range(n) if i not in out_rows]
    # the file checks see rows in ascending time (trades share milliseconds: enough steps)
    assume(sum(ts_of(b) > ts_of(a) for a, b in pairwise(base)) - len(field_ops) > 4)
    # inserted rows (before base row ``pos``)
    inserts: dict[int, list[str]] = {}
    n_ins = draw(st.integers(0, 2))
    far_used = False
    for _ in range(n_ins):
        pos = draw(st.integers(0, n))
        before = [i for i in valid if i < pos]
        near = base[min(valid, key=lambda i: abs(i - pos))]  # a valid row's fields
        op = draw(st.integers(0, 4))
        if op in (0, 1) and before:
            last = before[-1]
            src = last if op == 0 else draw(st.sampled_from(before))
            row = base[src]
            if ts_of(row) < ts_of(base[last]):
                reason = "time_backwards"
            else:
                reason = spec["repeat"]
        elif op == 2 and not far_used:
            far_used = True
            row = with_ts(near, draw(st.sampled_from(FAR_AHEAD))(ts_of(near)))
            reason = "ts_outlier"
        elif op == 3:  # one row in seconds: far behind (or, with nothing before, alone)
            row = with_ts(near, ts_of(near) // 1000)
            reason = "time_backwards" if before else "ts_outlier"
        else:
            row = with_ts(near, -ts_of(near))
            reason = "ts_outlier"
        inserts.setdefault(pos, []).append(row)
        reasons[reason] += 1
    for pos in draw(st.lists(st.integers(0, n), max_size=2)):  # blank lines: not rows
        inserts.setdefault(pos, []).append("")
    text: list[str] = []
    for i in range(n + 1):
        text.extend(inserts.get(i, []))
        if i < n:
            text.append(out_rows.get(i, base[i]))
    return text, [at + i for i in valid], reasons


def event_key(e: Any) -> tuple[Any, ...]:
    if isinstance(e, Bar):
        return (e.ts, e.open, e.high, e.low, e.close, e.volume)
    if isinstance(e, Trade):
        return (e.ts, e.price, e.size, e.side, e.trade_id)
    if isinstance(e, Quote):
        return (e.ts, e.bid, e.bid_size, e.ask, e.ask_size, e.update_id)
    assert isinstance(e, Funding)
    return (e.ts, e.rate, e.mark_price)


@cache
def real_events(kind: str) -> tuple[tuple[Any, ...], ...]:
    """The events of the whole real file, one per data line (the files have no bad row)."""
    f = feed((kind, BTC, KINDS[kind]["src"]))
    out = tuple(event_key(e) for e in f.events())
    assert len(out) == len(real_lines(KINDS[kind]["src"])[1]) and f.rejections() == {}
    return out


PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.mark.parametrize("kind", list(KINDS))
@PROPERTY
@given(data=st.data())
def test_generated_bad_rows_are_counted_and_the_rest_is_the_run(
        tmp_path_factory: pytest.TempPathFactory, kind: str, data: Any) -> None:
    rows, valid, reasons = data.draw(corrupted_file(kind))
    header, _ = real_lines(KINDS[kind]["src"])
    gz = data.draw(st.booleans())
    path = tmp_path_factory.mktemp(kind) / (f"x_{kind}.csv.gz" if gz else f"x_{kind}.csv")
    name = path.name.replace(f"x_{kind}", "x_5m") if kind == "bars" else path.name
    path = write(path.with_name(name), header, rows)
    wanted = [real_events(kind)[i] for i in valid]
    window: dict[str, int] = {}
    if data.draw(st.booleans()):
        stamps = sorted(k[0] for k in wanted)
        lo, hi = data.draw(st.lists(st.sampled_from(stamps), min_size=2, max_size=2,
                                    unique=True).map(sorted))
        window = {"start": lo, "end": hi}
        wanted = [k for k in wanted if lo <= k[0] < hi]
    f = feed((kind, BTC, path), **window)
    assert [event_key(e) for e in f.events()] == wanted
    assert f.rejections() == {k: v for k, v in reasons.items() if v}
    # the memory feed and a second replay give the same
    assert [event_key(e) for e in f.events()] == wanted
    mem = MemoryFeed.from_feed(f)
    assert [event_key(e) for e in mem.events()] == wanted
    assert mem.rejections() == f.rejections()


@PROPERTY
@given(data=st.data())
def test_truncated_files_end_in_an_error_or_lose_only_the_cut_row(
        tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    header, lines = real_lines(BARS_BTC)
    text = ("\n".join([header, *lines[:120]]) + "\n").encode()
    gz = data.draw(st.booleans())
    blob = gzip.compress(text, mtime=0) if gz else text
    cut = data.draw(st.integers(0, len(blob) - 1))
    path = tmp_path_factory.mktemp("cut") / ("btc_5m.csv.gz" if gz else "btc_5m.csv")
    path.write_bytes(blob[:cut])
    kept = text[:cut].split(b"\n")
    complete, partial = kept[1:-1], kept[-1]
    try:
        f = feed(("bars", BTC, path))
    except DataError as exc:
        assert gz or not complete, exc  # plain: only without a whole header and row
        assert str(path) in exc.message and exc.hint
        return
    assert not gz
    assert bar_keys(f.events()) == expected_bars([c.decode() for c in complete])
    assert f.rejections() == ({"truncated_row": 1} if partial else {})


@PROPERTY
@given(data=st.data())
def test_generated_bad_l2_rows_never_escape_as_anything_but_data_error(
        tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    header, lines = real_lines(L2_BTC)
    rows = list(lines[:400])
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(rows) - 1))
        f = rows[i].split(",")
        col = data.draw(st.integers(0, len(f) - 1))
        f[col] = data.draw(st.one_of(junk_text, st.sampled_from(NON_FINITE),
                                     st.sampled_from(["-1", "0", str(MAX_TS + 1),
                                                      str(ts_of(lines[i]) * 1000)])))
        rows[i] = ",".join(f)
    if data.draw(st.booleans()):
        i = data.draw(st.integers(1, len(rows) - 1))
        rows.insert(i, rows[i - 1])
    path = write(tmp_path_factory.mktemp("l2") / "l2.csv.gz", header, rows)
    try:
        f = feed(("l2", BTC, path))
        msgs = list(f.events())
    except DataError:
        return
    assert all(a.ts <= b.ts for a, b in pairwise(msgs))
    book = OrderBook(BTC)
    for m in msgs:
        assert 0 <= m.ts <= MAX_TS
        book.apply(m)
        assert not book.is_crossed()
    assert all(v > 0 for v in f.rejections().values())
