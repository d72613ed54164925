"""Statistics of return series: Omega, walk-forward efficiency, the deflated Sharpe ratio and
the probability of backtest overfitting.  Pure functions, stdlib only.

Returns are per-period simple returns on a regular grid (the optimizer uses the equity curve
resampled every ``period_minutes``).  Sharpe ratios here are **per period** (mean / sample
standard deviation, not annualised) unless a function says otherwise.

* :func:`omega` -- Omega at threshold 0: sum of the gains / sum of the losses.
* :func:`wfa_efficiency` -- anchored walk-forward over one series: the first ``min_is``
  periods are in-sample, then windows of ``oos`` periods are out-of-sample one after the
  other, each time with everything before it in-sample; efficiency = mean(OOS Sharpe) /
  mean(IS Sharpe), clamped to [0, 1.5]; 1.0 when the in-sample mean is about 0 and the
  out-of-sample one is not negative, 0 when the in-sample mean is negative.
* :func:`deflated_sharpe_ratio` -- Bailey & López de Prado (2014), "The Deflated Sharpe
  Ratio: Correcting for Selection Bias, Backtest Overfitting and Non-Normality".
* :func:`pbo_cscv` -- Bailey, Borwein, López de Prado & Zhu (2017), "The Probability of
  Backtest Overfitting", combinatorially symmetric cross-validation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

#: Euler-Mascheroni constant
EULER_GAMMA = 0.5772156649015329
_N = NormalDist()
_EPS = 1e-12


def mean(xs: Sequence[float]) -> float:
    """Arithmetic mean (0 for an empty series)."""
    return math.fsum(xs) / len(xs) if xs else 0.0


def sharpe(xs: Sequence[float]) -> float | None:
    """Per-period Sharpe: mean / sample standard deviation; ``None`` for fewer than 2 values
    or no variation."""
    n = len(xs)
    if n < 2:
        return None
    m = mean(xs)
    var = math.fsum((x - m) ** 2 for x in xs) / (n - 1)
    sd = math.sqrt(var)
    if not sd > _EPS * max(1.0, abs(m)):
        return None
    return m / sd


def skew_kurtosis(xs: Sequence[float]) -> tuple[float, float]:
    """(skewness, kurtosis) from the population moments: m3 / m2^1.5 and m4 / m2^2 (kurtosis
    3 for a normal distribution, not the excess); (0, 3) when the series does not vary."""
    n = len(xs)
    if n < 2:
        return 0.0, 3.0
    m = mean(xs)
    m2 = math.fsum((x - m) ** 2 for x in xs) / n
    if m2 <= 0.0:
        return 0.0, 3.0
    m3 = math.fsum((x - m) ** 3 for x in xs) / n
    m4 = math.fsum((x - m) ** 4 for x in xs) / n
    return m3 / m2 ** 1.5, m4 / m2 ** 2


def omega(xs: Sequence[float]) -> float | None:
    """Omega ratio at threshold 0: sum(max(r, 0)) / sum(max(-r, 0)); ``None`` without a
    negative return (unbounded, or no return at all)."""
    gains = math.fsum(x for x in xs if x > 0.0)
    losses = -math.fsum(x for x in xs if x < 0.0)
    if losses <= 0.0:
        return None
    return gains / losses


def wfa_efficiency(xs: Sequence[float], min_is: int, oos: int) -> tuple[float, int, int]:
    """(efficiency, out-of-sample windows, windows with a positive mean) of the anchored
    walk-forward over ``xs`` (module docstring).  A window whose Sharpe is undefined (flat)
    counts as 0.  No window fits: (0.0, 0, 0)."""
    is_sr: list[float] = []
    oos_sr: list[float] = []
    positive = 0
    k = min_is
    while k + oos <= len(xs):
        is_sr.append(sharpe(xs[:k]) or 0.0)
        window = xs[k:k + oos]
        oos_sr.append(sharpe(window) or 0.0)
        positive += mean(window) > 0.0
        k += oos
    if not oos_sr:
        return 0.0, 0, 0
    m_is, m_oos = mean(is_sr), mean(oos_sr)
    if abs(m_is) < 1e-9:
        eff = 1.0 if m_oos >= 0.0 else 0.0
    elif m_is < 0.0:
        eff = 0.0
    else:
        eff = min(max(m_oos / m_is, 0.0), 1.5)
    return eff, len(oos_sr), positive


# --------------------------------------------------------------------------------------------
# Deflated Sharpe ratio
# --------------------------------------------------------------------------------------------


def expected_max_sharpe(n_trials: int, var_sharpe: float) -> float:
    """The Sharpe ratio the best of ``n_trials`` unskilled trials reaches by luck:
    sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e))), g = Euler's constant,
    V = variance of the trials' Sharpe ratios.  0 for fewer than 2 trials (no selection)."""
    if n_trials < 2 or var_sharpe <= 0.0:
        return 0.0
    z1 = _N.inv_cdf(1.0 - 1.0 / n_trials)
    z2 = _N.inv_cdf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(var_sharpe) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def deflated_sharpe_ratio(sr: float, sr0: float, t: int, skew: float,
                          kurt: float) -> float | None:
    """Phi((sr - sr0) * sqrt(t - 1) / sqrt(1 - skew * sr + (kurt - 1) / 4 * sr^2)): the
    probability that the true (per-period) Sharpe exceeds ``sr0`` given ``t`` returns with
    that skewness and (non-excess) kurtosis.  ``None`` for t < 2 or a non-positive variance
    term."""
    if t < 2:
        return None
    var_term = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    if not var_term > 0.0:
        return None
    return _N.cdf((sr - sr0) * math.sqrt(t - 1) / math.sqrt(var_term))


