"""Fitted values with predictive bands, and forecasts after the fit, from a fitted problem.

In-sample, a published value is the model's value plus error-model noise (autocorrelated
residuals: the stationary AR(1) process), with parameter uncertainty from the draws. After the
last fitted value of a series, the statistical model's forecast is the model run plus what the
forecast residual model carries over (`errors_model.forecast_errors`, estimated from all the
fitted series together). By default (`mode="ar1"`) the gap between the last published value and
the run closes by a factor phi a year, one phi for all series estimated from their in-sample
residuals within [0, 1]: phi = 1 starts from the last published value and adds the model's
change (the state at the origin is the observed one; the model supplies the dynamics), phi = 0
is the run itself. Innovation scales are pooled across series, Student-t for the few values
behind them, and add up over the horizon. `mode="rw"` fixes phi = 1, `mode="run"` phi = 0;
`mode="skill"` is `rw` with the model's change weighted by its in-sample skill. The
forecast table keeps `run` (the model run at the best parameters: the structure alone) and
`forecast` (the statistical model's median). Negative-binomial series keep their own noise
around the run.

`recording()` keeps the model runs behind every forecast made inside it, so that the same fits
can be scored under each forecast mode (`forecast_table`) without fitting again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd

from carespiral.calibration.errors_model import (
    ErrorFit,
    ForecastError,
    forecast_draws,
    forecast_errors,
    forecast_noise,
    raw_residuals,
    sample_noise,
)
from carespiral.calibration.observations import SeriesObs

__all__ = ["DEFAULT_MODE", "forecast_rows", "forecast_table", "prediction_tables", "recording"]

DEFAULT_MODE = "ar1"
_RECORDERS: list[list[dict]] = []


@contextmanager
def recording() -> Iterator[list[dict]]:
    """A list that receives, for every forecast made in the block, the inputs of
    `forecast_table` (train, holdout, at_best, preds, fits)."""
    kept: list[dict] = []
    _RECORDERS.append(kept)
    try:
        yield kept
    finally:
        _RECORDERS.remove(kept)


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
                      mode: str = DEFAULT_MODE) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(fitted, forecasts): the fitted series with 95% predictive bands, and the held-out ones
    with the model's run, forecast and 95% predictive interval (None without a hold-out).
    `mode`: the forecast residual model (`errors_model.forecast_errors`)."""
    train = list(problem.series)
    allseries = train + list(holdout)
    stop = float(np.ceil(max(s.times.max() for s in allseries)))
    at_best = problem.simulate(best[None, :], allseries, stop=stop)
    preds = problem.simulate(draws, allseries, stop=stop) if len(draws) else \
        [m.copy() for m in at_best]
    fitted = []
    for s, fit, m, p in zip(train, fits, at_best, preds, strict=False):
        noisy = sample_noise(rng, p, s.error, fit)
        with np.errstate(all="ignore"):
            lo, hi = np.nanquantile(noisy, [0.025, 0.975], axis=0)
        fitted.append(_frame(s, {"fitted": m[0], "lower": lo, "upper": hi}))
    if not holdout:
        return pd.concat(fitted, ignore_index=True), None
    entry = {"train": train, "holdout": list(holdout), "at_best": at_best, "preds": preds,
             "fits": list(fits)}
    for kept in _RECORDERS:  # one entry for all: a tag one recorder adds (origin) shows in all
        kept.append(entry)
    return pd.concat(fitted, ignore_index=True), forecast_table(
        train, list(holdout), at_best, preds, fits, rng, mode)


def forecast_table(train: Sequence[SeriesObs], holdout: Sequence[SeriesObs],
                   at_best: Sequence[np.ndarray], preds: Sequence[np.ndarray],
                   fits: Sequence[ErrorFit], rng: np.random.Generator, mode: str = DEFAULT_MODE
                   ) -> pd.DataFrame:
    """The held-out series' forecasts from model values already run: `at_best[i]` (1 x n) and
    `preds[i]` (draws x n) for the fitted series then the held-out ones, in that order."""
    gauss = [i for i, s in enumerate(train) if s.error in ("normal", "lognormal")]
    with np.errstate(divide="ignore", invalid="ignore"):
        model = [np.log(at_best[i][0]) if train[i].error == "lognormal" else at_best[i][0]
                 for i in gauss]
    fe = dict(zip(gauss, forecast_errors(
        [raw_residuals(train[i].values, at_best[i][0], train[i].error) for i in gauss],
        [1.0 if train[i].error == "lognormal" else float(np.mean(np.abs(train[i].values)))
         for i in gauss], mode=mode, model=model), strict=True))
    return forecast_rows(train, holdout, at_best, preds, fits, fe, rng)


def forecast_rows(train: Sequence[SeriesObs], holdout: Sequence[SeriesObs],
                  at_best: Sequence[np.ndarray], preds: Sequence[np.ndarray],
                  fits: Sequence[ErrorFit], fe: dict[int, ForecastError],
                  rng: np.random.Generator) -> pd.DataFrame:
    """The held-out series' forecast rows under the residual models `fe` (by fitted series'
    position; a series without one, negative binomial, gets its own noise around the run)."""
    n_train = len(train)
    index = {s.name: i for i, s in enumerate(train)}
    reps = max(1, 4000 // max(len(preds[0]), 1))
    rows = []
    for j, h in enumerate(holdout):
        i = index[h.name]
        s = train[i]
        steps = _steps(s, h)
        m_best, m_runs = at_best[n_train + j], preds[n_train + j]
        if i in fe:
            centre, _ = forecast_draws(rng, m_best, at_best[i][:, -1], s.values[-1], s.error,
                                       fe[i], steps)
            _, noisy = forecast_draws(rng, m_runs, preds[i][:, -1], s.values[-1], s.error,
                                      fe[i], steps, reps=reps)
        else:
            _, noisy = forecast_noise(rng, m_runs, s.error, fits[i], np.zeros(len(m_runs)),
                                      steps)
            centre = m_best
        with np.errstate(all="ignore"):
            lo, hi = np.nanquantile(noisy, [0.025, 0.975], axis=0)
        rows.append(_frame(h, {"forecast": centre[0], "run": m_best[0],
                               "lower": lo, "upper": hi, "steps": steps}))
    return pd.concat(rows, ignore_index=True)
