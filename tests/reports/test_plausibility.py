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
