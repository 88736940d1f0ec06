"""Observed ranges across authorities and years, against figures read from the raw files."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from carespiral.data.ranges import COUNT_SERIES, RATE_SERIES, observed_ranges

DFE = Path(str(resources.files("carespiral.data"))) / "dfe"


@pytest.fixture(scope="module")
def ranges():
    return observed_ranges()


def test_every_series_has_a_range(ranges):
    assert list(ranges.index) == [*COUNT_SERIES, *RATE_SERIES]
    assert (ranges["min"] <= ranges["p01"]).all() and (ranges["p01"] <= ranges["median"]).all()
    assert (ranges["median"] <= ranges["p99"]).all() and (ranges["p99"] <= ranges["max"]).all()
    assert (ranges["n"] > 900).all()


def test_the_highest_plans_per_10000_children_is_middlesbrough_2021(ranges):
    with open(DFE / "d5_cpps_at31march_by_duration_2013_to_2023.csv", newline="") as f:
        plans = next(int(r["CPP_At31"]) for r in csv.DictReader(f)
                     if r["time_period"] == "2021" and r["la_name"] == "Middlesbrough")
    with open(DFE / "ons_mid-year_population_estimates_2012_to_2024.csv", newline="") as f:
        children = next(int(r["population_estimate"]) for r in csv.DictReader(f)
                        if r["time_period"] == "2021" and r["la_name"] == "Middlesbrough")
    assert ranges.loc["cp_plans", "max_at"] == "Middlesbrough 2021"
    assert ranges.loc["cp_plans", "max"] == pytest.approx(plans / children * 10_000)
    assert plans == 567 and children == 33_480


def test_caseload_range_is_the_raw_census_range_without_the_smallest_areas(ranges):
    values = []
    with open(DFE / "csww_indicators_2017_to_2023.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["geographic_level"] == "Local authority" and r["la_name"] not in (
                    "Isles of Scilly", "City of London"):
                try:
                    values.append(float(r["caseload_fte"]))
                except ValueError:
                    continue  # a suppression marker
    assert ranges.loc["caseload", "max"] == max(values)
    assert ranges.loc["caseload", "min"] == min(values)
