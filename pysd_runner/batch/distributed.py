"""Large ensembles on Dask: chunks of runs as tasks on a local cluster or an existing one.

Each chunk is an independent batch run (every run's arithmetic is elementwise), so the result
does not depend on how runs are chunked or which worker ran them. Tasks carry the compiled
model's lowered program (a few kilobytes), never state held by a worker, so a chunk whose worker
dies is simply run again elsewhere (Dask reschedules it; we also retry failed tasks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from carespiral._dask import open_client  # the one Dask client of carespiral

__all__ = ["open_client", "run_distributed"]


def _run_chunk(program: Any, params: pd.DataFrame, inputs: dict[str, Any],
               kwargs: dict[str, Any]) -> dict[str, np.ndarray]:
    from carespiral.pysd_runner.batch.model import BatchModel

    bm = BatchModel(program)
    job = bm.prepare(params, inputs=inputs, **kwargs)
    return bm.run_rows(job, 0, job.n)


def run_distributed(model: Any, params: pd.DataFrame | None, *, scheduler: Any,
                    chunk_size: int | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    inputs: dict[str, Any] | None = None, n: int | None = None,
                    **kwargs: Any) -> xr.Dataset:
    """Run `model.run(params, ...)` as chunks on a Dask cluster and assemble the Dataset."""
    from distributed import as_completed

    from carespiral.pysd_runner.batch.model import TimeInput

    if params is None:
        params = pd.DataFrame(index=pd.RangeIndex(1 if n is None else n, name="run"))
    # check everything once, here, so a mistake is reported before any task starts
    job = model.prepare(params, inputs=inputs, **kwargs)
    tis = {k: v if isinstance(v, TimeInput) else TimeInput.from_pandas(v)
           for k, v in (inputs or {}).items()}
    client, close = open_client(scheduler)
    try:
        nworkers = max(1, len(client.scheduler_info().get("workers", {})))
        size = chunk_size or max(1000, math.ceil(job.n / (4 * nworkers)))
        bounds = [(lo, min(lo + size, job.n)) for lo in range(0, job.n, size)]
        futures = {}
        for i, (lo, hi) in enumerate(bounds):
            chunk_inputs = {k: v.rows(slice(lo, hi)) for k, v in tis.items()}
            # every chunk runs on the engine chosen for the whole ensemble (not by chunk size)
            # each chunk keeps its runs' positions in the ensemble (their RANDOM streams)
            where = ({"streams": np.asarray(kwargs["streams"])[lo:hi]}
                     if kwargs.get("streams") is not None
                     else {"first_run": kwargs.get("first_run", 0) + lo})
            fut = client.submit(_run_chunk, model.program, params.iloc[lo:hi], chunk_inputs,
                                {**kwargs, "engine": job.gen.engine, **where},
                                retries=3, pure=False)
            futures[fut] = i
        store: dict[str, np.ndarray] = {}
        done = 0
        for fut in as_completed(list(futures)):
            i = futures[fut]
            lo, hi = bounds[i]
            job.store(store, lo, hi, fut.result())
            fut.release()
            done += hi - lo
            if progress:
                progress(done, job.n)
    finally:
        close()
    return job.finish(store)
