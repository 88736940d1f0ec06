"""Error models against scipy's densities, and the residuals least squares minimises."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from carespiral.calibration.errors_model import (
    deviance_residuals,
    estimate_scale,
    loglik,
    sample_noise,
)

Y = np.array([105.0, 98.0, 120.0, 87.0, 101.0])
M = np.array([[100.0, 100.0, 110.0, 95.0, 100.0], [90.0, 95.0, 130.0, 80.0, 110.0]])


def test_normal_is_the_density_at_the_estimated_scale():
    for m in M:
        s = estimate_scale(Y, m, "normal")
        assert s == pytest.approx(np.sqrt(np.mean((Y - m) ** 2)))
        want = stats.norm.logpdf(Y, m, s).sum()
        assert loglik(Y, m[None, :], "normal")[0] == pytest.approx(want, rel=1e-12)


def test_lognormal_is_the_density_of_y_at_the_estimated_scale():
    for m in M:
        s = estimate_scale(Y, m, "lognormal")
        want = stats.lognorm.logpdf(Y, s, scale=m).sum()
        assert loglik(Y, m[None, :], "lognormal")[0] == pytest.approx(want, rel=1e-12)


def test_negative_binomial_matches_scipy_and_profiles_its_size():
    r = 50.0
    for m in M:
        want = stats.nbinom.logpmf(Y, r, r / (r + m)).sum()
        assert loglik(Y, m[None, :], "negbin", dispersion=r)[0] == pytest.approx(want, rel=1e-10)
        # profiled over the size grid: at least as likely as any fixed size on the grid
        prof = loglik(Y, m[None, :], "negbin")[0]
        assert prof >= want - 1e-9
        assert estimate_scale(Y, m, "negbin") > 0


def test_deviance_residuals_sum_to_minus_twice_the_loglik_difference():
    m = M[:1]
    r = 40.0
    d = deviance_residuals(Y, m, "negbin", r)[0]
    sat = stats.nbinom.logpmf(Y, r, r / (r + Y)).sum()
    ll = stats.nbinom.logpmf(Y, r, r / (r + m[0])).sum()
    assert np.sum(d**2) == pytest.approx(2 * (sat - ll), rel=1e-9)
    assert np.all(np.sign(d) == np.sign(Y - m[0]))
    s = 7.0
    assert deviance_residuals(Y, m, "normal", s)[0] == pytest.approx((Y - m[0]) / s)


def test_bad_model_values_score_minus_infinity_without_spoiling_others():
    m = np.vstack([M[0], np.full(5, np.nan), -M[0]])
    ll = loglik(Y, m, "lognormal")
    assert np.isfinite(ll[0]) and ll[1] == -np.inf and ll[2] == -np.inf


def test_noise_has_the_error_model_moments():
    rng = np.random.default_rng(3)
    m = np.full(200_000, 50.0)
    x = sample_noise(rng, m, "negbin", 10.0)
    assert x.mean() == pytest.approx(50.0, rel=0.01)
    assert x.var() == pytest.approx(50 + 50**2 / 10, rel=0.03)
    z = np.log(sample_noise(rng, m, "lognormal", 0.1) / 50.0)
    assert z.std() == pytest.approx(0.1, rel=0.01)
