"""Fitted values with predictive bands, and forecasts after the fit, from a fitted problem.

In-sample, a published value is the model's value plus error-model noise (autocorrelated
residuals: the stationary AR(1) process), with parameter uncertainty from the draws. After the
last fitted value of a series, the statistical model's forecast is the model run plus what the
error model carries over: rho^g of the last fitted residual g years on (0 for independent
errors), with noise that grows towards the marginal spread. The forecast table keeps both: `run`
(the model run at the best parameters: the structure alone) and `forecast` (the run with the
carried-over residual: the statistical model's median forecast).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from carespiral.calibration.errors_model import (
    ErrorFit,
    forecast_noise,
    raw_residuals,
    sample_noise,
)
from carespiral.calibration.observations import SeriesObs

__all__ = ["prediction_tables"]


def _frame(s: SeriesObs, values: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({
        "series": s.name, "year": s.years if len(s.years) else np.arange(len(s)),
        "date": s.dates if len(s.dates) else pd.NaT, "time": s.times, "observed": s.values,
        **values, "unit": s.unit})


def _steps(train: SeriesObs, held: SeriesObs) -> np.ndarray:
    """Observation steps from the last fitted value to each held-out one (the in-sample
    spacing is one step: a year for the published series)."""
    t = train.times
    spacing = float(np.median(np.diff(t))) if len(t) > 1 else 12.0
    return np.maximum((held.times - t[-1]) / max(spacing, 1e-9), 0.0)


def prediction_tables(problem, best: np.ndarray, draws: np.ndarray, fits: Sequence[ErrorFit],
                      rng: np.random.Generator, holdout: Sequence[SeriesObs] = (),
                      ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(fitted, forecasts): the fitted series with 95% predictive bands, and the held-out ones
    with the model's run, forecast and 95% predictive interval (None without a hold-out)."""
    train = list(problem.series)
    allseries = train + list(holdout)
    stop = float(np.ceil(max(s.times.max() for s in allseries)))
    at_best = problem.simulate(best[None, :], allseries, stop=stop)
    preds = problem.simulate(draws, allseries, stop=stop) if len(draws) else \
        [m.copy() for m in at_best]
    n_train = len(train)
    fitted = []
    for s, fit, m, p in zip(train, fits, at_best, preds, strict=False):
        noisy = sample_noise(rng, p, s.error, fit)
        with np.errstate(all="ignore"):
            lo, hi = np.nanquantile(noisy, [0.025, 0.975], axis=0)
        fitted.append(_frame(s, {"fitted": m[0], "lower": lo, "upper": hi}))
    if not holdout:
        return pd.concat(fitted, ignore_index=True), None
    index = {s.name: i for i, s in enumerate(train)}
    rows = []
    for j, h in enumerate(holdout):
        i = index[h.name]
        s, fit = train[i], fits[i]
        steps = _steps(s, h)
        last_best = raw_residuals(s.values[-1:], at_best[i][:, -1:], s.error)[:, 0]
        centre, _ = forecast_noise(rng, at_best[n_train + j], s.error, fit, last_best, steps)
        last = raw_residuals(s.values[-1:], preds[i][:, -1:], s.error)[:, 0]
        _, noisy = forecast_noise(rng, preds[n_train + j], s.error, fit, last, steps)
        with np.errstate(all="ignore"):
            lo, hi = np.nanquantile(noisy, [0.025, 0.975], axis=0)
        rows.append(_frame(h, {"forecast": centre[0], "run": at_best[n_train + j][0],
                               "lower": lo, "upper": hi, "steps": steps}))
    return pd.concat(fitted, ignore_index=True), pd.concat(rows, ignore_index=True)
