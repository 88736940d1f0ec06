"""Drivers over time from the shipped data, checked against the raw files read independently."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from carespiral.data.drivers import (
    POPULATION_INDEX,
    POSTS_INDEX,
    area_drivers,
    england_lookups,
)
from carespiral.errors import CarespiralError, UnknownNameError

DFE = Path(str(resources.files("carespiral.data"))) / "dfe"


def _ons(code: str) -> dict[int, float]:
    with open(DFE / "ons_mid-year_population_estimates_2012_to_2024.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    key = "country_code" if code.startswith("E92") else "new_la_code"
    if code.startswith("E12"):
        key = "region_code"
    out = {}
    for r in rows:
        level_ok = {"country_code": "National", "region_code": "Regional",
                    "new_la_code": "Local authority"}[key] == r["geographic_level"]
        if level_ok and r[key] == code:
            out[int(r["time_period"])] = float(r["population_estimate"])
    return out


def _census(code: str) -> dict[int, float]:
    """FTE in post plus FTE vacancies by census year, from the raw workforce file."""
    with open(DFE / "csww_indicators_2017_to_2023.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for r in rows:
        here = r["country_code"] if r["geographic_level"] == "National" else r["new_la_code"]
        if here == code and (r["geographic_level"] != "National" or r["region_code"] == ""):
            out[int(r["time_period"])] = float(r["inpost_fte"]) + float(r["vacancy_fte"])
    return out


def test_england_levels_are_the_published_figures():
    d = area_drivers("England")
    ons, posts = _ons("E92000001"), _census("E92000001")
    assert d.child_population_reference == ons[2019] == 11_790_492
    # the census is at 30 September: children a quarter of the way to mid-2020
    sept = ons[2019] + (ons[2020] - ons[2019]) / 4
    assert d.posts_per_child_reference == pytest.approx(posts[2019] / sept, rel=1e-12)
    assert posts[2019] == pytest.approx(30_683.8 + 6_036.6)
    assert d.params() == {"Child Population": ons[2019],
                          "Establishment per Child": d.posts_per_child_reference}


def test_indices_follow_the_data_with_the_stated_rules():
    d = area_drivers("E09000014")  # Haringey
    ons, posts = _ons("E09000014"), _census("E09000014")
    inputs = d.time_inputs()
    pop = inputs[POPULATION_INDEX]
    # one point per mid-year estimate, at 30 June (month 12(Y-2005)+3), 1 at mid-2019
    assert list(pop.index) == [12 * (y - 2005) + 3 for y in sorted(ons)]
    assert pop.loc[171] == 1.0
    assert pop.loc[12 * (2024 - 2005) + 3] == pytest.approx(ons[2024] / ons[2019], rel=1e-12)
    # funded posts per child at each census (30 September, month 12(Y-2005)+6): the population
    # is interpolated between the 30 June estimates either side (a quarter of the way)
    est = inputs[POSTS_INDEX]
    assert list(est.index) == [12 * (y - 2005) + 6 for y in sorted(posts)]
    def per_child(y):
        return posts[y] / (ons[y] + (ons[y + 1] - ons[y]) / 4)
    assert est.loc[12 * (2023 - 2005) + 6] == pytest.approx(per_child(2023) / per_child(2019),
                                                          rel=1e-12)
    # beyond the data: held (before mid-2012, after mid-2024; before 2017, after 2023)
    months = np.array([0.0, 87.0, 231.0, 420.0])
    got = d.funded_posts(months)
    first = ons[2012] * (posts[2017] / (ons[2017] + (ons[2018] - ons[2017]) / 4))
    assert got[0] == pytest.approx(first, rel=1e-12)
    assert got[3] == pytest.approx(ons[2024] * per_child(2023), rel=1e-12)


def test_a_joint_workforce_census_gives_the_joint_ratio():
    d = area_drivers("Kingston upon Thames")
    assert d.area_code == "E09000021"
    joint = {}
    with open(DFE / "csww_indicators_2017_to_2023.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["new_la_code"] == "E09000021 / E09000027":
                joint[int(r["time_period"])] = float(r["inpost_fte"]) + float(r["vacancy_fte"])
    k, r19 = _ons("E09000021"), _ons("E09000027")
    assert d.posts_per_child_reference == pytest.approx(
        joint[2019] / (k[2019] + (k[2020] - k[2019]) / 4 + r19[2019]
                       + (r19[2020] - r19[2019]) / 4), rel=1e-12)
    assert any("joint" in n for n in d.notes)


def test_regions_names_and_numbers_resolve():
    assert area_drivers("London").area_code == "E12000007"
    assert area_drivers("309").area_name == "Haringey"
    # a reorganised authority: the current code, with its shorter series
    dorset = area_drivers("Dorset")
    assert dorset.area_code == "E06000059"
    assert dorset.child_population.index.min() == 12 * (2019 - 2005) + 3


def test_unknown_area_is_a_clear_error():
    with pytest.raises(UnknownNameError, match="Haringey"):
        area_drivers("Harringey")


def test_an_area_without_a_census_is_a_clear_error():
    from carespiral.data import load

    t = load(series=["child_population", "social_workers_fte", "sw_vacancies_fte"])
    t = t[~((t["area_code"] == "E09000014") & (t["series"] != "child_population"))]
    with pytest.raises(CarespiralError, match="no workforce census"):
        area_drivers("Haringey", table=t)


def test_england_lookups_are_the_england_indices():
    lk = england_lookups()
    d = area_drivers("England").time_inputs()
    for name, points in lk.items():
        assert [m for m, _ in points] == list(d[name].index)
        assert np.allclose([v for _, v in points], d[name].to_numpy(), atol=5e-7)
