"""The ex-ante rule for drivers after a forecast's origin: a damped trend, against hand algebra."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.drivers import driver_inputs
from carespiral.data.drivers import (
    POPULATION_INDEX,
    POSTS_INDEX,
    TREND_DAMPING,
    TREND_YEARS,
    damped_trend,
)
from carespiral.errors import CarespiralError


def test_rule_constants_are_the_documented_ones():
    # data/drivers.py and docs/calibration.md state these: changing them changes every
    # ex-ante forecast
    assert (TREND_YEARS, TREND_DAMPING) == (3, 0.8)


def test_doubling_each_year_halved_damping():
    # values double each year: b = ln 2 a year; with phi = 1/2 the year-h point is
    # 4 x 2^(1/2 + 1/4 + ... + 1/2^h): 4 x 2^0.5, 4 x 2^0.75, 4 x 2^0.875
    p = pd.Series([1.0, 2.0, 4.0], index=[150.0, 162.0, 174.0])
    out = damped_trend(p, years=3, damping=0.5, extend=3)
    assert list(out.index) == [150.0, 162.0, 174.0, 186.0, 198.0, 210.0]
    np.testing.assert_allclose(out.to_numpy()[:3], [1.0, 2.0, 4.0])
    np.testing.assert_allclose(out.to_numpy()[3:], [4 * np.sqrt(2), 4 * 2**0.75, 4 * 2**0.875],
                               rtol=1e-12)


def test_trend_over_the_last_three_intervals_only():
    # five yearly points; the last three intervals go 100 -> 133.1 (10% a year), the first
    # one (50 -> 100) is left out. phi = 0.8: year 1 x 1.1^0.8, year 2 x 1.1^1.44
    p = pd.Series([50.0, 100.0, 110.0, 121.0, 133.1], index=[0.0, 12.0, 24.0, 36.0, 48.0])
    out = damped_trend(p, extend=2)
    np.testing.assert_allclose(out.loc[[60.0, 72.0]].to_numpy(),
                               [133.1 * 1.1**0.8, 133.1 * 1.1**1.44], rtol=1e-12)


def test_fewer_intervals_than_the_window_use_all_known():
    # two points a year apart: growth 1.02 a year; phi = 0.8 over 20 years tends to
    # 0.8 (1 - 0.8^20) / 0.2 years of growth, held after the last added point
    p = pd.Series([1.0, 1.02], index=[150.0, 162.0])
    out = damped_trend(p)
    assert out.index[-1] == 162.0 + 12 * 20
    total = 0.8 * (1 - 0.8**20) / 0.2
    assert out.iloc[-1] == pytest.approx(1.02 * 1.02**total, rel=1e-12)
    assert out.iloc[-1] < 1.02 * 1.02**4  # the limit: four years' growth


def test_uneven_spacing_is_measured_in_years():
    # 18 months between the points (growth 1.5^(2/3) a year: 1.5 over 1.5 years)
    p = pd.Series([2.0, 3.0], index=[100.0, 118.0])
    out = damped_trend(p, damping=1.0, extend=1)
    assert out.loc[130.0] == pytest.approx(3.0 * 1.5 ** (1 / 1.5), rel=1e-12)


def test_one_point_and_falling_drivers():
    one = pd.Series([0.003], index=[150.0])
    pd.testing.assert_series_equal(damped_trend(one), one)
    # a falling driver falls on, damped: 0.9 a year, phi = 0.8
    p = pd.Series([100.0, 90.0], index=[0.0, 12.0])
    assert damped_trend(p, extend=1).loc[24.0] == pytest.approx(90.0 * 0.9**0.8, rel=1e-12)
    # damping 0 is the old hold: the added points equal the last value
    held = damped_trend(p, damping=0.0, extend=3)
    np.testing.assert_allclose(held.to_numpy()[2:], 90.0)


def test_bad_input_is_refused():
    p = pd.Series([1.0, 2.0], index=[0.0, 12.0])
    with pytest.raises(CarespiralError, match="damping"):
        damped_trend(p, damping=1.5)
    with pytest.raises(CarespiralError, match="positive"):
        damped_trend(pd.Series([1.0, 0.0], index=[0.0, 12.0]))
    with pytest.raises(CarespiralError, match="years"):
        damped_trend(p, years=0)


# ---- the rule as a forecast at an origin gets it (calibration.drivers.driver_inputs) ----------

DFE = Path(str(resources.files("carespiral.data"))) / "dfe"


def _raw_england() -> tuple[dict[int, float], dict[int, float]]:
    """England's children at mid-year and funded posts (FTE in post + vacancies) at each
    September census, read from the raw files."""
    with open(DFE / "ons_mid-year_population_estimates_2012_to_2024.csv", newline="") as f:
        pop = {int(r["time_period"]): float(r["population_estimate"]) for r in csv.DictReader(f)
               if r["geographic_level"] == "National" and r["country_code"] == "E92000001"}
    with open(DFE / "csww_indicators_2017_to_2023.csv", newline="") as f:
        posts = {int(r["time_period"]): float(r["inpost_fte"]) + float(r["vacancy_fte"])
                 for r in csv.DictReader(f)
                 if r["geographic_level"] == "National" and r["country_code"] == "E92000001"}
    return pop, posts


def test_england_at_a_2019_origin_by_hand():
    pop, posts = _raw_england()

    def ratio(y: int) -> float:  # posts over the children at 30 September (a quarter on)
        return posts[y] / (pop[y] + (pop[y + 1] - pop[y]) / 4)

    until = pd.Timestamp("2019-09-30")
    d = driver_inputs(["child_population", "funded_posts"], "E92000001", until=until,
                      after="damped")
    held = driver_inputs(["child_population", "funded_posts"], "E92000001", until=until,
                         after="hold")
    assert d.params == held.params  # the levels are September and mid-2019's, both known
    assert d.params["Establishment per Child"] == pytest.approx(ratio(2019), rel=1e-12)
    posts_i, pop_i = d.inputs[POSTS_INDEX], d.inputs[POPULATION_INDEX]
    # posts per child: three censuses known (2017-2019), growth over those two years; Sept
    # 2020 (month 186) and 2021 (198): (r19 / r17)^(0.8 / 2) and ^(1.44 / 2)
    g = ratio(2019) / ratio(2017)
    assert posts_i.loc[186.0] == pytest.approx(g ** 0.4, rel=1e-10)
    assert posts_i.loc[198.0] == pytest.approx(g ** 0.72, rel=1e-10)
    # children: mid-2012 to mid-2019 known; the trend of the last three years (2016-2019);
    # mid-2020 (month 183) and mid-2022 (207): (p19 / p16)^(0.8 / 3) and ^((0.8+0.64+0.512)/3)
    gp = pop[2019] / pop[2016]
    assert pop_i.loc[183.0] == pytest.approx(gp ** (0.8 / 3), rel=1e-10)
    assert pop_i.loc[207.0] == pytest.approx(gp ** (1.952 / 3), rel=1e-10)
    # the hold rule: held at the last known value
    assert held.inputs[POSTS_INDEX].index.max() == 174.0
    assert held.inputs[POPULATION_INDEX].index.max() == 171.0
    assert d.notes[-1].endswith("extended by their damped trend after")
    assert held.notes[-1].endswith("held after")


def test_before_the_first_census_posts_stay_flat():
    # at a 2016 origin no census is known: posts per child are the 2017 ratio, one point, held
    # (the data layer's rule before the first census); the population still gets its trend
    d = driver_inputs(["child_population", "funded_posts"], "E92000001",
                      until=pd.Timestamp("2016-09-30"), after="damped")
    assert len(d.inputs[POSTS_INDEX]) == 1
    assert d.inputs[POPULATION_INDEX].index.max() == 135.0 + 12 * 20


def test_unknown_rule_is_refused():
    with pytest.raises(CarespiralError, match="not a rule"):
        driver_inputs(["funded_posts"], "E92000001", until=pd.Timestamp("2019-09-30"),
                      after="linear")


def test_a_fit_at_an_origin_gets_the_rule_it_is_given():
    from carespiral.calibration.engine import build_problem
    from carespiral.calibration.spec import read_spec

    spec = read_spec("national")
    held, _, _ = build_problem(spec, fit_until=2019, horizon=1, drivers_after="hold")
    damped, _, _ = build_problem(spec, fit_until=2019, horizon=1, drivers_after="damped")
    default, _, _ = build_problem(spec, fit_until=2019, horizon=1)
    # the default (`national`): England's posts grown by their own damped trend, population held
    pd.testing.assert_series_equal(default.inputs[POSTS_INDEX], damped.inputs[POSTS_INDEX])
    pd.testing.assert_series_equal(default.inputs[POPULATION_INDEX],
                                   held.inputs[POPULATION_INDEX])
    assert held.inputs[POSTS_INDEX].index.max() == 174.0  # September 2019, held after
    ext = damped.inputs[POSTS_INDEX]
    assert ext.index.max() == 174.0 + 12 * 20
    pd.testing.assert_series_equal(ext.loc[:174.0], held.inputs[POSTS_INDEX])
    assert any("damped trend" in n for n in damped.notes)
    with pytest.raises(CarespiralError, match="not a rule"):
        build_problem(spec, fit_until=2019, horizon=1, drivers_after="linear")


def test_an_authority_s_posts_grow_as_england_s_did_known_at_the_origin():
    """The default rule for an authority at a 2019 origin: its population held, its posts per
    child from its last census (September 2019) on multiplied by England's damped-trend
    factors, England's own posts known to September 2019 only (`grown_as`, by hand)."""
    until = pd.Timestamp("2019-09-30")
    names = ["child_population", "funded_posts"]
    held = driver_inputs(names, "Manchester", until=until, after="hold")
    nat = driver_inputs(names, "Manchester", until=until)
    eng = driver_inputs(names, "E92000001", until=until, after="damped")
    assert nat.params == held.params
    pd.testing.assert_series_equal(nat.inputs[POPULATION_INDEX], held.inputs[POPULATION_INDEX])
    mine, england = nat.inputs[POSTS_INDEX], eng.inputs[POSTS_INDEX]
    pd.testing.assert_series_equal(mine.loc[:174.0], held.inputs[POSTS_INDEX])
    last, e_last = mine.loc[174.0], england.loc[174.0]
    for month in (186.0, 198.0, 174.0 + 12 * 20):
        assert mine.loc[month] == pytest.approx(last * england.loc[month] / e_last, rel=1e-12)
    # England's factors: three censuses known, so growth (r19 / r17)^(1/2) a year, damped 0.8
    assert england.loc[186.0] / e_last > 1.0
    assert nat.notes[-1].endswith("grown as England's by their damped trend")


