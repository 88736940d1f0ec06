"""The loader against figures read from the published files, and its handling of markers,
boundary changes, breaks and the rule for figures given by two sources."""

from __future__ import annotations

import csv
import re

import numpy as np
import pandas as pd
import pytest

from carespiral import data
from carespiral.data import published
from carespiral.data.series import ROLE_SERIES, SERIES
from carespiral.errors import UnknownNameError

C1 = "dfe/c1_children_in_need_referrals_and_rereferrals_2013_to_2023.csv"


def one(t: pd.DataFrame) -> pd.Series:
    assert len(t) == 1, t
    return t.iloc[0]


def test_england_referrals_2023_as_published():
    # c1 line 2: "2023,Reporting year,National,...,640430,143770,22.4,..."
    r = one(data.load(series="referrals", area="England").query("year == 2023"))
    assert r["value"] == 640430
    assert r["unit"] == "count" and r["kind"] == "flow"
    assert r["date"] == pd.Timestamp("2023-03-31")
    assert r["period_start"] == pd.Timestamp("2022-04-01")
    assert r["period"] == "2022-23"
    assert (r["file"], r["line"]) == (C1, 2)
    assert r["level"] == "national" and r["confidence"] == "high"


def test_haringey_re_referral_rate_by_name_code_and_la_number():
    # c1 line 627: Haringey 2020 re-referrals 601 of 3376 referrals, 17.8%
    for area in ("haringey", "HARINGEY", "E09000014", "309"):
        t = data.load(series="Re_Referral_Rate", area=area)
        r = one(t[t["year"] == 2020])
        assert r["value"] == 17.8 and r["unit"] == "%"
        assert r["region_name"] == "Inner London" and r["la_code"] == "309"
    counts = data.load(series=["re_referrals", "referrals"], area="haringey").query("year == 2020")
    v = counts.set_index("series")["value"]
    assert v["re_referrals"] / v["referrals"] * 100 == pytest.approx(17.8, abs=0.05)


def test_workforce_dates_are_30_september():
    r = one(data.load(series="social_workers_fte", area="England").query("year == 2023"))
    assert r["value"] == 33119.1 and r["date"] == pd.Timestamp("2023-09-30")
    t = one(data.load(series="turnover_rate", area="England").query("year == 2023"))
    assert t["value"] == 15.9
    assert (t["period_start"], t["period_end"]) == (pd.Timestamp("2022-10-01"),
                                                    pd.Timestamp("2023-09-30"))


@pytest.mark.parametrize(("series", "counts"), [
    # Dorset, Bournemouth and Poole -> 2 in 2019-20; Northamptonshire -> 2 in 2021-22
    ("referrals", {2013: 152, 2019: 152, 2020: 151, 2021: 151, 2022: 152, 2023: 152}),
    # workforce (30 September): 2019 already has Dorset and BCP; North and West
    # Northamptonshire are one row from 2021; Cumbria is two authorities in 2023
    ("social_workers_fte", {2017: 151, 2018: 151, 2019: 150, 2021: 150, 2023: 151}),
])
def test_number_of_local_authorities_per_year(series, counts):
    t = data.load(series=series, level="la")
    per_year = t.groupby("year")["area_code"].nunique()
    for year, n in counts.items():
        assert per_year[year] == n


def test_markers_become_missing_with_the_marker_in_note():
    hackney = one(data.load(series="referrals", area="hackney").query("year == 2021"))
    assert np.isnan(hackney["value"]) and hackney["note"].startswith("x:")
    hereford = one(data.load(series="re_referral_rate", area="herefordshire").query("year == 2023"))
    assert np.isnan(hereford["value"]) and hereford["note"].startswith("u:")
    scilly = data.load(series=["referrals", "re_referrals"], area="isles of scilly")
    s2017 = scilly[scilly["year"] == 2017].set_index("series")
    assert np.isnan(s2017.loc["referrals", "value"])
    assert s2017.loc["referrals", "note"].startswith("c:")
    assert s2017.loc["re_referrals", "value"] == 0  # published as 0, kept as 0


