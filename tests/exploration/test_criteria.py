"""Collapse criteria on hand-made trajectories with known answers; spec errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from carespiral.errors import CarespiralError
from carespiral.exploration import Growing, Threshold, classify, default_criteria, read_spec
from carespiral.exploration.criteria import first_sustained, read_criteria


def _ds(**series):
    t = np.arange(0.0, 25.0)
    data = {k: (("run", "time"), np.asarray(v, dtype=float)) for k, v in series.items()}
    return xr.Dataset(data, coords={"run": np.arange(len(next(iter(series.values())))), "time": t})


def test_first_sustained_counts_unbroken_months():
    cond = np.zeros((3, 25), dtype=bool)
    cond[0, 5:20] = True  # 15 months from 5: fires at 5 + 12
    cond[1, 2:10] = True  # broken streaks of 8 and 11 months never reach 12
    cond[1, 11:22] = True
    fired = first_sustained(cond, np.arange(25.0), 12)
    assert fired[0] == 17 and np.isnan(fired[1]) and np.isnan(fired[2])


def test_classify_reports_the_first_criterion_and_time():
    t = np.arange(25.0)
    caseload = np.array([np.full(25, 17.0), np.where(t >= 3, 30.0, 17.0), np.full(25, 17.0)])
    staff = np.array([np.full(25, 150.0), np.full(25, 150.0), np.where(t >= 10, 60.0, 150.0)])
    ds = _ds(caseload=caseload, staff=staff)
    crit = [Threshold("caseload", ">", 25, 12), Threshold("staff", "<", 0.5, 6, relative_to="est")]
    params = pd.DataFrame({"est": [150.0, 150.0, 150.0]})
    out = classify(ds, crit, params)
    assert list(out["regime"]) == ["sustainable", "collapse", "collapse"]
    assert out["collapse_time"].iloc[1] == 15 and out["collapse_time"].iloc[2] == 16
    assert out["criterion"].iloc[1].startswith("caseload") and out["criterion"].iloc[2].startswith("staff")


def test_relative_to_initial_and_growing():
    t = np.arange(25.0)
    backlog = np.array([np.full(25, 100.0), 100 * 1.05 ** t])
    ds = _ds(backlog=backlog)
    doubled = Threshold("backlog", ">", 2.0, 6, relative_to="initial")
    grows = Growing("backlog", months=12)
    # 1.05^t > 2 from t = 15; held 6 months -> 21. Growth every month from t = 1; 12 months -> 12.
    assert np.isnan(doubled.first_time(ds)[0]) and doubled.first_time(ds)[1] == 21
    assert np.isnan(grows.first_time(ds)[0]) and grows.first_time(ds)[1] == 12


def test_default_criteria_respect_units(workforce):
    from carespiral.pysd_runner import load

    wf = {c.variable: c for c in default_criteria(workforce)}
    assert wf["vacancy_rate"].value == 0.40  # a fraction in this model
    assert wf["social_workers_fte"].relative_to == "Funded Establishment"
    cs = {c.variable: c for c in default_criteria(load("collapse_spiral"))}
    assert cs["vacancy_rate"].value == 40.0  # percent, as the DfE publishes it
    # the establishment lever is FTE per child there, so the FTE variable is used instead
    assert cs["social_workers_fte"].relative_to == "Funded Establishment"
    assert cs["awaiting_assessment"].relative_to == "initial"


@pytest.mark.parametrize(("items", "message"), [
    ([{"type": "over", "variable": "x", "value": 1}], "type must be"),
    ([{"type": "above", "variable": "x"}], "needs a 'value'"),
    ([{"type": "above", "variable": "x", "value": 1, "colour": 2}], "unknown keys"),
    ([{"type": "above", "variable": "x", "value": 1, "months": -1}], "non-negative"),
])
def test_bad_criteria_are_named(items, message):
    with pytest.raises(CarespiralError, match=message):
        read_criteria(items, "s.toml")


@pytest.mark.parametrize(("text", "message"), [
    ('model = "workforce_spiral"\n', "nothing to vary"),
    ('model = "workforce_spiral"\ndesign = "grid"\n[uncertainties]\n"Referral Rate" = [1, 2]\n',
     "design must be one of"),
    ('model = "workforce_spiral"\n[uncertainties]\n"Referral Rate" = [300, 200]\n', "must be below"),
    ('model = "workforce_spiral"\nrun = 5\n[uncertainties]\n"Referral Rate" = [1, 2]\n',
     "line 2: key run: unknown key"),
    ('model = "workforce_spiral"\n[uncertainties\n', "line 2"),
])
def test_bad_specs_are_named(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(CarespiralError, match=message):
        read_spec(p)


def test_spec_names_are_checked_against_the_model(tmp_path, workforce):
    p = tmp_path / "s.toml"
    p.write_text('model = "workforce_spiral"\n[uncertainties]\n"Referal Rate" = [200, 300]\n')
    with pytest.raises(CarespiralError, match="did you mean 'Referral Rate'"):
        read_spec(p).bind(workforce)
    p.write_text('model = "workforce_spiral"\n[uncertainties]\n"Referral Rate" = [200, 3000]\n')
    with pytest.raises(CarespiralError, match="outside its bounds"):
        read_spec(p).bind(workforce)


def _first_sustained_by_brute_force(cond_row, times, months):
    # the first saved time t whose window [t - months, t] lies inside the run and holds throughout
    for t in times:
        window = (times >= t - months - 1e-9) & (times <= t)
        if t - times[window][0] >= months - 1e-9 and cond_row[window].all():
            return t
    return np.nan


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.booleans(), min_size=1, max_size=40), st.integers(min_value=0, max_value=12))
def test_first_sustained_matches_brute_force(bits, months):
    cond = np.array([bits])
    times = np.arange(float(len(bits)))
    got = first_sustained(cond, times, float(months))[0]
    want = _first_sustained_by_brute_force(cond[0], times, float(months))
    assert (np.isnan(got) and np.isnan(want)) or got == want


def test_a_model_without_roles_needs_explicit_criteria(fold_model, tmp_path):
    from carespiral.exploration.spec import spec_from_dict

    spec = spec_from_dict({"model": "x", "uncertainties": {"Drive": [-1, 1]}}, tmp_path / "s.toml")
    with pytest.raises(CarespiralError, match=r"give \[\[criteria\]\]"):
        spec.bind(fold_model)
    ok = spec_from_dict({"model": "x", "uncertainties": {"Drive": [-1, 1]},
                         "criteria": [{"type": "above", "variable": "Level", "value": 1.5}]})
    assert ok.bind(fold_model).criteria[0].variable == "Level"
