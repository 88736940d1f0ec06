"""Model.run_batch: the batch and PySD backends give the same layout and numbers, and
backend="auto" falls back to PySD for a model the batch backend refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.pysd_runner import load
from carespiral.pysd_runner.batch import UnsupportedConstructError
from carespiral.pysd_runner.batch.model import TimeInput
from carespiral.pysd_runner.protocol import Runner

MODELS = Path(__file__).parent / "models"


def test_auto_falls_back_to_pysd_for_a_model_the_batch_backend_refuses() -> None:
    m = load(MODELS / "pysd_only.mdl")  # Inflow = 2 * Rate (+ 0 * GET TIME VALUE)
    rates = pd.DataFrame({"Rate": [1.0, 2.0, 3.5]})
    with pytest.raises(UnsupportedConstructError, match="GET TIME VALUE"):
        m.run_batch(rates, backend="batch")
    ds = m.run_batch(rates, backend="auto", chunk_size=2, engine="numpy")  # batch-only options
    assert ds.attrs["engine"] == "pysd"
    t = ds["time"].to_numpy()
    # Euler on a constant inflow is exact: Stock(t) = 2 * Rate * t
    np.testing.assert_allclose(ds["Stock"].to_numpy(), 2 * rates[["Rate"]].to_numpy() * t)
    assert np.isnan(ds["blowup_time"].to_numpy()).all()
    red = m.run_batch(rates, backend="auto", reduce="final,annual_sum:Inflow")
    np.testing.assert_allclose(red["Stock:final"].to_numpy(), 2 * rates["Rate"] * 24)
    # one year of a constant flow of 2 * Rate a month
    np.testing.assert_allclose(red["Inflow:annual_sum"].to_numpy(),
                               np.repeat(24 * rates[["Rate"]].to_numpy(), 2, axis=1))
    assert list(red["period_end"].to_numpy()) == [12.0, 24.0]


def test_auto_uses_the_batch_backend_when_it_compiles_the_model() -> None:
    m = load("workforce_spiral")
    ds = m.run_batch(pd.DataFrame({"establishment": [150.0, 170.0]}), backend="auto")
    assert ds.attrs["engine"] in ("numpy", "numba")


@pytest.mark.parametrize("reduce", [None, "final,max,min,mean,above:caseload:18,annual_sum:"
                                    "Referrals Accepted,annual_mean:caseload,annual_end:Social Workers"])
def test_pysd_backend_has_the_batch_backends_layout_and_numbers(reduce) -> None:
    m = load("workforce_spiral")
    params = pd.DataFrame({"establishment": [150.0, 175.0], "Maximum Hiring Rate": [3.0, 4.5]},
                          index=pd.Index([7, 9], name="run"))
    kw = dict(outputs=["caseload", "Social Workers"], scenario="demand_surge", stop=96,
              reduce=reduce, period_offset=6 if reduce else 0.0)
    fast = m.run_batch(params, backend="batch", **kw)
    ref = m.run_batch(params, backend="pysd", **kw)
    assert set(ref.data_vars) == set(fast.data_vars)
    assert dict(ref.sizes) == dict(fast.sizes)
    assert list(ref["run"].to_numpy()) == [7, 9]
    for name in fast.data_vars:
        if fast[name].dtype.kind == "f":
            np.testing.assert_allclose(ref[name].to_numpy(), fast[name].to_numpy(), rtol=1e-9,
                                       atol=1e-9, err_msg=str(name))
    if reduce is None:
        assert "date" in ref.coords
        np.testing.assert_array_equal(ref["date"].to_numpy(), fast["date"].to_numpy())


def test_pysd_backend_takes_time_inputs_like_the_batch_backend() -> None:
    m = load("workforce_spiral")
    times = np.arange(0.0, 61.0)
    per_run = np.stack([300 + times, 320 - times], axis=1)  # one column per run
    kw = dict(outputs=["caseload"], stop=60, inputs={"Referral Rate": TimeInput(times, per_run)})
    fast = m.run_batch(pd.DataFrame(index=range(2)), backend="batch", **kw)
    ref = m.run_batch(pd.DataFrame(index=range(2)), backend="pysd", **kw)
    np.testing.assert_allclose(ref["Caseload"].to_numpy(), fast["Caseload"].to_numpy(),
                               rtol=1e-9)
    assert not np.allclose(ref["Caseload"].to_numpy()[0], ref["Caseload"].to_numpy()[1])


def test_pysd_backend_flags_blow_ups_as_the_batch_backend_does() -> None:
    m = load(Path(__file__).parents[1] / "batch" / "models" / "blowup.mdl")
    # X' = g X^2 - drain: explodes for a large g, goes below its bound 0 for a large drain
    params = pd.DataFrame({"Growth Rate": [10.0, 0.01, 0.01], "Drain": [0.0, 5.0, 0.0]})
    ref = m.run_batch(params, backend="pysd")
    fast = m.run_batch(params, backend="batch")
    assert list(ref["blowup_kind"].to_numpy()) == ["not finite", "negative", ""]
    for flag in ("blowup_kind", "blowup_variable"):
        assert list(ref[flag].to_numpy()) == list(fast[flag].to_numpy())
    np.testing.assert_array_equal(ref["blowup_time"].to_numpy(), fast["blowup_time"].to_numpy())
    assert ref.attrs["blowups"] == fast.attrs["blowups"] == 2


def test_backend_errors_are_clear() -> None:
    m = load("workforce_spiral")
    with pytest.raises(UnknownNameError, match="backend"):
        m.run_batch(None, backend="vectorised")
    with pytest.raises(CarespiralError, match="does not take chunk_size"):
        m.run_batch(None, backend="pysd", chunk_size=10)
    with pytest.raises(CarespiralError, match="give each parameter once"):
        m.run_batch(pd.DataFrame({"Referral Rate": [300.0], "referral_rate": [310.0]}))
    with pytest.raises(CarespiralError, match="give each parameter once"):
        m.run(params={"Referral Rate": 300.0, "referral_rate": 310.0})


def test_model_is_a_runner() -> None:
    assert isinstance(load("workforce_spiral"), Runner)
