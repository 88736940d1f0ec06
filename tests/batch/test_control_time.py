"""Control variables that change over time (INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER).

Reference answers: Euler's method written out on the known grid (a step of 1 up to time 4,
then 0.25), i.e. products (1 + g * dt) and sums of t * dt; the stop and save rules of Vensim
and PySD (stop at the first time FINAL TIME does not exceed; save when the time since the start
is a multiple of SAVEPER). A control variable that reads a stock is refused with its name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch import TimeInput, compile_model
from carespiral.pysd_runner.batch.codegen import generate
from carespiral.pysd_runner.batch.lowering import UnsupportedConstructError
from carespiral.pysd_runner.batch.numba_engine import generate_numba
from carespiral.pysd_runner.batch.time_grid import build_grid

ENGINES = ["numpy", "numba"]
# the grid of TIME STEP = IF THEN ELSE(Time < 4, 1, 0.25), from 0 to FINAL TIME 8
GRID = np.r_[np.arange(0.0, 4.0, 1.0), np.arange(4.0, 8.0 + 1e-9, 0.25)]

CONTROL = """
FINAL TIME = {final} ~ Month ~|
INITIAL TIME = {initial} ~ Month ~|
SAVEPER = {saveper} ~ Month ~|
TIME STEP = {step} ~ Month ~|
"""


def write(tmp_path: Path, name: str, body: str, final: str = "8", initial: str = "0",
          saveper: str = "TIME STEP", step: str = "IF THEN ELSE(Time < 4, 1, 0.25)") -> Path:
    path = tmp_path / f"{name}.mdl"
    text = "{UTF-8}\n" + body + CONTROL.format(final=final, initial=initial, saveper=saveper,
                                               step=step)
    path.write_text(text + "\n\\\\\\---/// Sketch information\n", encoding="utf-8")
    return path


SCALAR = """
Growth = 0.1 ~ 1/Month ~|
Stock = INTEG(Growth * Stock, 1) ~ widgets ~|
Clock = INTEG(Input, 0) ~ ~|
Input = 0 ~ ~|
Pulses = INTEG(PULSE(6, 0), 0) ~ ~|
Stepped = STEP(1, 5.2) ~ ~|
"""

SUBSCRIPTED = """
Region : north, south ~ ~|
Growth[Region] = 0.1, 0.2 ~ 1/Month ~|
Stock[Region] = INTEG(Growth[Region] * Stock[Region], 1) ~ widgets ~|
"""


def euler_growth(g: float, times: np.ndarray) -> np.ndarray:
    """Euler's product for dS/dt = g S, S(0) = 1, on GRID, read at `times`."""
    values = np.cumprod(np.r_[1.0, 1.0 + g * np.diff(GRID)])
    return np.array([values[np.argmin(np.abs(GRID - t))] for t in times])


@pytest.mark.parametrize("engine", ENGINES)
def test_time_step_that_changes_matches_euler_on_its_grid(tmp_path, engine) -> None:
    bm = compile_model(write(tmp_path, "scalar", SCALAR))
    clock = TimeInput([0.0, 8.0], [0.0, 8.0])  # Input = Time
    ds = bm.run(outputs=["Stock", "Clock", "Pulses", "Stepped"], inputs={"Input": clock},
                engine=engine)
    assert ds.attrs["engine"] == engine
    np.testing.assert_allclose(ds["time"], GRID, rtol=0, atol=1e-12)  # SAVEPER = TIME STEP
    np.testing.assert_allclose(ds["Stock"][0], euler_growth(0.1, GRID), rtol=1e-13)
    # the Euler sum of Time: sum of t * dt over the steps before each time
    clock_sums = np.r_[0.0, np.cumsum(GRID[:-1] * np.diff(GRID))]
    np.testing.assert_allclose(ds["Clock"][0], clock_sums, rtol=1e-13)
    # PULSE(6, 0) lasts one TIME STEP, the step at time 6 (0.25): it adds 0.25, not 1
    pulses = ds["Pulses"][0].to_numpy()
    assert np.all(pulses[GRID <= 6.0] == 0.0)
    np.testing.assert_allclose(pulses[GRID > 6.0], 0.25, rtol=1e-15)
    # STEP switches half a step early: at 5 not yet (5 + 0.125 <= 5.2; with a step of 1 it
    # would, 5 + 0.5 > 5.2); at 5.25 on
    np.testing.assert_array_equal(ds["Stepped"][0], (GRID >= 5.25).astype(float))


