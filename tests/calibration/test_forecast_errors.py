"""The forecast residual model: its algebra, and the coverage of its intervals on seeded series."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from carespiral.calibration.errors_model import (
    ForecastError,
    forecast_draws,
    forecast_errors,
    pooled_phi,
)


def test_the_spread_of_summed_innovations_is_the_ar1_algebra():
    fe = ForecastError(phi=0.6, scale=2.0, dof=np.inf)
    g = np.array([1.0, 2.0, 3.0])
    # var of e_(T+g) - 0.6^g e_T: s^2 (1 + phi^2 + ... + phi^(2(g-1)))
    want = 2.0 * np.sqrt([1.0, 1 + 0.36, 1 + 0.36 + 0.36**2])
    np.testing.assert_allclose(fe.sd(g), want)
    np.testing.assert_allclose(ForecastError(1.0, 2.0, 5.0).sd(g), 2.0 * np.sqrt(g))


def test_scales_are_the_normal_inverse_chi_square_posterior_around_the_pooled_one():
    e1 = np.array([0.0, 0.1, 0.05, 0.2])  # log scale: level 1
    e2 = np.array([1.0, -2.0])            # normal scale around a level of 50
    out = forecast_errors([e1, e2], [1.0, 50.0], mode="rw", prior_dof=2.0)
    ss1, ss2 = np.sum(np.diff(e1) ** 2), np.sum(np.diff(e2) ** 2)
    s0sq = (ss1 + ss2 / 50.0**2) / 4  # four innovations in all, relative units
    assert out[0].phi == out[1].phi == 1.0
    assert out[0].dof == 5.0 and out[1].dof == 3.0
    assert out[0].scale == pytest.approx(np.sqrt((2 * s0sq + ss1) / 5))
    assert out[1].scale == pytest.approx(np.sqrt((2 * s0sq * 2500 + ss2) / 3))
    # a series with one value has no innovation of its own: the pooled scale, 2 dof
    one = forecast_errors([e1, np.array([0.3])], [1.0, 1.0], mode="rw")[1]
    assert one.dof == 2.0 and one.scale == pytest.approx(np.sqrt(ss1 / 3))
    run = forecast_errors([e1], [1.0], mode="run")[0]
    assert run.phi == 0.0 and run.scale == pytest.approx(np.sqrt((2 * np.mean(e1**2)
                                                                  + np.sum(e1**2)) / 6))
    with pytest.raises(ValueError, match="forecast mode"):
        forecast_errors([e1], [1.0], mode="arima")


def test_the_pooled_autocorrelation_recovers_a_seeded_one():
    rng = np.random.default_rng(3)
    phi = 0.7
    series = []
    for _ in range(40):  # long series (little small-sample bias), each in its own units
        e = np.empty(100)
        e[0] = rng.standard_normal() / np.sqrt(1 - phi**2)
        for t in range(1, 100):
            e[t] = phi * e[t - 1] + rng.standard_normal()
        series.append(e * rng.uniform(0.1, 100))
    # 3,960 pairs: a standard error of about sqrt((1 - phi^2) / 3960) = 0.011
    assert pooled_phi(series) == pytest.approx(phi, abs=0.04)
    assert pooled_phi([np.array([1.0, 2.0])]) == 0.0  # too short to say
    assert pooled_phi([np.array([1.0, -1.0, 1.0, -1.0])]) == 0.0  # kept within [0, 1]


def test_random_walk_forecasts_start_from_the_last_value_and_add_the_model_change():
    rng = np.random.default_rng(0)
    fe = ForecastError(1.0, 0.05, 4.0)
    m = np.array([[110.0, 121.0], [100.0, 100.0]])
    centre, draws = forecast_draws(rng, m, np.array([100.0, 100.0]), 90.0, "lognormal", fe,
                                   np.array([1.0, 2.0]), reps=20_000)
    np.testing.assert_allclose(centre, [[99.0, 108.9], [90.0, 90.0]])
    # the second run's draws (each run is repeated reps times in a row): log(y/90) is
    # Student-t with 4 dof, scale 0.05 sqrt(g)
    z = np.log(draws[20_000:] / 90.0) / (0.05 * np.sqrt([1.0, 2.0]))
    assert np.quantile(z, 0.975, axis=0) == pytest.approx(stats.t.ppf(0.975, 4), rel=0.05)
    centre, _ = forecast_draws(rng, m, np.array([100.0, 100.0]), 90.0, "normal",
                               ForecastError(0.5, 1.0, 4.0), np.array([1.0, 2.0]))
    np.testing.assert_allclose(centre, [[105.0, 118.5], [95.0, 97.5]])


def test_intervals_cover_95_percent_of_seeded_random_walk_residuals():
    """Series = a model run plus a random-walk residual, fitted on five to eight values, several
    series of different scales estimated together: the 95% intervals one to three steps ahead
    hold about 95% of the later values (the Student-t widens them for the short series)."""
    rng = np.random.default_rng(11)
    inside, total = 0, 0
    for _ in range(400):
        sig = rng.uniform(0.02, 0.06)  # the series share a relative innovation scale
        lengths = rng.integers(2, 9, size=5)
        res, later = [], []
        for n in lengths:
            e = np.cumsum(sig * rng.standard_normal(n + 3))
            res.append(e[:n])
            later.append(e[n:])
        fes = forecast_errors(res, [1.0] * 5, mode="rw")
        for e, future, fe in zip(res, later, fes, strict=True):
            m = np.full((1, 3), 200.0)
            _, d = forecast_draws(rng, m, np.array([200.0]), 200.0 * np.exp(e[-1]),
                                  "lognormal", fe, np.array([1.0, 2.0, 3.0]), reps=400)
            lo, hi = np.quantile(d, [0.025, 0.975], axis=0)
            y = 200.0 * np.exp(future)
            inside += int(np.sum((y >= lo) & (y <= hi)))
            total += 3
    assert 0.93 <= inside / total <= 0.985


def test_the_ar1_mode_uses_the_pooled_phi_and_the_skill_mode_weighs_the_model_change():
    e = [np.array([0.1, 0.08, 0.05, 0.06, 0.02]), np.array([2.0, 1.0, 1.5, 0.5])]
    phi = pooled_phi(e)
    assert 0 < phi < 1  # centred and median-unbiased for lengths 5 and 4: about 0.43
    out = forecast_errors(e, [1.0, 30.0], mode="ar1", prior_dof=0.0)
    assert out[0].phi == phi
    assert out[0].scale == pytest.approx(np.sqrt(np.mean((e[0][1:] - phi * e[0][:-1]) ** 2)))
    # the model moves with the data in the first series, against it in the second
    m1 = np.log([100.0, 110.0, 121.0, 133.1, 146.4])
    z1 = m1 + e[0]
    m2 = np.array([10.0, 12.0, 14.0, 16.0])
    z2 = np.array([30.0, 29.0, 27.0, 26.0])
    skill = forecast_errors([z1 - m1, z2 - m2], [1.0, 30.0], mode="skill", model=[m1, m2])
    dz, dm = np.diff(z1), np.diff(m1)
    assert skill[0].weight == pytest.approx(min(1.0, np.sum(dz * dm) / np.sum(dm * dm)))
    assert skill[1].weight == 0.0  # wrong-way changes: persistence
    # the first series' forecast: the last value plus w times the model's change
    centre, _ = forecast_draws(np.random.default_rng(1), np.array([[160.0]]),
                               np.array([146.4]), float(np.exp(z1[-1])), "lognormal",
                               skill[0], np.array([1.0]))
    want = z1[-1] + skill[0].weight * (np.log(160.0) - np.log(146.4))
    assert np.log(centre[0, 0]) == pytest.approx(want)
    with pytest.raises(ValueError, match="model values"):
        forecast_errors(e, [1.0, 30.0], mode="skill")


def test_auto_takes_the_mode_with_the_smaller_in_sample_one_step_error():
    m = [np.log([100.0, 110.0, 121.0, 133.1, 146.4]), np.log([50.0, 51.0, 52.0, 53.0, 54.0])]
    # residuals that trend: the model's level is off by a growing amount, its changes right
    # for the first series; an AR(1) with phi <= 1 fits them worse than weighted changes
    e = [np.array([0.0, 0.1, 0.2, 0.3, 0.4]), np.array([0.0, -0.05, -0.1, -0.15, -0.2])]
    auto = forecast_errors(e, [1.0, 1.0], mode="auto", model=m)
    ar1 = forecast_errors(e, [1.0, 1.0], mode="ar1", model=m)
    skill = forecast_errors(e, [1.0, 1.0], mode="skill", model=m)
    err = {fe[0].mode: sum(np.sum((np.diff(x) + (1 - f.weight) * np.diff(mm)) ** 2) if
                           f.mode == "skill" else np.sum((x[1:] - f.phi * x[:-1]) ** 2)
                           for x, f, mm in zip(e, fe, m, strict=True))
           for fe in (ar1, skill)}
    assert auto[0].mode == min(err, key=err.get)
    assert auto == (ar1 if auto[0].mode == "ar1" else skill)
    # white residuals around a model whose changes are noise: ar1 (phi near 0) wins
    rng = np.random.default_rng(2)
    e = [0.01 * rng.standard_normal(10) for _ in range(4)]
    m = [np.cumsum(0.05 * rng.standard_normal(10)) for _ in range(4)]
    assert forecast_errors(e, [1.0] * 4, mode="auto", model=m)[0].mode == "ar1"
