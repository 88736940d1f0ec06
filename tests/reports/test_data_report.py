"""Data report: a verdict, the area against its region and England (catalogue names and the
published form), indexes, a ranking of the area among its neighbours and the extremes, input
checks."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.reports import data_report
from carespiral.reports.data_report import data_page, level_of


def figures(page):
    return [b.fig for s in page.sections for b in s.blocks if hasattr(b, "fig")]


def test_rates_are_drawn_as_published_for_area_region_and_england(sample_table):
    page = data_page(sample_table, area="haringey", series=["re_referral_rate"])
    fig = figures(page)[0]
    assert [tr.name for tr in fig.data] == ["Haringey", "London", "England"]
    want = sample_table[(sample_table.area_name == "Haringey")
                        & (sample_table.series == "re_referral_rate")].sort_values("date")
    np.testing.assert_allclose(fig.data[0].y, want["value"])
    assert fig.layout.title.text == "Re-referral rate"  # the catalogue's label, no code name
    assert fig.layout.yaxis.title.text == "% of referrals in the year to 31 March"


def test_counts_are_indexed_to_the_areas_first_year_for_every_line(sample_table):
    fig = figures(data_page(sample_table, area="E09000014", series=["referrals"]))[0]
    t = sample_table[sample_table.series == "referrals"]
    base = pd.Timestamp("2013-03-31")
    for tr, code in zip(fig.data, ["E09000014", "E12000007", "E92000001"], strict=True):
        rows = t[t.area_code == code].sort_values("date")
        at_base = rows.loc[rows.date == base, "value"].iloc[0]
        np.testing.assert_allclose(tr.y, rows["value"] / at_base * 100)
        np.testing.assert_allclose(tr.customdata[:, 0].astype(float), rows["value"])  # hover
    # England starts in 2009, four years before the base, so it is below 100 there
    assert fig.data[2].y[0] < 100
    assert fig.layout.yaxis.title.text == "index (Mar 2013 = 100)"


def test_flagged_values_get_hollow_markers_and_their_note_in_hover(sample_table):
    fig = figures(data_page(sample_table, area="Camden", series=["re_referral_rate"]))[0]
    camden = fig.data[0]
    i = list(pd.to_datetime(camden.x)).index(pd.Timestamp("2016-03-31"))
    assert camden.marker.color[i] == "white"
    assert "suppressed" in camden.customdata[i, 1]
    assert np.isnan(camden.y[i])


def _bars(fig):
    bar = fig.data[0]
    return dict(zip(bar.y, zip(bar.x, bar.marker.color, strict=True), strict=True))


def test_ranking_orders_authorities_and_states_the_areas_rank(sample_table):
    page = data_page(sample_table, area="Haringey", rank_series="re_referral_rate",
                     neighbours=["E09000007"])
    fig = figures(page)[-1]
    at = sample_table[(sample_table.level == "la") & (sample_table.series == "re_referral_rate")
                      & (sample_table.date == "2023-03-31")].dropna(subset=["value"])
    want = at.sort_values("value", ascending=False).reset_index(drop=True)
    bars = _bars(fig)
    # six authorities: all shown, numbered by rank (1 = highest), with England and the region
    for k, r in want.iterrows():
        assert bars[f"{k + 1}. {r.area_name}"][0] == pytest.approx(r.value)
    assert bars["England"] == (22.5, "#000000")
    assert bars["London (region)"] == (20.0, "#0072B2")
    rank = list(want["area_name"]).index("Haringey") + 1
    assert bars[f"{rank}. Haringey"][1] == "#D55E00"
    camden = list(want["area_name"]).index("Camden") + 1
    assert bars[f"{camden}. Camden"][1] == "#E69F00"  # a statistical neighbour
    assert list(fig.data[0].x) == sorted(fig.data[0].x)  # drawn in order
    assert f"Haringey ranks {rank} of {len(want)} authorities" in page.render()
    assert fig.layout.shapes[0].x0 == 22.5  # England's line


def _many(n: int = 40) -> pd.DataFrame:
    """n authorities with re-referral rates 1..n (authority k has k), England 20."""
    rows = [{"area_code": f"E0600{k:04d}", "area_name": f"Area {k}", "level": "la",
             "region_code": "E12000001", "series": "re_referral_rate", "variant": "",
             "date": pd.Timestamp("2023-03-31"), "value": float(k), "unit": "%", "kind": "rate"}
            for k in range(1, n + 1)]
    rows.append({"area_code": "E92000001", "area_name": "England", "level": "national",
                 "region_code": None, "series": "re_referral_rate", "variant": "",
                 "date": pd.Timestamp("2023-03-31"), "value": 20.0, "unit": "%", "kind": "rate"})
    return pd.DataFrame(rows)


def test_ranking_shows_the_area_its_neighbours_and_the_extremes_not_everyone():
    near = ["E06000010", "E06000030"]
    page = data_page(_many(), area="Area 20", rank_series="re_referral_rate", neighbours=near)
    names = list(figures(page)[-1].data[0].y)
    # the 5 highest (40..36 are ranks 1-5), the 5 lowest (5..1), the area (rank 21), its two
    # neighbours (10 is rank 31, 30 is rank 11) and England: 14 bars, not 40
    want = {f"{k}. Area {41 - k}" for k in (*range(1, 6), *range(36, 41), 21, 31, 11)}
    assert set(names) == want | {"England"}
    assert "27 authorities between them are left out" in page.render()
    # without neighbours the authorities either side of the area are shown instead
    plain = list(figures(data_page(_many(), area="Area 20",
                                   rank_series="re_referral_rate"))[-1].data[0].y)
    assert {f"{k}. Area {41 - k}" for k in range(18, 25)} <= set(plain)


def test_the_verdict_comes_first_and_names_the_series(sample_table):
    page = data_page(sample_table, area="Haringey", rank_series="re_referral_rate",
                     neighbours=["E09000007", "E09000002"])
    assert page.sections[0].heading == "Verdict"
    v = page.verdict
    at = sample_table[(sample_table.area_name == "Haringey")
                      & (sample_table.series == "re_referral_rate")
                      & (sample_table.date == "2023-03-31")]["value"].iloc[0]
    assert f"Haringey's re-referral rate stood at {at:.3g}" in v
    assert "England's 22.5" in v and "statistical neighbours" in v
    assert "re_referral_rate" not in page.render().split("<main>")[1].split("<script")[0]


def test_ranking_a_count_leaves_out_the_england_total(sample_table):
    page = data_page(sample_table, area="Haringey", rank_series="referrals")
    assert not figures(page)[-1].layout.shapes
    assert "England" not in list(figures(page)[-1].data[0].y)
    assert "mostly reflects the size" in page.render()


def test_suppressed_values_are_not_ranked_and_the_page_says_so(sample_table):
    page = data_page(sample_table, area="Haringey", rank_series="re_referral_rate",
                     rank_date="2016-03-31")
    assert "1 authority has no value (suppressed or missing) and is not ranked" in page.render()
    assert not any("Camden" in y for y in figures(page)[-1].data[0].y)


def test_the_default_ranking_uses_a_rate(sample_table):
    page = data_page(sample_table, area="Haringey")
    assert figures(page)[-1].layout.title.text.startswith(
        "Re-referral rate: Haringey among the authorities")


def test_unknown_area_series_and_region_suggest_names(sample_table):
    with pytest.raises(UnknownNameError, match="did you mean 'Haringey'"):
        data_page(sample_table, area="Harringey")
    with pytest.raises(UnknownNameError, match="referrals"):
        data_page(sample_table, area="Haringey", series=["referals"])
    with pytest.raises(UnknownNameError, match="London"):
        data_page(sample_table, area="Haringey", region="Londn")


def test_missing_columns_are_named(sample_table):
    with pytest.raises(CarespiralError, match=r"lacks column.*unit"):
        data_page(sample_table.drop(columns=["unit"]), area="Haringey")


def test_without_region_codes_only_england_is_compared(sample_table, tmp_path):
    table = sample_table.drop(columns=["region_code"])
    page = data_page(table, area="Haringey", series=["re_referral_rate"])
    assert [tr.name for tr in figures(page)[0].data] == ["Haringey", "England"]
    assert "region is not known" in page.render()
    # an explicit region brings it back
    page = data_page(table, area="Haringey", series=["re_referral_rate"], region="London")
    assert [tr.name for tr in figures(page)[0].data] == ["Haringey", "London", "England"]
    assert data_report(table, tmp_path / "d.html", area="Haringey").exists()


@pytest.mark.parametrize(("raw", "level"), [("National", "national"), ("Regional", "regional"),
                                            ("Local authority", "la"), ("la", "la")])
def test_level_names(raw, level):
    assert level_of(raw) == level


def _with_population(table: pd.DataFrame) -> pd.DataFrame:
    """Add a child_population series: 50,000 children in every authority, 10x in a region."""
    rows = []
    for (code, name, level, region), _ in table.groupby(
            ["area_code", "area_name", "level", "region_code"], dropna=False):
        size = {"la": 50_000.0, "regional": 500_000.0, "national": 12_000_000.0}[level]
        for y in range(2009, 2024):
            rows.append({"area_code": code, "area_name": name, "level": level,
                         "region_code": region, "series": "child_population", "variant": "",
                         "date": pd.Timestamp(f"{y}-06-30"), "value": size + 1000 * (y - 2013),
                         "unit": "count", "kind": "stock", "source": "synthetic", "note": ""})
    return pd.concat([table, pd.DataFrame(rows)], ignore_index=True)


def test_counts_are_drawn_per_10000_children_when_the_population_is_known(sample_table):
    table = _with_population(sample_table)
    fig = figures(data_page(table, area="Haringey", series=["referrals"]))[0]
    haringey = table[(table.area_name == "Haringey") & (table.series == "referrals")]
    haringey = haringey.sort_values("date")
    pop = 50_000.0 + 1000 * (haringey["date"].dt.year - 2013)
    np.testing.assert_allclose(fig.data[0].y, haringey["value"] / pop * 1e4)
    title = fig.layout.yaxis.title.text.replace("<br>", " ")  # long titles wrap
    assert title == "referrals in the year to 31 March, per 10,000 children"


def test_values_without_a_population_estimate_are_left_out_and_said(sample_table):
    # England's referrals go back to 2009; population estimates start in 2011 here
    table = _with_population(sample_table)
    table = table[~((table.series == "child_population") & (table.date.dt.year < 2011))]
    page = data_page(table, area="Haringey", series=["referrals"])
    england = next(t for t in figures(page)[0].data if t.name == "England")
    assert pd.Timestamp(min(england.x)).year == 2011 and len(england.x) == 13  # 2011-2023
    assert np.isfinite(np.asarray(england.y, dtype=float)).all()
    assert "2 published values from years without a child population estimate" in page.render()


def test_a_count_ranking_is_per_10000_children_with_england(sample_table):
    table = _with_population(sample_table)
    page = data_page(table, area="Haringey", rank_series="referrals")
    fig = figures(page)[-1]
    at = table[(table.level == "la") & (table.series == "referrals")
               & (table.date == "2023-03-31")]
    want = at.assign(v=at["value"] / 60_000 * 1e4).sort_values("v", ascending=False)
    bars = _bars(fig)
    for k, r in enumerate(want.itertuples()):
        assert bars[f"{k + 1}. {r.area_name}"][0] == pytest.approx(r.v)
    england = table[(table.level == "national") & (table.series == "referrals")
                    & (table.date == "2023-03-31")]["value"].iloc[0]
    assert fig.layout.shapes[0].x0 == pytest.approx(england / 12_010_000 * 1e4)
    assert bars["England"][0] == pytest.approx(england / 12_010_000 * 1e4)
    assert "ranked per 10,000 children" in page.render()


def test_the_verdict_says_where_one_other_rate_stands(sample_table):
    from carespiral.reports.data_report import data_page

    page = data_page(sample_table, area="Haringey", series=["referrals", "re_referral_rate"],
                     rank_series="referrals")
    text = html.unescape(page.sections[0].blocks[0].markup)
    # Haringey's re-referral rate in 2023 against England's 22.5 (the sample's own figures)
    t = sample_table
    mine = t[(t.area_name == "Haringey") & (t.series == "re_referral_rate")
             & (t.date == "2023-03-31")]["value"].item()
    side = "above" if mine > 22.5 else "at or below"
    assert f"Its re-referral rate is {side} England's level at the latest date." in text
    assert "Of 1 other" not in text
