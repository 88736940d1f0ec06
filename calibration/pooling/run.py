"""Fit every authority with a spec, in one vectorised fit, and tabulate what it found.

    >>> from carespiral.calibration.pooling.run import fit_authorities
    >>> fit = fit_authorities("local")              # doctest: +SKIP
    >>> fit.population                              # the national distribution, per parameter
    >>> fit.save("calibration-local-all")

`fit_cases` does the same for ready-made `AreaCase`s (any model, synthetic data).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.calibration.fit_stats import fit_table
from carespiral.calibration.observations import SeriesObs
from carespiral.calibration.pooling.authorities import Failure, authority_cases
from carespiral.calibration.pooling.fit import PooledEstimate, fit_stack
from carespiral.calibration.pooling.result import AuthoritiesFit
from carespiral.calibration.pooling.stack import AreaCase, AreaStack
from carespiral.calibration.spec import CalibrationSpec, read_spec
from carespiral.errors import CarespiralError

__all__ = ["HORIZON", "backtest_rows", "fit_authorities", "fit_cases", "predictions"]

HORIZON = 3  # years forecast after the last published figure
Progress = Callable[[str, int], None]


def fit_authorities(
    spec: str | Path | CalibrationSpec = "local",
    areas: Sequence[str] | None = None,
    fit_until: int | None = None,
    pooling: str = "partial",
    seed: int = 0,
    table: pd.DataFrame | None = None,
    progress: Progress | None = None,
    n_draws: int = 200,
    n_predictive: int = 40,
    horizon: int = HORIZON,
    command: str | None = None,
    prepared: tuple[list[AreaCase], list[Failure]] | None = None,
) -> AuthoritiesFit:
    """Fit every current authority (or `areas`) with `spec`, all together.

    pooling: `partial` (the national distribution fitted too) or `none` (each authority alone
    with the spec's priors). fit_until: fit the years up to it and forecast the rest (the
    backtest). Authorities that cannot be fitted are listed with the reason. `prepared`:
    the authorities' problems and failures when already built (`authority_cases`).
    """
    if not isinstance(spec, CalibrationSpec):
        spec = read_spec(spec)
    t0 = time.perf_counter()
    cases, failures = prepared or authority_cases(spec, areas, fit_until, table,
                                                  horizon=horizon)
    if progress:
        progress("problems built", 0)
    if not cases:
        reasons = "; ".join(f"{f.name}: {f.reason}" for f in failures[:3])
        raise CarespiralError(f"no authority can be fitted with spec {spec.name!r}: {reasons}")
    fit = fit_cases(cases, failures, pooling=pooling, seed=seed, progress=progress,
                    n_draws=n_draws, n_predictive=n_predictive, horizon=horizon,
                    labels={"model": spec.model, "spec": spec.name,
                            "scenario": str(spec.scenario or "")}, origin=fit_until)
    fit.fit_until = fit_until
    fit.diagnostics["seconds"] = round(time.perf_counter() - t0, 1)
    fit.manifest = _manifest(spec, fit, fit_until, command)
    return fit


def fit_cases(cases: Sequence[AreaCase], failures: Sequence[Failure] = (),
              pooling: str = "partial", seed: int = 0, progress: Progress | None = None,
              n_draws: int = 200, n_predictive: int = 40, horizon: int = HORIZON,
              labels: dict[str, str] | None = None, origin: int | None = None,
              **options) -> AuthoritiesFit:
    """Fit `cases` together (`fit_stack` options pass through) and build the result."""
    labels = labels or {}
    stack = AreaStack(cases, seed=seed)
    est = fit_stack(stack, pooling=pooling, seed=seed, progress=progress, **options)
    rng = np.random.default_rng(seed + 1)
    draws = est.draws(n_draws, rng)
    unpooled = est.draws(n_draws, rng, unpooled=True)
    fitted, held, ahead = predictions(stack, est, draws, rng, n_predictive, horizon,
                                      national=est.pooling == "partial")
    if progress:
        progress("predictions", stack.n_runs)
    codes = [c.code for c in cases]
    stats = pd.concat([fit_table(fitted[fitted["area_code"] == c]).assign(area_code=c)
                       for c in codes], ignore_index=True)
    backtest = bsum = None
    if len(held) and origin is not None:
        backtest, bsum = backtest_rows(fitted, held, origin)
    return AuthoritiesFit(
        model=labels.get("model", getattr(stack.model, "name", "")),
        spec=labels.get("spec", ""), pooling=pooling, seed=seed,
        areas=_areas(cases, failures, est),
        parameters=_parameters(cases, stack, est, draws, unpooled),
        population=_population(stack, est),
        fitted=fitted, fit=_first(stats), forecast=ahead,
        draws=_draws(codes, stack.names, draws), constants=_constants(cases),
        drivers=_drivers(cases), backtest=backtest, backtest_summary=bsum,
        scenario=labels.get("scenario", str(getattr(stack.scenario, "name", stack.scenario)
                                            or "")),
        converged=est.converged,
        diagnostics={"runs": est.runs, "runs_total": stack.n_runs,
                     "fit_seconds": round(est.seconds, 1), "rounds": est.rounds,
                     "parameters": stack.names, "error_models": _error_table(cases, est)})


# ---- predictions ------------------------------------------------------------------------------


def _future(series: Sequence[SeriesObs], horizon: int) -> list[SeriesObs]:
    """Each series' next `horizon` reporting periods (the last one moved on a year at a time)."""
    out = []
    for s in series:
        last = s.rows.iloc[[-1]]
        rows = []
        for h in range(1, horizon + 1):
            r = last.copy()
            for col in ("date", "period_start", "period_end"):
                r[col] = pd.to_datetime(r[col]) + pd.DateOffset(years=h)
            r["year"] = r["year"] + h
            r["value"] = np.nan
            rows.append(r)
        out.append(replace(s, rows=pd.concat(rows, ignore_index=True)))
    return out


