"""Deflated Sharpe ratio, PBO by CSCV, Omega and the walk-forward efficiency against small
cases computed by hand (the arithmetic is in the comments).

Invariants:

* E[max SR] = sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e))), 0 for one trial;
* DSR = Phi((SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2)); it
  reproduces the numerical example of Bailey & López de Prado (2014): annualised Sharpe 2.5 on
  1,250 daily returns (250 a year), skewness -3, kurtosis 10, 100 trials whose annualised
  Sharpe ratios have variance 0.5 -> DSR 0.9004;
* PBO = share of the C(S, S/2) splits in which the in-sample winner ranks at or below the
  out-of-sample median; hand-computed for a 3-trial, 4-block case (1/3), an always-overfit and a
  never-overfit 2-trial case with Sharpe as the statistic; the oldest T mod S rows are dropped;
* Omega(0) = gains / losses; the walk-forward efficiency of a 6-period series by hand.
"""

from __future__ import annotations

import math
import random

import pytest
from hean_symbiont import (
    deflated_sharpe_ratio,
    dsr_of,
    expected_max_sharpe,
    omega,
    pbo_cscv,
    wfa_efficiency,
)
from hean_symbiont.stats import mean, sharpe, skew_kurtosis

G = 0.5772156649015329


def test_expected_max_sharpe_by_hand() -> None:
    # N = 10, V = 0.01: Phi^-1(0.9) = 1.2815516, 1 - 1/(10 e) = 0.9632121,
    # Phi^-1(0.9632121) = 1.7892418; 0.1 * (0.4227843 * 1.2815516 + 0.5772157 * 1.7892418)
    # = 0.1 * (0.5418178 + 1.0327808) = 0.1574598
    assert expected_max_sharpe(10, 0.01) == pytest.approx(0.1574598, abs=1e-6)
    assert expected_max_sharpe(1, 0.01) == 0.0
    assert expected_max_sharpe(10, 0.0) == 0.0


def test_deflated_sharpe_by_hand() -> None:
    # SR 0.1, SR0 0.05, T 101, normal returns: variance term 1 - 0 + (3 - 1) / 4 * 0.01 =
    # 1.005; z = 0.05 * sqrt(100) / sqrt(1.005) = 0.5 / 1.0024969 = 0.4987547;
    # Phi(0.4987547) = 0.6910239
    assert deflated_sharpe_ratio(0.1, 0.05, 101, 0.0, 3.0) == pytest.approx(0.6910239,
                                                                            abs=1e-6)
    # SR equal to SR0: one half, whatever the moments
    assert deflated_sharpe_ratio(0.2, 0.2, 50, -1.0, 8.0) == pytest.approx(0.5)
    # negative skew and fat tails widen the estimate's spread: a lower DSR above SR0
    fat = deflated_sharpe_ratio(0.1, 0.05, 101, -2.0, 9.0)
    assert fat is not None and fat < 0.6910239
    assert deflated_sharpe_ratio(0.1, 0.05, 1, 0.0, 3.0) is None


def test_deflated_sharpe_reproduces_the_papers_example() -> None:
    sr = 2.5 / math.sqrt(250)
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 * math.sqrt(250) == pytest.approx(1.7894, abs=1e-4)
    assert deflated_sharpe_ratio(sr, sr0, 1250, -3.0, 10.0) == pytest.approx(0.9004,
                                                                             abs=1e-4)


def test_dsr_of_a_series_uses_its_moments_and_the_trials_spread() -> None:
    rng = random.Random(1)
    rets = [rng.gauss(0.001, 0.01) for _ in range(500)]
    trials = [0.05, 0.10, 0.02, 0.08, sharpe(rets) or 0.0]
    d = dsr_of(rets, trials)
    m = mean(trials)
    var = sum((s - m) ** 2 for s in trials) / 4
    skew, kurt = skew_kurtosis(rets)
    assert d.trials == 5 and d.var_trials == pytest.approx(var)
    assert d.sharpe0 == pytest.approx(expected_max_sharpe(5, var))
    assert d.dsr == pytest.approx(deflated_sharpe_ratio(d.sharpe or 0.0, d.sharpe0, 500,
                                                        skew, kurt))
    assert dsr_of([0.0] * 10, trials).dsr is None          # no variation: undefined


def test_skew_kurtosis_by_hand() -> None:
    # [-1, 0, 0, 1]: mean 0, m2 = 0.5, m3 = 0, m4 = 0.5 -> skew 0, kurtosis 0.5 / 0.25 = 2
    assert skew_kurtosis([-1.0, 0.0, 0.0, 1.0]) == pytest.approx((0.0, 2.0))
    # [0, 0, 0, 4]: mean 1, m2 = 3, m3 = (3 * -1 + 27) / 4 = 6, skew = 6 / 3^1.5 = 1.1547005
    assert skew_kurtosis([0.0, 0.0, 0.0, 4.0])[0] == pytest.approx(1.1547005, abs=1e-6)


def _blocks(*means: float) -> list[float]:
    """Two rows per block, each equal to the block's value."""
    return [v for m in means for v in (m, m)]