@pytest.mark.parametrize("engine", ENGINES)
def test_subscripted_stocks_on_a_varying_grid(tmp_path, engine) -> None:
    bm = compile_model(write(tmp_path, "subs", SUBSCRIPTED, saveper="2"))
    ds = bm.run(pd.DataFrame(index=range(130)), outputs=["Stock"], engine=engine, threads=2,
                chunk_size=100)  # two chunks; the first in two threads' blocks
    times = np.arange(0.0, 8.1, 2.0)  # SAVEPER 2: every second time unit, whatever the step
    np.testing.assert_allclose(ds["time"], times, rtol=0, atol=1e-12)
    for region, g in (("north", 0.1), ("south", 0.2)):
        got = ds[f"Stock[{region}]"].to_numpy()
        np.testing.assert_allclose(got, np.broadcast_to(euler_growth(g, times), got.shape),
                                   rtol=1e-13)


@pytest.mark.parametrize("engine", ENGINES)
def test_final_time_that_changes_stops_the_run(tmp_path, engine) -> None:
    # the step changes at 4 and the run stops where FINAL TIME meets Time (5.5, not 100)
    bm = compile_model(write(tmp_path, "stop", SCALAR,
                             final="IF THEN ELSE(Time >= 5.5, Time, 100)"))
    ds = bm.run(outputs=["Stock"], inputs={"Input": TimeInput([0.0], [0.0])}, engine=engine)
    grid = GRID[GRID <= 5.5]
    np.testing.assert_allclose(ds["time"], grid, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds["Stock"][0], euler_growth(0.1, grid), rtol=1e-13)


def test_a_grid_that_stays_uniform_runs_the_ordinary_code(tmp_path) -> None:
    # FINAL TIME reads Time but the step never changes: the fixed-grid code, ending at 5
    bm = compile_model(write(tmp_path, "uniform", SCALAR, step="1",
                             final="IF THEN ELSE(Time >= 5, Time, 100)"))
    job = bm.prepare(outputs=["Stock"], inputs={"Input": TimeInput([0.0], [0.0])},
                     engine="numpy")
    assert job.grid is None and (job.t0, job.dt, job.nsteps, job.save_every) == (0, 1, 5, 1)
    assert "save_every" in job.gen.source and "DT[k]" not in job.gen.source
    ds = bm.run(outputs=["Stock"], inputs={"Input": TimeInput([0.0], [0.0])})
    np.testing.assert_allclose(ds["Stock"][0], 1.1 ** np.arange(6), rtol=1e-13)


def test_a_given_time_step_replaces_the_changing_one(tmp_path) -> None:
    bm = compile_model(write(tmp_path, "given", SCALAR))
    ds = bm.run(outputs=["Stock"], inputs={"Input": TimeInput([0.0], [0.0])}, time_step=0.5,
                saveper=1.0)
    np.testing.assert_allclose(ds["time"], np.arange(9.0), atol=1e-12)
    np.testing.assert_allclose(ds["Stock"][0], 1.05 ** (2 * np.arange(9.0)), rtol=1e-13)


@pytest.mark.parametrize("engine", ENGINES)
def test_summaries_on_a_varying_grid(tmp_path, engine) -> None:
    bm = compile_model(write(tmp_path, "reduce", SUBSCRIPTED))
    ds = bm.run(outputs=["Stock[south]"], reduce="final,max,mean", engine=engine)
    traj = euler_growth(0.2, GRID)  # saved at every step (SAVEPER = TIME STEP)
    np.testing.assert_allclose(ds["Stock[south]:final"], [traj[-1]], rtol=1e-13)
    np.testing.assert_allclose(ds["Stock[south]:max"], [traj.max()], rtol=1e-13)
    np.testing.assert_allclose(ds["Stock[south]:mean"], [traj.mean()], rtol=1e-13)
    with pytest.raises(CarespiralError, match=r"changes over time.*annual_\* need a fixed"):
        bm.run(outputs=["Stock[south]"], reduce="annual_sum", period=2.0, engine=engine)


def test_varying_and_fixed_sources_differ_only_when_asked(tmp_path) -> None:
    prog = compile_model(write(tmp_path, "src", SCALAR)).program
    outs = [prog.names["Stock"]]
    for gen in (generate, generate_numba):
        fixed, varying = (gen(prog, [], [prog.names["Input"]], outs, False, varying=v).source
                          for v in (False, True))
        assert "DT[k]" in varying and "DT" not in fixed and "save_every" in fixed


