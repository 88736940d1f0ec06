"""Signals of implausibility: the range recorded by English authorities in a model's units, the
band and marks on a run report, and the verdict's sentence. Known answers: a range of 0 to 100
children per 10,000 is 0 to 1,000 for 100,000 children; a yearly range of 120 to 1,200 per
10,000 is 100 to 1,000 a month for them; a line crossing 1,000 at month 50 leaves it there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.data.ranges import ModelRanges, model_ranges
from carespiral.reports import run_report
from carespiral.reports.plausibility import BAND_NAME, exit_of
from carespiral.reports.run_report import verdict_of_runs


def synthetic_ranges(children: float | None = 100_000.0) -> ModelRanges:
    table = pd.DataFrame([
        {"variable": "Awaiting Assessment", "series": "awaiting_assessment", "low": 0.0,
         "high": 100.0, "unit": "per 10,000 children", "low_at": "Somewhere 2015",
         "high_at": "Torbay 2015", "per_child": True, "factor": 1.0},
        {"variable": "Referrals", "series": "referrals", "low": 120.0, "high": 1200.0,
         "unit": "per 10,000 children", "low_at": "Rutland 2022", "high_at": "Wakefield 2015",
         "per_child": True, "factor": 1 / 12},
        {"variable": "Vacancy Rate", "series": "vacancy_rate", "low": 0.0, "high": 60.0,
         "unit": "%", "low_at": "A 2019", "high_at": "B 2023", "per_child": False,
         "factor": 0.01},
    ])
    return ModelRanges(table, "synthetic", children)


def test_bounds_in_model_units_follow_the_child_population():
    r = synthetic_ranges()
    assert r.bounds("Awaiting Assessment") == pytest.approx((0.0, 1000.0))
    assert r.bounds("Referrals") == pytest.approx((100.0, 1000.0))  # a month, for a year's
    assert r.bounds("Referrals", children=200_000) == pytest.approx((200.0, 2000.0))
    assert r.bounds("Vacancy Rate") == pytest.approx((0.0, 0.6))  # a share against a %
    assert r.bounds("Caseload") is None
    assert synthetic_ranges(None).bounds("Awaiting Assessment") is None  # no population
    # back to the published form: 2,500 children among 100,000 is 250 per 10,000
    assert r.published("Awaiting Assessment", 2500.0) == pytest.approx(250.0)
    assert r.published("Vacancy Rate", 0.3) == pytest.approx(30.0)


def test_ranges_survive_saving(tmp_path):
    from carespiral.results import load_result

    back = load_result(synthetic_ranges().save(tmp_path / "ranges"))
    assert back.bounds("Referrals") == pytest.approx((100.0, 1000.0))


def test_exit_is_the_first_point_outside():
    x = np.arange(100.0)
    y = np.where(x < 50, 500.0, 1500.0)
    e = exit_of(list(x), y, (0.0, 1000.0), "Awaiting Assessment", "surge")
    assert e is not None and e.at == 50.0 and e.above and e.extreme == 1500.0
    assert exit_of(list(x), np.full(100, 999.0), (0.0, 1000.0), "A", "flat") is None
    low = exit_of(list(x), np.where(x < 10, 5.0, -1.0), (0.0, 10.0), "A", "low")
    assert low is not None and low.at == 10.0 and not low.above


def _runs(run_maker):
    base = run_maker(16, 0.1)
    t = base.index.to_numpy()
    calm = base.assign(**{"Awaiting Assessment": 400.0 + 0 * t})
    surge = base.assign(**{"Awaiting Assessment": np.where(t < 50, 400.0, 2500.0)})
    return {"calm": calm, "surge": surge}


def test_run_verdict_names_the_series_the_run_and_the_date(run_maker):
    runs = _runs(run_maker)
    text = verdict_of_runs(runs, ["Caseload", "Awaiting Assessment"], "collapse_spiral",
                           ranges=synthetic_ranges())
    # month 50 by the run's own date column (mean month lengths from April 2005)
    assert "children awaiting assessment in surge from May 2009" in text
    assert "250 per 10,000 children" in text and "Torbay 2015" in text
    assert "extrapolating" in text
    calm = verdict_of_runs({"calm": runs["calm"]}, ["Awaiting Assessment"], "collapse_spiral",
                           ranges=synthetic_ranges())
    assert "stays within the range" in calm and "extrapolating" not in calm
    # without ranges nothing is said either way
    assert "range" not in verdict_of_runs(runs, ["Caseload"], "collapse_spiral")


def test_run_report_draws_the_band_and_marks_the_exit(tmp_path, run_maker):
    runs = _runs(run_maker)
    path = run_report(runs, tmp_path / "r.html", title="t", outputs=["Awaiting Assessment"],
                      model="collapse_spiral", ranges=synthetic_ranges())
    html = path.read_text()
    assert BAND_NAME in html and "leaves the recorded range" in html
    assert html.count("leaves the range authorities have recorded") == 1  # summary column
    # per-run populations: twice the children doubles the band, so the surge stays inside
    text = verdict_of_runs(runs, ["Awaiting Assessment"], "collapse_spiral",
                           ranges=synthetic_ranges(), children={"calm": 1e5, "surge": 3e5})
    assert "extrapolating" not in text


def test_model_ranges_of_bundled_models():
    from carespiral.pysd_runner import load

    r = model_ranges(load("collapse_spiral"))
    t = r.table.set_index("variable")
    assert r.children == pytest.approx(11_790_500, rel=1e-3)
    assert t.loc["Referrals", "factor"] == pytest.approx(1 / 12)  # children a month
    assert t.loc["Vacancy Rate", "factor"] == 1.0  # the model's rates are in percent
    assert bool(t.loc["Awaiting Assessment", "per_child"])
    w = model_ranges(load("workforce_spiral")).table.set_index("variable")
    assert w.loc["Vacancy Rate", "factor"] == 0.01  # a share (Dmnl)
    assert "Social Workers" not in w.index  # a count, and the model has no child population


def _rate_ranges(variable: str, low: float, high: float) -> ModelRanges:
    table = pd.DataFrame([{"variable": variable, "series": "caseload", "low": low, "high": high,
                           "unit": "cases per FTE", "low_at": "Rutland 2021",
                           "high_at": "North East Lincolnshire 2019", "per_child": False,
                           "factor": 1.0}])
    return ModelRanges(table, "synthetic", None)


def test_tipping_exits_follow_the_stable_states_and_the_sweep(exploration_results):
    from carespiral.reports.verdicts import tipping_exits, tipping_plausibility

    r = exploration_results
    # equilibria x of p = x^3 - x: stable where |x| > 1/sqrt(3); the range holds |x| <= 1
    ranges = _rate_ranges("Backlog", -1.0, 1.0)
    exits = tipping_exits(r["bifurcation"], None, ranges)
    assert [e.line for e in exits] == ["stable state 1", "stable state 2"]
    low, high = exits
    assert not low.above and low.value < -1.0  # the first stable stretch starts at x = -1.5
    assert high.above and high.at == pytest.approx(1.0**3 - 1.0, abs=0.05)  # leaves at x = 1
    text = tipping_plausibility(r["bifurcation"], None, ranges)
    assert "extrapolating" in text and "North East Lincolnshire 2019" in text
    # the sweep's caseload (16 + p sustainable, 30 + p collapsed) leaves 10-25 when it collapses
    sweep_exits = tipping_exits(None, r["sweep"], _rate_ranges("Caseload", 10.0, 25.0))
    assert {(e.line, e.at) for e in sweep_exits} == {("the sweep going up", 0.7),
                                                    ("the sweep going down", 1.0)}
    inside = tipping_plausibility(None, r["sweep"], _rate_ranges("Caseload", 10.0, 40.0))
    assert "stay within" in inside


def test_tipping_report_draws_the_band(tmp_path, exploration_results):
    from carespiral.reports import exploration_report

    r = exploration_results
    path = exploration_report(tmp_path / "t.html", title="t", bifurcation=r["bifurcation"],
                              sweep=r["sweep"], ranges=_rate_ranges("Caseload", 10.0, 25.0))
    html = path.read_text()
    assert BAND_NAME in html and "leaves the recorded range" in html
    assert "From there on the state is the model extrapolating" in html


def test_experiments_exits_count_the_scenarios_outside(experiments_maker):
    from carespiral.reports.verdicts import experiments_exits, experiments_plausibility

    ex = experiments_maker(400, seed=2)
    ex.settings["outcomes"] = [{"name": "final_caseload", "variable": "Caseload",
                                "stat": "final", "months": 12.0}]
    # final caseload is about 16 when sustainable and 26 when collapsed; the range ends at 21
    ranges = _rate_ranges("Caseload", 8.0, 21.0)
    t = experiments_exits(ex, ranges)
    collapsed = ex.outcomes["regime"] == "collapse"
    assert t["outside"].sum() == collapsed.sum()
    text = experiments_plausibility(ex, ranges)
    assert text.startswith(f"{collapsed.mean():.0%} of the scenarios (100% of those that "
                           "collapsed)")
    assert "within" in experiments_plausibility(ex, _rate_ranges("Caseload", 8.0, 40.0))


def test_the_exploration_verdict_keeps_the_box_and_the_sensitivity(exploration_results,
                                                                    experiments_maker):
    from carespiral.reports.verdicts import experiments_verdict

    r = exploration_results
    ex = experiments_maker(400, seed=2)
    ex.settings["outcomes"] = [{"name": "final_caseload", "variable": "Caseload",
                                "stat": "final", "months": 12.0}]
    text = experiments_verdict(ex, r["discovery"], r["sensitivity"],
                               _rate_ranges("Caseload", 8.0, 21.0))
    # at most five sentences, yet the share, the box, the strongest factor (demand: ST 0.65),
    # the ranges and the caveat all keep their place
    assert text.count(". ") + 1 <= 5, text
    assert text.startswith("Of 400 sampled scenarios")
    assert "Collapse concentrates where" in text
    assert "Demand matters most" in text and "65%" in text, text
    assert "of the scenarios (100% of those that collapsed)" in text
    assert text.endswith("not probabilities of what will happen.")


def test_levers_in_words():
    from carespiral.reports.levers import lever_change, lever_level, lever_range

    kids = 11_790_500
    # 0.00013 fewer posts per child among 11.79 million children: about 1,533, said 1,500
    assert lever_change("establishment", 0.00287, 0.003, "collapse_spiral", kids) == (
        "about 1,500 fewer funded social worker posts (-4%)")
    assert lever_change("establishment", 0.00287, 0.003, "collapse_spiral") == (
        "4% fewer funded posts per child")
    # 0.3% fewer posts: 11.79 million children x 0.00001 = 118, and "(under 1%)", not "(-0%)"
    assert lever_change("establishment", 0.00299, 0.003, "collapse_spiral", kids) == (
        "about 118 fewer funded social worker posts (under 1%)")
    assert lever_level("compliance_burden", 1.116, "collapse_spiral") == (
        "recording load 12% above the 2013-19 level")
    assert lever_level("Compliance Burden", 0.7, "collapse_spiral") == (
        "recording load 30% below the 2013-19 level")
    assert lever_level("retention_measures", 0.5, "collapse_spiral") == (
        "retention package at 50% of full strength")
    assert lever_range("compliance_burden", 1.1, 1.4, "collapse_spiral") == (
        "recording load 10% to 40% above the 2013-19 level")
    # a rate per child is said per 10,000 children: 0.0306 a year per child is 306
    assert lever_range("Underlying Need", 0.0306, 0.042, "collapse_spiral") == (
        "306 to 420 first-time referrals a year per 10,000 children")
    # a teaching model's own meaning: posts in FTE, a compliance share of working time
    assert lever_change("establishment", 160, 150, "workforce_spiral") == (
        "about 10 more funded social worker posts (+7%)")
    assert lever_level("Compliance Share", 0.6, "failure_demand") == (
        "60% of working time on recording and compliance")
