"""One call for "run these rows": the vectorised batch backend when it can, else `Model.run_batch`.

`Model.run_batch` is the project's runner interface; until it routes through the vectorised backend
itself, exploration calls the backend (`carespiral.pysd_runner.batch`) directly for plain batches and
for scenarios (their constant overrides become columns, their time-varying inputs one series per
run, each starting from that run's own value). Models the backend cannot compile fall back to
`Model.run_batch` (a loop over PySD runs), with identical results, only slower.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["run_batch"]

_COMPILED: dict[str, object] = {}


def _compiled(model):
    key = str(model.mdl_path)
    if key not in _COMPILED:
        try:
            from carespiral.pysd_runner.batch import UnsupportedConstructError, compile_model

            try:
                _COMPILED[key] = compile_model(model.mdl_path)
            except UnsupportedConstructError:
                _COMPILED[key] = None
        except ImportError:
            _COMPILED[key] = None
    return _COMPILED[key]


def _runner_is_vectorised(model) -> bool:
    # once Model.run_batch takes `reduce`, it is the vectorised backend: use it as is
    return "reduce" in inspect.signature(model.run_batch).parameters


def run_batch(model, params: pd.DataFrame, outputs, saveper=None, scenario=None, start=None,
              stop=None, time_step=None) -> xr.Dataset:
    """Run one simulation per row of `params`; a Dataset (run x time) indexed like `params`."""
    bm = None if _runner_is_vectorised(model) else _compiled(model)
    if bm is None:
        return model.run_batch(params, outputs=outputs, saveper=saveper, scenario=scenario,
                               start=start, stop=stop, time_step=time_step)
    params = params.rename(columns={c: model.parameter(c).name for c in params.columns})
    for name in params.columns:  # the PySD path checks bounds run by run; do the same here
        p = model.parameter(name)
        for v in np.unique(params[name].to_numpy(dtype=float)):
            p.check(float(v))
    inputs = None
    if scenario is not None:
        sc = model.scenario(scenario if not isinstance(scenario, Path) else str(scenario))
        params = params.copy()
        for k, v in sc.params.items():
            name = model.parameter(k).name
            if name not in params.columns:
                params[name] = float(v)
        if sc.inputs:
            t0 = model.control("initial_time") if start is None else float(start)
            t1 = model.control("final_time") if stop is None else float(stop)
            dt = model.control("time_step") if time_step is None else float(time_step)
            t = np.arange(t0, t1 + dt / 2, dt)
            inputs = {}
            for name in sc.input_names:
                p = model.parameter(name)
                bases = (params[p.name].to_numpy(dtype=float) if p.name in params.columns
                         else np.full(len(params), p.default))
                cols = np.column_stack([sc.series(p.name, float(b), t, dt) for b in bases])
                for v in np.unique(cols):
                    p.check(float(v))
                inputs[p.name] = pd.DataFrame(cols, index=t)
                params = params.drop(columns=[p.name], errors="ignore")
    names = [model.resolve(o) for o in outputs]
    ds = bm.run(params if len(params.columns) else None, outputs=names, saveper=saveper,
                start=start, stop=stop, time_step=time_step, inputs=inputs,
                n=len(params) if not len(params.columns) else None)
    return ds.assign_coords(run=np.asarray(params.index))
