"""Observation in a calibration: the national problem reads the published rows the spec selects
and observes them the data layer's one way (`observe_batch`); synthetic series are dated like
published figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.engine import build_problem
from carespiral.calibration.observations import SeriesObs
from carespiral.calibration.spec import read_spec


def test_synthetic_series_are_dated_like_published_figures():
    stock = SeriesObs.at_times("social_workers_fte", "Social Workers", [96.0, 150.0], [1, 2])
    assert list(stock.rows["date"]) == [pd.Timestamp("2013-03-31"), pd.Timestamp("2017-09-30")]
    assert (stock.rows["period_start"] == stock.rows["date"]).all() and stock.how == "point"
    assert stock.times == pytest.approx([96.0, 150.0])
    flow = SeriesObs.at_times("referrals", "Referrals", [96.0], [1.0])
    assert flow.rows["period_start"].iloc[0] == pd.Timestamp("2012-04-01") and flow.how == "sum"


def test_national_problem_observes_the_published_rows():
    from carespiral import data as published
    from carespiral.data.observe import observe_batch

    spec = read_spec("national")
    problem, holdout, label = build_problem(spec, fit_until=2019)
    assert label == "England (E92000001)"
    assert {s.name for s in problem.series} == {s.name for s in spec.series}
    assert {h.name for h in holdout} <= {s.name for s in spec.series} and holdout
    theta = np.array([[p.prior.mode() for p in problem.parameters],
                      [0.5 * (p.lower + p.upper) for p in problem.parameters]])
    preds = problem.simulate(theta)
    ds = problem.trajectories(theta)
    rows = published.load(area="England", dropna=True)
    for s, m in zip(problem.series, preds, strict=True):
        sel = rows[(rows["series"] == s.name) & rows["year"].isin(s.years)]
        sel = sel.sort_values("date")
        assert s.values == pytest.approx(sel["value"].to_numpy())
        want = observe_batch(ds, sel, problem.model).to_numpy().T
        assert m == pytest.approx(want, rel=1e-9), s.name
        assert np.isfinite(m).all(), s.name


def test_a_fit_until_an_origin_sees_no_later_year_of_a_series_with_its_own_period():
    """Plans started have their own period (from 2007, before the spec's 2011) reaching to 2023;
    fitted up to 2019, none of their later years may be in the fit, and they are held out."""
    spec = read_spec("national")
    own = next(s for s in spec.series if s.period)
    assert own.period[1] > 2019
    problem, holdout, _ = build_problem(spec, fit_until=2019)
    for s in problem.series:
        assert max(s.years) <= 2019, s.name
    fitted = next(s for s in problem.series if s.name == own.name)
    assert min(fitted.years) == own.period[0]  # its earlier start is kept
    assert any(h.name == own.name and min(h.years) == 2020 for h in holdout)