def test_control_variable_reading_a_stock_is_refused(tmp_path) -> None:
    body = SCALAR + "Big = Stock > 2 ~ ~|\n"
    bm = compile_model(write(tmp_path, "stock", body, final="IF THEN ELSE(Big, Time, 100)"))
    with pytest.raises(UnsupportedConstructError,
                       match=r"variable 'FINAL TIME' uses the stock 'Stock' \(through 'Big'\) "
                             r"in a control variable, which the batch backend does not support"):
        bm.run(inputs={"Input": TimeInput([0.0], [0.0])})
    smooth = SCALAR + "Smooth Clock = SMOOTH(Time, 2) ~ ~|\n"
    bm = compile_model(write(tmp_path, "smooth", smooth, step="IF THEN ELSE(Smooth Clock > 1, "
                             "0.5, 1)"))
    with pytest.raises(UnsupportedConstructError,
                       match=r"'TIME STEP' uses the stock inside 'Smooth Clock'"):
        bm.run(inputs={"Input": TimeInput([0.0], [0.0])})


@pytest.mark.parametrize("final", ["Horizon", "IF THEN ELSE(Time >= Horizon, Time, 100)"])
def test_parameters_the_control_variables_read_are_one_per_batch(tmp_path, final) -> None:
    body = SCALAR + "Horizon = 6 ~ Month ~|\n"
    bm = compile_model(write(tmp_path, "horizon", body, final=final, step="1", saveper="1"))
    flat = {"Input": TimeInput([0.0], [0.0])}
    ds = bm.run(pd.DataFrame({"Horizon": [3.0, 3.0]}), outputs=["Stock"], inputs=flat)
    np.testing.assert_allclose(ds["time"], np.arange(4.0))  # the given horizon, not 6
    with pytest.raises(CarespiralError, match=r"'Horizon' differs between runs but the control "
                                              r"variables .* read it"):
        bm.run(pd.DataFrame({"Horizon": [3.0, 4.0]}), inputs=flat)


def test_initial_time_that_reads_time_must_give_itself(tmp_path) -> None:
    path = write(tmp_path, "start", SUBSCRIPTED, initial="IF THEN ELSE(Time < 1, 2, 3)")
    with pytest.raises(CarespiralError, match=r"INITIAL TIME reads Time: at Time 0 it is 2, "
                                              r"at Time 2 it is 3"):
        compile_model(path).run()
    # a start that gives itself again (PySD evaluates INITIAL TIME at Time 0)
    grid = build_grid(compile_model(write(tmp_path, "start2", SUBSCRIPTED,
                                          initial="IF THEN ELSE(Time < 3, 1, 2)")).program, {})
    assert grid is not None and grid.t0 == 1.0 and grid.times[-1] == 8.0


def test_saveper_that_changes(tmp_path) -> None:
    # every step until 5, then every 2 time units from the start: 6 and 8
    grid = build_grid(compile_model(write(tmp_path, "save", SUBSCRIPTED,
                                          saveper="IF THEN ELSE(Time < 5, TIME STEP, 2)"))
                      .program, {})
    assert grid is not None
    expected = np.r_[GRID[GRID < 5], 6.0, 8.0]
    np.testing.assert_allclose(grid.saved_times, expected, atol=1e-12)


def test_javascript_target_takes_a_uniform_grid_and_refuses_a_varying_one(tmp_path) -> None:
    from carespiral.pysd_runner.batch.js_target import compile_js

    uniform = compile_model(write(tmp_path, "js1", SUBSCRIPTED, step="0.5", saveper="1",
                                  final="IF THEN ELSE(Time >= 3, Time, 100)"))
    js = compile_js(uniform)
    assert (js.t0, js.dt, js.nsteps, js.save_every) == (0.0, 0.5, 6, 2)
    with pytest.raises(CarespiralError, match=r"TIME STEP or SAVEPER changes over time; the "
                                              r"page runs one step size"):
        compile_js(compile_model(write(tmp_path, "js2", SUBSCRIPTED)))


@pytest.mark.parametrize("engine", ENGINES)
def test_time_step_read_from_a_lookup_table(tmp_path, engine) -> None:
    body = SUBSCRIPTED + "Step Size([(0,0)-(10,1)],(0,1),(3.999,1),(4,0.25),(10,0.25)) ~ ~|\n"
    bm = compile_model(write(tmp_path, "table", body, step="Step Size(Time)"))
    ds = bm.run(outputs=["Stock[north]"], engine=engine)
    np.testing.assert_allclose(ds["time"], GRID, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ds["Stock[north]"][0], euler_growth(0.1, GRID), rtol=1e-13)


