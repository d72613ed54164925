"""Generate the plugin's sample file of scored sentiment items FROM PRICES (not from news).

    python plugins/hean-sentiment/tools/generate_sample.py [--data DIR] [--out FILE]

There is no recorded news/social sentiment in the repository, so the sample that lets the
sentiment source and strategy run end to end is *derived* from the bundled real Binance BTC and
ETH 5-minute candles and 8-hour funding settlements (``examples/data``).  Every row is a
deterministic function of market data known at its timestamp -- it is a price proxy dressed in
the shape of scored items, labelled as such in the file's comment lines, and says nothing about
what any news site or social network published.

The three source roles mimic the original's sources' horizons:

* ``twitter`` every 15 minutes: the last hour's log return / 0.4 %;
* ``reddit`` every 2 hours: the last 24 hours' log return / 3 %;
* ``news`` every 4 hours: 0.6 x the last 4 hours' log return / 1 % + 0.4 x the funding z-score
  (latest settlement against the 21 before it) / 2.

Each raw value ``x`` becomes a FinBERT-like item: ``t = tanh(x)``; ``|t| < 0.2`` is neutral
(score 0, confidence 0.6), else the label's sign with confidence ``0.5 + 0.5 |t|`` and score
``+-confidence``.  An item computed at a candle's close ``T`` is stamped ``T + 60 s`` and uses
only candles closed at or before ``T`` and settlements at or before ``T``: no look-ahead
(``tests/test_sample.py`` checks it by regenerating from truncated data).  The output is
byte-for-byte reproducible.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gzip
import io
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PLUGIN.parents[1] / "examples" / "data"
DEFAULT_OUT = PLUGIN / "data" / "derived_sentiment_btc_eth_20250306_20250413.csv"

BAR_MS = 300_000
HOUR_MS = 3_600_000
PUBLISH_LAG_MS = 60_000
#: (source, every ms) -- the emission schedule, aligned to the epoch
SCHEDULE = (("twitter", 15 * 60_000), ("reddit", 2 * HOUR_MS), ("news", 4 * HOUR_MS))
FUNDING_WINDOW = 21
NEUTRAL_BAND = 0.2
NEUTRAL_CONFIDENCE = 0.6

ASSETS = {
    "BTC": ("binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz",
            "binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz"),
    "ETH": ("binance_usdm_perp_ETHUSDT_5m_20250306_20250413.csv.gz",
            "binance_usdm_perp_ETHUSDT_funding_8h_20250306_20250615.csv.gz"),
}

HEADER_COMMENT = (
    "# DERIVED FROM PRICES - NOT REAL NEWS OR SOCIAL-MEDIA SENTIMENT.\n"
    "# Scored items computed from the bundled Binance BTC/ETH 5m candles and 8h funding\n"
    "# (examples/data) by plugins/hean-sentiment/tools/generate_sample.py; the source names are\n"
    "# roles (horizons), not sites. Each row uses only data known at its timestamp.\n"
)


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def read_closes(path: Path) -> tuple[list[int], list[float]]:
    """(close times, closes) of a 5m candle file (its timestamps are open times)."""
    ts: list[int] = []
    close: list[float] = []
    for r in _rows(path):
        ts.append(int(r["timestamp"]) + BAR_MS)
        close.append(float(r["close"]))
    return ts, close


def read_funding(path: Path) -> tuple[list[int], list[float]]:
    """(settlement times, rates) of a funding file."""
    ts: list[int] = []
    rate: list[float] = []
    for r in _rows(path):
        ts.append(int(r["timestamp"]))
        rate.append(float(r["funding_rate"]))
    return ts, rate


def funding_z(f_ts: list[int], f_rate: list[float], now: int) -> float:
    """z of the latest settlement at or before ``now`` against the 21 before it (0 without
    enough history or spread)."""
    i = bisect.bisect_right(f_ts, now) - 1
    if i < 5:
        return 0.0
    prev = f_rate[max(0, i - FUNDING_WINDOW):i]
    mean = sum(prev) / len(prev)
    sd = math.sqrt(sum((x - mean) ** 2 for x in prev) / len(prev))
    return (f_rate[i] - mean) / sd if sd > 1e-12 else 0.0


def label(x: float) -> tuple[float, float]:
    """A FinBERT-like (score, confidence) from a raw value."""
    t = math.tanh(x)
    if abs(t) < NEUTRAL_BAND:
        return 0.0, NEUTRAL_CONFIDENCE
    conf = 0.5 + 0.5 * abs(t)
    return math.copysign(conf, t), conf


def items_for(asset: str, c_ts: list[int], close: list[float], f_ts: list[int],
              f_rate: list[float]) -> Iterator[tuple[int, str, str, float, float]]:
    """The items of one asset, in time order."""
    index = {t: i for i, t in enumerate(c_ts)}

    def ret(i: int, span_ms: int) -> float | None:
        j = index.get(c_ts[i] - span_ms)
        return math.log(close[i] / close[j]) if j is not None else None

    for i, t in enumerate(c_ts):
        for source, every in SCHEDULE:
            if t % every:
                continue
            if source == "twitter":
                r = ret(i, HOUR_MS)
                x = None if r is None else r / 0.004
            elif source == "reddit":
                r = ret(i, 24 * HOUR_MS)
                x = None if r is None else r / 0.03
            else:
                r = ret(i, 4 * HOUR_MS)
                x = None if r is None else (0.6 * r / 0.01
                                            + 0.4 * funding_z(f_ts, f_rate, t) / 2.0)
            if x is None:
                continue
            score, conf = label(x)
            yield t + PUBLISH_LAG_MS, asset, source, score, conf


def generate(data: Path, assets: Iterable[str] = ("BTC", "ETH"),
             end_ms: int | None = None) -> str:
    """The sample file's text (``end_ms``: use only candles closed and funding settled at or
    before it)."""
    rows: list[tuple[int, str, str, float, float]] = []
    for asset in assets:
        bars, funding = ASSETS[asset]
        c_ts, close = read_closes(data / bars)
        f_ts, f_rate = read_funding(data / funding)
        if end_ms is not None:
            n = bisect.bisect_right(c_ts, end_ms)
            c_ts, close = c_ts[:n], close[:n]
            n = bisect.bisect_right(f_ts, end_ms)
            f_ts, f_rate = f_ts[:n], f_rate[:n]
        rows.extend(items_for(asset, c_ts, close, f_ts, f_rate))
    order = {s: k for k, (s, _) in enumerate(SCHEDULE)}
    rows.sort(key=lambda r: (r[0], r[1], order[r[2]]))
    out = io.StringIO()
    out.write(HEADER_COMMENT)
    out.write("timestamp,asset,source,score,confidence\n")
    for ts, asset, source, score, conf in rows:
        out.write(f"{ts},{asset},{source},{score:.3f},{conf:.3f}\n")
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="folder of the bundled candles and funding (examples/data)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="file to write")
    args = ap.parse_args(argv)
    text = generate(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {args.out} ({text.count(chr(10)) - 5} items)")


if __name__ == "__main__":
    main()
