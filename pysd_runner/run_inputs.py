"""What a run is given: its time grid, and parameter values merged from a scenario and overrides.

Both ways of running a model (`Model.run`, one run on PySD, and `Model.run_batch`, many runs)
merge the same way: a scenario's constants apply unless the caller sets the same constant; a
scenario's time-varying inputs start from the run's own value of the variable (the caller's, else
the scenario's, else the model's default) and are laid out on the integration grid
`start, start + dt, ..., stop`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from carespiral.errors import CarespiralError

if TYPE_CHECKING:
    from carespiral.pysd_runner.protocol import Runner
    from carespiral.pysd_runner.scenario import Scenario

__all__ = ["TimeGrid", "grid_times", "scenario_constants", "scenario_series", "time_grid"]


@dataclass(frozen=True)
class TimeGrid:
    """Start, stop, integration step and saving interval of one run (model time units)."""

    start: float
    stop: float
    time_step: float
    saveper: float

    @property
    def steps(self) -> int:
        """Integration steps from start to stop."""
        return max(0, math.ceil((self.stop - self.start) / self.time_step - 1e-5))

    @property
    def saved(self) -> int:
        """Saved times (rows of a trajectory)."""
        return int((self.stop - self.start) / self.saveper + 1e-9) + 1

    def every_step(self) -> TimeGrid:
        """The same grid, saving every integration step."""
        return replace(self, saveper=self.time_step)

    def times(self) -> np.ndarray:
        """The integration grid, where time-varying inputs are given."""
        return grid_times(self.start, self.stop, self.time_step)


def grid_times(start: float, stop: float, time_step: float) -> np.ndarray:
    return np.arange(start, stop + time_step / 2, time_step)


def time_grid(model: Runner, start: float | None = None, stop: float | None = None,
              time_step: float | None = None, saveper: float | None = None) -> TimeGrid:
    """The grid of `Model.run`: the model's controls unless given; checked.

    Without `saveper`, values are saved every SAVEPER (at least every step), or every step when
    the caller changes the step.
    """
    start = model.control("initial_time") if start is None else float(start)
    stop = model.control("final_time") if stop is None else float(stop)
    dt = model.control("time_step") if time_step is None else float(time_step)
    if saveper is not None:
        save = float(saveper)
    else:
        save = max(dt, model.control("saveper")) if time_step is None else dt
    for label, v in (("start", start), ("stop", stop), ("time step", dt), ("saveper", save)):
        if not math.isfinite(v):
            raise CarespiralError(f"{label} must be a finite number, got {v}")
    if stop <= start:
        raise CarespiralError(f"stop ({stop:g}) must be after start ({start:g})")
    if dt <= 0 or save <= 0:
        raise CarespiralError("time step and saveper must be positive")
    if save < dt - 1e-12:
        raise CarespiralError(f"saveper ({save:g}) cannot be shorter than the time step ({dt:g})")
    return TimeGrid(start, stop, dt, save)


def scenario_constants(model: Runner, scenario: Scenario) -> dict[str, float]:
    """The scenario's constant overrides by Vensim name. Checks the whole scenario against the
    model first (the names of its constants and inputs, the constants' bounds), so a mistake
    names the scenario's file and line."""
    for k, i in enumerate(scenario.inputs):
        with scenario.locating(i.name, item=k):
            model.parameter(i.name)
    out: dict[str, float] = {}
    for k, v in scenario.params.items():
        with scenario.locating(k):
            p = model.parameter(k)
            p.check(float(v))
            out[p.name] = float(v)
    return out


def scenario_series(model: Runner, scenario: Scenario, bases: Mapping[str, np.ndarray],
                    times: np.ndarray, time_step: float) -> dict[str, np.ndarray]:
    """Each time-varying input of the scenario on `times`, by Vensim name.

    `bases` gives, by Vensim name, each run's own value of the variable (an array over runs);
    a variable missing from it starts from the model's default. The result is one series
    (times,) when every run starts from the same value, else one per run (times x runs).
    """
    # inputs may name a variable by Vensim name, Python name or role: a step given by role and
    # a pulse given by Vensim name add up on the same variable
    inputs = []
    for k, i in enumerate(scenario.inputs):
        with scenario.locating(i.name, item=k):
            inputs.append(replace(i, name=model.parameter(i.name).name))
    named = replace(scenario, inputs=tuple(inputs))
    out: dict[str, np.ndarray] = {}
    for name in named.input_names:
        own = bases.get(name)
        base = np.array([model.parameter(name).default]) if own is None else np.asarray(own)
        base = np.atleast_1d(base.astype(float))
        unique = np.unique(base)
        rows = [named.series(name, float(b), times, time_step)
                for b in (unique if len(unique) == 1 else base)]
        out[name] = rows[0] if len(rows) == 1 else np.stack(rows, axis=1)
    return out