def test_the_national_rule_reads_nothing_after_the_origin():
    """Ex ante: England's census figures after the origin (FTE in post and vacancies, the
    posts the rule extrapolates) do not change an authority's rule. (England's September 2019
    ratio divides by the children at 30 September, a quarter of the way to the mid-2020
    estimate: that population figure, published later, is the data layer's and every rule's.)"""
    from carespiral.data.loader import load

    table = load()
    later = ((table["area_code"] == "E92000001") & (table["year"] > 2019)
             & table["series"].isin(["social_workers_fte", "sw_vacancies_fte"]))
    changed = table.copy()
    changed.loc[later, "value"] = changed.loc[later, "value"] * 3.0
    until = pd.Timestamp("2019-09-30")
    a = driver_inputs(["funded_posts"], "Manchester", table, until=until)
    b = driver_inputs(["funded_posts"], "Manchester", changed, until=until)
    pd.testing.assert_series_equal(a.inputs[POSTS_INDEX], b.inputs[POSTS_INDEX])
    # and the check can fail: a 2022 origin does see those years
    late = pd.Timestamp("2022-09-30")
    c = driver_inputs(["funded_posts"], "Manchester", table, until=late)
    d = driver_inputs(["funded_posts"], "Manchester", changed, until=late)
    assert not c.inputs[POSTS_INDEX].equals(d.inputs[POSTS_INDEX])


def test_a_table_without_england_takes_england_s_growth_from_the_shipped_data():
    from carespiral.data.loader import load

    table = load()
    few = table[table["area_name"].isin(["Manchester", "Kent"])]
    until = pd.Timestamp("2019-09-30")
    a = driver_inputs(["funded_posts"], "Manchester", table, until=until)
    b = driver_inputs(["funded_posts"], "Manchester", few, until=until)
    pd.testing.assert_series_equal(a.inputs[POSTS_INDEX], b.inputs[POSTS_INDEX])
