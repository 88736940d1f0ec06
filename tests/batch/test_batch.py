"""Batch semantics: N-in-one equals N singles, chunking, summaries, blow-ups, inputs, refusals."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError, UnknownNameError
from carespiral.pysd_runner import load
from carespiral.pysd_runner.batch import (
    Reduction,
    TimeInput,
    UnsupportedConstructError,
    compile_model,
)

REPO = Path(__file__).resolve().parents[2]
SPIRAL = REPO / "models" / "workforce_spiral.mdl"
LARGEST = max((REPO / "models").glob("*.mdl"), key=lambda p: p.stat().st_size)


def assert_same(a, b) -> None:
    """Bitwise equality (NaN equal to NaN) of two Datasets' variables."""
    assert set(a.data_vars) == set(b.data_vars)
    for v in a.data_vars:
        np.testing.assert_array_equal(a[v].to_numpy(), b[v].to_numpy(), err_msg=v)


def test_n_runs_in_one_batch_equal_n_single_runs(helpers) -> None:
    bm = compile_model(LARGEST)
    params = helpers.draws(bm.parameters, n=5, seed=7)
    batch = bm.run(params)
    for i in range(len(params)):
        single = bm.run(params.iloc[[i]])
        for v in single.data_vars:
            np.testing.assert_array_equal(batch[v].to_numpy()[i], single[v].to_numpy()[0],
                                          err_msg=f"run {i}: {v}")


@pytest.mark.parametrize("reduce", [None, "final,max,min,mean,annual_sum,annual_end"])
def test_results_do_not_depend_on_chunking(helpers, reduce) -> None:
    bm = compile_model(LARGEST)
    params = helpers.draws(bm.parameters, n=11, seed=3)
    whole = bm.run(params, reduce=reduce)
    chunked = bm.run(params, reduce=reduce, chunk_size=4)
    assert_same(whole, chunked)


def test_summaries_equal_what_the_trajectories_give(helpers) -> None:
    bm = compile_model(SPIRAL)
    params = pd.DataFrame({"Referral Rate": [250.0, 320.0, 400.0]})
    outs = ["Social Workers", "Leaving", "Caseload"]
    dt = 0.25
    traj = bm.run(params, outputs=outs, saveper=dt)
    red = bm.run(params, outputs=outs, saveper=1.0,
                 reduce=["final", "max", "min", "mean", "annual_sum:Leaving",
                         "annual_end:Social Workers", "above:Caseload:20", "annual_mean"])
    t = traj["time"].to_numpy()
    on_saveper = np.isclose(t % 1.0, 0.0)
    for v in outs:
        x = traj[v].to_numpy()
        xs = x[:, on_saveper]
        np.testing.assert_allclose(red[f"{v}:final"], x[:, -1], rtol=0, atol=0)
        np.testing.assert_allclose(red[f"{v}:max"], xs.max(axis=1), rtol=0, atol=0)
        np.testing.assert_allclose(red[f"{v}:min"], xs.min(axis=1), rtol=0, atol=0)
        np.testing.assert_allclose(red[f"{v}:mean"], xs.mean(axis=1), rtol=1e-12)
        # annual means over each 12-month period's time steps [start, end)
        steps = x[:, :-1].reshape(len(params), -1, 48)
        np.testing.assert_allclose(red[f"{v}:annual_mean"], steps.mean(axis=2), rtol=1e-12)
    leaving = traj["Leaving"].to_numpy()[:, :-1].reshape(len(params), -1, 48)
    np.testing.assert_allclose(red["Leaving:annual_sum"], (leaving * dt).sum(axis=2), rtol=1e-12)
    sw = traj["Social Workers"].to_numpy()
    np.testing.assert_allclose(red["Social Workers:annual_end"], sw[:, 48::48], rtol=0, atol=0)
    assert red["period_end"].to_numpy()[0] == 12.0 and len(red["period_end"]) == 20
    above = (traj["Caseload"].to_numpy()[:, :-1] > 20).sum(axis=1) * dt
    np.testing.assert_allclose(red["Caseload:above:20"], above, rtol=0, atol=0)
    # the runs differ: the summaries are not all the same number
    assert len(set(np.round(red["Caseload:final"].to_numpy(), 6))) == 3


