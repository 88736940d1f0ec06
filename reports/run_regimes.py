"""Whether each run of a bundled model collapsed, by the documented collapse criteria.

The run report's verdict says it in words ("Baseline has collapsed by May 2031: children awaiting
assessment above 2 times its starting level for 12 months"), so nobody reads a run's end values
without knowing its regime. Only criteria whose variables the runs hold are checked; a model
outside the catalogue, or runs holding none of them, get no regime (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.catalog import catalog

__all__ = ["regimes_sentence", "run_regimes"]

Regime = tuple[float, str] | None  # (month collapse began, criterion) or None: sustainable


def run_regimes(runs: Mapping[str, pd.DataFrame], model: str | None) -> dict[str, Regime] | None:
    """Per run: (model month collapse began, the criterion that fired first) or None when it
    stays sustainable; None when no collapse criterion can be checked on these runs."""
    from carespiral.exploration.criteria import INITIAL, classify, default_criteria
    from carespiral.pysd_runner import load

    if not runs or model not in catalog():
        return None
    try:
        m = load(str(model))
    except (CarespiralError, OSError):
        return None
    columns = set.intersection(*(set(f.columns) for f in runs.values()))
    usable = []
    for c in (c.bind(m) for c in default_criteria(m)):
        ref = getattr(c, "relative_to", None)
        if c.variable in columns and (ref in (None, INITIAL) or ref in columns
                                      or getattr(c, "ref_default", None) is not None):
            usable.append(c)
    if not usable:
        return None
    frames = list(runs.values())
    time = frames[0].index.to_numpy(dtype=float)
    if any(len(f) != len(time) or not np.allclose(f.index.to_numpy(dtype=float), time)
           for f in frames):
        return None  # runs on different time grids are not classified together
    names = sorted({n for c in usable for n in c.needs if n in columns})
    ds = xr.Dataset({n: (("run", "time"), np.vstack([f[n].to_numpy(dtype=float) for f in frames]))
                     for n in names}, coords={"run": np.arange(len(frames)), "time": time})
    table = classify(ds, usable)
    return {label: ((float(r.collapse_time), str(r.criterion)) if r.regime == "collapse"
                    else None)
            for label, r in zip(runs, table.itertuples(index=False), strict=True)}


def regimes_sentence(regimes: Mapping[str, Regime], when: Any, words: Any) -> str:
    """One sentence: which runs collapse, from when and by which criterion, and which stay
    sustainable; `when(month)` gives a date in words, `words(criterion)` the criterion."""
    if all(v is None for v in regimes.values()):
        return ("No run collapses by the collapse criteria." if len(regimes) > 1 else
                f"{next(iter(regimes))} does not collapse by the collapse criteria.")
    parts = [f"{r} has collapsed by {when(v[0])} ({words(v[1])})" if v is not None else
             f"{r} stays sustainable" for r, v in regimes.items()]
    return "By the collapse criteria, " + "; ".join(parts) + "."
