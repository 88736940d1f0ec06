"""The calibration objective scores -inf only for runs that fail for their numbers; a bug in the
objective (at the starting point, at the optimum, for one row or for many) is raised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import carespiral
from carespiral.calibration.observations import SeriesObs
from carespiral.calibration.problem import FitParameter, Problem
from carespiral.errors import ModelRunError

TIMES = [60.0, 120.0, 180.0]


class _Failing:
    """The workforce model, whose runs raise `exc` when Reference Caseload exceeds 29."""

    def __init__(self, model, exc: Exception):
        self._m, self._exc = model, exc

    def __getattr__(self, name):
        return getattr(self._m, name)

    def run_batch(self, frame, **kw):
        if (frame["Reference Caseload"] > 29).any():
            raise self._exc
        return self._m.run_batch(frame, **kw)


@pytest.fixture(scope="module")
def problem():
    model = carespiral.load("workforce_spiral")
    truth = model.run_batch(pd.DataFrame({"Reference Caseload": [17.0]}), outputs=["Caseload"])
    values = truth["Caseload"].sel(time=TIMES).to_numpy()[0]
    series = SeriesObs.at_times("caseload", "Caseload", TIMES, values)
    return Problem(model, [FitParameter("Reference Caseload", 10.0, 30.0)], [series])


@pytest.mark.parametrize("exc", [ModelRunError("divides by zero"), FloatingPointError("nan"),
                                 ZeroDivisionError("x / 0")])
def test_a_numerical_failure_scores_minus_infinity(problem, exc):
    problem.model, model = _Failing(problem.model, exc), problem.model
    try:
        one = problem.logpost(np.array([[29.5]]))
        many = problem.logpost(np.array([[17.0], [29.5]]))
    finally:
        problem.model = model
    assert one[0] == -np.inf
    assert np.isfinite(many[0]) and many[1] == -np.inf


@pytest.mark.parametrize("exc", [TypeError("a bug"), KeyError("Caseload"),
                                 IndexError("out of range")])
@pytest.mark.parametrize("rows", [[[29.5]], [[17.0], [29.5]]])
def test_a_bug_is_raised_not_scored(problem, exc, rows):
    problem.model, model = _Failing(problem.model, exc), problem.model
    try:
        with pytest.raises(type(exc)):
            problem.logpost(np.array(rows))
    finally:
        problem.model = model