def test_every_marker_in_the_raw_files_is_missing_and_nothing_else_is(table, data_dir):
    # Count non-numeric value cells straight from the CSVs and compare with the table.
    expected = 0
    for spec in published.OPEN_FILES:
        value_cols = set(spec.columns) | {c for m in spec.by_columns.values() for c in m}
        with open(data_dir / "dfe" / spec.name, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                expected += sum(not re.fullmatch(r"-?[0-9.]+", row[c]) for c in value_cols)
    opened = table[table["file"].str.startswith("dfe/")]
    missing = opened[opened["value"].isna()]
    assert len(missing) == expected > 100
    assert missing["note"].str.match(r"^(c|x|z|u|low): ").all()
    assert (opened.loc[opened["value"].notna(), "note"] == "").all()


def test_published_files_pass_validation(table):
    data.validate(table)  # schema, bounds and duplicate keys; raises on a problem
    rates = table[table["kind"] == "rate"]["value"].dropna()
    assert rates.between(0, 100).all() and len(rates) > 10000
    counts = table[table["unit"].isin(["count", "FTE", "headcount"])]["value"].dropna()
    assert (counts >= 0).all()
    assert not table.duplicated(["area_code", "series", "variant", "period_start",
                                 "period_end"]).any()


def test_canonical_role_series_all_have_data():
    cov = data.coverage().set_index("series")
    for role in ROLE_SERIES:
        assert role in SERIES
        assert cov.loc[role, "values"] > 0, role


def test_open_data_preferred_and_curated_kept_as_variant():
    t = data.load(series="referrals", area="England", include_variants=True)
    y2019 = t[t["year"] == 2019].set_index("variant")
    assert y2019.loc["", "file"] == C1
    assert y2019.loc["curated", "file"] == "curated/england_children_social_care.csv"
    assert "" not in set(t[t["file"].str.startswith("curated/") & (t["year"] >= 2013)]["variant"])
    # the curated series reaches back to 2005, before the open data
    early = data.load(series="referrals", area="England").query("year == 2005")
    assert one(early)["file"].startswith("curated/")
    # no curated high-confidence figure disagrees with the open data beyond rounding
    assert not [p for p in data.problems() if "the open data give" in p]


def test_boundary_changes_are_reported_not_spliced():
    t = data.load(series="cp_plans", area="dorset")
    assert set(t["area_code"]) == {"E10000009", "E06000059"}
    old, new = (t[t["area_code"] == c]["year"] for c in ("E10000009", "E06000059"))
    assert old.max() == 2019 and new.min() == 2020  # no year under both codes
    ch = data.area_changes().set_index("old_codes")
    assert ch.loc["E10000006", "kind"] == "boundary change"  # Cumbria
    assert "csww: 2023" in ch.loc["E10000006", "first_new"]
    assert "c1: 2020" in ch.loc["E10000009 E06000028 E06000029", "first_new"]
    assert "c1: 2021" in ch.loc["E10000021", "last_old"]  # Northamptonshire, year to Mar 2021
    assert ch.loc["E10000002", "kind"] == "code change"  # Buckinghamshire
    # every LA code that starts or stops inside a file's years is explained by a change
    explained = {c for codes in ch.index for c in codes.split()} | {
        c for codes in ch["new_codes"] for c in codes.split()} | {"E06000061 / E06000062"}
    # the Isles of Scilly existed throughout; the cla file gives 'z' for them in 2022-2023
    explained.add("E06000053")
    # (rows marked 'z', not applicable, stand for areas that did not exist that year)
    las = data.load(level="la")
    las = las[~las["note"].str.startswith("z")]
    for _, f in las.groupby("file"):
        years = f.groupby("area_code")["year"].agg(["min", "max"])
        partial = years[(years["min"] > f["year"].min()) | (years["max"] < f["year"].max())]
        assert set(partial.index) <= explained, set(partial.index) - explained


def test_breaks_are_metadata_and_refuse_a_fit_across_them():
    refs = data.load(series="referrals", area="England")
    with pytest.raises(data.SeriesBreakError, match="cin_census_2009_10"):
        data.check_breaks(refs)
    data.check_breaks(refs[refs["date"] >= "2011-03-31"])  # one side: fine
    ass = data.load(series="assessments", area="England")
    assert ass["year"].min() == 2014
    assert "single_assessment_2013_14" in set(data.series_breaks("assessments")["name"])
    sw = data.load(series="social_workers_fte", area="England")
    with pytest.raises(data.SeriesBreakError, match="workforce_census_2017"):
        data.check_breaks(sw)


def test_unknown_names_suggest():
    with pytest.raises(UnknownNameError, match="did you mean 'referrals'"):
        data.load(series="referals")
    with pytest.raises(UnknownNameError, match="Haringey"):
        data.load(area="haringay")
    with pytest.raises(UnknownNameError):
        data.load(level="county")


def test_load_returns_copies():
    a = data.load(series="referrals", area="England")
    a.loc[:, "value"] = -1
    b = data.load(series="referrals", area="England")
    assert (b["value"] > 0).all()


def test_problems_found_in_the_published_files():
    found = data.problems()
    # published rates that the published counts contradict (regional rows only): e.g. d3 line
    # 169, Yorkshire and The Humber 2022: 1660 subsequent plans of 7490 is 22.2%, not 23.6%
    rates = sorted(p.split(": ", 1)[1].split(" is ")[0] for p in found if " gives " in p)
    assert rates == ["agency_rate for London 2023", "agency_rate for Outer London 2023",
                     "cp_plans_subsequent_rate for Yorkshire and The Humber 2022",
                     "turnover_rate for North East 2022"]
    assert any("Isles of Scilly 2017 are 'c' but re-referrals are given as 0" in p for p in found)
    assert any("undated" in p for p in found)


def test_area_lookup_by_partial_name_and_ambiguity():
    from carespiral.data.areas import find_areas

    known = data.areas()
    assert find_areas("herefordshire", known) == ["E06000019"]  # "Herefordshire, County of"
    assert find_areas("Bournemouth", known) == ["E06000028"]  # the pre-2019 authority only
    assert find_areas("E06000058", known) == ["E06000058"]
    assert set(find_areas("buckinghamshire", known)) == {"E10000002", "E06000060"}
    with pytest.raises(UnknownNameError):
        find_areas("north", known)  # many names start with North: no guess


def test_statistical_neighbours_from_the_dfe_groupings():
    from carespiral.data.neighbours import neighbours
    from carespiral.errors import CarespiralError

    # file line for 309 Haringey: SN1 320 (Waltham Forest, Close), SN2 204 (Hackney, Close)
    n = neighbours("haringey")
    assert n["rank"].tolist() == list(range(1, 11))
    assert n.loc[0, ["la_code", "area_name", "closeness"]].tolist() == [
        "320", "Waltham Forest", "Close"]
    assert n.loc[1, "area_code"] == "E09000012"
    assert (n["area_code"] != "").all()
    # Dorset before 2019 has its own ("Old SNs") row: Shropshire first
    assert neighbours("E10000009").loc[0, "area_name"] == "Shropshire"
    with pytest.raises(CarespiralError, match="not a local authority"):
        neighbours("london")
    with pytest.raises(CarespiralError, match="942"):
        neighbours("cumberland")
