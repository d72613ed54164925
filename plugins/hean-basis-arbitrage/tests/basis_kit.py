"""Constants and readers shared by the basis-arbitrage tests (standard library only)."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

SPOT = "ohlcv/binance_spot_{b}USDT_5m_20250101_20250506.csv.gz"
PERP = "ohlcv/binance_usdm_perp_{b}USDT_5m_20250101_20250331.csv.gz"
FUNDING = {"BTC": ["funding/binance_usdm_perp_BTCUSDT_funding_8h_20250101_20250306.csv.gz",
                   "funding/binance_usdm_perp_BTCUSDT_funding_8h_20250306_20250603.csv.gz"],
           "ETH": ["funding/binance_usdm_perp_ETHUSDT_funding_8h_20250101_20250306.csv.gz",
                   "funding/binance_usdm_perp_ETHUSDT_funding_8h_20250306_20250615.csv.gz"],
           "ADA": ["funding/binance_usdm_perp_ADAUSDT_funding_8h_20250101_20250509.csv.gz"]}
#: a cost model with no estimate in it: 2 bp fee per side, a 2 bp spread, no slippage
#: -> 12 bp for the round trip of both legs, so the tests can compute the rule by hand
FLAT_COST = {"taker_fee_bps": 2.0, "maker_fee_bps": 2.0, "taker_base_slippage_bps": 0.0,
             "bar_spread_estimator": "none", "no_quote_half_spread_bps": 1.0,
             "min_half_spread_bps": 1.0, "vol_penalty_factor": 0.0, "volume_impact_y": 0.0}


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a gzip CSV (standard library only)."""
    with gzip.open(path, "rt") as f:
        return list(csv.DictReader(f))
