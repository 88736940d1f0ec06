"""Results directories: saved results round-trip, re-render, and bad manifests are explained."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.errors import CarespiralError, FileFormatError
from carespiral.reports import (
    render_results,
    save_data_results,
    save_model_results,
    save_run_results,
)
from carespiral.reports.results import MANIFEST, load_manifest
from carespiral.results import read_table

LOOPS = {"R1": ["Social Workers", "Caseload", "Burnout Change", "Burnout", "Leaving"]}


@pytest.fixture
def result_dir(tmp_path, sample_runs, sample_graph, sample_parameters, sample_table):
    d = tmp_path / "results"
    save_run_results(d, sample_runs, title="Two runs", units={"Caseload": "cases/FTE"},
                     outputs=["Caseload"], shocks=[(43, "Baby P"), ("2020-03-23", "COVID")])
    save_model_results(d, sample_graph, sample_parameters, title="Structure", loops=LOOPS)
    save_data_results(d, sample_table, area="Haringey", series=["re_referral_rate"],
                      rank_series="re_referral_rate", directory_title="Test results")
    return d


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_saved_runs_read_back_unchanged(tmp_path, sample_runs, fmt):
    save_run_results(tmp_path, sample_runs, title="t", fmt=fmt)
    item = load_manifest(tmp_path)["items"][0]
    for label, rel in item["runs"].items():
        back = read_table(tmp_path / rel, index="time")
        pd.testing.assert_frame_equal(back, sample_runs[label], check_freq=False,
                                      check_index_type=False)


def test_render_results_writes_every_report_and_an_index(result_dir):
    written = render_results(result_dir)
    assert [p.name for p in written] == ["run.html", "model.html", "data.html", "index.html"]
    index = (result_dir / "index.html").read_text()
    for name in ("run.html", "model.html", "data.html"):
        assert f'href="{name}"' in index
    assert "Test results" in index
    # one plotly.js beside the pages, referenced by each
    assert (result_dir / "plotly.min.js").stat().st_size > 1_000_000
    assert 'src="plotly.min.js"' in (result_dir / "run.html").read_text()
    # shocks survive the manifest: a month and a date
    run_html = (result_dir / "run.html").read_text()
    assert "Baby P" in run_html and "23 Mar 2020" in run_html


def test_saving_again_replaces_the_item_of_the_same_name(result_dir, sample_runs):
    save_run_results(result_dir, {"only": sample_runs["baseline"]}, title="Replaced")
    items = load_manifest(result_dir)["items"]
    assert [it["name"] for it in items] == ["model", "data", "run"]
    assert items[-1]["title"] == "Replaced" and list(items[-1]["runs"]) == ["only"]


def test_index_lists_other_html_pages_too(result_dir):
    (result_dir / "extra.html").write_text("<html></html>")
    render_results(result_dir)
    assert 'href="extra.html"' in (result_dir / "index.html").read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "other", "version": 1, "items": []}', "carespiral-results"),
        ('{"format": "carespiral-results", "version": 9, "items": []}', "version 9"),
        ('{"format": "carespiral-results", "version": 1, "items": [{"kind": "sankey", '
         '"name": "a", "title": "t"}]}', "unknown kind 'sankey'"),
        ('{"format": "carespiral-results", "version": 1, "items": [{"kind": "run", '
         '"name": "../a", "title": "t"}]}', "plain file stem"),
        ('{"format": "carespiral-results", "version": 1, "items": [{"kind": "run", '
         '"name": "a", "title": "t"}]}', "needs 'runs'"),
    ],
)
def test_bad_manifests_are_explained(tmp_path, text, message):
    (tmp_path / MANIFEST).write_text(text)
    with pytest.raises(FileFormatError, match=message) as err:
        render_results(tmp_path)
    assert str(tmp_path / MANIFEST) in str(err.value)


def test_a_missing_result_file_is_named(result_dir):
    manifest = json.loads((result_dir / MANIFEST).read_text())
    missing = result_dir / manifest["items"][0]["runs"]["baseline"]
    missing.unlink()
    with pytest.raises(FileFormatError, match="does not exist") as err:
        render_results(result_dir)
    assert str(missing) in str(err.value)


def test_a_directory_without_manifest_is_refused(tmp_path):
    with pytest.raises(CarespiralError, match=r"no manifest\.json and no saved results"):
        render_results(tmp_path)


def test_cli_report_renders_the_directory(result_dir):
    res = CliRunner().invoke(app, ["report", str(result_dir)])
    assert res.exit_code == 0, res.output
    assert "index.html" in res.output
    assert (result_dir / "data.html").exists()


def test_cli_report_inline_makes_standalone_pages(result_dir):
    res = CliRunner().invoke(app, ["report", str(result_dir), "--inline"])
    assert res.exit_code == 0, res.output
    assert 'src="plotly.min.js"' not in (result_dir / "model.html").read_text()


def test_cli_report_on_a_bad_directory_exits_2_without_traceback(tmp_path):
    res = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert res.exit_code == 2
    assert "no such results directory" in res.output
    assert "Traceback" not in res.output


def test_calibration_and_exploration_items_render(tmp_path, calibration_result,
                                                   exploration_results, regime_map_result):
    from carespiral.reports import save_calibration_results, save_exploration_results

    d = tmp_path / "study"
    save_calibration_results(d, calibration_result)
    r = exploration_results
    save_exploration_results(d, [r["experiments"], r["discovery"], r["sensitivity"],
                                 r["bifurcation"], regime_map_result], title="Exploration",
                             map_inputs=("retention", "demand"))
    written = render_results(d)
    assert [p.name for p in written] == ["calibration.html", "exploration.html", "index.html"]
    assert (d / "calibration.html").read_text().count('class="cs-plot"') == 7
    html = (d / "exploration.html").read_text()
    assert "Regime map: collapse share by retention and demand" in html
    assert "Regime map: undisturbed and shocked runs" in html


def test_a_calibration_out_folder_renders_to_its_report(tmp_path, calibration_result):
    folder = calibration_result.save(tmp_path / "calib")
    res = CliRunner().invoke(app, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    assert (folder / "report.html").exists() and not (folder / "index.html").exists()


def test_an_exploration_out_folder_renders_its_results_together(tmp_path,
                                                                 exploration_results):
    r = exploration_results
    out = tmp_path / "explore-x"
    r["experiments"].save(out)  # explore writes the experiments at the top of --out
    r["discovery"].save(out / "discovery")
    r["sensitivity"].save(out / "sensitivity")
    written = render_results(out)
    assert [p.name for p in written] == ["report.html"]
    html = written[0].read_text()
    for heading in ("Runs and regimes", "Scenario discovery (PRIM)", "Global sensitivity"):
        assert f">{heading}</h2>" in html


def test_a_folder_of_results_gets_one_report_each_and_an_index(folder_of_results):
    from carespiral.reports.page import page_verdict
    from carespiral.reports.results import result_folders

    d = folder_of_results
    assert [p.name for p in result_folders(d)] == ["calibration-national", "explore-national",
                                                    "tipping-demand"]
    written = render_results(d)
    assert [str(p.relative_to(d)) for p in written] == [
        "calibration-national/report.html", "explore-national/report.html",
        "tipping-demand/report.html", "index.html"]
    # each result keeps its own page: the exploration is not merged with the tipping points
    explore = (d / "explore-national" / "report.html").read_text()
    tipping = (d / "tipping-demand" / "report.html").read_text()
    assert ">Runs and regimes</h2>" in explore and "Tipping points and hysteresis" not in explore
    assert ">Tipping points and hysteresis</h2>" in tipping and "Runs and regimes" not in tipping
    assert "range recorded by English authorities" in tipping  # the ranges saved beside it
    index = (d / "index.html").read_text()
    for link in ("calibration-national/report.html", "explore-national/report.html",
                 "tipping-demand/report.html"):
        assert f'href="{link}"' in index
    for kind in ("Calibration, in calibration-national/", "Exploration, in explore-national/",
                 "Tipping points, in tipping-demand/"):
        assert kind in index
    # each line carries the verdict the report was written with
    for page in ("explore-national", "tipping-demand"):
        verdict = page_verdict(d / page / "report.html")
        assert verdict and verdict[:60] in index.replace("&#x27;", "'")
    assert "Of 4,000 sampled scenarios" in index


def test_cli_report_on_a_folder_of_results_writes_the_index(folder_of_results):
    res = CliRunner().invoke(app, ["report", str(folder_of_results)])
    assert res.exit_code == 0, res.output
    assert (folder_of_results / "index.html").exists()
    assert "index.html" in res.output
    assert not (folder_of_results / "report.html").exists()  # nothing merged at the top


def test_cli_report_reads_the_saved_ranges_in_a_fresh_process(folder_of_results):
    # a new process has imported nothing but the command line: the kinds the folders hold
    # (here observed_ranges beside the tipping points) must still be known
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "from carespiral.cli import main; main()",
                           "report", str(folder_of_results / "tipping-demand")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    page = (folder_of_results / "tipping-demand" / "report.html").read_text()
    assert "range recorded by English authorities" in page
