"""Recovery of known parameters from synthetic data, with seeded coverage checks.

The data are the workforce-spiral model's own output at known parameters (see conftest) plus
5% lognormal noise, so a correct calibration must find the truth inside its 95% intervals, and
over many seeds the intervals must contain it about 95% of the time.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from carespiral.calibration.engine import fit_problem
from carespiral.calibration.methods import METHODS, get_method
from carespiral.errors import CarespiralError, UnknownNameError

TRUTH = {"Normal Leaving Rate": 0.0125, "Reference Caseload": 17.0}  # as in conftest


def _covers(result) -> dict[str, bool]:
    p = result.to_frame()
    return {n: bool(p.loc[n, "lower"] <= v <= p.loc[n, "upper"]) for n, v in TRUTH.items()}


def test_truth_matches_the_fixture(truth):
    assert truth == TRUTH


def test_registry_is_explicit():
    assert set(METHODS) == {"least_squares", "differential_evolution", "emcee"}
    assert get_method("DE") is METHODS["differential_evolution"]
    assert get_method("Least-Squares").name == "least_squares"
    with pytest.raises(UnknownNameError, match="least_squares"):
        get_method("least_square")
    # each entry carries its default budget and the options its fit function takes
    for m in METHODS.values():
        assert m.budget > 0
        assert set(m.options) <= set(inspect.signature(m.fit).parameters)
    assert "walkers" in METHODS["emcee"].options


def test_an_option_the_method_lacks_is_refused_before_any_run(make_problem):
    problem, _ = make_problem(seed=1)
    with pytest.raises(CarespiralError, match="no option 'walkers'; its options: n_starts"):
        fit_problem(problem, "least_squares", method_options={"walkers": 64})
    assert problem.n_runs == 0


def test_least_squares_recovers_with_laplace_and_profile_intervals(make_problem):
    problem, _ = make_problem(seed=1)
    r = fit_problem(problem, "least_squares", seed=1, budget=200, n_draws=20)
    assert all(_covers(r).values()), r.report()
    p = r.to_frame()
    # intervals are informative (a few percent of each parameter's value), not the whole range
    for n, v in TRUTH.items():
        assert (p.loc[n, "upper"] - p.loc[n, "lower"]) / v < 0.2, (n, r.report())
    for n, v in TRUTH.items():
        assert p.loc[n, "identifiability"] == "identified"
        assert p.loc[n, "profile_lower"] <= v <= p.loc[n, "profile_upper"]
        # Laplace and profile intervals agree for this nearly Gaussian posterior
        width = p.loc[n, "laplace_upper"] - p.loc[n, "laplace_lower"]
        assert p.loc[n, "profile_lower"] == pytest.approx(p.loc[n, "laplace_lower"],
                                                         abs=0.15 * width)
        assert p.loc[n, "profile_upper"] == pytest.approx(p.loc[n, "laplace_upper"],
                                                         abs=0.15 * width)
        # the reported interval is the profile interval
        assert (p.loc[n, "lower"], p.loc[n, "upper"]) == (p.loc[n, "profile_lower"],
                                                          p.loc[n, "profile_upper"])
    # the fit statistics see a good fit with unsystematic errors
    fit = r.fit.set_index("series")
    assert (fit["r2"] > 0.9).all() and (fit["u_c"] > 0.6).all()


def test_differential_evolution_finds_the_same_optimum(make_problem):
    problem, _ = make_problem(seed=1)
    de = fit_problem(problem, "differential_evolution", seed=2, budget=600, profiles=False,
                     n_draws=20)
    problem2, _ = make_problem(seed=1)
    ls = fit_problem(problem2, "least_squares", seed=1, budget=200, profiles=False, n_draws=20)
    assert all(_covers(de).values()), de.report()
    for n in TRUTH:
        assert de.values[n] == pytest.approx(ls.values[n], rel=2e-3)
    assert de.diagnostics["best_logpost"] == pytest.approx(ls.diagnostics["best_logpost"],
                                                           abs=0.05)


@pytest.mark.slow  # about 200 emcee steps, each one model batch
def test_emcee_posterior_recovers_and_reports_diagnostics(make_problem):
    problem, _ = make_problem(seed=4)
    r = fit_problem(problem, "emcee", seed=4, budget=6_000, n_draws=50)
    assert all(_covers(r).values()), r.report()
    d = r.diagnostics
    assert 0.15 < d["acceptance_fraction"] < 0.8
    assert d["ess"] > 100 and np.isfinite(d["tau_max"])
    assert r.converged == (d["steps"] - d["burn_in"] > 50 * d["tau_max"])
    # the posterior sd is of the Laplace approximation's size (the posterior is not exactly
    # Gaussian: the two parameters are correlated at 0.99 along a curved ridge)
    problem2, _ = make_problem(seed=4)
    ls = fit_problem(problem2, "least_squares", seed=4, budget=200, profiles=False, n_draws=20)
    ratio = r.to_frame()["sd"].to_numpy() / ls.to_frame()["sd"].to_numpy()
    assert np.all((ratio > 0.7) & (ratio < 1.6)), ratio


def test_short_chain_says_it_has_not_converged(make_problem):
    problem, _ = make_problem(seed=5)
    r = fit_problem(problem, "emcee", seed=5, budget=600, n_draws=20, profiles=False)
    assert not r.converged and "autocorrelation times; 50 are needed" in r.message
    assert "NOT CONVERGED" in r.report()


@pytest.mark.slow  # eight fits with profiles, about 30 s
def test_intervals_cover_close_to_nominal_over_seeds(make_problem):
    # 8 seeds x 2 parameters = 16 intervals at 95%: expect about 15. P(<= 12 | 0.95) < 1%.
    # Both the reported (profile) intervals and the Laplace ones are checked.
    hits, laplace_hits = [], []
    for seed in range(100, 108):
        problem, _ = make_problem(seed=seed)
        r = fit_problem(problem, "least_squares", seed=seed, budget=100, n_draws=10,
                        method_options={"n_starts": 1})
        hits += list(_covers(r).values())
        p = r.to_frame()
        laplace_hits += [bool(p.loc[n, "laplace_lower"] <= v <= p.loc[n, "laplace_upper"])
                         for n, v in TRUTH.items()]
    assert sum(hits) >= 13, f"coverage {sum(hits)}/16"
    assert sum(laplace_hits) >= 13, f"Laplace coverage {sum(laplace_hits)}/16"


def test_backtest_beats_naive_forecasts_when_the_model_is_right(make_problem):
    problem, holdout = make_problem(seed=7, cut=180.0)
    r = fit_problem(problem, "least_squares", seed=7, budget=200, profiles=False,
                    holdout=holdout, n_draws=100)
    s = r.backtest_summary.set_index("series")
    # the spiral accelerates after the cut-off: the true model forecasts it, naive rules cannot
    assert s.loc["caseload", "mase_model"] < s.loc["caseload", "mase_persistence"]
    assert s.loc["caseload", "mase_model"] < s.loc["caseload", "mase_trend"]
    assert set(r.backtest.columns) >= {"forecast", "lower", "upper", "persistence", "trend"}
    assert (r.backtest["lower"] <= r.backtest["upper"]).all()
    assert s["coverage"].mean() >= 0.6
