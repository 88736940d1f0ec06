"""Observation: the calibration's own vectorised rule (`predict`, used for synthetic series) gives
the same numbers as the data issue's operators (`observe_batch`, used for published series)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.engine import build_problem
from carespiral.calibration.observations import model_time, predict
from carespiral.calibration.spec import read_spec


def test_model_time_follows_the_calendar():
    t = model_time(pd.to_datetime(["2013-03-31", "2017-09-30", "2005-04-01"]))
    assert t == pytest.approx([96.0, 150.0, 1 / 30])


def test_national_problem_observes_like_observe_batch():
    from carespiral import data as published
    from carespiral.calibration.observe import observe_batch

    spec = read_spec("national")
    problem, holdout, label = build_problem(spec, fit_until=2019)
    assert label == "England (E92000001)"
    assert {s.name for s in problem.series} == {s.name for s in spec.series}
    assert {h.name for h in holdout} <= {s.name for s in spec.series} and holdout
    theta = np.array([[p.prior.mode() for p in problem.parameters],
                      [0.5 * (p.lower + p.upper) for p in problem.parameters]])
    preds = problem.simulate(theta)
    ds = problem.trajectories(theta, extra=[s.variable for s in problem.series])
    rows = published.load(area="England", dropna=True)
    for s, m in zip(problem.series, preds, strict=True):
        sel = rows[(rows["series"] == s.name) & rows["year"].isin(s.years)]
        sel = sel.sort_values("date")
        want = observe_batch(ds[list(s.needs)], sel, problem.model).to_numpy().T
        mine = predict(s, ds["time"].to_numpy(), ds[s.variable].to_numpy())
        assert mine == pytest.approx(want, rel=1e-6), s.name
        assert m == pytest.approx(want, rel=1e-6), s.name
        assert s.values == pytest.approx(sel["value"].to_numpy())
