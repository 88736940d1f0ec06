"""The forecast carry-over's median-unbiased estimate (`calibration.median_unbiased`), against
seeded AR(1) series whose autocorrelation is known."""

import numpy as np
import pytest

from carespiral.calibration.errors_model import pooled_phi
from carespiral.calibration.median_unbiased import median_curve, median_unbiased_phi


def _ar1(rng, phi, n, centred=True):
    """n values from a stationary AR(1), centred on their own mean (as a fit's level
    parameters centre its residuals) or not, in units that differ by up to a factor 1,000."""
    e = np.empty(n)
    e[0] = rng.standard_normal() / np.sqrt(1 - phi**2)
    for t in range(1, n):
        e[t] = phi * e[t - 1] + rng.standard_normal()
    return (e - e.mean() if centred else e) * rng.uniform(0.1, 100)


def _demeaned_ar1(rng, phi, n, k):
    return [_ar1(rng, phi, n) for _ in range(k)]


# (lengths of one problem's series, centred by the fit or not)
LAYOUTS = {"8 of 6, centred": ((6,) * 8, True),
           "4 to 8 values, not centred": ((4, 5, 6, 6, 7, 8), False)}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("phi", [0.3, 0.6, 0.85])
def test_short_series_give_a_median_unbiased_carry_over_where_the_raw_one_is_far_too_low(
        phi, layout):
    lengths, centred = LAYOUTS[layout]
    rng = np.random.default_rng(11)
    raw, unbiased = [], []
    for _ in range(300):  # 300 authorities' problems
        series = [_ar1(rng, phi, n, centred) for n in lengths]
        raw.append(pooled_phi(series, unbiased=False))
        unbiased.append(pooled_phi(series))
    # the defining property: half the estimates fall below the true value (binomial standard
    # error of the share 0.03 with 300)
    assert np.mean(np.array(unbiased) < phi) == pytest.approx(0.5, abs=0.1)
    assert np.median(unbiased) == pytest.approx(phi, abs=0.1)
    if centred:  # what the correction is for: centred residuals (a fit's) bias it far down
        assert np.median(raw) <= max(phi - 0.3, 0.0)


def test_the_median_curve_is_the_estimators_own_and_rises_with_phi():
    c = median_curve((6,) * 8)
    assert np.all(np.diff(c) >= 0) and c[-1] > c[0] + 0.3
    # algebra of the white-noise case: centred, E[e_t e_(t-1)] = -s^2/n and E[e_t^2] =
    # s^2 (1 - 1/n), so the ratio of the sums over the n - 1 pairs is near -1/(n - 1)
    assert c[0] == pytest.approx(-1 / 5, abs=0.02)


def test_edges_nan_and_long_series():
    lengths = (6,) * 8
    curve = median_curve(lengths)
    assert median_unbiased_phi(curve[0] - 0.1, lengths) == 0.0
    assert median_unbiased_phi(curve[-1] + 0.1, lengths) == 1.0
    assert median_unbiased_phi(float("nan"), lengths) == 0.0
    assert median_unbiased_phi(0.1, []) == 0.0
    assert median_unbiased_phi(0.1, [1, 0]) == 0.0  # no series with a lag-1 pair
    assert median_unbiased_phi(0.1, [1, 6, 6]) == median_unbiased_phi(0.1, [6, 6])
    # a series constant to rounding says nothing: it neither adds nor decides
    flat = np.full(6, 0.1)
    assert pooled_phi([flat]) == 0.0
    some = _demeaned_ar1(np.random.default_rng(2), 0.6, 6, 8)
    assert pooled_phi([flat, *some]) == pooled_phi(some)
    # the same residuals always give the same phi (seeded simulation)
    assert median_unbiased_phi(0.1, lengths) == median_unbiased_phi(0.1, list(lengths))
    # long series: little to correct
    rng = np.random.default_rng(5)
    series = _demeaned_ar1(rng, 0.5, 120, 10)
    raw = pooled_phi(series, unbiased=False)
    assert abs(pooled_phi(series) - raw) < 0.03
    assert pooled_phi(series) == pytest.approx(0.5, abs=0.06)
