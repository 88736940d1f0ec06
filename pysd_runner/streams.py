"""Runs whose RANDOM functions draw from chosen streams: common random numbers for comparisons.

The batch backend gives row i of a call the stream (seed, first_run + i) (`Model.run_batch`).
Exploration and calibration compare runs that differ in a lever or a parameter: the policies of a
robust search tested on one ensemble, the levels of a parameter in a margin search, the cells of
a regime map, the candidate parameter values of a fit (each drawing the stream (seed, 0), so the
objective is a function of the parameters, not of a candidate's place in the batch).
For a model with RANDOM functions those comparisons are fair only when the runs compared draw the
same numbers, so each row here is given its stream: `run_on_streams(model, frame, streams, seed)`
runs row i on the stream (seed, streams[i]), all rows in one call (`run_batch(streams=...)`).

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
    (seed, streams[i]) (whole numbers from 0; rows may share one), in one call; the result's
    runs in the order of `frame`. `inputs`: time inputs, as `run_batch` takes them."""
    streams = np.asarray(streams, dtype=np.int64)
    if len(streams) != len(frame):
        raise ValueError(f"{len(streams)} streams for {len(frame)} rows")
    extra = {} if inputs is None else {"inputs": dict(inputs)}
    if not len(frame) or not draws_random(model):
        return model.run_batch(frame, seed=seed, **extra, **options)
    return model.run_batch(frame, seed=seed, streams=streams, **extra, **options)
