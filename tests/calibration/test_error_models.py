"""Error models against scipy's densities, and the residuals least squares minimises."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from carespiral.calibration.errors_model import (
    RHO_MAX,
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


# ---- autocorrelated residuals (AR(1)) -------------------------------------------------------

def _ar1_cov(n: int, s: float, rho: float) -> np.ndarray:
    """The stationary AR(1) covariance s^2 rho^|i-j| / (1 - rho^2)."""
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    return s**2 * rho**lag / (1 - rho**2)


def _exact_ar1(y, m, error, s, rho):
    """The exact Gaussian AR(1) log-density of y, by the multivariate normal (the reference)."""
    e = np.log(y) - np.log(m) if error == "lognormal" else y - m
    ll = stats.multivariate_normal(np.zeros(len(y)), _ar1_cov(len(y), s, rho)).logpdf(e)
    return ll - np.sum(np.log(y)) if error == "lognormal" else ll


Y7 = np.array([105.0, 98.0, 120.0, 87.0, 101.0, 111.0, 96.0])
M7 = np.array([[100.0, 100.0, 110.0, 95.0, 100.0, 104.0, 99.0],
               [90.0, 95.0, 130.0, 80.0, 110.0, 105.0, 92.0]])


@pytest.mark.parametrize("error", ["normal", "lognormal"])
def test_ar1_likelihood_is_the_exact_gaussian_density_at_its_profiled_values(error):
    from scipy import optimize

    from carespiral.calibration.errors_model import fit_error

    for m in M7:
        f = fit_error(Y7, m, error, ar1=True)
        ll = loglik(Y7, m[None, :], error, ar1=True)[0]
        assert ll == pytest.approx(_exact_ar1(Y7, m, error, f.scale, f.rho), rel=1e-10)

        # and it is the maximum over (s, rho within +-RHO_MAX) of the exact density: a
        # numerical search from several starts finds nothing better
        def neg(x, m=m):
            return -_exact_ar1(Y7, m, error, np.exp(x[0]), RHO_MAX * np.tanh(x[1]))

        best = min((optimize.minimize(neg, [np.log(f.scale) + d, np.arctanh(r0 / RHO_MAX)],
                                      method="Nelder-Mead",
                                      options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
                    for d in (-0.5, 0.5) for r0 in (-0.4, 0.0, 0.4)), key=lambda o: o.fun)
        assert -best.fun <= ll + 1e-7
        assert RHO_MAX * np.tanh(best.x[1]) == pytest.approx(f.rho, abs=1e-4)
        assert np.exp(best.x[0]) == pytest.approx(f.scale, rel=1e-4)


def test_ar1_whitened_residuals_give_the_same_likelihood_differences():
    from carespiral.calibration.errors_model import ErrorFit

    fit = ErrorFit(6.0, 0.4)
    d = [np.sum(deviance_residuals(Y7, m[None, :], "normal", fit) ** 2) for m in M7]
    ll = [_exact_ar1(Y7, m, "normal", 6.0, 0.4) for m in M7]
    assert -0.5 * (d[0] - d[1]) == pytest.approx(ll[0] - ll[1], rel=1e-10)


def test_a_known_rho_is_recovered_from_seeded_synthetic_residuals():
    from carespiral.calibration.errors_model import ar1_rho

    rng = np.random.default_rng(11)
    for rho in (-0.4, 0.0, 0.4):
        runs, n = 400, 60
        e = np.empty((runs, n))
        e[:, 0] = rng.standard_normal(runs) / np.sqrt(1 - rho**2)
        for t in range(1, n):
            e[:, t] = rho * e[:, t - 1] + rng.standard_normal(runs)
        est = ar1_rho(e)
        # the ML estimator's sampling sd is about sqrt((1 - rho^2) / n); its mean over 400
        # series is within a few standard errors of the truth (bias O(1/n) included)
        assert abs(est.mean() - rho) < 3 * np.sqrt((1 - rho**2) / n) / np.sqrt(runs) + 2.5 / n
        assert est.std() == pytest.approx(np.sqrt((1 - rho**2) / n), rel=0.25)


def test_rho_stops_at_its_bound_so_a_level_offset_is_not_passed_off_as_noise(monkeypatch):
    """A run that misses by the same 8% every year (seeded 2% noise around it), as England's
    fit to March 2018 did with referrals: rho runs to the bound, and the offset costs
    (1 - rho)^2 of its square a year, so the bound of 0.5 makes it cost more than 0.8 did."""
    from carespiral.calibration import errors_model as em

    rng = np.random.default_rng(3)
    y = 600.0 * np.exp(0.02 * rng.standard_normal(8))
    close = y * np.exp(0.02 * rng.standard_normal(8))
    off = np.full(8, 0.08) + 0.02 * rng.standard_normal(8)  # log residuals of the biased run

    def cost() -> float:
        assert em.ar1_rho(off[None, :])[0] == em.RHO_MAX
        return float(em.loglik(y, close[None, :], "lognormal", ar1=True)[0]
                     - em.loglik(y, (y * np.exp(-off))[None, :], "lognormal", ar1=True)[0])

    now = cost()
    monkeypatch.setattr(em, "RHO_MAX", 0.8)
    before = cost()
    assert em.RHO_MAX == 0.8 and now - before > 1.5  # 1.8 log-units here


def test_ar1_noise_has_the_stationary_moments_and_forecasts_carry_the_residual():
    from carespiral.calibration.errors_model import ErrorFit, forecast_noise

    rng = np.random.default_rng(5)
    fit = ErrorFit(0.1, 0.6)
    z = np.log(sample_noise(rng, np.full((100_000, 4), 50.0), "lognormal", fit) / 50.0)
    assert z.std(axis=0) == pytest.approx(np.full(4, 0.1 / np.sqrt(1 - 0.36)), rel=0.02)
    assert np.corrcoef(z[:, 1], z[:, 2])[0, 1] == pytest.approx(0.6, abs=0.01)
    # one and three years after a last residual of 0.2: 0.6 and 0.216 of it carried over
    centre, draws = forecast_noise(rng, np.full((100_000, 2), 50.0), "lognormal", fit,
                                   np.full(100_000, 0.2), np.array([1.0, 3.0]))
    assert np.log(centre[0] / 50.0) == pytest.approx([0.12, 0.2 * 0.6**3])
    e = np.log(draws / 50.0)
    assert e.mean(axis=0) == pytest.approx([0.12, 0.0432], abs=0.002)
    assert e.std(axis=0) == pytest.approx([0.1, 0.1 * np.sqrt((1 - 0.6**6) / (1 - 0.36))],
                                          rel=0.02)


def test_short_series_and_negbin_are_not_autocorrelated():
    y, m = Y[:4], M[:, :4]
    assert loglik(y, m, "normal", ar1=True) == pytest.approx(loglik(y, m, "normal"))
    with pytest.raises(ValueError, match="negbin"):
        loglik(Y, M, "negbin", ar1=True)
