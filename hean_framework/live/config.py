"""The ``exchange:`` section of a paper or live run (registered through
``hean_register_sections`` by :mod:`hean_framework.live.plugin`, validated before anything
starts) and the settings models of the live feed and venue.

Keys never appear here: they come from ``HEAN_API_KEY`` / ``HEAN_API_SECRET`` only (the
config loader refuses secrets in the file).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..components import ComponentConfig


class Urls(BaseModel):
    """``exchange.urls``: replace every endpoint (a local fake exchange, a proxy)."""

    model_config = ConfigDict(extra="forbid")

    rest: str = Field(description="REST base URL, e.g. http://127.0.0.1:8123")
    ws: str = Field(description="WebSocket base URL, e.g. ws://127.0.0.1:8123")


class ExchangeSection(BaseModel):
    """``exchange:`` -- the exchange account of a paper or live run."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: Literal["bybit"] = Field("bybit", description="the exchange (Bybit v5 through ccxt)")
    testnet: bool = Field(False, description="trade on api-testnet.bybit.com")
    demo: bool = Field(False, description="trade on Bybit demo trading (api-demo.bybit.com)")
    urls: Urls | None = Field(None, description="replace every endpoint (tests: the fake "
                              "exchange on 127.0.0.1)")
    rate_limit: bool = Field(True, description="ccxt's client-side rate limiter")
    timeout_ms: int = Field(10_000, ge=100, le=120_000, description="per REST request")
    recv_window_ms: int = Field(5_000, ge=1_000, le=60_000)
    retries: int = Field(5, ge=0, le=20, description="retries of a failed REST call "
                         "(timeouts, 5xx, rate limits) with the same client order id")
    backoff_ms: int = Field(200, ge=1, le=60_000, description="first retry delay; doubles "
                            "per retry")
    poll_ms: int = Field(2_000, ge=50, le=60_000, description="REST check of orders the "
                         "private stream has not confirmed for this long")
    tick_ms: int = Field(1_000, ge=0, le=60_000, description="wall-clock timer tick (0: "
                         "timers fire on market events only)")
    stale_after_ms: int = Field(5_000, ge=100, description="a symbol without a market "
                                "message for this long is reported stale")
    cancel_on_stop: bool = Field(True, description="cancel the run's own open orders when it "
                                 "stops (SIGINT/SIGTERM, end of --duration)")
    flatten_on_killswitch: bool = Field(False, description="when the governor's killswitch "
                                        "fires: also close the run's own positions "
                                        "(reduce-only market orders); open orders are "
                                        "always cancelled")
    check_metadata: Literal["warn", "refuse", "off"] = Field(
        "warn", description="instruments from load_markets differing from the cached "
        "metadata (tick, lot, minimums): warn and use the exchange's, or refuse to start")
    market_types: tuple[Literal["spot", "linear", "inverse"], ...] = Field(
        ("linear",), description="Bybit categories load_markets reads")

    @model_validator(mode="after")
    def _one_endpoint(self) -> ExchangeSection:
        if self.testnet and self.demo:
            raise ValueError("testnet and demo are two different endpoints: set only one")
        return self


class LiveFeedConfig(ComponentConfig):
    """``data: {feed: bybit, ...}`` -- the live market feed."""

    symbols: list[str] = Field(default_factory=list, description="unified symbols to "
                               "subscribe to (ccxt notation, e.g. BTC/USDT:USDT); strategies "
                               "listen to all of them unless they list their own")
    trades: bool = Field(True, description="public trades")
    book: bool = Field(True, description="L2 order book (snapshot + deltas)")
    book_depth: Literal[1, 50, 200, 1000] = Field(50, description="levels of the book stream")
    tickers: bool = Field(True, description="tickers: mark, index, funding rate")
    record: bool = Field(True, description="write every event the engine got, in order, "
                         "with the clock ticks, to <run folder>/recorded/events.csv "
                         "(replayable with hean backtest recorded/replay.yaml)")
    record_csv: bool = Field(False, description="also write the events per kind and symbol "
                             "in the csv feed's formats (without mark/index updates)")


class LiveVenueConfig(ComponentConfig):
    """``venue: {name: bybit, ...}`` keys of the live venue (the kernel keys
    ``exchange``/``markets_file``/``instruments`` stay the kernel's)."""

    post_only_reject_is_skip: bool = Field(
        True, description="a post-only order the exchange cancelled because it would take "
        "liquidity is an ordinary cancel, not an exchange rejection")
