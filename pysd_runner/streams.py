"""Runs whose RANDOM functions draw from chosen streams: common random numbers for comparisons.

The batch backend gives row i of a call the stream (seed, first_run + i) (`Model.run_batch`).
Exploration and calibration compare runs that differ in a lever or a parameter: the policies of a
robust search tested on one ensemble, the levels of a parameter in a margin search, the cells of
a regime map, the candidate parameter values of a fit (each drawing the stream (seed, 0), so the
objective is a function of the parameters, not of a candidate's place in the batch).
For a model with RANDOM functions those comparisons are fair only when the runs compared draw the
same numbers, so each row here is given its stream: `run_on_streams(model, frame, streams, seed)`
runs row i on the stream (seed, streams[i]). Rows that share a stream cannot be in one call, and
one call takes consecutive streams only, so the rows are run in as few calls as that allows (the
k-th row of each stream in one layer, each layer split where its streams are not consecutive).

A model without RANDOM functions runs in one call, as before (the seed changes nothing); so does
one the batch backend refuses, which PySD runs with its own generator (the seed does not reach
it: `Model.run_batch(backend="auto")`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["draws_random", "run_on_streams"]


def draws_random(model: Any) -> bool:
    """Whether `model` has RANDOM functions that the batch backend draws from its streams."""
    from carespiral.pysd_runner.batch import UnsupportedConstructError, compile_model
    from carespiral.pysd_runner.batch.program import RANDOM_RUN

    path = getattr(model, "mdl_path", None)
    if path is None:
        return False
    try:
        bm = compile_model(path)  # cached per file version
    except UnsupportedConstructError:
        return False  # run by PySD (backend "auto"), which draws from its own generator
    return RANDOM_RUN in bm.program.aux


def run_on_streams(model: Any, frame: pd.DataFrame, streams: np.ndarray, seed: int,
                   inputs: Mapping[str, Any] | None = None, **options: Any) -> xr.Dataset:
    """`model.run_batch(frame, seed=seed, **options)` with row i drawing from the stream
    (seed, streams[i]) (whole numbers from 0); the result's runs in the order of `frame`.
    `inputs`: time inputs (per-run ones are split with the rows)."""
    streams = np.asarray(streams, dtype=np.int64)
    if len(streams) != len(frame):
        raise ValueError(f"{len(streams)} streams for {len(frame)} rows")
    extra = {} if inputs is None else {"inputs": dict(inputs)}
    if not len(frame) or not draws_random(model):
        return model.run_batch(frame, seed=seed, **extra, **options)
    parts, where = [], []
    for rows in _pieces(streams):
        piece = frame.iloc[rows]
        if inputs is not None:
            extra = {"inputs": {k: _rows_of(v, rows) for k, v in inputs.items()}}
        parts.append(model.run_batch(piece, seed=seed, first_run=int(streams[rows[0]]),
                                     **extra, **options))
        where.append(rows)
    if len(parts) == 1 and np.array_equal(where[0], np.arange(len(frame))):
        return parts[0]
    ds = xr.concat(parts, dim="run", data_vars="minimal", coords="minimal", compat="override",
                   combine_attrs="override")
    ds = ds.isel(run=np.argsort(np.concatenate(where), kind="stable"))
    if "blowups" in ds.attrs:
        ds.attrs["blowups"] = int(sum(p.attrs.get("blowups", 0) for p in parts))
    return ds.assign_coords(run=frame.index.to_numpy())


def _pieces(streams: np.ndarray) -> list[np.ndarray]:
    """Row positions for each call: the k-th row of every stream in layer k, sorted by stream
    and split where the streams are not consecutive."""
    order = np.argsort(streams, kind="stable")
    s = streams[order]
    # how many earlier rows share each row's stream (its layer)
    first = np.r_[0, np.flatnonzero(np.diff(s) != 0) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, len(s)]))
    layer = np.empty(len(s), dtype=np.int64)
    layer[order] = np.arange(len(s)) - starts
    out = []
    for k in range(int(layer.max()) + 1):
        rows = np.flatnonzero(layer == k)
        rows = rows[np.argsort(streams[rows], kind="stable")]
        breaks = np.flatnonzero(np.diff(streams[rows]) != 1) + 1
        out += np.split(rows, breaks)
    return out


def _rows_of(value: Any, rows: np.ndarray) -> Any:
    """A time input's values for `rows` (an input shared by every run as it is)."""
    from carespiral.pysd_runner.batch.model import TimeInput

    if isinstance(value, TimeInput):
        return value.rows(rows)  # type: ignore[arg-type]
    if isinstance(value, pd.DataFrame):
        return value.iloc[:, rows]
    return value
