"""Two-parameter regime maps by the shock test: does the system come back once a shock is removed?

Every cell (p1, p2) is run twice from the model's own initial state: undisturbed, and with a
temporary pulse of `shock` added to p1 for `duration` months. After `hold` further months the
regime of each run is read from the collapse criteria:

- `sustainable`: neither run has collapsed (the shock was absorbed);
- `bistable`: the undisturbed run is sustainable but the shocked one stays collapsed after the
  shock has gone: both regimes exist there, and history decides (hysteresis);
- `collapse`: the undisturbed run collapses on its own.

Cells are independent, so all runs go through `Model.run_batch` as two batches. Unlike an up/down
sweep, a cell's answer does not depend on the cells before it (a runaway backlog accumulated at
high demand cannot leak into the cells below).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.exploration.criteria import COLLAPSE, SUSTAINABLE, Criterion, outputs_needed
from carespiral.pysd_runner.streams import run_on_streams
from carespiral.results import Result

__all__ = ["RegimeMap", "regime_at_end", "shock_map"]


@dataclass
class RegimeMap(Result):
    """`table`: param, param2, baseline and shocked regimes, and the cell's `regime`."""

    table: pd.DataFrame
    model: str
    param: str
    param2: str
    shock: dict  # height, start, duration, hold

    kind = "regime_map"

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def thresholds(self) -> pd.DataFrame:
        """Per value of param2: where the bistable band starts and where collapse needs no shock."""
        rows = []
        for v2, g in self.table.groupby("param2"):
            bi = g.loc[g["regime"] == "bistable", "param"]
            co = g.loc[g["regime"] == COLLAPSE, "param"]
            rows.append({"param2": v2, "bistable_from": bi.min() if len(bi) else np.nan,
                         "bistable_to": bi.max() if len(bi) else np.nan,
                         "collapse_from": co.min() if len(co) else np.nan})
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        return {"model": self.model, "param": self.param, "param2": self.param2,
                "shock": self.shock,
                "cells": {k: int(v) for k, v in self.table["regime"].value_counts().items()}}


def regime_at_end(ds, criteria: Sequence[Criterion], params: pd.DataFrame, window: float) -> np.ndarray:
    """`collapse` where any criterion's condition held over the last min(months, window) months."""
    t = ds["time"].to_numpy()
    out = np.full(ds.sizes["run"], SUSTAINABLE, dtype=object)
    for c in criteria:
        cond = c.condition(ds, params)
        last = t >= t[-1] - min(c.months, window) - 1e-9
        out[cond[:, last].all(axis=1)] = COLLAPSE
    return out


def shock_map(
    model,
    param: str,
    values: Sequence[float],
    param2: str,
    values2: Sequence[float],
    criteria: Sequence[Criterion],
    shock: float,
    start: float = 12.0,
    duration: float = 36.0,
    hold: float = 120.0,
    params: Mapping[str, float] | None = None,
    seed: int = 0,
) -> RegimeMap:
    """Regime of every (param, param2) cell by the shock test (see the module docstring).

    `seed`: of the model's RANDOM functions; every run of every cell, undisturbed or shocked,
    draws the stream (seed, 0), so that a cell's regime depends on its parameters only."""
    from carespiral.pysd_runner.scenario import Input, Scenario

    name, name2 = model.parameter(param).name, model.parameter(param2).name
    if name == name2:
        raise CarespiralError("a regime map needs two different parameters")
    criteria = [c.bind(model) for c in criteria]
    if not criteria:
        raise CarespiralError("a regime map needs collapse criteria to tell the regimes apart")
    v1 = np.asarray(values, dtype=float)
    v2 = np.asarray(values2, dtype=float)
    p1 = model.parameter(name)
    for v in v1:
        p1.check(float(v))
        try:
            p1.check(float(v + shock))  # the shocked value must be one the model accepts
        except CarespiralError as exc:
            raise CarespiralError(
                f"the shock takes {name} from {v:g} to {v + shock:g}: {exc}; use a smaller shock "
                "or a lower range"
            ) from None
    grid = pd.DataFrame([(a, b) for b in v2 for a in v1], columns=[name, name2])
    for k, v in (params or {}).items():
        grid[model.parameter(k).name] = float(v)
    grid.index = pd.RangeIndex(len(grid), name="run")
    stop = start + duration + hold
    outputs = outputs_needed(criteria)
    pulse = Scenario(name="shock", title=f"{name} shock",
                     inputs=(Input(name=name, type="pulse", height=float(shock), start=start,
                                   duration=duration),))
    same = np.zeros(len(grid), dtype=int)  # one stream for every cell: common random numbers
    quiet = run_on_streams(model, grid, same, seed, outputs=outputs, stop=stop, backend="auto")
    shocked = run_on_streams(model, grid, same, seed, outputs=outputs, stop=stop,
                             scenario=pulse, backend="auto")
    base = regime_at_end(quiet, criteria, grid, hold / 2)
    after = regime_at_end(shocked, criteria, grid, hold / 2)
    regime = np.where(base == COLLAPSE, COLLAPSE, np.where(after == COLLAPSE, "bistable", SUSTAINABLE))
    table = pd.DataFrame({"param": grid[name].to_numpy(), "param2": grid[name2].to_numpy(),
                          "baseline": base, "shocked": after, "regime": regime})
    return RegimeMap(table, model.name, name, name2,
                     {"height": float(shock), "start": start, "duration": duration, "hold": hold,
                      "seed": seed})
