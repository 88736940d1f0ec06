"""The units check (Simlin): bundled models are consistent, planted mistakes are found."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.pysd_runner.catalog import get_entry
from carespiral.pysd_runner.units import check_units

PLANTED = """{UTF-8}
Staff= INTEG (
\tHiring-Leaving,
\t\t10)
\t~\tFTE [0,?]
\t~\tStaff in post.
\t|

Hiring=
\t2
\t~\tFTE/Month [0,10]
\t~\tRecruits a month.
\t|

Leaving=
\tStaff*Leave Rate
\t~\tChildren/Month
\t~\tPlanted mistake: declared in children, computes FTE a month.
\t|

Leave Rate=
\t0.1
\t~\t1/Month [0,1]
\t~\tShare leaving a month.
\t|

Headcount Plus Hiring=
\tStaff+Hiring
\t~\tFTE
\t~\tPlanted mistake: adds a stock and a flow.
\t|

********************************************************
\t.Control
********************************************************~
\t\tSimulation Control Parameters
\t|

FINAL TIME  = 12
\t~\tMonth
\t~\tEnd.
\t|

INITIAL TIME  = 0
\t~\tMonth
\t~\tStart.
\t|

SAVEPER  = 1
\t~\tMonth [0,?]
\t~\tOutput step.
\t|

TIME STEP  = 0.25
\t~\tMonth [0,?]
\t~\tStep.
\t|

\\\\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
*View 1
$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0
///---\\\\\\
:L<%^E!@
"""


@pytest.fixture
def planted(tmp_path):
    path = tmp_path / "planted.mdl"
    path.write_text(PLANTED, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["collapse_spiral", "workforce_spiral", "failure_demand"])
def test_bundled_models_have_no_unit_findings(name):
    assert check_units(get_entry(name).path) == []


def test_planted_inconsistencies_are_found_with_both_units(planted):
    findings = check_units(planted)
    by_var = {}
    for f in findings:
        by_var.setdefault(f.variable, []).append(f)
    assert set(by_var) == {"Leaving", "Headcount Plus Hiring"}
    leaving = {(f.left, f.right) for f in by_var["Leaving"]}
    assert ("fte/month", "children/month") in leaving
    (mixed,) = by_var["Headcount Plus Hiring"]
    assert (mixed.left, mixed.right) == ("fte", "fte/month")
    assert "Staff" in (mixed.equation or "")


def test_cli_check_exit_codes(planted):
    runner = CliRunner()
    ok = runner.invoke(app, ["check", "collapse_spiral"])
    assert ok.exit_code == 0, ok.output
    assert "no findings" in ok.output
    bad = runner.invoke(app, ["check", str(planted)])
    assert bad.exit_code == 1
    assert "Leaving" in bad.output and "fte/month" in bad.output and "children/month" in bad.output
    unknown = runner.invoke(app, ["check", "collapse_spiro"])
    assert unknown.exit_code == 2
    assert "collapse_spiral" in unknown.output


def test_a_unit_mistake_planted_in_the_main_model_is_found(tmp_path):
    """The check really reads the main model: one wrong unit there yields findings naming it."""
    text = get_entry("collapse_spiral").path.read_text(encoding="utf-8")
    # a flow (children a month) added to a stock; Desired Assessments, a stock over a constant, makes
    # no simultaneous equation (CP Plans Ended now does, through Workload Pressure: B6)
    wrong = text.replace("Open Cases+CP Plans\n", "Open Cases+Desired Assessments\n", 1)
    assert wrong != text
    path = tmp_path / "collapse_spiral.mdl"
    path.write_text(wrong, encoding="utf-8")
    findings = check_units(path)
    mixed = [f for f in findings if f.variable == "Children in Need"]
    assert mixed and (mixed[0].left, mixed[0].right) == ("children", "children/month")
