"""Funding-rate prediction and the settlement calendar, pure functions.

The prediction is the original FundingHarvester's, unchanged, from the settled rates of one
perpetual, oldest first (``rates[-1]`` is the latest):

* fewer than 3 rates: ``pred = rates[-1]`` (or 0 with none), ``conf = 0.5``;
* ``ewma`` = Σ w_i·r_i / Σ w_i with ``w = 0.5^age`` (the newest has age 0, weight 1);
* ``mom = mean(last 3) − mean(first 3)`` when there are ≥ 6 rates, else 0;
* ``pred0 = ewma + 0.3·mom``;
* ``mom2 = mean(last 3) − mean(the 3 before)`` (0 with fewer than 6 rates);
* ``fvol`` = population standard deviation of the last 5 rates;
* ``persist`` = how many settlements before the latest have its sign, counted back without a
  break;
* ``pred = pred0 + 0.6·mom2 (+ 0.2·mom2 when persist ≥ 3)``;
* ``conf = clamp(0.6 − min(0.3, 0.3·fvol/0.001) + min(0.2, 0.05·persist), 0.3, 0.95)``.

Calendar: settlements fall on a fixed grid of ``interval_ms`` (8 h on Binance USDⓈ-M) in
**UTC** epoch milliseconds, shifted by ``offset_ms``; the original converted the exchange's
next-funding time as local time, so its entry window moved with the host's time zone.  A
settlement's stamp carries a few ms of jitter (``...00:00:00.015``): :func:`on_grid` rounds a
stamp to the nearest grid point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Prediction:
    """What :func:`predict` concludes from the settled rates."""

    pred: float  #: expected next rate (fraction per period, positive: longs pay)
    pred0: float  #: the base forecast (EWMA + 0.3 momentum)
    conf: float  #: confidence 0.3..0.95 (0.5 with fewer than 3 rates)
    persist: int  #: earlier settlements of the latest's sign, in a row
    fvol: float  #: standard deviation of the last 5 rates


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def predict(rates: Sequence[float]) -> Prediction:
    """The forecast of the next funding rate (the formulas: the module docstring)."""
    n = len(rates)
    if n < 3:
        last = rates[-1] if n else 0.0
        return Prediction(last, last, 0.5, 0, 0.0)
    wsum = num = 0.0
    w = 1.0
    for r in reversed(rates):
        num += w * r
        wsum += w
        w *= 0.5
    ewma = num / wsum
    mom = _mean(rates[-3:]) - _mean(rates[:3]) if n >= 6 else 0.0
    pred0 = ewma + 0.3 * mom
    mom2 = _mean(rates[-3:]) - _mean(rates[-6:-3]) if n >= 6 else 0.0
    last5 = rates[-5:]
    m5 = _mean(last5)
    fvol = math.sqrt(sum((r - m5) ** 2 for r in last5) / len(last5))
    latest = rates[-1]
    persist = 0
    for r in reversed(rates[:-1]):
        if (r > 0.0) != (latest > 0.0) or r == 0.0 or latest == 0.0:
            break
        persist += 1
    pred = pred0 + 0.6 * mom2 + (0.2 * mom2 if persist >= 3 else 0.0)
    conf = 0.6 - min(0.3, 0.3 * fvol / 0.001) + min(0.2, 0.05 * persist)
    return Prediction(pred, pred0, min(max(conf, 0.3), 0.95), persist, fvol)


def next_settlement(now: int, interval_ms: int, offset_ms: int = 0) -> int:
    """The first settlement strictly after ``now`` (UTC epoch ms) on the grid."""
    k = (now - offset_ms) // interval_ms + 1
    return k * interval_ms + offset_ms


def on_grid(ts: int, interval_ms: int, offset_ms: int = 0) -> int:
    """``ts`` rounded to the nearest grid point (drops the exchange's ms of jitter)."""
    k = round((ts - offset_ms) / interval_ms)
    return int(k) * interval_ms + offset_ms