class _Ran:
    """One area's runs, already made, in the shape `prediction_tables` asks a problem for:
    `simulate` of the best parameters (one row) or of the parameter draws."""

    def __init__(self, series: list[SeriesObs], best: list[np.ndarray],
                 draws: list[np.ndarray]) -> None:
        self.series, self._best, self._draws = series, best, draws

    def simulate(self, theta: np.ndarray, series=None, stop=None) -> list[np.ndarray]:
        return self._best if len(np.atleast_2d(theta)) == 1 else self._draws


def predictions(stack: AreaStack, est: PooledEstimate, draws: np.ndarray,
                 rng: np.random.Generator, n: int, horizon: int, national: bool = False,
                 own: list | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Fitted, held-out and future values of every area, by the project's predictions
    (`calibration.predict.prediction_tables`: 95% bands from `n` parameter draws and the error
    model; after the fit the run plus the carried-over residual). The runs are one batch.
    `national`: forecasts with the residual model estimated across all areas
    (`pooling.forecast`) instead of each area's own; `own`, a list, then receives the held-out
    forecasts each area's own residual model gives from the same runs (for comparison)."""
    from carespiral.calibration.pooling.forecast import (
        national_forecast_errors,
        pooled_forecast_table,
    )
    from carespiral.calibration.predict import prediction_tables, recording

    A = stack.n_areas
    groups = []
    for c in stack.cases:
        fit, held = list(c.problem.series), list(c.holdout)
        groups.append((fit, held, _future(held or fit, horizon)))
    stack.set_series("all", [f + h + a for f, h, a in groups])
    n = max(2, min(n, draws.shape[1]))
    theta = np.vstack([est.theta, draws[:, :n, :].reshape(A * n, -1)])
    owner = np.concatenate([np.arange(A), np.repeat(np.arange(A), n)])
    preds = stack.predict(theta, owner, which="all")
    fitted, tables = [], []
    with recording() as records:
        for a, c in enumerate(stack.cases):
            fit, hold, future = groups[a]
            values = stack.area_values(preds, owner, a, which="all")
            ran = _Ran(fit, [v[:1] for v in values], [v[1:] for v in values])
            f, fc = prediction_tables(ran, est.theta[a], theta[owner == a][1:], est.errors[a],
                                      rng, hold + future)
            fitted.append(f.assign(area_code=c.code))
            tables.append(fc)
    if national:
        if own is not None:
            own.append(_first(pd.concat(
                [t.iloc[:sum(len(h) for h in groups[a][1])].assign(area_code=c.code)
                 for a, (c, t) in enumerate(zip(stack.cases, tables, strict=True))],
                ignore_index=True)))
        fes = national_forecast_errors(records)
        tables = [pooled_forecast_table(r, fe, rng) for r, fe in zip(records, fes, strict=True)]
    held, ahead = [], []
    for a, c in enumerate(stack.cases):
        hold, fc = groups[a][1], tables[a]
        n_held = sum(len(h) for h in hold)
        held.append(fc.iloc[:n_held].assign(area_code=c.code))
        ahead.append(fc.iloc[n_held:].assign(area_code=c.code))
    return tuple(_first(pd.concat(t, ignore_index=True)) for t in (fitted, held, ahead))


def backtest_rows(fitted: pd.DataFrame, held: pd.DataFrame, origin: int
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast rows and MASE per area and series, by the rolling backtest's own scoring
    (`calibration.rolling.forecast_rows`, `calibration.backtest.score_forecasts`)."""
    from types import SimpleNamespace

    from carespiral.calibration.backtest import score_forecasts
    from carespiral.calibration.rolling import forecast_rows

    rows = [forecast_rows(SimpleNamespace(backtest=g.drop(columns="area_code"),
                                          fitted=fitted[fitted["area_code"] == code]),
                          origin, code)
            for code, g in held.groupby("area_code", sort=False)]
    table = pd.concat(rows, ignore_index=True).rename(columns={"area": "area_code"})
    return _first(table), score_forecasts(table, by=("area_code", "series"))


# ---- tables -----------------------------------------------------------------------------------


def _first(df: pd.DataFrame) -> pd.DataFrame:
    """`area_code` as the first column."""
    return df[["area_code", *[c for c in df.columns if c != "area_code"]]]


def _areas(cases, failures, est: PooledEstimate) -> pd.DataFrame:
    ok = pd.DataFrame({
        "area_code": [c.code for c in cases], "area_name": [c.name for c in cases],
        "status": "ok", "message": "", "notes": ["; ".join(c.notes) for c in cases],
        "n_obs": [c.problem.n_obs for c in cases], "logpost": est.logpost})
    bad = pd.DataFrame({"area_code": [f.code for f in failures],
                        "area_name": [f.name for f in failures], "status": "failed",
                        "message": [f.reason for f in failures], "notes": "", "n_obs": 0,
                        "logpost": np.nan})
    both = pd.concat([ok, bad], ignore_index=True) if len(bad) else ok
    return both.sort_values("area_name", ignore_index=True)


def _parameters(cases, stack: AreaStack, est: PooledEstimate, draws: np.ndarray,
                unpooled: np.ndarray) -> pd.DataFrame:
    q = np.quantile(draws, [0.025, 0.5, 0.975], axis=1)  # 3 x A x k
    qu = np.quantile(unpooled, [0.025, 0.975], axis=1)
    theta, theta_u = est.theta, est.transform.to_theta(est.unpooled_z)
    B = est.shrinkage
    rows = []
    for a, c in enumerate(cases):
        for j, p in enumerate(stack.parameters):
            rows.append({
                "area_code": c.code, "area_name": c.name, "parameter": p.name,
                "estimate": theta[a, j], "median": q[1, a, j], "lower": q[0, a, j],
                "upper": q[2, a, j], "sd": float(np.std(draws[a, :, j])),
                "shrinkage": B[a, j], "unpooled": theta_u[a, j],
                "unpooled_lower": qu[0, a, j], "unpooled_upper": qu[1, a, j],
                "bound_lower": p.lower, "bound_upper": p.upper})
    return pd.DataFrame(rows)


def _population(stack: AreaStack, est: PooledEstimate) -> pd.DataFrame:
    tr, pop, prior = est.transform, est.population, est.prior
    B = est.shrinkage
    return pd.DataFrame({
        "parameter": stack.names, "mu": pop.mu, "tau": pop.tau,
        "national": tr.to_theta(pop.mu),
        "range_lower": tr.to_theta(pop.mu - 1.959964 * pop.tau),
        "range_upper": tr.to_theta(pop.mu + 1.959964 * pop.tau),
        "prior_mu": prior.mu, "prior_tau": prior.tau, "prior_national": tr.to_theta(prior.mu),
        "shrinkage_mean": B.mean(axis=0), "shrinkage_min": B.min(axis=0),
        "shrinkage_max": B.max(axis=0),
        "spread_unpooled": est.unpooled_z.std(axis=0), "spread_pooled": est.z.std(axis=0),
    })


def _draws(codes, names, draws: np.ndarray) -> pd.DataFrame:
    A, n, k = draws.shape
    out = pd.DataFrame(draws.reshape(A * n, k), columns=names)
    out.insert(0, "draw", np.tile(np.arange(n), A))
    out.insert(0, "area_code", np.repeat(codes, n))
    return out


def _error_table(cases, est: PooledEstimate) -> list[dict]:
    return [{"area_code": c.code, "series": s.name, "scale": f.scale, "rho": f.rho}
            for c, fits in zip(cases, est.errors, strict=True)
            for s, f in zip(c.problem.series, fits, strict=True)]


def _constants(cases) -> pd.DataFrame:
    return pd.DataFrame([{"area_code": c.code, "parameter": k, "value": float(v)}
                         for c in cases for k, v in c.problem.fixed.items()],
                        columns=["area_code", "parameter", "value"])


def _drivers(cases) -> pd.DataFrame:
    rows = [pd.DataFrame({"area_code": c.code, "variable": name,
                          "time": s.index.to_numpy(dtype=float),
                          "value": s.to_numpy(dtype=float)})
            for c in cases for name, s in c.inputs.items()]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["area_code", "variable", "time", "value"])


def _manifest(spec: CalibrationSpec, fit: AuthoritiesFit, fit_until, command) -> dict:
    from carespiral import __version__

    data = fit.fitted[["area_code", "series", "year", "observed"]].to_csv(index=False)
    return {"command": command or " ".join(sys.argv), "spec_sha256":
            hashlib.sha256(spec.text.encode()).hexdigest(),
            "data_sha256": hashlib.sha256(data.encode()).hexdigest(),
            "fit_until": "" if fit_until is None else str(fit_until),
            "carespiral": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
