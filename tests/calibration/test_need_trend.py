"""An authority's own trend in need (collapse_spiral's `Need Growth`): the model's algebra, the
window the calibration sets (the fitted years, held after), no effect on England, the `local`
spec's prior width as its comment claims, and recovery of a known trend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral import data
from carespiral.calibration.engine import NEED_TREND_WINDOW, build_problem
from carespiral.calibration.spec import read_spec
from carespiral.pysd_runner import load


@pytest.fixture(scope="module")
def model():
    return load("collapse_spiral")


def test_need_grows_inside_the_window_and_is_held_outside_it(model):
    g, start, end = -0.08, 108.0, 132.0
    df = model.run(params={"Need Growth": g, "Need Trend Start": start, "Need Trend End": end},
                   outputs=["Need per Child", "Underlying Need"], saveper=1)
    u = df["Underlying Need"].to_numpy()
    t = df.index.to_numpy(dtype=float)
    expected = u * np.exp(g * (np.clip(t, start, end) - start) / 12.0)
    assert np.allclose(df["Need per Child"].to_numpy(), expected, rtol=1e-9)
    # by hand at three months: before, two years in (the end), after
    for month, factor in ((100.0, 1.0), (132.0, np.exp(2 * g)), (300.0, np.exp(2 * g))):
        assert df.loc[month, "Need per Child"] == pytest.approx(u[0] * factor, rel=1e-9)


def test_the_window_is_the_fitted_years():
    spec = read_spec("local")
    problem, _, _ = build_problem(spec, "Devon", fit_until=2018)
    start, end = (problem.fixed[n] for n in NEED_TREND_WINDOW)
    first = min(float(np.min(s.times)) for s in problem.series)
    last = max(float(np.max(s.times)) for s in problem.series)
    assert (start, end) == (first, last)
    # the last fitted figure: the September 2018 workforce census, after the 31 March 2018
    # figures (month 156 from 1 April 2005)
    assert 156 <= end <= 162
    assert "Need Growth" in problem.names


def test_a_spec_that_sets_the_window_keeps_it(tmp_path):
    text = read_spec("local").text.replace("[scale]", '[fixed]\n"Need Trend End" = 400\n\n[scale]')
    path = tmp_path / "local_fixed.toml"
    path.write_text(text, encoding="utf-8")
    spec = read_spec(path)
    problem, _, _ = build_problem(spec, "Devon", fit_until=2018)
    assert problem.fixed["Need Trend End"] == 400
    assert "Need Trend Start" not in problem.fixed  # the model's default, not half a window


def test_england_is_unchanged_by_the_window(model):
    # the national spec does not fit Need Growth (0), so the window set from its data changes
    # nothing: exp(0 * anything) = 1
    problem, _, _ = build_problem(read_spec("national"))
    assert "Need Growth" not in problem.names
    base = model.run(scenario="baseline", outputs=["Referrals", "Children in Need"], saveper=12)
    windowed = model.run(scenario="baseline", outputs=["Referrals", "Children in Need"],
                         saveper=12, params={n: problem.fixed[n] for n in NEED_TREND_WINDOW})
    pd.testing.assert_frame_equal(base, windowed)


def _two_year_log_slopes(series: str) -> pd.Series:
    t = data.load()
    t = t[(t["level"] == "la") & (t["variant"].fillna("") == "")]
    wide = t[t["series"] == series].pivot_table(index="area_code", columns="year",
                                                 values="value")
    pop = t[t["series"] == "child_population"].pivot_table(index="area_code", columns="year",
                                                          values="value")
    x = np.log(wide / pop.reindex(index=wide.index, columns=wide.columns))
    return pd.concat([((x[y + 2] - x[y]) / 2).dropna() for y in range(2013, 2022)
                      if y in x and y + 2 in x])


def test_prior_width_is_below_the_spread_it_names():
    p = next(p for p in read_spec("local").parameters if p.name == "Need Growth")
    assert p.prior.kind == "normal" and p.prior.args["mean"] == 0.0
    cin, referrals = (_two_year_log_slopes(s).std() for s in ("children_in_need", "referrals"))
    assert cin == pytest.approx(0.087, abs=0.002)
    assert referrals == pytest.approx(0.14, abs=0.005)
    assert p.prior.args["sd"] < cin < referrals


def test_a_known_trend_in_need_is_recovered(fitted_to_own_output):
    # synthetic Devon: the model's own output at known parameters, with need falling 6% a year
    # over the fitted years and no noise; the fit frees need's level and trend, the rest held
    # at the truth
    problem, _, _ = build_problem(read_spec("local"), "Devon", fit_until=2019)
    result, truth = fitted_to_own_output(problem, {"Need Growth": -0.06},
                                         ("Underlying Need", "Need Growth"))
    est = result.to_frame()["estimate"]
    assert est["Need Growth"] == pytest.approx(-0.06, abs=0.005), result.report()
    assert est["Underlying Need"] == pytest.approx(truth["Underlying Need"], rel=0.02)


def test_a_spec_that_fits_the_window_is_not_given_one(tmp_path):
    text = read_spec("local").text.replace(
        "[series.referrals]",
        '[parameters."Need Trend End"]\nlower = 150\nupper = 222\nprior = "uniform"\n\n'
        "[series.referrals]")
    path = tmp_path / "local_fits_end.toml"
    path.write_text(text, encoding="utf-8")
    problem, _, _ = build_problem(read_spec(path), "Devon", fit_until=2018)
    assert "Need Trend End" in problem.names
    assert not any(n in problem.fixed for n in NEED_TREND_WINDOW)
