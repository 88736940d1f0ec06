"""Resilience: how long each policy takes to recover after a shock, or whether it recovers at all.

Each policy (a row of lever settings) is run twice through `Model.run_batch`: undisturbed, and with
a pulse on a driver (by default the `scandal_shock` role: a national scandal of the given height
and length). Recovery time is counted from the end of the shock to the first month after which
the watched output (default: `caseload`, or the backlog when the model has one) stays within
`tolerance` (relative) of the undisturbed run until the end. A policy that never gets back within
the tolerance has no recovery time (NaN) and `recovered = False`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.streams import run_on_streams
from carespiral.results import Result

__all__ = ["Resilience", "resilience"]


@dataclass
class Resilience(Result):
    """Per policy: `recovered`, `recovery_months`, the peak deviation of the watched output."""

    table: pd.DataFrame
    model: str
    output: str
    shock: dict

    kind = "resilience"

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def summary(self) -> dict[str, Any]:
        t = self.table
        return {"model": self.model, "output": self.output, "shock": self.shock,
                "policies": len(t), "recovered": int(t["recovered"].sum()),
                "median_recovery_months": float(t["recovery_months"].median())}


def resilience(
    model,
    policies: pd.DataFrame,
    driver: str = "scandal_shock",
    height: float = 1.0,
    start: float = 24.0,
    duration: float = 6.0,
    output: str | None = None,
    tolerance: float = 0.05,
    stop: float | None = None,
    seed: int = 0,
) -> Resilience:
    """Recovery after a pulse of `height` on `driver` from `start` for `duration` months.

    `seed`: of the model's RANDOM functions; every run, undisturbed or shocked, of every policy
    draws the stream (seed, 0), so a policy's recovery is measured against its own undisturbed
    run on the same draws and policies are compared on the same draws."""
    from carespiral.pysd_runner.scenario import Input, Scenario

    name = model.parameter(driver).name
    if output is None:
        roles = model.outputs
        output = roles.get("awaiting_assessment") or roles.get("caseload")
        if output is None:
            raise CarespiralError(f"model {model.name!r} has no backlog or caseload role; give output=")
    watched = model.resolve(output)
    design = policies.rename(columns={c: model.parameter(c).name for c in policies.columns})
    design.index = pd.RangeIndex(len(design), name="run")
    pulse = Scenario(name="shock", inputs=(Input(name=name, type="pulse", height=float(height),
                                                 start=start, duration=duration),))
    same = np.zeros(len(design), dtype=int)  # one stream for all: common random numbers
    quiet = run_on_streams(model, design, same, seed, outputs=[watched], stop=stop,
                           backend="auto")
    hit = run_on_streams(model, design, same, seed, outputs=[watched], stop=stop,
                         scenario=pulse, backend="auto")
    t = quiet["time"].to_numpy()
    a = quiet[watched].transpose("run", "time").to_numpy()
    b = hit[watched].transpose("run", "time").to_numpy()
    dev = np.abs(b - a) / np.maximum(np.abs(a), 1e-12)
    after = t >= start + duration - 1e-9
    rows = []
    for i in range(len(design)):
        d = dev[i, after]
        outside = np.flatnonzero(d > tolerance)
        if len(outside) == 0:
            months, ok = 0.0, True
        elif outside[-1] == len(d) - 1:
            months, ok = np.nan, False  # still outside the band at the end of the run
        else:
            months, ok = float(t[after][outside[-1] + 1] - (start + duration)), True
        rows.append({"recovered": ok, "recovery_months": months, "peak_deviation": float(dev[i].max())})
    table = pd.concat([design.reset_index(drop=True), pd.DataFrame(rows)], axis=1)
    return Resilience(table, model.name, watched,
                      {"driver": name, "height": height, "start": start, "duration": duration,
                       "tolerance": tolerance, "seed": seed})
