"""Scenarios: named files beside the model, overrides, steps/pulses/ramps/tables, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from carespiral.errors import FileFormatError, UnknownNameError
from carespiral.pysd_runner import load, read_scenario


@pytest.fixture(scope="module")
def wf():
    return load("workforce_spiral")


def test_bundled_scenarios_are_found_by_name(wf):
    assert "demand_surge" in wf.scenarios
    assert "heavy_compliance" in load("failure_demand").scenarios


def test_step_input_switches_at_its_start(wf):
    df = wf.run(scenario="demand_surge", outputs=["Referral Rate"], stop=80, saveper=0.25)
    before = df.loc[df.index < 60, "Referral Rate"]
    after = df.loc[df.index >= 60, "Referral Rate"]
    assert (before == 250).all() and (after == 350).all()


def test_explicit_params_override_the_scenario(tmp_path, wf):
    path = tmp_path / "s.toml"
    path.write_text('[params]\n"Maximum Hiring Rate" = 2\n"Referral Rate" = 300\n')
    df = wf.run(scenario=path, params={"Referral Rate": 200}, outputs=["Referral Rate"], stop=10)
    assert (df["Referral Rate"] == 200).all()


def test_pulse_ramp_and_table_inputs(tmp_path, wf):
    path = tmp_path / "mixed.toml"
    path.write_text(
        """
title = "mixed"
[[inputs]]
name = "Referral Rate"
type = "pulse"
height = 50
start = 10
duration = 5
[[inputs]]
name = "referral_rate"
type = "ramp"
slope = 1
start = 20
end = 30
[[inputs]]
name = "establishment"
type = "table"
times = [0, 40]
values = [150, 190]
"""
    )
    df = wf.run(scenario=path, stop=40, time_step=1, saveper=1,
                outputs=["Referral Rate", "Funded Establishment"])
    rate = df["Referral Rate"]
    assert rate[9] == 250 and rate[10] == 300 and rate[14] == 300 and rate[15] == 250
    assert rate[25] == 255 and rate[35] == 260  # ramp held after its end
    np.testing.assert_allclose(df["Funded Establishment"], 150 + df.index.to_numpy())


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('[params]\n"Referral Rate" = \n', 2, "not valid TOML"),
        ('[params]\n"Referral Rate" = "high"\n', 2, "expected a number, found text 'high'"),
        ('title = "x"\n[[inputs]]\nname = "Referral Rate"\ntype = "wave"\n', 4,
         "key type: expected one of 'step', 'pulse', 'ramp', 'table', found text 'wave'"),
        ('[[inputs]]\nname = "Referral Rate"\ntype = "step"\nheight = 3\n', 1,
         "[[inputs]] number 1 (step), key start: missing"),
        ('colour = "red"\n', 1, "key colour: unknown key"),
        ('[[inputs]]\nname = "R"\ntype = "pulse"\nheight = 1\nstart = 2\nduration = -3\n', 6,
         "key duration: expected a number greater than 0, found -3"),
        ('params = 5\n', 1, "key params: expected a table, found 5"),
        ('inputs = [5]\n', 1, "key inputs, item 1: expected a table, found 5"),
    ],
)
def test_bad_scenario_files_name_file_and_line(tmp_path, text, line, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(FileFormatError) as info:
        read_scenario(path)
    assert info.value.path == path
    assert info.value.line == line
    assert fragment in str(info.value)


def test_scenario_naming_an_unknown_parameter(tmp_path, wf):
    path = tmp_path / "s.toml"
    path.write_text('[params]\n"Referal Rate" = 300\n')
    with pytest.raises(UnknownNameError, match="Referral Rate"):
        wf.run(scenario=path)


def test_unknown_scenario_name_lists_the_available_ones(wf):
    with pytest.raises(UnknownNameError, match="demand_surge"):
        wf.run(scenario="demand_surg")