BUILTINS = """
Growth = 0.1 ~ ~|
Stock = INTEG(Growth * Stock - Outflow, 1) ~ ~|
Outflow = DELAY1(Growth * Stock, 2) ~ ~|
Smoothed = SMOOTH3(Stock, 1.5) ~ ~|
Delayed = DELAY3(Stock, 3) ~ ~|
Fixed = DELAY FIXED(Stock, 1, 0) ~ ~|
Trend = TREND(Stock, 2, 0) ~ ~|
Ramped = RAMP(0.5, 1, 5) + STEP(2, 4.2) ~ ~|
Sampled = SAMPLE IF TRUE(Time > 5, Stock, 0) ~ ~|
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_stateful_builtins_on_a_varying_grid_equal_pysd(tmp_path, engine) -> None:
    """PySD re-evaluates the control variables at every step: its run of the same model (the
    step 0.5 then 0.125 from time 4, saving every step then every 0.5 from 6, stopping at 9.5)
    is an independent reference. DELAY FIXED keeps its length in steps from the start (2 steps
    of 0.5), as PySD's does."""
    import warnings

    import pysd

    path = write(tmp_path, "builtins", BUILTINS, final="IF THEN ELSE(Time >= 9.5, Time, 12)",
                 saveper="IF THEN ELSE(Time < 6, TIME STEP, 0.5)",
                 step="IF THEN ELSE(Time < 4, 0.5, 0.125)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pysd.read_vensim(str(path)).run()
    names = ["Stock", "Outflow", "Smoothed", "Delayed", "Fixed", "Trend", "Ramped", "Sampled",
             "TIME STEP", "SAVEPER", "FINAL TIME"]
    ds = compile_model(path).run(outputs=names, engine=engine)
    expected_times = np.r_[np.arange(0, 4, 0.5), np.arange(4, 6, 0.125), np.arange(6, 9.6, 0.5)]
    np.testing.assert_allclose(ds["time"], expected_times, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ref.index.to_numpy(dtype=float), expected_times, atol=1e-12)
    for v in names:
        np.testing.assert_allclose(ds[v][0], ref[v].to_numpy(dtype=float), rtol=1e-12,
                                   atol=1e-14, err_msg=v)


def test_control_variable_reading_a_time_input_or_random_is_refused(tmp_path) -> None:
    bm = compile_model(write(tmp_path, "input", SCALAR, step="IF THEN ELSE(Input > 1, 0.5, 1)"))
    with pytest.raises(CarespiralError, match=r"'Input' is given as a time input but the "
                                              r"control variables .* read it"):
        bm.run(inputs={"Input": TimeInput([0.0, 8.0], [0.0, 8.0])})
    bm = compile_model(write(tmp_path, "random", SUBSCRIPTED,
                             step="IF THEN ELSE(RANDOM UNIFORM(0, 1, 1) > 2, 0.5, 1)"))
    with pytest.raises(UnsupportedConstructError, match=r"'TIME STEP' uses a RANDOM function "
                                                        r"in a control variable"):
        bm.run()


def test_a_varying_grid_over_the_step_limit_is_refused_while_it_is_built(tmp_path,
                                                                         monkeypatch) -> None:
    # the step falls from 1 to 0.001 at time 4: 4 + 4,000 steps, over a limit of 100. The size
    # check before a run sees only the first step (8 steps), so the grid itself must refuse,
    # by the project's limit (CARESPIRAL_MAX_STEPS), not a limit of its own
    from carespiral.errors import RunTooLargeError
    from carespiral.pysd_runner import load

    path = write(tmp_path, "fine", SCALAR, step="IF THEN ELSE(Time < 4, 1, 0.001)")
    monkeypatch.setenv("CARESPIRAL_MAX_STEPS", "100")
    bm = compile_model(path)
    with pytest.raises(RunTooLargeError, match=r"more than 100 steps .*CARESPIRAL_MAX_STEPS"):
        bm.prepare(outputs=["Stock"], inputs={"Input": TimeInput([0.0], [0.0])})
    with pytest.raises(RunTooLargeError, match="CARESPIRAL_MAX_STEPS"):
        load(path).run_batch(pd.DataFrame({"Growth": [0.1]}), outputs=["Stock"],
                             backend="batch")
    monkeypatch.setenv("CARESPIRAL_MAX_STEPS", "5000")  # within the limit: it runs
    ds = bm.run(outputs=["Stock"], inputs={"Input": TimeInput([0.0], [0.0])}, engine="numpy")
    assert len(ds["time"]) == 4 + 4000 + 1
