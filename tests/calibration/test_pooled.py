"""Partial pooling recovers a known national distribution and helps where data are short.

Synthetic authorities: the workforce-spiral model under its demand-surge scenario, two
parameters per authority drawn (seeded) from a known normal distribution on the logit scale of
their bounds; each authority publishes yearly social workers and caseloads with 5% lognormal
noise, half of them for 20 years and half for only 5. The checks are against the known truth:
the national mean and spread, each authority's parameters, and the coverage of the intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.observations import SeriesObs, observe_runs
from carespiral.calibration.pooling.fit import fit_stack
from carespiral.calibration.pooling.hierarchy import (
    MIN_STEP,
    Population,
    Transform,
    damped_steps,
    shrinkage,
)
from carespiral.calibration.pooling.lockstep import lockstep_lm
from carespiral.calibration.pooling.stack import AreaCase, AreaStack
from carespiral.calibration.priors import Prior
from carespiral.calibration.problem import FitParameter, Problem

BOUNDS = {"Normal Leaving Rate": (0.005, 0.03), "Reference Caseload": (10.0, 30.0)}
TR = Transform(np.array([b[0] for b in BOUNDS.values()]), np.array([b[1] for b in BOUNDS.values()]))
MU = TR.to_z(np.array([0.0125, 17.0]))  # the national values: the model's defaults
TAU = np.array([0.3, 0.25])
AREAS = 40
LONG, SHORT = 20, 5
TIMES = np.arange(12.0, 241.0, 12.0)


@pytest.fixture(scope="module")
def synthetic(workforce):
    rng = np.random.default_rng(1)
    z_true = MU + TAU * rng.standard_normal((AREAS, 2))
    ds = workforce.run_batch(pd.DataFrame(TR.to_theta(z_true), columns=list(BOUNDS)),
                             outputs=["Social Workers", "Caseload"], scenario="demand_surge",
                             stop=240)
    short = np.arange(AREAS) % 2 == 1
    cases = []
    for a in range(AREAS):
        n = SHORT if short[a] else LONG
        series = []
        for var, name in (("Social Workers", "social_workers_fte"), ("Caseload", "caseload")):
            o = SeriesObs.at_times(name, var, TIMES, np.zeros(len(TIMES)))
            clean = observe_runs(o, ds.isel(run=[a]), workforce)[0]
            y = clean * np.exp(0.05 * rng.standard_normal(len(clean)))
            series.append(SeriesObs.at_times(name, var, TIMES[:n], y[:n], error="lognormal"))
        params = [FitParameter(k, *b) for k, b in BOUNDS.items()]
        problem = Problem(workforce, params, series, scenario="demand_surge")
        cases.append(AreaCase(f"A{a}", f"Area {a}", problem))
    est = fit_stack(AreaStack(cases), pooling="partial", seed=0)
    return z_true, short, est


def test_the_national_mean_and_spread_are_recovered(synthetic):
    z_true, _, est = synthetic
    pop = est.population
    # sampling error of a mean of 40 authorities, some known only roughly: about tau/sqrt(40)
    assert np.all(np.abs(pop.mu - MU) < 3 * TAU / np.sqrt(AREAS) + 0.05), (pop.mu, MU)
    # the spread: within the range a sample of 40 allows (the sample sd of the truth is the
    # best any method could do)
    sample_sd = z_true.std(axis=0)
    assert np.all(np.abs(np.log(pop.tau / sample_sd)) < 0.35), (pop.tau, sample_sd)
    assert est.converged


def test_pooling_cuts_the_error_of_short_authorities(synthetic):
    z_true, short, est = synthetic

    def rmse(z, rows):
        return np.sqrt(np.mean((z[rows] - z_true[rows]) ** 2, axis=0))

    pooled, alone = rmse(est.z, short), rmse(est.unpooled_z, short)
    assert np.all(pooled < 0.6 * alone), (pooled, alone)
    # where data are long, pooling changes little
    long_p, long_u = rmse(est.z, ~short), rmse(est.unpooled_z, ~short)
    assert np.all(long_p < 1.25 * long_u + 0.01), (long_p, long_u)


def test_short_authorities_borrow_more(synthetic):
    _, short, est = synthetic
    B = est.shrinkage
    assert np.all(B[short].mean(axis=0) > B[~short].mean(axis=0) + 0.2)
    assert np.all((B >= 0) & (B <= 1))


def test_pooled_intervals_hold_the_truth(synthetic):
    z_true, _, est = synthetic
    sd = np.sqrt(np.einsum("akk->ak", est.covariance))
    inside = np.abs(est.z - z_true) <= 1.959964 * sd
    # 80 intervals of nominal 95%: fewer than 68 inside happens with probability < 0.1%
    assert inside.sum() >= 68, inside.mean(axis=0)
    draws = est.draws(400, np.random.default_rng(0))
    lo, hi = np.quantile(draws, [0.025, 0.975], axis=1)
    theta = TR.to_theta(z_true)
    assert np.all((lo >= TR.lower) & (hi <= TR.upper))
    assert ((theta >= lo) & (theta <= hi)).sum() >= 68


# ---- the pieces, against algebra -----------------------------------------------------------


def test_population_fit_recovers_a_normal_mixture_of_known_precisions():
    """Gaussian likelihoods exp(-0.5 D (z - m)^2) with m ~ N(mu, tau^2 + 1/D): the marginal
    likelihood's maximum is the truth up to sampling error of 4,000 authorities."""
    rng = np.random.default_rng(3)
    A, mu, tau = 4000, np.array([0.5, -1.0]), np.array([0.4, 0.8])
    D = rng.uniform(0.5, 50.0, (A, 2))  # some authorities say little, some a lot
    m = mu + tau * rng.standard_normal((A, 2)) + rng.standard_normal((A, 2)) / np.sqrt(D)
    Dm = np.zeros((A, 2, 2))
    Dm[:, 0, 0], Dm[:, 1, 1] = D[:, 0], D[:, 1]
    fitted = Population(np.zeros(2), np.ones(2)).fit(Dm, D * m)
    assert np.allclose(fitted.mu, mu, atol=0.05)
    assert np.allclose(fitted.tau, tau, rtol=0.08)


