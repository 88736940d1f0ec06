"""The faster point fit (issue 13): its pieces checked against independent answers.

- batched Levenberg-Marquardt with a parameter pressing on its bound reaches the bounded
  least-squares optimum (scipy's lsq_linear on a linear problem);
- the profile walk's 95% interval matches a brute-force profile (each value's other parameter
  maximised by scipy's bounded scalar search on the log-posterior);
- differential evolution with its polish meets its own stopping test and finds the optimum
  least squares finds, from several seeds;
- observing all series in one call and the numba-first engine give the numbers of one call per
  series and of the numpy engine.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from carespiral.calibration.engine import fit_problem
from carespiral.calibration.lm import batched_lm
from carespiral.calibration.observations import observe_runs
from carespiral.calibration.problem import _observe_all
from carespiral.calibration.uncertainty import profile, profile_summary


class _Linear:
    """residuals(theta) = A theta - b in the unit cube: a least-squares problem with a known
    bounded answer."""

    def __init__(self, A: np.ndarray, b: np.ndarray) -> None:
        self.A, self.b = A, b

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        return np.asarray(u, dtype=float)

    def residuals(self, theta: np.ndarray, scales) -> np.ndarray:
        return np.atleast_2d(theta) @ self.A.T - self.b


def test_lm_reaches_the_bounded_optimum_when_a_parameter_presses_on_its_bound():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(12, 4))
    A[:, 1] += 0.8 * A[:, 0]  # correlated columns: clipping the full step would stall
    b = A @ np.array([0.4, -0.5, 0.6, 0.3]) + 0.01 * rng.normal(size=12)  # x1 wants below 0
    want = optimize.lsq_linear(A, b, bounds=(0.0, 1.0), tol=1e-12).x
    assert want[1] == pytest.approx(0.0, abs=1e-9)  # the bound is active
    info: dict = {}
    got = batched_lm(_Linear(A, b), np.full((2, 4), 0.5), np.ones((2, 4), dtype=bool), [1.0],
                     iterations=60, tol=1e-12, info=info)
    np.testing.assert_allclose(got, np.vstack([want, want]), atol=1e-5)
    assert info["converged"].all()
    # a fit with one coordinate held keeps it and solves the rest
    free = np.array([[True, True, False, True]])
    start = np.array([[0.5, 0.5, 0.9, 0.5]])
    got = batched_lm(_Linear(A, b), start, free, [1.0], iterations=60, tol=1e-12)
    held = optimize.lsq_linear(A[:, [0, 1, 3]], b - 0.9 * A[:, 2], bounds=(0.0, 1.0),
                               tol=1e-12).x
    np.testing.assert_allclose(got[0, [0, 1, 3]], held, atol=1e-5)
    assert got[0, 2] == 0.9


def _brute_profile(problem, i: int, x: float) -> float:
    """The profile log-posterior at parameter i = x by brute force: the other parameter on a
    201-point grid over its bounds, then on a 201-point grid around the best of those."""
    j = 1 - i
    lo, hi = problem.lower[j], problem.upper[j]
    best = -np.inf
    for _ in range(2):
        v = np.linspace(lo, hi, 201)
        t = np.empty((len(v), 2))
        t[:, i], t[:, j] = x, v
        lp = problem.logpost(t)
        a = int(np.argmax(lp))
        best = max(best, float(lp[a]))
        lo, hi = v[max(a - 1, 0)], v[min(a + 1, len(v) - 1)]
    return best


def test_profile_walk_matches_a_brute_force_profile(make_problem):
    problem, _ = make_problem(seed=11)
    fit = fit_problem(problem, "least_squares", seed=1, budget=200, profiles=False, n_draws=5)
    theta = fit.parameters["estimate"].to_numpy()
    sd = fit.parameters["sd"].to_numpy()
    prof = profile(problem, theta, sd)
    assert prof["delta"].min() > -0.01  # the optimum is one: no re-fit beats it
    assert prof["converged"].all()
    summary = profile_summary(prof, problem).set_index("parameter")
    lp_best = float(problem.logpost(theta)[0])
    for i, name in enumerate(problem.names):
        lo, hi = summary.loc[name, ["profile_lower", "profile_upper"]]
        assert summary.loc[name, "identifiability"] == "identified"
        width = hi - lo
        for end, outward in ((lo, -1.0), (hi, 1.0)):
            # the brute-force crossing of the 95% line, found by Brent's method between the
            # estimate and a point well beyond the walk's end
            def drop(x, i=i):
                return lp_best - _brute_profile(problem, i, x) - 1.920729
            far = float(np.clip(end + outward * 0.5 * width, problem.lower[i],
                                problem.upper[i]))
            want = optimize.brentq(drop, theta[i], far, xtol=1e-4 * width)
            assert end == pytest.approx(want, abs=0.03 * width), (name, end, want)


@pytest.mark.parametrize("seed", [0, 1])
def test_differential_evolution_meets_its_test_and_finds_the_least_squares_optimum(
        make_problem, seed):
    problem, _ = make_problem(seed=21)
    de = fit_problem(problem, "differential_evolution", seed=seed, profiles=False, n_draws=5)
    problem2, _ = make_problem(seed=21)
    ls = fit_problem(problem2, "least_squares", seed=1, budget=200, profiles=False, n_draws=5)
    assert de.converged, de.message
    assert de.diagnostics["best_logpost"] >= ls.diagnostics["best_logpost"] - 1e-3
    np.testing.assert_allclose(de.parameters["estimate"], ls.parameters["estimate"], rtol=2e-3)
    assert de.diagnostics["runs"] < 2000  # it stops by its test, well before the budget


def test_observing_all_series_at_once_gives_each_series_own_values(make_problem):
    problem, holdout = make_problem(seed=5, cut=120.0)
    theta = np.array([[0.011, 16.0], [0.014, 19.0], [0.02, 25.0]])
    series = list(problem.series) + list(holdout)
    ds = problem.trajectories(theta, series=series)
    want = [observe_runs(s, ds, problem.model) for s in series]
    got = _observe_all(series, ds, problem.model)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)


def test_the_numba_first_engine_gives_the_numpy_engine_numbers(make_problem):
    theta = np.array([[0.011, 16.0], [0.014, 19.0], [0.02, 25.0]])
    fast, _ = make_problem(seed=5)
    ref, _ = make_problem(seed=5)
    ref.engine = "numpy"
    np.testing.assert_allclose(fast.logpost(theta), ref.logpost(theta), rtol=1e-12)
    with pytest.raises(ValueError, match="unknown engine"):
        ref.engine = "gpu"
        ref.logpost(theta)
