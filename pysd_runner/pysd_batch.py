"""`Model.run_batch` on PySD: one PySD run per row, laid out as the batch backend lays out its
results (the reference, and the fallback for models the batch backend refuses).

The result has the batch backend's shape: trajectories (run x time), or per-run summaries with
`reduce` (computed by the batch backend's own recorder from every step of each run), and the
per-run blow-up flags `blowup_time`, `blowup_variable`, `blowup_kind` (the first saved time at
which a stock or an output is NaN or infinite, or a stock whose lower bound is 0 is negative).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError

if TYPE_CHECKING:
    import xarray as xr

    from carespiral.pysd_runner.model import Model
    from carespiral.pysd_runner.scenario import Scenario

__all__ = ["run_batch_pysd"]


def run_batch_pysd(
    model: Model,
    params: pd.DataFrame | None,
    outputs: Sequence[str] | None = None,
    saveper: float | None = None,
    scenario: str | Path | Scenario | None = None,
    start: float | None = None,
    stop: float | None = None,
    time_step: float | None = None,
    reduce: str | Sequence[Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    period: float = 12.0,
    period_offset: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    check_bounds: bool = True,
    seed: int | None = 0,
    first_run: int = 0,
    streams: np.ndarray | None = None,
) -> xr.Dataset:
    import xarray as xr

    from carespiral.pysd_runner.batch.recording import ReduceRecorder, Reduction, parse_reduce

    if seed is not None:
        from carespiral.pysd_runner.batch.random_streams import stream_positions

        positions = stream_positions(seed, first_run, 1 if params is None else len(params),
                                     streams)
    params = pd.DataFrame(index=pd.RangeIndex(1, name="run")) if params is None else params
    if not isinstance(params, pd.DataFrame):
        raise CarespiralError("params must be a pandas DataFrame with one row per run")
    if len(params) == 0:
        raise CarespiralError("params has no rows: nothing to run")
    names = list(outputs) if outputs else model.stocks + list(model.outputs.values())
    names = list(dict.fromkeys(model.resolve(n) for n in names))
    reductions = [Reduction(r.stat, None if r.var is None else model.resolve(r.var), r.threshold)
                  for r in parse_reduce(reduce)]
    if reduce is not None and not reductions:
        raise CarespiralError("reduce names no summary (e.g. final,max)")
    for r in reductions:
        if r.var is not None and r.var not in names:
            names.append(r.var)
    sc = model.scenario(scenario) if scenario is not None else None
    grid = model.time_grid(start, stop, time_step, saveper)
    # summaries integrate over every step; trajectories keep the saved times only
    every = bool(reductions)
    recorded = list(dict.fromkeys(names + model.stocks))
    model._check_size(grid.every_step() if every else grid, len(recorded), len(params))
    series = _time_inputs(model, inputs, len(params))
    frames = []
    for i, (_, row) in enumerate(params.iterrows()):
        given: dict[str, Any] = dict(row.to_dict())
        for name, values in series.items():
            if name in given:
                raise CarespiralError(f"{name!r} is given both as a parameter and a time input")
            given[name] = values if values.ndim == 1 else values.iloc[:, i]
        values = model._run_values(given, sc, grid, check=check_bounds)
        # row i draws from PySD's generator seeded (seed, its position: first_run + i or
        # streams[i]): reproducible, and the same whatever else is in the batch
        row_seed = None if seed is None else [seed, int(positions[i])]
        df = model._simulate(values, grid.every_step() if every else grid, recorded, row_seed)
        frames.append(df)
        if progress:
            progress(i + 1, len(params))
    times = frames[0].index.to_numpy(dtype=float)
    stacked = {n: np.stack([f[n].to_numpy(dtype=float) for f in frames]) for n in recorded}
    blow = _blowups(model, stacked, times)
    run = params.index.rename("run") if params.index.name != "run" else params.index
    coords: dict[str, Any] = {"run": run.to_numpy()}
    data: dict[str, Any] = {}
    if reductions:
        save_every = max(1, round(grid.saveper / grid.time_step))
        nsteps = len(times) - 1
        rec = ReduceRecorder(len(params), names, reductions, save_every, nsteps, grid.start,
                             grid.time_step, period, period_offset)
        for k, t in enumerate(times):
            rec(k, float(t), tuple(stacked[n][:, k] for n in names))
        coords["period_end"] = np.round(
            grid.start + period_offset + period * np.arange(1, rec.n_periods + 1), 10)
        for label, v in rec.results().items():
            data[label] = (("run", "period_end"), v) if v.ndim == 2 else (("run",), v)
    else:
        coords["time"] = times
        data.update({n: (("run", "time"), stacked[n]) for n in names})
    data.update({k: (("run",), v) for k, v in blow.items()})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(model=model.mdl_path.name, time_step=grid.time_step,
                    blowups=int(np.isfinite(blow["blowup_time"]).sum()), engine="pysd")
    if model.start_date is not None and "time" in ds.coords:
        from carespiral.pysd_runner.calendar import months_to_dates

        ds = ds.assign_coords(date=("time", months_to_dates(times, model.start_date)))
    return ds


def _time_inputs(model: Model, inputs: Mapping[str, Any] | None, nruns: int
                 ) -> dict[str, pd.Series | pd.DataFrame]:
    """Time-varying inputs (a TimeInput, a Series for all runs, or a DataFrame with one column
    per run) as pandas objects indexed by time, by Vensim name."""
    out: dict[str, pd.Series | pd.DataFrame] = {}
    for name, given in (inputs or {}).items():
        real = model.parameter(name).name
        if isinstance(given, pd.Series | pd.DataFrame):
            obj = given
        else:  # a batch TimeInput
            times = np.asarray(given.times, dtype=float)
            vals = np.asarray(given.values, dtype=float)
            obj = pd.Series(vals, index=times) if vals.ndim == 1 else pd.DataFrame(vals, index=times)
        if isinstance(obj, pd.DataFrame) and obj.shape[1] != nruns:
            raise CarespiralError(f"time input {real!r} has {obj.shape[1]} runs, params has "
                                  f"{nruns} rows")
        out[real] = obj
    return out


def _blowups(model: Model, stacked: dict[str, np.ndarray], times: np.ndarray
             ) -> dict[str, np.ndarray]:
    n = next(iter(stacked.values())).shape[0]
    when = np.full(n, np.nan)
    variable = np.full(n, "", dtype=object)
    kind = np.full(n, "", dtype=object)
    nonneg = {v.name for v in model.variables if v.kind == "stock" and v.lower == 0}
    stocks = set(model.stocks)
    # stocks first, as the batch backend checks its states: on a tie the stock is named
    for name, arr in sorted(stacked.items(), key=lambda kv: kv[0] not in stocks):
        checks = [(~np.isfinite(arr), "not finite")]
        if name in nonneg:
            checks.insert(0, (arr < 0, "negative"))
        for bad, label in checks:
            for r in np.flatnonzero(bad.any(axis=1)):
                k = int(np.argmax(bad[r]))
                if np.isnan(when[r]) or times[k] < when[r]:
                    when[r], variable[r], kind[r] = times[k], name, label
    return {"blowup_time": when, "blowup_variable": variable, "blowup_kind": kind}