def test_population_from_a_flat_prior_is_the_logistic_distribution():
    tr = Transform(np.array([0.0]), np.array([1.0]))
    pop = Population.from_priors([Prior("uniform", 0.0, 1.0)], tr, n=200_000)
    assert abs(pop.mu[0]) < 0.02
    assert abs(pop.tau[0] - np.pi / np.sqrt(3)) < 0.02  # sd of the standard logistic


def test_shrinkage_is_the_weight_of_the_national_mean():
    assert shrinkage(np.array([0.0, 4.0]), np.array([0.5, 0.5])).tolist() == [1.0, 0.5]


def test_damped_steps_settle_a_two_cycle_on_its_fixed_point():
    """x -> c - x alternates between x0 and c - x0 at full steps; the damped iteration lands on
    its fixed point c / 2, while a contraction towards 3 keeps its full steps."""
    c = np.array([2.0, 0.0])
    x, step, last = np.array([0.3, 5.0]), np.ones(2), np.zeros(2)
    for _ in range(6):
        move = (c - x) - x
        step, last = damped_steps(step, move, last), move
        x = x + step * move
    assert np.allclose(x, c / 2) and step.tolist() == [0.5, 0.5]
    y, step, last = np.array([0.0]), np.ones(1), np.zeros(1)
    for _ in range(30):
        move = (0.5 * y + 1.5) - y  # fixed point 3, approached from one side
        step, last = damped_steps(step, move, last), move
        y = y + step * move
    assert step.tolist() == [1.0] and abs(y[0] - 3.0) < 1e-6
    assert damped_steps(np.array([MIN_STEP]), np.array([1.0]), np.array([-1.0]))[0] == MIN_STEP
    # a reversal within the tolerance is noise: the step stays
    assert damped_steps(np.ones(2), np.array([0.01, 0.5]), np.array([-0.5, -0.5]),
                        small=0.02).tolist() == [1.0, 0.5]


def test_population_toward_moves_means_linearly_and_spreads_on_the_log_scale():
    a, b = Population(np.array([0.0, 1.0]), np.array([1.0, 0.5])), Population(
        np.array([2.0, 3.0]), np.array([4.0, 2.0]))
    half = a.toward(b, np.array([0.5, 1.0, 0.5, 0.0]))
    assert np.allclose(half.mu, [1.0, 3.0]) and np.allclose(half.tau, [2.0, 0.5])
    assert np.allclose(a.step_to(b), [2.0, 4.0, np.log(4.0), np.log(4.0)])


def test_lockstep_lm_solves_many_linear_least_squares_problems():
    rng = np.random.default_rng(7)
    A, k, m = 30, 3, 12
    X = rng.standard_normal((A, m, k))
    y = rng.standard_normal((A, m))

    def residuals(z, owner):
        return np.einsum("nmk,nk->nm", X[owner], z) - y[owner]

    state = lockstep_lm(residuals, np.zeros((A, k)), iterations=30)
    exact = np.array([np.linalg.lstsq(X[a], y[a], rcond=None)[0] for a in range(A)])
    assert np.allclose(state.z, exact, atol=1e-5)
    assert np.allclose(state.curvature(), np.einsum("amk,aml->akl", X, X), rtol=1e-4)
