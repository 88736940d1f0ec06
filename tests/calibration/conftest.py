"""Shared fixtures: a synthetic calibration problem on the workforce-spiral teaching model.

The truth is the model's defaults for two parameters; the published-like data are its
annual social workers and caseloads under the demand-surge scenario with 5% lognormal noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

TRUTH = {"Normal Leaving Rate": 0.0125, "Reference Caseload": 17.0}
BOUNDS = {"Normal Leaving Rate": (0.005, 0.03), "Reference Caseload": (10.0, 30.0)}
TIMES = np.arange(12.0, 241.0, 12.0)
NOISE = 0.05


@pytest.fixture(scope="session")
def workforce():
    from carespiral.pysd_runner import load

    return load("workforce_spiral")


@pytest.fixture(scope="session")
def truth_paths(workforce):
    """Noise-free observed values at the truth, by series name."""
    from carespiral.calibration.observations import SeriesObs, observe_runs

    ds = workforce.run_batch(pd.DataFrame([TRUTH]), outputs=["Social Workers", "Caseload"],
                             scenario="demand_surge", stop=240)
    out = {}
    for var, name in (("Social Workers", "social_workers_fte"), ("Caseload", "caseload")):
        o = SeriesObs.at_times(name, var, TIMES, np.zeros(len(TIMES)))
        out[name] = (var, observe_runs(o, ds, workforce)[0])
    return out


@pytest.fixture(scope="session")
def make_problem(workforce, truth_paths):
    """make_problem(seed) -> (Problem, held-out series): data with fresh noise for each seed."""
    from carespiral.calibration.observations import SeriesObs
    from carespiral.calibration.problem import FitParameter, Problem

    def make(seed: int, cut: float | None = None, error: str = "lognormal"):
        rng = np.random.default_rng(seed)
        series, holdout = [], []
        for name, (var, clean) in truth_paths.items():
            y = clean * np.exp(NOISE * rng.standard_normal(len(clean)))
            s = SeriesObs.at_times(name, var, TIMES, y, error=error)
            if cut is None:
                series.append(s)
            else:
                series.append(s.subset(cut >= TIMES))
                holdout.append(s.subset(cut < TIMES))
        params = [FitParameter(n, *BOUNDS[n]) for n in TRUTH]
        return Problem(workforce, params, series, scenario="demand_surge"), holdout

    return make


@pytest.fixture(scope="session")
def truth() -> dict[str, float]:
    return dict(TRUTH)


@pytest.fixture(scope="session")
def fitted_to_own_output():
    """A function (problem, changes, free) -> the problem's least-squares fit to its model's own
    noise-free output at the defaults with `changes`, freeing only the parameters `free` (the
    rest held at that truth), and the truth: recovery of known parameters."""
    from dataclasses import replace

    from carespiral.calibration.engine import fit_problem

    def fit(problem, changes: dict, free: tuple[str, ...]):
        defaults = {p.name: p.default for p in problem.model.parameters}
        truth = {n: defaults[n] for n in problem.names} | changes
        preds = problem.simulate(np.array([[truth[n] for n in problem.names]]))
        series = [replace(s, rows=s.rows.assign(value=np.asarray(m, dtype=float)[0]))
                  for s, m in zip(problem.series, preds, strict=True)]
        synthetic = replace(problem, parameters=[p for p in problem.parameters if p.name in free],
                            series=series, n_runs=0,
                            fixed={**problem.fixed, **{n: v for n, v in truth.items()
                                                       if n not in free}})
        result = fit_problem(synthetic, "least_squares", seed=0, budget=300, profiles=False,
                             n_draws=0)
        return result, truth

    return fit