@dataclass(slots=True)
class DSR:
    """A deflated Sharpe ratio with the numbers behind it."""

    dsr: float | None
    sharpe: float | None
    sharpe0: float
    trials: int
    var_trials: float
    t: int
    skew: float
    kurtosis: float

    def as_dict(self) -> dict[str, float | int | None]:
        return {"dsr": self.dsr, "sharpe": self.sharpe, "expected_max_sharpe": self.sharpe0,
                "trials": self.trials, "var_trial_sharpes": self.var_trials, "t": self.t,
                "skew": self.skew, "kurtosis": self.kurtosis}


def dsr_of(returns: Sequence[float], trial_sharpes: Sequence[float]) -> DSR:
    """The deflated Sharpe ratio of the chosen series ``returns`` after ``trial_sharpes``
    (per-period Sharpe of every trial tried, the chosen one included)."""
    n = len(trial_sharpes)
    var = 0.0
    if n >= 2:
        m = mean(trial_sharpes)
        var = math.fsum((s - m) ** 2 for s in trial_sharpes) / (n - 1)
    sr0 = expected_max_sharpe(n, var)
    sr = sharpe(returns)
    skew, kurt = skew_kurtosis(returns)
    value = None if sr is None else deflated_sharpe_ratio(sr, sr0, len(returns), skew, kurt)
    return DSR(value, sr, sr0, n, var, len(returns), skew, kurt)


# --------------------------------------------------------------------------------------------
# Probability of backtest overfitting (CSCV)
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class PBO:
    """The probability of backtest overfitting and the numbers behind it."""

    pbo: float | None
    combinations: int
    blocks: int
    trials: int
    rows: int
    logits: list[float]

    def as_dict(self) -> dict[str, float | int | None]:
        lam = self.logits
        return {"pbo": self.pbo, "combinations": self.combinations, "blocks": self.blocks,
                "trials": self.trials, "rows_used": self.rows,
                "median_logit": sorted(lam)[len(lam) // 2] if lam else None}


def _sharpe_or_zero(xs: Sequence[float]) -> float:
    s = sharpe(xs)
    if s is not None:
        return s
    m = mean(xs)
    return 0.0 if m == 0.0 else math.copysign(math.inf, m)


def pbo_cscv(series: Sequence[Sequence[float]], blocks: int,
             stat: Callable[[Sequence[float]], float] = _sharpe_or_zero) -> PBO:
    """PBO of choosing the best of ``series`` (one return series per trial, all over the same
    periods) by combinatorially symmetric cross-validation.

    The ``T`` periods are cut into ``blocks`` (S, even) consecutive blocks of ``T // S`` rows
    (the oldest ``T mod S`` rows are dropped).  For each of the C(S, S/2) ways to pick half of
    the blocks as in-sample (the rest, out-of-sample): the trial with the best ``stat``
    in-sample (Sharpe by default; ties: the first) is ranked among all N trials by its
    out-of-sample ``stat`` (rank 1 = worst, ties get their average rank), w = rank / (N + 1),
    logit = ln(w / (1 - w)).  PBO = share of the splits with logit <= 0: the in-sample winner
    did not beat the out-of-sample median.  ``None`` with fewer than 2 trials or fewer than 2
    rows per block.
    """
    if blocks < 2 or blocks % 2:
        raise ValueError(f"blocks must be an even number >= 2, got {blocks}")
    n = len(series)
    t = min((len(s) for s in series), default=0)
    size = t // blocks
    if n < 2 or size < 2:
        return PBO(None, 0, blocks, n, 0, [])
    used = size * blocks
    cols = [list(s[len(s) - used:]) for s in series]
    parts = [[c[b * size:(b + 1) * size] for b in range(blocks)] for c in cols]
    logits: list[float] = []
    below = 0
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        rest = [b for b in range(blocks) if b not in chosen]
        perf_is = [stat([x for b in chosen for x in p[b]]) for p in parts]
        perf_oos = [stat([x for b in rest for x in p[b]]) for p in parts]
        star = max(range(n), key=lambda i: (perf_is[i], -i))
        v = perf_oos[star]
        less = sum(1 for x in perf_oos if x < v)
        equal = sum(1 for x in perf_oos if x == v)
        w = (less + (equal + 1) / 2.0) / (n + 1)
        lam = math.log(w / (1.0 - w))
        logits.append(lam)
        below += lam <= 0.0
    return PBO(below / len(logits), len(logits), blocks, n, used, logits)
