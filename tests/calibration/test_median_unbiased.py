"""The forecast carry-over's median-unbiased estimate (`calibration.median_unbiased`), against
seeded AR(1) series whose autocorrelation is known."""

import numpy as np
import pytest

from carespiral.calibration.errors_model import pooled_phi
from carespiral.calibration.median_unbiased import median_curve, median_unbiased_phi


def _demeaned_ar1(rng, phi, n, k):
    """k series of n values from a stationary AR(1), each centred on its own mean (as a fit's
    level parameters centre its residuals), in units that differ by up to a factor 1,000."""
    out = []
    for _ in range(k):
        e = np.empty(n)
        e[0] = rng.standard_normal() / np.sqrt(1 - phi**2)
        for t in range(1, n):
            e[t] = phi * e[t - 1] + rng.standard_normal()
        out.append((e - e.mean()) * rng.uniform(0.1, 100))
    return out


@pytest.mark.parametrize("phi", [0.3, 0.6, 0.85])
def test_short_series_give_a_median_unbiased_carry_over_where_the_raw_one_is_far_too_low(phi):
    rng = np.random.default_rng(11)
    raw, unbiased = [], []
    for _ in range(300):  # 300 authorities' problems: 8 series of 6 residuals each
        series = _demeaned_ar1(rng, phi, 6, 8)
        raw.append(pooled_phi(series, unbiased=False))
        unbiased.append(pooled_phi(series))
    # the defining property: half the estimates fall below the true value (binomial standard
    # error of the share 0.03 with 300)
    assert np.mean(np.array(unbiased) < phi) == pytest.approx(0.5, abs=0.1)
    assert np.median(unbiased) == pytest.approx(phi, abs=0.08)
    assert np.median(raw) <= max(phi - 0.3, 0.0)  # what the correction is for


def test_the_median_curve_is_the_estimators_own_and_rises_with_phi():
    c = median_curve((6,) * 8)
    assert np.all(np.diff(c) >= 0) and c[-1] > c[0] + 0.3
    # algebra of the white-noise case: a demeaned series of n values has lag-1 correlation
    # -1/n on average (Kendall 1954), and the pooled ratio's median sits near it
    assert c[0] == pytest.approx(-1 / 6, abs=0.05)


def test_edges_nan_and_long_series():
    lengths = (6,) * 8
    curve = median_curve(lengths)
    assert median_unbiased_phi(curve[0] - 0.1, lengths) == 0.0
    assert median_unbiased_phi(curve[-1] + 0.1, lengths) == 1.0
    assert median_unbiased_phi(float("nan"), lengths) == 0.0
    assert median_unbiased_phi(0.1, []) == 0.0
    # the same residuals always give the same phi (seeded simulation)
    assert median_unbiased_phi(0.1, lengths) == median_unbiased_phi(0.1, list(lengths))
    # long series: little to correct
    rng = np.random.default_rng(5)
    series = _demeaned_ar1(rng, 0.5, 120, 10)
    raw = pooled_phi(series, unbiased=False)
    assert abs(pooled_phi(series) - raw) < 0.03
    assert pooled_phi(series) == pytest.approx(0.5, abs=0.06)
