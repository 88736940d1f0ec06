"""The command line, through typer's test runner: happy paths and every kind of bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_models_lists_bundled_models_with_titles():
    res = invoke("models")
    assert res.exit_code == 0, res.output
    assert "workforce_spiral" in res.output and "Workforce spiral (teaching model)" in res.output
    assert "failure_demand" in res.output


@pytest.mark.parametrize("model", ["workforce_spiral", "failure_demand"])
def test_describe_shows_stocks_parameters_and_roles(model):
    res = invoke("describe", model)
    assert res.exit_code == 0, res.output
    assert "Stocks" in res.output and "Open Cases" in res.output
    assert "Parameters" in res.output and "establishment ->" in res.output


def test_run_writes_csv_with_requested_outputs(tmp_path):
    out = tmp_path / "run.csv"
    res = invoke("run", "workforce_spiral", "--set", "Referral Rate=300", "--set", "establishment=160",
                 "--outputs", "caseload,Social Workers", "--stop", "60", "--out", str(out))
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out, index_col="time")
    assert list(df.columns) == ["date", "Caseload", "Social Workers"]
    assert df.index[-1] == 60
    assert df["Social Workers"].iloc[0] == 160
    assert df["Caseload"].iloc[0] == pytest.approx(300 * 10 / 160)


def test_run_parquet_and_scenario(tmp_path):
    out = tmp_path / "run.parquet"
    res = invoke("run", "failure_demand", "--scenario", "heavy_compliance", "--out", str(out))
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert df["Failure Demand Share"].iloc[-1] > 0.5


def test_run_html_writes_a_self_contained_page(tmp_path):
    page = tmp_path / "run.html"
    res = invoke("run", "workforce_spiral", "--scenario", "demand_surge", "--html", str(page))
    assert res.exit_code == 0, res.output
    text = page.read_text(encoding="utf-8")
    assert "Plotly" in text and "Caseload" in text
    assert "<script src=\"http" not in text


def test_run_without_out_prints_a_summary():
    res = invoke("run", "workforce_spiral", "--stop", "12")
    assert res.exit_code == 0, res.output
    assert "Caseload" in res.output and "end" in res.output


def test_unknown_model_exits_2_listing_models_and_closest():
    res = invoke("run", "workforce_spirl")
    assert res.exit_code == 2
    assert "did you mean 'workforce_spiral'" in res.output
    assert "failure_demand" in res.output
    assert "Traceback" not in res.output


def test_unknown_parameter_names_the_closest_matches():
    res = invoke("run", "workforce_spiral", "--set", "Referal Rate=300")
    assert res.exit_code == 2
    assert "'Referral Rate'" in res.output


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ("Referral Rate=lots", "expected a number"),
        ("Referral Rate", "expected NAME=VALUE"),
        ("Referral Rate=-5", "outside its bounds [0, 2000]"),
        ("Funded Establishment=1e9", "outside its bounds [0, 1000]"),
    ],
)
def test_bad_values_are_clear_errors(setting, fragment):
    res = invoke("run", "workforce_spiral", "--set", setting)
    assert res.exit_code == 2
    assert fragment in res.output
    assert "Traceback" not in res.output


def test_malformed_mdl_reports_file_and_line(tmp_path):
    bad = tmp_path / "broken.mdl"
    bad.write_text(
        "{UTF-8}\nStock= INTEG (\n\tinflow,\n\t\t10)\n\t~\tPeople\n\t~\t\n\t|\n\n"
        "inflow= 3 + * (\n\t~\tPeople/Month\n\t~\t\n\t|\n\n"
        "FINAL TIME = 10\n\t~\tMonth\n\t~\t\n\t|\nINITIAL TIME = 0\n\t~\tMonth\n\t~\t\n\t|\n"
        "TIME STEP = 1\n\t~\tMonth\n\t~\t\n\t|\nSAVEPER = 1\n\t~\tMonth\n\t~\t\n\t|\n"
    )
    res = invoke("run", str(bad))
    assert res.exit_code == 2
    assert f"{bad}, line 9" in res.output
    assert "Traceback" not in res.output


def test_unreadable_scenario_reports_file_line_and_expectation(tmp_path):
    sc = tmp_path / "sc.toml"
    sc.write_text('title = "x"\n[params]\n"Referral Rate" = = 3\n')
    res = invoke("run", "workforce_spiral", "--scenario", str(sc))
    assert res.exit_code == 2
    assert f"{sc}, line 3" in res.output and "not valid TOML" in res.output


def test_a_failed_run_leaves_no_output_file(tmp_path):
    out = tmp_path / "result.csv"
    res = invoke("run", "workforce_spiral", "--start", "50", "--stop", "10", "--out", str(out))
    assert res.exit_code == 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_keeps_an_existing_output_file(tmp_path):
    out = tmp_path / "result.csv"
    out.write_text("precious\n")
    res = invoke("run", "workforce_spiral", "--set", "Referral Rate=-1", "--out", str(out))
    assert res.exit_code == 2
    assert out.read_text() == "precious\n"


def test_a_failure_while_writing_leaves_nothing_half_written(tmp_path, monkeypatch):
    out = tmp_path / "result.csv"

    def explode(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("time,partial\n0,")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", explode)
    res = invoke("run", "workforce_spiral", "--out", str(out))
    assert res.exit_code != 0
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_wrong_output_suffix_is_refused_before_running(tmp_path):
    res = invoke("run", "workforce_spiral", "--out", str(tmp_path / "x.txt"))
    assert res.exit_code == 2 and ".csv or .parquet" in res.output


def test_several_scenarios_are_overlaid_in_one_table(tmp_path):
    out = tmp_path / "both.csv"
    calm = tmp_path / "calm.toml"
    calm.write_text('title = "calm"\n[params]\n"Referral Rate" = 200\n')
    res = invoke("run", "workforce_spiral", "--scenario", "demand_surge", "--scenario", str(calm),
                 "--outputs", "Referral Rate", "--stop", "70", "--out", str(out))
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert set(df["scenario"]) == {"demand_surge", "calm"}
    assert df.loc[df.scenario == "calm", "Referral Rate"].eq(200).all()
    assert df.loc[(df.scenario == "demand_surge") & (df.time == 70), "Referral Rate"].item() == 350


def test_written_files_are_readable_by_others(tmp_path):
    import os
    import stat

    out = tmp_path / "run.csv"
    old = os.umask(0o022)
    try:
        assert invoke("run", "workforce_spiral", "--stop", "5", "--out", str(out)).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_describe_html_writes_the_model_report_with_the_loop_inventory(tmp_path):
    page = tmp_path / "model.html"
    res = invoke("describe", "collapse_spiral", "--html", str(page))
    assert res.exit_code == 0, res.output
    text = page.read_text(encoding="utf-8")
    # the loop inventory ships with the package, so the named loops reach the page
    assert "attrition spiral" in text and "Feedback loops" in text


def test_model_docs_ship_with_the_package():
    from carespiral.cli.describe import model_doc

    doc = model_doc("collapse_spiral")
    assert doc is not None and "```loop-inventory" in doc.read_text(encoding="utf-8")
    assert model_doc("workforce_spiral") is None
