"""`carespiral data list|show|plot` through typer's runner."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), terminal_width=200)


def test_list_series_and_coverage():
    res = invoke("data", "list", "--area", "haringey")
    assert res.exit_code == 0, res.output
    assert "re_referral_rate" in res.output and "2013-2023" in res.output
    assert "child_population" in res.output
    national = invoke("data", "list", "--level", "national")
    assert national.exit_code == 0 and "initial_assessments" in national.output


def test_list_areas_and_changes():
    res = invoke("data", "list", "--areas", "--level", "la")
    assert res.exit_code == 0, res.output
    assert "Haringey" in res.output and "E09000014" in res.output
    changes = invoke("data", "list", "--changes")
    assert changes.exit_code == 0 and "Westmorland and Furness" in changes.output
    problems = invoke("data", "list", "--problems")
    assert problems.exit_code == 0 and "turnover_rate for North East 2022" in problems.output


def test_show_case_insensitive_area_and_series():
    res = invoke("data", "show", "Re_Referral_Rate", "--area", "haringey")
    assert res.exit_code == 0, res.output
    assert "Haringey" in res.output and "17.8" in res.output and "2019-20" in res.output


def test_show_writes_csv(tmp_path):
    out = tmp_path / "refs.csv"
    res = invoke("data", "show", "referrals", "--area", "E92000001", "--out", str(out))
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out)
    assert t.loc[t["year"] == 2023, "value"].item() == 640430
    assert t["date"].iloc[-1] == "2023-03-31"


def test_show_boundary_change_lists_both_codes():
    res = invoke("data", "show", "cp_plans", "--area", "Dorset")
    assert res.exit_code == 0, res.output
    assert "E10000009" in res.output and "E06000059" in res.output
    assert "reorganised" in res.output


def test_user_mistakes_exit_2_with_suggestions(tmp_path):
    res = invoke("data", "show", "referals", "--area", "haringey")
    assert res.exit_code == 2 and "did you mean 'referrals'" in res.output
    res = invoke("data", "show", "referrals", "--area", "harringay")
    assert res.exit_code == 2 and "Haringey" in res.output
    res = invoke("data", "show", "referrals", "--out", str(tmp_path / "x.xlsx"))
    assert res.exit_code == 2 and ".csv" in res.output
    assert not (tmp_path / "x.xlsx").exists()
    res = invoke("data", "list", "--level", "county")
    assert res.exit_code == 2 and "unknown level" in res.output


def test_plot_writes_self_contained_html(tmp_path):
    out = tmp_path / "plot.html"
    res = invoke("data", "plot", "re_referral_rate", "--area", "haringey", "--html", str(out))
    assert res.exit_code == 0, res.output
    html = out.read_text()
    assert "Plotly.newPlot" in html and "<script src=\"http" not in html
    for name in ("Haringey", "Inner London", "England"):
        assert name in html
    bad = invoke("data", "plot", "referrals", "--html", str(tmp_path / "plot.png"))
    assert bad.exit_code == 2 and not (tmp_path / "plot.png").exists()


def test_the_data_report_draws_shipped_counts_per_10000_children():
    """The one per-10,000 rule (the data report's) on the shipped table: ONS estimate of the
    same calendar year as the figure."""
    from carespiral.data import load
    from carespiral.reports.data_report import data_page

    page = data_page(load(), area="haringey", series=["referrals"], rank_series="referrals")
    fig = next(b.fig for s in page.sections for b in s.blocks if hasattr(b, "fig"))
    assert [t.name for t in fig.data] == ["Haringey", "Inner London", "England"]
    har = fig.data[0]
    pop = load(series="child_population", area="haringey").set_index("year")["value"]
    refs = load(series="referrals", area="haringey").set_index("year")["value"]
    i = list(pd.to_datetime(har.x)).index(pd.Timestamp("2023-03-31"))
    assert har.y[i] == pytest.approx(refs[2023] / pop[2023] * 1e4)
    assert 3456 in [float(v) for v in har.customdata[:, 0]]  # hover keeps the published count
