"""The objective: failing runs score -inf without spoiling a batch; set-up errors still raise."""

from __future__ import annotations

import numpy as np
import pytest


class _Flaky:
    """A model whose runs fail when Reference Caseload exceeds 29 (as a blown-up run might)."""

    def __init__(self, model):
        self._m = model

    def __getattr__(self, name):
        return getattr(self._m, name)

    def run_batch(self, frame, **kw):
        if (frame["Reference Caseload"] > 29).any():
            raise FloatingPointError("run blew up")
        return self._m.run_batch(frame, **kw)


def test_a_failing_run_scores_minus_infinity_alone(make_problem):
    problem, _ = make_problem(seed=1)
    problem.model = _Flaky(problem.model)
    theta = np.array([[0.0125, 17.0], [0.0125, 29.5], [0.013, 18.0]])
    lp = problem.logpost(theta)
    assert np.isfinite(lp[0]) and np.isfinite(lp[2]) and lp[1] == -np.inf
    good = problem.logpost(theta[[0, 2]])
    assert lp[[0, 2]] == pytest.approx(good, rel=1e-12)


def test_when_every_run_fails_the_error_is_raised(make_problem):
    problem, _ = make_problem(seed=1)
    problem.model = _Flaky(problem.model)
    with pytest.raises(FloatingPointError):
        problem.logpost(np.array([[0.0125, 29.5], [0.013, 29.9]]))


def test_outside_the_bounds_is_not_simulated(make_problem):
    problem, _ = make_problem(seed=1)
    before = problem.n_runs
    lp = problem.logpost(np.array([[0.0125, 17.0], [0.1, 17.0], [0.0125, 5.0]]))
    assert np.isfinite(lp[0]) and lp[1] == -np.inf and lp[2] == -np.inf
    assert problem.n_runs - before == 1
