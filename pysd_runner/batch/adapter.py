"""`run_batch(model, params, ...)`: the batch backend behind `Model.run_batch`.

Takes the runner's `Model` (names by Vensim name, Python name or catalogue role; declared bounds;
scenarios) and runs all rows of `params` on the compiled batch model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from carespiral.errors import CarespiralError, ValueOutOfBoundsError
from carespiral.pysd_runner.batch.model import TimeInput, compile_model
from carespiral.pysd_runner.batch.random_streams import stream_positions
from carespiral.pysd_runner.batch.recording import Reduction, parse_reduce
from carespiral.pysd_runner.limits import check_size
from carespiral.pysd_runner.protocol import Runner
from carespiral.pysd_runner.run_inputs import grid_times, scenario_constants, scenario_series

__all__ = ["run_batch"]


def run_batch(
    model: Runner,
    params: pd.DataFrame | None = None,
    outputs: Sequence[str] | None = None,
    saveper: float | None = None,
    scenario: Any = None,
    start: float | None = None,
    stop: float | None = None,
    time_step: float | None = None,
    reduce: str | Sequence[str | Reduction] | None = None,
    inputs: Mapping[str, Any] | None = None,
    period: float = 12.0,
    period_offset: float = 0.0,
    chunk_size: int | None = None,
    scheduler: Any = None,
    progress: Callable[[int, int], None] | None = None,
    check_bounds: bool = True,
    engine: str | None = None,
    seed: int = 0,
    first_run: int = 0,
    streams: np.ndarray | None = None,
) -> xr.Dataset:
    """One run per row of `params` (names: Vensim, Python or role), all at once.

    Outputs default to the model's stocks and catalogue outputs. With `reduce`, per-run
    summaries instead of trajectories. A scenario's constants fill columns `params` does not
    give; its time-varying inputs start from each run's own value of the variable.
    `engine`: "numpy", "numba" or None ("auto"); see `BatchModel.run`. `seed`: the RANDOM
    functions' seed; row i draws from the stream (seed, first_run + i) whatever the chunks or
    engine. `first_run`: the position of the first row in a larger ensemble run in pieces
    (default 0), so that the pieces draw what one run of the whole ensemble would. Both are
    whole numbers from 0. `streams`: instead, each row's own stream position (rows may share
    one: common random numbers in one call).
    """
    params = pd.DataFrame(index=pd.RangeIndex(1, name="run")) if params is None else params
    if not isinstance(params, pd.DataFrame):
        raise CarespiralError("params must be a pandas DataFrame with one row per run")
    stream_positions(seed, first_run, len(params), streams)  # before the model is compiled
    bm = compile_model(Path(model.mdl_path))
    cols: dict[str, np.ndarray] = {}
    for col in params.columns:
        if "[" in str(col):  # one element of a subscripted constant: the batch model's name
            cols[bm.resolve(str(col))] = params[col].to_numpy(dtype=float)
            continue
        name = model.resolve(str(col))
        p = model.parameter(name)  # raises for a name that is not a settable constant
        if p.name in cols:
            raise CarespiralError(f"params columns {col!r} and another both set {p.name!r}; "
                                  "give each parameter once")
        try:
            vals = params[col].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise CarespiralError(f"params column {col!r} is not numeric") from None
        if check_bounds and len(vals):
            for x in (np.nanmin(vals), np.nanmax(vals)):
                p.check(float(x))
            if np.isnan(vals).any():
                raise ValueOutOfBoundsError(f"params column {col!r} has missing values")
        cols[p.name] = vals
    names = list(outputs) if outputs else model.stocks + list(model.outputs.values())
    names = list(dict.fromkeys(bm.resolve(str(n)) if "[" in str(n) else model.resolve(n)
                               for n in names))
    _check_size(model, start, stop, time_step)
    sc = model.scenario(scenario) if scenario is not None else None
    times: dict[str, TimeInput] = {}
    if sc is not None:
        for name, v in scenario_constants(model, sc).items():
            cols.setdefault(name, np.full(len(params), v))
        if sc.inputs:
            t0 = model.control("initial_time") if start is None else float(start)
            t1 = model.control("final_time") if stop is None else float(stop)
            dt = model.control("time_step") if time_step is None else float(time_step)
            grid = grid_times(t0, t1, dt)
            names_in = {model.parameter(i.name).name for i in sc.inputs}
            bases = {n: cols.pop(n) for n in names_in if n in cols}
            for name, values in scenario_series(model, sc, bases, grid, dt).items():
                times[name] = TimeInput(grid, values)
    for name, series in (inputs or {}).items():
        real = model.resolve(name)
        if real in times:
            raise CarespiralError(f"{real!r} is both a scenario input and a time input")
        times[real] = series if isinstance(series, TimeInput) else TimeInput.from_pandas(series)
    frame = pd.DataFrame(cols, index=params.index)
    red = None
    if reduce is not None:  # summaries may name their variable by role too
        red = [Reduction(r.stat, None if r.var is None else model.resolve(r.var), r.threshold)
               for r in parse_reduce(reduce)]
    ds = bm.run(frame, outputs=names, saveper=saveper, start=start, stop=stop,
                time_step=time_step, reduce=red, inputs=times, period=period,
                period_offset=period_offset,
                chunk_size=chunk_size, scheduler=scheduler, progress=progress, n=len(params),
                engine=engine, seed=seed, first_run=first_run, streams=streams)
    if getattr(model, "start_date", None) is not None and "time" in ds.coords:
        from carespiral.pysd_runner.calendar import months_to_dates

        ds = ds.assign_coords(date=("time", months_to_dates(ds["time"].to_numpy(),
                                                            model.start_date)))
    return ds


def _check_size(model: Runner, start: float | None, stop: float | None,
                time_step: float | None) -> None:
    """Refuse a batch whose steps per run exceed the limit before anything is laid out on its
    grid (a scenario's inputs are). This reads TIME STEP at the start; the batch model checks
    again on the grid as it is, with the values the batch keeps (`BatchModel.prepare`)."""
    t0 = model.control("initial_time") if start is None else float(start)
    t1 = model.control("final_time") if stop is None else float(stop)
    dt = model.control("time_step") if time_step is None else float(time_step)
    if not (np.isfinite(t0) and np.isfinite(t1) and np.isfinite(dt)) or dt <= 0:
        return  # the batch backend explains these itself
    check_size(max(0.0, (t1 - t0) / dt), 0.0, f"a run of {model.name!r}",
               f"(({t1:g} - {t0:g}) / {dt:g})")