def test_pbo_three_trials_four_blocks_by_hand() -> None:
    # statistic: the mean.  Block values: A 4 3 -1 -2, B 2 2 2 2, C -1 0 2 3.
    # split (IS blocks | OOS blocks): IS means A/B/C -> winner; OOS means -> winner's rank
    #   01|23: 3.5/2/-0.5 -> A; OOS -1.5/2/2.5: rank 1 of 3 -> w 1/4, logit ln(1/3) < 0
    #   02|13: 1.5/2/0.5  -> B; OOS 0.5/2/1.5: rank 3 -> w 3/4, logit ln 3 > 0
    #   03|12: 1/2/1      -> B; OOS 1/2/1:     rank 3 -> ln 3
    #   12|03: 1/2/1      -> B; OOS 1/2/1:     rank 3 -> ln 3
    #   13|02: 0.5/2/1.5  -> B; OOS 1.5/2/0.5: rank 3 -> ln 3
    #   23|01: -1.5/2/2.5 -> C; OOS 3.5/2/-0.5: rank 1 -> ln(1/3) < 0
    # PBO = 2 / 6
    series = [_blocks(4, 3, -1, -2), _blocks(2, 2, 2, 2), _blocks(-1, 0, 2, 3)]
    res = pbo_cscv(series, 4, stat=mean)
    assert res.combinations == 6 and res.trials == 3 and res.rows == 8
    assert res.pbo == pytest.approx(1 / 3)
    assert res.logits == pytest.approx([math.log(1 / 3)] + [math.log(3)] * 4
                                       + [math.log(1 / 3)])
    # an extra oldest row is dropped (T mod S)
    assert pbo_cscv([[99.0, *s] for s in series], 4, stat=mean).pbo == pytest.approx(1 / 3)


def test_pbo_tied_winner_at_the_median_counts_as_overfit() -> None:
    # A 4 3 -1 -2, B 1 1 1 1, C -1 0 2 3: splits 03|12 and 12|03 give IS 1/1/1 (A wins the
    # tie), OOS 1/1/1 -> average rank 2, w = 2/4, logit 0 -> counted; the other four splits
    # pick A or C, which rank last out-of-sample: PBO = 6/6
    series = [_blocks(4, 3, -1, -2), _blocks(1, 1, 1, 1), _blocks(-1, 0, 2, 3)]
    assert pbo_cscv(series, 4, stat=mean).pbo == 1.0


def test_pbo_with_sharpe_two_trials_two_blocks_by_hand() -> None:
    # A = [.02, .04 | -.01, -.03]: block Sharpes 0.03/0.01414 = 2.12, -0.02/0.01414 = -1.41
    # B = [.01, .00 |  .01,  .03]: block Sharpes 0.005/0.00707 = 0.71, 0.02/0.01414 = 1.41
    # IS block 0 -> A, OOS block 1: A -1.41 < B 1.41, rank 1 of 2 -> w 1/3 -> overfit
    # IS block 1 -> B, OOS block 0: B 0.71 < A 2.12, rank 1 -> overfit.   PBO = 1
    a, b = [0.02, 0.04, -0.01, -0.03], [0.01, 0.0, 0.01, 0.03]
    assert pbo_cscv([a, b], 2).pbo == 1.0
    # A' = [.02, .04 | .03, .05] beats B in both blocks: the IS winner is the OOS best: PBO 0
    assert pbo_cscv([[0.02, 0.04, 0.03, 0.05], b], 2).pbo == 0.0


def test_pbo_undefined_and_bad_blocks() -> None:
    assert pbo_cscv([[0.1, 0.2, 0.3, 0.4]], 2).pbo is None          # one trial
    assert pbo_cscv([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], 2).pbo is None  # 1 row per block
    with pytest.raises(ValueError):
        pbo_cscv([[0.1] * 8, [0.2] * 8], 3)


def test_omega_by_hand() -> None:
    assert omega([0.02, -0.01, 0.03, -0.02]) == pytest.approx(0.05 / 0.03)
    assert omega([0.01, 0.02]) is None and omega([]) is None


def test_wfa_efficiency_by_hand() -> None:
    # xs = [.01, .03, .02, .04, .01, .02], first 2 in-sample, windows of 2:
    #   IS [.01, .03]           Sharpe .02 / .014142 = 1.41421; OOS [.02, .04] 2.12132
    #   IS [.01, .03, .02, .04] Sharpe .025 / .0129099 = 1.93649; OOS [.01, .02] 2.12132
    # efficiency = 2.12132 / ((1.41421 + 1.93649) / 2) = 2.12132 / 1.67535 = 1.26619
    eff, windows, positive = wfa_efficiency([0.01, 0.03, 0.02, 0.04, 0.01, 0.02], 2, 2)
    assert eff == pytest.approx(1.26619, abs=1e-5) and (windows, positive) == (2, 2)
    # clamped to 1.5; a losing in-sample part gives 0; in-sample ~0 and OOS >= 0 gives 1
    assert wfa_efficiency([0.01, 0.03, 0.05, 0.07, 0.05, 0.07], 2, 2)[0] == 1.5
    assert wfa_efficiency([-0.01, -0.03, 0.02, 0.04], 2, 2)[0] == 0.0
    assert wfa_efficiency([0.01, -0.01, 0.02, 0.04], 2, 2)[0] == 1.0
    assert wfa_efficiency([0.01] * 3, 2, 2) == (0.0, 0, 0)
