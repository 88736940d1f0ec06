"""Specs: the bundled ones read cleanly; every bad spec names the file and the line."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.observations import observations_for
from carespiral.calibration.spec import bundled_specs, read_spec
from carespiral.errors import FileFormatError, UnknownNameError

GOOD = """\
model = "workforce_spiral"
area = "Testshire"
period = [2018, 2023]

[parameters."Normal Leaving Rate"]
lower = 0.005
upper = 0.03

[parameters."Reference Caseload"]
lower = 10
upper = 30
prior = "normal"
mean = 17
sd = 3

[series.caseload]
error = "normal"
"""


def write(tmp_path, text: str):
    p = tmp_path / "spec.toml"
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_bundled_specs_read():
    assert {"national", "local"} <= set(bundled_specs())
    nat = read_spec("national")
    assert nat.model == "collapse_spiral" and nat.area == "England"
    assert len(nat.parameters) >= 4 and len(nat.series) >= 5
    loc = read_spec("local")
    assert loc.area is None and loc.scale  # the area comes from --area, the scale from data


def test_good_spec_parses(tmp_path):
    s = read_spec(write(tmp_path, GOOD))
    assert s.period == (2018, 2023)
    assert [p.name for p in s.parameters] == ["Normal Leaving Rate", "Reference Caseload"]
    assert s.parameters[1].prior.kind == "normal"
    assert s.series[0].error == "normal" and s.series[0].breaks == "refuse"


@pytest.mark.parametrize(("edit", "needle", "words"), [
    (lambda t: t.replace("upper = 0.03", "upper = 0.001"), "lower = 0.005", "bounds reversed"),
    (lambda t: t.replace("mean = 17", "mean = 45"), "mean = 45",
     "outside the bounds"),
    (lambda t: t.replace('error = "normal"', 'error = "poisson"'), 'error = "poisson"',
     "key error: expected one of 'normal', 'lognormal' or 'negbin', found text 'poisson'"),
    (lambda t: t.replace('prior = "normal"', 'prior = "gamma"'), 'prior = "gamma"',
     "key prior: expected one of"),
    (lambda t: t.replace("sd = 3", "sd = -3"), "sd = -3",
     "key sd: expected a number greater than 0, found -3"),
    (lambda t: t.replace("period = [2018, 2023]", "period = [2023, 2018]"), "period",
     "before the first"),
    (lambda t: t + "[series.referrals]\nbreaks = \"sometimes\"\n", 'breaks = "sometimes"',
     "key breaks: expected one of"),
    (lambda t: t + "colour = 3\n", "colour", "unknown key"),
])
def test_bad_specs_name_the_line(tmp_path, edit, needle, words):
    text = edit(GOOD)
    path = write(tmp_path, text)
    with pytest.raises(FileFormatError) as info:
        read_spec(path)
    msg = str(info.value)
    assert str(path) in msg and words in msg
    assert info.value.line == line_of(text, needle), msg


def test_invalid_toml_names_the_line(tmp_path):
    path = write(tmp_path, GOOD.replace("lower = 10", "lower = = 10"))
    with pytest.raises(FileFormatError) as info:
        read_spec(path)
    assert info.value.line == line_of(GOOD, "lower = 10")


def test_unknown_spec_name_suggests():
    with pytest.raises(UnknownNameError, match="national"):
        read_spec("nationa")


def test_unknown_parameter_for_the_model_names_the_line(tmp_path, workforce):
    text = GOOD.replace('[parameters."Reference Caseload"]', '[parameters."Reference Caseloads"]')
    spec = read_spec(write(tmp_path, text))
    with pytest.raises(FileFormatError) as info:
        spec.check_model(workforce)
    assert "Reference Caseloads" in str(info.value) and "did you mean" in str(info.value)
    assert info.value.line == line_of(text, "Reference Caseloads")


def test_bounds_beyond_the_model_are_refused(tmp_path, workforce):
    text = GOOD.replace("upper = 0.03", "upper = 0.09")  # the model allows up to 0.05
    spec = read_spec(write(tmp_path, text))
    with pytest.raises(FileFormatError, match="exceed the model") as info:
        spec.check_model(workforce)
    assert info.value.line == line_of(text, '[parameters."Normal Leaving Rate"]')


def _table(series: str, years, unit="cases per FTE", kind="ratio") -> pd.DataFrame:
    years = list(years)
    return pd.DataFrame({
        "series": series, "year": years, "variant": "",
        "date": pd.to_datetime([f"{y}-09-30" for y in years]),
        "value": np.linspace(15, 18, len(years)), "unit": unit, "kind": kind,
    })


def test_series_absent_for_the_area_names_the_line(tmp_path, workforce):
    spec = read_spec(write(tmp_path, GOOD))
    with pytest.raises(FileFormatError, match="no published values for Testshire") as info:
        observations_for(spec, workforce, _table("turnover_rate", range(2018, 2024)))
    assert info.value.line == line_of(GOOD, "[series.caseload]")


def test_series_the_model_lacks_names_the_line(tmp_path, workforce):
    text = GOOD + "\n[series.cp_plans]\nerror = \"lognormal\"\n"
    spec = read_spec(write(tmp_path, text))
    with pytest.raises(FileFormatError, match="no output with that role") as info:
        observations_for(spec, workforce, _table("caseload", range(2018, 2024)))
    assert info.value.line == line_of(text, "[series.cp_plans]")


def test_a_spanned_break_is_refused_unless_told_how(tmp_path, workforce):
    text = GOOD.replace("period = [2018, 2023]", "period = [2015, 2023]")
    spec = read_spec(write(tmp_path, text))
    data = _table("caseload", range(2015, 2024))  # workforce census break in 2017
    with pytest.raises(FileFormatError, match="spans the break 'workforce_census_2017'") as info:
        observations_for(spec, workforce, data)
    assert info.value.line == line_of(text, "[series.caseload]")
    after = read_spec(write(tmp_path, text.replace('error = "normal"',
                                                   'error = "normal"\nbreaks = "after"')))
    (obs,) = observations_for(after, workforce, data)
    assert list(obs.years) == list(range(2017, 2024))
    before = read_spec(write(tmp_path, text.replace('error = "normal"',
                                                    'error = "normal"\nbreaks = "before"')))
    (obs,) = observations_for(before, workforce, data)
    assert list(obs.years) == [2015, 2016]
    span = read_spec(write(tmp_path, text.replace('error = "normal"',
                                                  'error = "normal"\nbreaks = "span"')))
    (obs,) = observations_for(span, workforce, data)
    assert len(obs) == 9
