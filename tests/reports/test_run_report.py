"""Run report: what is drawn equals what was run; shocks and thinning are placed and stated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.reports import run_report
from carespiral.reports.run_report import run_page

UNITS = {"Caseload": "cases/FTE", "Social Workers": "FTE"}


def figures(page):
    return [b.fig for s in page.sections for b in s.blocks if hasattr(b, "fig")]


def page_text(page) -> str:
    return page.render()


LABELS = {"Caseload": ("Caseload", "children per case-holding social worker (FTE)"),
          "Social Workers": ("Social workers in post", "FTE, at the date shown")}


def test_each_output_gets_a_figure_with_one_line_per_run_holding_the_run_values(sample_runs):
    page = run_page(sample_runs, title="t", units=UNITS, outputs=["Caseload", "Social Workers"],
                    model="collapse_spiral")
    figs = figures(page)
    # titles, axes and hovers use the catalogue's labels and units in words
    assert [f.layout.title.text for f in figs] == ["Caseload", "Social workers in post"]
    for fig, out in zip(figs, ["Caseload", "Social Workers"], strict=True):
        label, unit = LABELS[out]
        assert [tr.name for tr in fig.data] == list(sample_runs)
        for tr, frame in zip(fig.data, sample_runs.values(), strict=True):
            np.testing.assert_allclose(tr.y, frame[out].to_numpy())
            np.testing.assert_array_equal(tr.customdata, frame.index.to_numpy())  # model months
            assert unit in tr.hovertemplate and label in tr.hovertemplate
            assert "%{x|%d %b %Y}" in tr.hovertemplate and "month" not in tr.hovertemplate
        assert fig.layout.yaxis.title.text.replace("<br>", " ") == f"{label} ({unit})"
        assert fig.layout.xaxis.title.text == "Date"


def test_a_model_of_ones_own_keeps_its_names_and_gets_units_in_words(sample_runs):
    page = run_page(sample_runs, title="t", units={"Caseload": "Cases/FTE",
                                                   "Social Workers": "FTE"},
                    outputs=["Caseload"], model="my_model")
    fig = figures(page)[0]
    assert fig.layout.title.text == "Caseload"
    assert fig.layout.yaxis.title.text == "Caseload (cases per FTE)"


def test_the_verdict_comes_first_and_is_computed_from_the_runs(sample_runs):
    page = run_page(sample_runs, title="t", outputs=["Caseload", "Social Workers"],
                    model="collapse_spiral")
    assert page.sections[0].heading == "Verdict"
    text = page.sections[0].blocks[0].markup
    ends = {k: v["Caseload"].iloc[-1] for k, v in sample_runs.items()}
    assert "ends highest in demand surge" in text and f"({ends['demand surge']:,.3g})" in text
    assert "from April 2005 to" in text and "not forecasts" in text
    n = text.count(". ")
    assert 1 <= n <= 5


def test_a_falling_caseload_with_a_growing_queue_is_called_out(run_maker):
    run = run_maker(16, 0.1)
    run["Caseload"] = np.linspace(18.8, 11.9, len(run))
    run["Awaiting Assessment"] = np.linspace(42_000, 374_000, len(run))
    page = run_page({"collapse": run}, title="t", outputs=["Caseload", "Awaiting Assessment"],
                    model="collapse_spiral")
    text = page.sections[0].blocks[0].markup
    assert "caseload falls while children awaiting assessment grow 8.9-fold" in text


def test_runs_differ_by_colour_and_dash(sample_runs):
    fig = figures(run_page(sample_runs, title="t", outputs=["Caseload"]))[0]
    styles = {(tr.line.color, tr.line.dash) for tr in fig.data}
    assert len(styles) == 2
    assert len({c for c, _ in styles}) == 2 and len({d for _, d in styles}) == 2


def test_summary_table_gives_start_end_min_max_of_every_run(sample_runs):
    page = run_page(sample_runs, title="t", units=UNITS, outputs=["Caseload"])
    table = next(b.frame for s in page.sections for b in s.blocks if hasattr(b, "frame"))
    surge = sample_runs["demand surge"]["Caseload"]
    row = table[table["run"] == "demand surge"].iloc[0]
    assert row["start"] == surge.iloc[0] and row["end"] == surge.iloc[-1]
    assert row["lowest"] == surge.min() and row["highest"] == surge.max()
    assert row["unit"] == "children per case-holding social worker (FTE)"
    assert row["output"] == "Caseload"


def test_shocks_in_months_and_dates_are_marked_at_the_right_date(sample_runs):
    page = run_page(sample_runs, title="t", outputs=["Caseload"],
                    shocks=[(43, "Baby P public"), ("2020-03-23", "COVID lockdown"),
                            (500, "beyond the run")])
    fig = figures(page)[0]
    xs = [pd.Timestamp(s.x0) for s in fig.layout.shapes]
    frame = sample_runs["baseline"]
    expected_43 = frame["date"].iloc[43]  # saveper 1 month: row 43 is month 43
    assert abs(xs[0] - expected_43) < pd.Timedelta(hours=1)
    assert xs[1] == pd.Timestamp("2020-03-23")
    assert [a.text for a in fig.layout.annotations] == ["<b>1</b>", "<b>2</b>"]
    assert fig.layout.annotations[1].hovertext == "COVID lockdown (23 Mar 2020)"
    html = page.render()
    assert "Shocks: 1 = Baby P public (" in html and "2 = COVID lockdown (23 Mar 2020)" in html
    assert "beyond the run (month 500)" in html


def test_without_a_date_column_the_axis_is_model_months(sample_runs):
    runs = {k: v.drop(columns="date") for k, v in sample_runs.items()}
    fig = figures(run_page(runs, title="t", outputs=["Caseload"], shocks=[(43, "shock")]))[0]
    assert "months" in fig.layout.xaxis.title.text
    assert fig.layout.shapes[0].x0 == 43
    with pytest.raises(CarespiralError, match="no 'date' column"):
        run_page(runs, title="t", outputs=["Caseload"], shocks=[("2008-11-01", "shock")])


def test_long_runs_are_thinned_for_drawing_and_the_page_says_so(run_maker):
    long = {"fine": run_maker(16, 0.2, months=240, step=0.05)}  # 4801 points
    page = run_page(long, title="t", outputs=["Caseload"], max_points=1000)
    tr = figures(page)[0].data[0]
    assert len(tr.y) <= 1000
    assert tr.y[-1] == long["fine"]["Caseload"].iloc[-1]  # the end of the run is kept
    assert "are drawn from every k-th point" in page.render()


def test_unknown_output_names_the_run_and_suggests(sample_runs):
    with pytest.raises(UnknownNameError, match="did you mean 'Caseload'"):
        run_page(sample_runs, title="t", outputs=["caseload "])


@pytest.mark.parametrize(
    ("runs", "message"),
    [({}, "at least one run"), ({"a": pd.DataFrame()}, "no rows")],
)
def test_empty_input_is_refused(runs, message):
    with pytest.raises(CarespiralError, match=message):
        run_page(runs, title="t")


def test_bad_shock_is_refused(sample_runs):
    with pytest.raises(CarespiralError, match="neither a model month nor a date"):
        run_page(sample_runs, title="t", outputs=["Caseload"], shocks=[("soon", "x")])
    with pytest.raises(CarespiralError, match="pair"):
        run_page(sample_runs, title="t", outputs=["Caseload"], shocks=[43])


def test_run_report_writes_the_page(sample_runs, tmp_path):
    path = run_report(sample_runs, tmp_path / "run.html", title="Runs", units=UNITS)
    html = path.read_text()
    assert "<title>Runs</title>" in html and html.count('class="cs-plot"') == 2


def test_the_run_command_names_scenarios_by_their_titles(tmp_path):
    from typer.testing import CliRunner

    from carespiral.cli import app

    page, table = tmp_path / "run.html", tmp_path / "run.csv"
    calm = tmp_path / "calm_days.toml"  # a scenario file without a title is named by its stem
    calm.write_text('[params]\n"Referral Rate" = 200\n')
    res = CliRunner().invoke(app, ["run", "workforce_spiral", "--scenario", "demand_surge",
                                   "--scenario", str(calm), "--stop", "60",
                                   "--html", str(page), "--out", str(table)])
    assert res.exit_code == 0, res.output
    html = page.read_text(encoding="utf-8")
    title = html.split("<title>")[1].split("</title>")[0]
    assert "Demand surge" in title and "demand_surge" not in title
    assert "Demand surge" in res.output  # the verdict at the end
    assert set(pd.read_csv(table)["scenario"]) == {"demand_surge", "calm_days"}  # names


def test_the_run_verdict_says_which_runs_collapse_and_when():
    from carespiral.reports.run_regimes import run_regimes
    from carespiral.reports.run_report import verdict_of_runs

    t = pd.Index(np.arange(0.0, 121.0), name="time")
    calm = pd.DataFrame({"Caseload": np.full(len(t), 16.0)}, index=t)
    # above 25 from month 30: the criterion (above 25 for 12 months) is met at month 42
    surge = pd.DataFrame({"Caseload": np.where(t >= 30, 30.0, 16.0)}, index=t)
    runs = {"Calm": calm, "Surge": surge}
    assert run_regimes(runs, "workforce_spiral") == {
        "Calm": None, "Surge": (42.0, "caseload > 25 for 12 months")}
    text = verdict_of_runs(runs, ["Caseload"], "workforce_spiral")
    assert ("By the collapse criteria, Calm stays sustainable; Surge has collapsed by "
            "October 2008 (caseload above 25 for 12 months).") in text  # April 2005 + 42 months
    assert run_regimes(runs, "not_a_bundled_model") is None
    assert run_regimes({"x": calm[[]].assign(Other=1.0)}, "workforce_spiral") is None
