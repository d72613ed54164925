"""Configuration of the CSV feeds: the ``data:`` section of a run (:class:`CsvFeedConfig`,
also read by the ``memory`` feed as :class:`MemoryFeedConfig`), its file entries
(:class:`DataFile`, with the other accepted names of the data kinds) and the notations of
intervals (``"5m"``) and times (epoch ms or ISO-8601, UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..components import ComponentConfig

__all__ = [
    "KIND_ORDER",
    "CsvFeedConfig",
    "DataFile",
    "MemoryFeedConfig",
    "fmt_ms",
    "parse_interval",
    "parse_time",
]

#: Tie rule at equal timestamps: lower rank first.
KIND_ORDER: dict[str, int] = {"funding": 0, "l2": 1, "bbo": 2, "trades": 3, "bars": 4}

_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_interval(text: str) -> int:
    """``"5m"`` -> 300000.  Units: s, m, h, d, w.

    :raises ValueError: when the text is not ``<positive int><unit>``.
    """
    m = _INTERVAL_RE.match(text)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"invalid interval {text!r}; expected e.g. '1m', '5m', '1h', '8h', '1d'")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


def parse_time(value: int | str | None) -> int | None:
    """Epoch ms from an int, a digit string or an ISO-8601 date/datetime (naive = UTC).

    :raises ValueError: when the value cannot be read.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"invalid time {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid time {value!r}; expected epoch ms or an ISO date/datetime "
                         "such as '2025-03-10' or '2025-03-10T12:00:00Z'") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def fmt_ms(ms: int) -> str:
    """An interval in the config's notation: 60000 -> '1m', 3600000 -> '1h', 1500 -> '1500ms'."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


#: Other names of the data kinds (the shared data folders say ohlcv/ and orderbook/).
_KIND_ALIASES = {"ohlcv": "bars", "candles": "bars", "orderbook": "l2", "book": "l2",
                 "quotes": "bbo", "aggtrades": "trades"}


class DataFile(ComponentConfig):
    """One data file of the feed."""

    kind: Literal["bars", "trades", "bbo", "l2", "funding"] = Field(
        description="what the file holds (also accepted: ohlcv/candles for bars, "
        "orderbook/book for l2, quotes for bbo, aggtrades for trades)")
    symbol: str = Field(description="ccxt symbol, e.g. 'BTC/USDT:USDT'")
    path: str = Field(description="path of the .csv or .csv.gz file (relative to base_dir)")
    interval: str | None = Field(
        None, description="bar interval ('1m', '5m', ...); inferred from the file name "
        "(e.g. '_5m_') or the first timestamps when absent")

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_alias(cls, v: Any) -> Any:
        return _KIND_ALIASES.get(v, v) if isinstance(v, str) else v

    @field_validator("interval")
    @classmethod
    def _check_interval(cls, v: str | None) -> str | None:
        if v is not None:
            parse_interval(v)
        return v


class CsvFeedConfig(ComponentConfig):
    """The ``data:`` section of a run read by the ``csv`` feed."""

    files: list[DataFile] = Field(min_length=1, description="files to replay, merged by time")
    start: int | str | None = Field(
        None, description="first time kept (epoch ms or ISO date/datetime, UTC), inclusive")
    end: int | str | None = Field(
        None, description="end of the replay (epoch ms or ISO date/datetime, UTC), exclusive")

    @field_validator("start", "end")
    @classmethod
    def _check_time(cls, v: int | str | None) -> int | str | None:
        parse_time(v)
        return v

    @model_validator(mode="after")
    def _check_window(self) -> CsvFeedConfig:
        s, e = parse_time(self.start), parse_time(self.end)
        if s is not None and e is not None and s >= e:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self


class MemoryFeedConfig(CsvFeedConfig):
    """Same fields as the ``csv`` feed: the files are read once and replayed from memory."""