def test_annual_summaries_with_an_offset_follow_the_census_year() -> None:
    """Periods of 12 months starting at month 6 (30 September, the workforce census)."""
    bm = compile_model(SPIRAL)
    params = pd.DataFrame({"Referral Rate": [260.0, 380.0]})
    dt = 0.25
    traj = bm.run(params, outputs=["Leaving", "Social Workers"], saveper=dt)
    red = bm.run(params, outputs=["Leaving", "Social Workers"], period_offset=6.0,
                 reduce="annual_sum:Leaving,annual_end:Social Workers")
    ends = red["period_end"].to_numpy()
    assert ends[0] == 18.0 and ends[-1] == 234.0 and len(ends) == 19
    leaving = traj["Leaving"].to_numpy()[:, 24:24 + 19 * 48].reshape(2, 19, 48)
    np.testing.assert_allclose(red["Leaving:annual_sum"], (leaving * dt).sum(axis=2),
                               rtol=1e-12)
    sw = traj["Social Workers"].to_numpy()
    np.testing.assert_array_equal(red["Social Workers:annual_end"], sw[:, 72::48][:, :19])
    with pytest.raises(CarespiralError, match="period offset"):
        bm.run(params, period_offset=12.0, reduce="annual_sum")


def test_blow_ups_are_flagged_per_run_and_spare_the_others(helpers) -> None:
    bm = compile_model(helpers.models / "blowup.mdl")
    params = pd.DataFrame({"Growth Rate": [0.01, 5.0, 0.0, 0.01],
                           "Drain": [0.0, 0.0, 1.0, 0.05]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow in one run must not warn or raise
        ds = bm.run(params)
    bt = ds["blowup_time"].to_numpy()
    assert np.isnan(bt[0]) and np.isnan(bt[3])
    assert ds["blowup_variable"].to_numpy()[1] == "X"
    assert ds["blowup_kind"].to_numpy()[1] == "not finite"
    assert 0 < bt[1] < 20
    assert not np.isfinite(ds["X"].to_numpy()[1, -1])
    # Drain 1 empties X (initially 1) in one month; seen at the first saved time after
    assert ds["blowup_kind"].to_numpy()[2] == "negative"
    assert ds["blowup_variable"].to_numpy()[2] == "X" and bt[2] == 2.0
    assert ds.attrs["blowups"] == 2
    for i in (0, 3):
        alone = bm.run(params.iloc[[i]])
        np.testing.assert_array_equal(ds["X"].to_numpy()[i], alone["X"].to_numpy()[0])
        assert np.all(np.isfinite(alone["X"].to_numpy()))


def test_unsupported_construct_is_refused_naming_it_and_the_variable(helpers) -> None:
    with pytest.raises(UnsupportedConstructError) as err:
        compile_model(helpers.models / "unsupported.mdl")
    assert "GET TIME VALUE" in str(err.value) and "'Noise'" in str(err.value)
    assert err.value.variable == "Noise"


def test_delay3_keeps_order_three_like_vensim(helpers) -> None:
    """DELAY3 of 0.5 with TIME STEP 0.25: Vensim keeps 3 stages (PySD would lower to 2)."""
    ds = compile_model(helpers.models / "delay3_short.mdl").run(saveper=0.25)
    dt, delay = 0.25, 0.5
    t = np.arange(0, 10 + dt / 2, dt)
    inp = 1 + 3 * (t + dt / 2 > 2)
    stocks = np.full(3, inp[0] * delay / 3)  # Vensim: three stocks, each holding input*delay/3
    expected = []
    for k in range(len(t)):
        out = stocks / (delay / 3)
        expected.append(out[2])
        stocks = stocks + dt * (np.array([inp[k], out[0], out[1]]) - out)
    np.testing.assert_allclose(ds["Delayed"].to_numpy()[0], expected, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pysd_out = load(helpers.models / "delay3_short.mdl").run(time_step=0.25,
                                                                saveper=0.25)["Delayed"]
    assert np.max(np.abs(pysd_out.to_numpy() - np.asarray(expected))) > 0.1


def test_time_inputs_match_pysd_time_series() -> None:
    model = load(SPIRAL)
    bm = compile_model(SPIRAL)
    times = np.arange(0, 241, 1.0)
    shared = pd.Series(250 + 100 * (times >= 60) + 0.2 * times, index=times)
    per_run = pd.DataFrame({0: shared, 1: shared * 1.2})
    ds = bm.run(pd.DataFrame(index=range(2)), inputs={"Referral Rate": per_run})
    ds_shared = bm.run(n=1, inputs={"referral_rate": TimeInput(times, shared.to_numpy())})
    for i, series in enumerate([shared, shared * 1.2]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = model.run(params={"Referral Rate": series}, outputs=["Social Workers"])
        np.testing.assert_allclose(ds["Social Workers"].to_numpy()[i],
                                   ref["Social Workers"].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(ds_shared["Social Workers"].to_numpy()[0],
                                  ds["Social Workers"].to_numpy()[0])


def test_names_and_values_are_checked() -> None:
    bm = compile_model(SPIRAL)
    # PySD python names work as well as Vensim names
    a = bm.run(pd.DataFrame({"referral_rate": [300.0]}), outputs=["social_workers"])
    b = bm.run(pd.DataFrame({"Referral Rate": [300.0]}), outputs=["Social Workers"])
    assert_same(a, b)
    with pytest.raises(UnknownNameError, match="Referral Rate"):
        bm.run(pd.DataFrame({"Referal Rate": [1.0]}))
    with pytest.raises(CarespiralError, match="stock"):
        bm.run(pd.DataFrame({"Social Workers": [1.0]}))
    with pytest.raises(CarespiralError, match="not numeric"):
        bm.run(pd.DataFrame({"Referral Rate": ["many"]}))
    with pytest.raises(CarespiralError, match="SAVEPER"):
        bm.run(saveper=0.3)
    with pytest.raises(UnknownNameError, match="summary"):
        bm.run(reduce="fnal")
    assert Reduction("above", "Caseload", 25.0).label("Caseload") == "Caseload:above:25"


def test_smooth_inside_a_feedback_loop_follows_euler(helpers) -> None:
    """SMOOTHI(Pressure, 1, 1) where Pressure = 99 / (100 * Perceived): plain Euler.

    PySD 3.14 takes the smooth's input as 0 for the first step in this structure (its output
    drops from 1 to 0.75); the same loop written with INTEG gives the Euler answer in PySD too.
    """
    ds = compile_model(helpers.models / "loop_smooth.mdl").run()
    dt, p = 0.25, 1.0
    expected = []
    for _ in range(9):
        expected.append(p)
        p = p + (99 / (100 * p) - p) / 1 * dt
    np.testing.assert_allclose(ds["Perceived"].to_numpy()[0], expected, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pysd_first = load(helpers.models / "loop_smooth.mdl").run()["Perceived"].to_numpy()[1]
    assert abs(pysd_first - 0.75) < 1e-12  # PySD's known deviation, kept visible here


def test_a_file_pysd_cannot_parse_is_a_file_format_error(helpers, tmp_path) -> None:
    from carespiral.errors import FileFormatError

    bad = tmp_path / "broken.mdl"
    text = (helpers.models / "blowup.mdl").read_text(encoding="utf-8")
    bad.write_text(text.replace("Growth Rate*X*X-Drain", "Growth Rate*X*X-Drain)("),
                   encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"broken\.mdl"):
        compile_model(bad)
    with pytest.raises(CarespiralError, match="does not exist"):
        compile_model(tmp_path / "missing.mdl")


def test_data_variables_are_time_inputs(helpers) -> None:
    data = compile_model(helpers.models / "datavar.mdl")  # Drain := GET DIRECT DATA(...)
    with pytest.raises(CarespiralError, match="'Drain' has no values"):
        data.run()
    series = pd.Series([0.0, 0.1, 0.05], index=[0.0, 10.0, 20.0])
    params = pd.DataFrame({"Growth Rate": [0.01, 0.02]})
    got = data.run(params, inputs={"Drain": series})
    # the same model with Drain a constant, overridden by the same time input
    same = compile_model(helpers.models / "blowup.mdl").run(params, inputs={"Drain": series})
    np.testing.assert_array_equal(got["X"].to_numpy(), same["X"].to_numpy())
    assert got["X"].to_numpy()[0, -1] != got["X"].to_numpy()[1, -1]


def test_division_by_zero_gives_inf_and_a_flag_not_an_error(helpers) -> None:
    ds = compile_model(helpers.models / "division.mdl").run()
    np.testing.assert_array_equal(ds["Ratio"].to_numpy()[0],
                                  [-0.5, -1.0, 5.0, 1.0, 0.5, 1 / 3, 0.25])  # XIDZ at time 2
    assert ds["Inverse"].to_numpy()[0, 3] == np.inf
    assert ds["Level"].to_numpy()[0, 1] == 1.0
    assert ds["blowup_time"].to_numpy()[0] == 2.0
    assert ds["blowup_variable"].to_numpy()[0] == "Level"
