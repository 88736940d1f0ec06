"""A brief names an authority's Ofsted judgement of inadequate, as its fit ran it, in words."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from carespiral.data.inspections import inadequate_input
from carespiral.exploration.brief import _judgement
from carespiral.pysd_runner import load
from carespiral.reports.brief import brief_verdict

MBRO = "E06000002"  # judged inadequate in a report published on 24 January 2020
KENT = "E10000016"  # never judged inadequate in the shipped years


def _fit(code: str, until=None, size=(1.7, 1.5, 1.9), values=None) -> SimpleNamespace:
    series = inadequate_input(code, until=until)
    drivers = pd.DataFrame({"area_code": code, "variable": "Inadequate Judgement",
                            "time": series.index.to_numpy(), "value": series.to_numpy()})
    params = pd.DataFrame([{"area_code": code, "parameter": "Inadequate Judgement Size",
                            "median": size[0], "lower": size[1], "upper": size[2]}])
    return SimpleNamespace(drivers=drivers, parameters=params, pooling="partial",
                           values=lambda c: dict(values or {}))


def test_the_run_s_judgement_and_its_size_against_the_2008_scandal():
    model = load("collapse_spiral")
    got = _judgement(_fit(MBRO), MBRO, model)
    assert got["inadequate_reports"] == "January 2020"
    assert got["judgement_size"] == 1.7
    assert got["scandal_2008_size"] == model.parameter("Scandal 2008 Size").default
    assert got["inadequate_predecessors"] == "" and got["judgement_pooled"]
    # the authority's own value of the 2008 scandal's size, where its fit has one
    assert _judgement(_fit(MBRO, values={"Scandal 2008 Size": 3.0}), MBRO,
                      model)["scandal_2008_size"] == 3.0
    # North Northamptonshire's run carries its predecessor's July 2019 report
    north = _judgement(_fit("E06000061"), "E06000061", model)
    assert (north["inadequate_reports"], north["inadequate_predecessors"]) == (
        "July 2019", "Northamptonshire")
    # a fit that stopped before the report ran no judgement: nothing to say
    assert _judgement(_fit(MBRO, until=pd.Timestamp("2019-03-31")), MBRO, model) == {}
    assert _judgement(_fit(KENT), KENT, model) == {}


def _brief(settings: dict) -> SimpleNamespace:
    return SimpleNamespace(area_name="Middlesbrough", model="collapse_spiral",
                           settings={"regime_today": "sustainable", **settings},
                           position=pd.DataFrame(), standing=pd.DataFrame(),
                           front=pd.DataFrame(), levers=pd.DataFrame())


def test_the_verdict_says_when_and_how_strong():
    words = brief_verdict(_brief({"inadequate_reports": "January 2020", "judgement_size": 1.7,
                                  "judgement_size_lower": 1.5, "judgement_size_upper": 1.9,
                                  "scandal_2008_size": 2.0}))
    assert ("Ofsted judged its children's services inadequate in a report published in "
            "January 2020") in words
    assert ("The model treats a judgement like that as a lasting push towards caution and more "
            "procedure, about 85% as strong as the national push after the 2008 Baby P "
            "scandal") in words
    assert "(95% interval 75% to 95%)" in words
    pooled = brief_verdict(_brief({"inadequate_reports": "July 2019", "judgement_size": 1.0,
                                   "judgement_size_lower": 0.5, "judgement_size_upper": 1.5,
                                   "scandal_2008_size": 2.0, "judgement_pooled": True,
                                   "inadequate_predecessors": "Northamptonshire"}))
    assert ("Ofsted judged Northamptonshire's children's services inadequate in a report "
            "published in July 2019, before Middlesbrough took them over.") in pooled
    assert "(95% interval 25% to 75%, estimated across all the authorities judged" in pooled
    # an interval lost on the way (missing, NaN, or None after a save) is left out, not shown
    for lo in ({}, {"judgement_size_lower": float("nan")}, {"judgement_size_lower": None}):
        words = brief_verdict(_brief({"inadequate_reports": "July 2019", "judgement_size": 1.0,
                                      "judgement_size_upper": 1.5, "scandal_2008_size": 2.0,
                                      **lo}))
        assert "about 50% as strong" in words and "interval" not in words and "nan" not in words
    two = brief_verdict(_brief({"inadequate_reports": "May 2018; June 2022",
                                "judgement_size": 1.0, "judgement_size_lower": 0.5,
                                "judgement_size_upper": 1.5, "scandal_2008_size": np.nan}))
    assert "in reports published in May 2018 and June 2022." in two
    assert "Baby P" not in two  # no reference size, no comparison
    assert "Ofsted" not in brief_verdict(_brief({}))



def test_the_verdict_warns_when_the_model_forecast_worse_than_persistence():
    skill = {"backtest": "ok", "backtest_mase_model": 3.14, "backtest_mase_persistence": 2.41,
             "backtest_mase_trend": 2.9, "backtest_origin": 2020}
    worse = brief_verdict(_brief(skill))
    assert ("Caution: tested on past years, the model forecast Middlesbrough less accurately "
            "than simply repeating the last published figure") in worse
    better = brief_verdict(_brief({**skill, "backtest_mase_model": 1.2}))
    assert "Caution" not in better
    # not measured: the caveats say so; the verdict has nothing to compare
    assert "Caution" not in brief_verdict(_brief({"backtest": "not run"}))


def test_the_forecast_table_starts_from_the_latest_figure_and_no_band_goes_below_zero():
    from carespiral.reports.brief import _forecast
    from carespiral.reports.page import Page

    rows = [("re_referral_rate", 2022, 21.0, 20.5, 18.0, 23.0, "fit"),
            ("re_referral_rate", 2023, 24.0, 22.0, 19.0, 25.0, "fit"),
            ("re_referral_rate", 2026, None, 24.1, -0.19, 48.5, "forecast")]
    b = _brief({})
    b.series = pd.DataFrame(rows, columns=["series", "year", "observed", "value", "lower",
                                           "upper", "part"])
    page = Page("test")
    _forecast(page, b)
    html = page.render(plotlyjs="beside")
    assert "<td>24.0 (2023)</td>" in html and "<th>Latest published</th>" in html
    assert "<td>0 to 48.5</td>" in html and "-0.19" not in html
    assert float(b.series["lower"].min()) == -0.19  # the result itself is not changed
