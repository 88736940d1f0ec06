"""Running: outputs, the time grid, dates, and no state carried between runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError, ValueOutOfBoundsError
from carespiral.pysd_runner import load


@pytest.fixture(scope="module")
def wf():
    return load("workforce_spiral")


def test_run_returns_time_indexed_frame_with_dates(wf):
    df = wf.run(outputs=["caseload", "Social Workers"])
    assert df.index.name == "time"
    assert df.index[0] == 0 and df.index[-1] == wf.control("final_time")
    assert list(df.columns) == ["date", "Caseload", "Social Workers"]
    assert df["date"].iloc[0] == pd.Timestamp("2005-04-01")
    # month 12*(Y-2005) is 1 April Y (model-testing.md calendar)
    assert df.loc[12 * (2019 - 2005), "date"] == pd.Timestamp("2019-04-01")
    assert df.loc[12 * (2019 - 2005) + 6, "date"] == pd.Timestamp("2019-10-01")


def test_parameters_do_not_leak_into_later_runs(wf):
    base = wf.run(outputs=["Open Cases"])
    changed = wf.run(params={"Referral Rate": 400}, outputs=["Open Cases"], time_step=0.125, stop=100)
    again = wf.run(outputs=["Open Cases"])
    assert not np.allclose(changed["Open Cases"].iloc[:50], base["Open Cases"].iloc[:50])
    pd.testing.assert_frame_equal(base, again)
    assert len(again) == len(base)  # stop and time step were not kept either


def test_start_stop_time_step_and_saveper(wf):
    df = wf.run(start=12, stop=24, time_step=0.5, saveper=2, outputs=["Caseload"])
    assert list(df.index) == [12, 14, 16, 18, 20, 22, 24]
    with pytest.raises(CarespiralError, match="after start"):
        wf.run(start=10, stop=5)
    with pytest.raises(CarespiralError, match="shorter than the time step"):
        wf.run(time_step=1, saveper=0.5)


def test_out_of_bounds_and_non_numeric_values_are_refused(wf):
    with pytest.raises(ValueOutOfBoundsError, match=r"\[0, 2000\]"):
        wf.run(params={"Referral Rate": 5000})
    with pytest.raises(CarespiralError, match="expected a number"):
        wf.run(params={"Referral Rate": "lots"})
    with pytest.raises(CarespiralError, match="not a constant"):
        wf.run(params={"Caseload": 3})


def test_time_series_parameter(wf):
    t = np.arange(0, 241, 1.0)
    demand = pd.Series(np.where(t < 100, 250.0, 200.0), index=t)
    df = wf.run(params={"Referral Rate": demand}, outputs=["Referral Rate", "Open Cases"], time_step=1)
    assert df.loc[99, "Referral Rate"] == 250 and df.loc[101, "Referral Rate"] == 200
    # with less demand the open cases fall towards demand x duration = 2000
    assert df["Open Cases"].iloc[-1] == pytest.approx(2000, rel=1e-3)


def test_run_batch_equals_single_runs(wf):
    params = pd.DataFrame({"Referral Rate": [200.0, 300.0, 360.0], "Maximum Hiring Rate": [3, 2, 4]})
    ds = wf.run_batch(params, outputs=["Social Workers", "Open Cases"])
    assert ds["Open Cases"].shape == (3, len(ds.time))
    for i, row in params.iterrows():
        single = wf.run(params=row.to_dict(), outputs=["Open Cases"])
        np.testing.assert_allclose(ds["Open Cases"].isel(run=i).values, single["Open Cases"].values)


def test_run_batch_backends_agree_and_unknown_backend_is_refused(wf):
    params = pd.DataFrame({"Referral Rate": [250.0, 345.0]})
    fast = wf.run_batch(params, outputs=["Open Cases", "Burnout"])
    reference = wf.run_batch(params, outputs=["Open Cases", "Burnout"], backend="pysd")
    for name in ("Open Cases", "Burnout"):
        np.testing.assert_allclose(fast[name].values, reference[name].values, rtol=1e-9, atol=1e-12)
    with pytest.raises(CarespiralError, match="unknown backend"):
        wf.run_batch(params, backend="numba")
