"""Run a calibration end to end: spec -> data -> problem -> method -> uncertainty -> result.

    >>> from carespiral.calibration import calibrate
    >>> result = calibrate("national", method="least_squares", fit_until=2019)
    >>> print(result.report())

`fit_problem` does the same for a ready-made `Problem` (any model, any series, e.g. synthetic
data), which is what the recovery tests use.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.calibration.backtest import add_naive_forecasts, summarise_backtest
from carespiral.calibration.drivers import DEFAULT_AFTER
from carespiral.calibration.fit_stats import fit_table
from carespiral.calibration.methods import get_method
from carespiral.calibration.methods.base import MethodOutput, Progress
from carespiral.calibration.observations import SeriesObs, observations_for
from carespiral.calibration.predict import prediction_tables
from carespiral.calibration.problem import FitParameter, Problem
from carespiral.calibration.result import CalibrationResult
from carespiral.calibration.spec import CalibrationSpec, read_spec
from carespiral.calibration.uncertainty import (
    Laplace,
    correlation,
    laplace,
    profile,
    profile_summary,
)
from carespiral.errors import CarespiralError

__all__ = ["build_problem", "calibrate", "expected_runs", "fit_problem"]

MOVE_GAIN = 0.05  # log-posterior units a profile re-fit must gain over the optimum to move to it
MAX_MOVES = 2  # moves at most (each costs a polish, a Hessian and the profiles again)


def fit_problem(
    problem: Problem,
    method: str = "least_squares",
    seed: int = 0,
    budget: int | None = None,
    profiles: bool = True,
    n_draws: int = 200,
    holdout: Sequence[SeriesObs] = (),
    progress: Progress | None = None,
    labels: dict[str, str] | None = None,
    method_options: dict | None = None,
) -> CalibrationResult:
    """Fit `problem` with `method`, then add intervals, fit statistics and the backtest."""
    labels = labels or {}
    entry = get_method(method)
    name = entry.name
    unknown = sorted(set(method_options or {}) - set(entry.options))
    if unknown:
        raise CarespiralError(f"method {name} has no option {unknown[0]!r}; its options: "
                              + (", ".join(entry.options) or "none"))
    rng = np.random.default_rng(seed)
    problem.seed = seed  # the model's RANDOM functions draw from the fit's seed
    t0 = time.perf_counter()
    # the log-posterior at the priors' modes: what the fit is measured against
    start_lp = float(problem.logpost(np.array([[p.prior.mode() for p in problem.parameters]]))[0])
    budget = budget or entry.budget
    out: MethodOutput = entry.fit(problem, rng, budget=budget, progress=progress,
                                  **(method_options or {}))
    best = np.asarray(out.best, dtype=float)
    if progress is not None:  # intervals, profiles and predictions count on the same bar
        problem.on_batch = lambda _n: progress(problem.n_runs, out.best_logpost)
    names = problem.names

    # parameter uncertainty: posterior draws, or the Laplace approximation
    lap = laplace(problem, best)
    prof = None
    summary = None
    prof_gain = None
    moved = 0
    lap_lo, lap_hi = lap.interval(best)
    if out.draws is not None:
        draws = out.draws
        lo, hi = np.quantile(draws, [0.025, 0.975], axis=0)
        sd = draws.std(axis=0)
        corr = correlation(draws, names, draws=True)
    else:
        lo, hi = lap_lo, lap_hi
        sd = lap.sd
        corr = correlation(lap.covariance, names)
        if profiles:
            prof, best, lp, lap, moved = _profile_from_the_top(problem, best, lap)
            if moved:
                lap_lo, lap_hi = lap.interval(best)
                sd, corr = lap.sd, correlation(lap.covariance, names)
                out.best, out.best_logpost = best, lp
                out.message += (f"; the profiles found a higher point, so the fit moved there "
                                f"({moved} time{'s' if moved > 1 else ''}; log-posterior "
                                f"{out.best_logpost:.2f})")
            summary = profile_summary(prof, problem)
            # The profile interval is the reported one: system-dynamics models are full of
            # MIN/MAX and piecewise-linear lookups, so the log-posterior has kinks and a
            # finite-difference Hessian can be far too confident. The Laplace draws used for
            # predictive intervals are widened to match the profile where it is wider.
            lo = summary["profile_lower"].to_numpy(dtype=float)
            hi = summary["profile_upper"].to_numpy(dtype=float)
            lap = lap.widened((hi - lo) / (2 * 1.959964))
            # a re-fit better than the optimum means the optimum was not one: say by how much
            prof_gain = float(max(0.0, -prof["delta"].min()))
        draws = lap.sample(best, problem.lower, problem.upper, n_draws, rng)
    span = problem.upper - problem.lower
    # the reported interval stays inside the bounds (a normal approximation at a parameter
    # near its bound reaches past it); laplace_* keep the approximation as it is
    lo, hi = np.maximum(lo, problem.lower), np.minimum(hi, problem.upper)
    params = pd.DataFrame({
        "parameter": names, "estimate": best, "sd": sd, "lower": lo, "upper": hi,
        "laplace_lower": lap_lo, "laplace_upper": lap_hi,
        "prior": [p.prior.describe() for p in problem.parameters],
        "bound_lower": problem.lower, "bound_upper": problem.upper,
        "at_bound": (np.abs(best - problem.lower) < 1e-3 * span)
        | (np.abs(problem.upper - best) < 1e-3 * span),
    })
    if out.draws is not None:
        params.insert(2, "posterior_median", np.median(out.draws, axis=0))
    if summary is not None:
        params = params.merge(summary, on="parameter", how="left")
    elif out.draws is not None:
        # a sampled parameter is flat when its 95% interval covers most of its prior range
        width = (hi - lo) / span
        params["identifiability"] = np.where(width > 0.8, "flat", "identified")

    # predictions at the optimum and predictive intervals, fitted and held-out series together
    fits = problem.scales(best)
    idx = rng.choice(len(draws), size=min(n_draws, len(draws)), replace=False)
    fitted, forecasts = prediction_tables(problem, best, draws[idx], fits, rng, holdout)
    stats = fit_table(fitted)
    stats["rho"] = [f.rho for f in fits]
    backtest = bsum = None
    if forecasts is not None:
        backtest = add_naive_forecasts(forecasts, fitted)
        bsum = summarise_backtest(backtest, fitted)

    problem.on_batch = None
    diag = {**out.diagnostics, "runs": problem.n_runs, "start_logpost": start_lp,
            "seconds": round(time.perf_counter() - t0, 2), "best_logpost": out.best_logpost,
            "laplace_positive_definite": lap.positive_definite}
    if prof_gain is not None:
        diag["profile_gain_over_optimum"] = round(prof_gain, 4)
        diag["profile_moves"] = moved
    manifest = _manifest(problem, name, seed, budget, labels, fitted)
    return CalibrationResult(
        model=labels.get("model", getattr(problem.model, "name", "")),
        spec=labels.get("spec", ""), area=labels.get("area", ""), method=name, seed=seed,
        parameters=params, fitted=fitted, fit=stats, correlation=corr,
        draws=pd.DataFrame(out.draws if out.draws is not None else draws, columns=names),
        profiles=prof, backtest=backtest, backtest_summary=bsum, converged=out.converged,
        message=out.message, diagnostics=diag, manifest=manifest,
    )


def build_problem(spec: CalibrationSpec, area: str | None = None, fit_until: int | None = None,
                  data: pd.DataFrame | None = None, horizon: int | None = None,
                  ex_ante: bool = True, drivers_after: str = DEFAULT_AFTER,
                  fit_idle_events: bool = False) -> tuple[Problem, list[SeriesObs], str]:
    """The Problem a spec describes for one area, the held-out series, and the area's label.

    fit_until: fit the years up to it and hold out the later ones in `data` (up to `horizon`
    years later). ex_ante (with fit_until): the drivers and the calendar's events are those
    known at the last fitted figure (later driver values held by the stated rule, later events
    at size 0 and not fitted); otherwise the run is given them as they happened.
    drivers_after: how ex-ante drivers go on after the last fitted figure
    (`calibration.drivers.AFTER_RULES`; default `national`: population held, posts grown as England's).
    fit_idle_events: fit an event driver's size (`calibration.drivers.EVENT_DRIVERS`) even when
    the area's run has no such event up to the last fitted figure, where the data say nothing
    of it (a pooled fit needs every area to fit the same parameters); by default it is then set
    to 0 and not fitted, with a note.
    """
    from carespiral.pysd_runner import load

    model = load(spec.model_ref)
    spec.check_model(model)
    area = area or spec.area
    if not area:
        raise spec.error("no area: the spec leaves it open, so give --area (a code or a name)",
                         "area")
    table, label = _area_data(area, data)
    first, last = spec.period
    if fit_until is not None:
        if not first <= fit_until:
            raise CarespiralError(f"--fit-until {fit_until} is before the spec's period "
                                  f"{first}-{last}")
        train_spec = spec.with_period(first, min(fit_until, last))
    else:
        train_spec = spec
    series = observations_for(train_spec, model, table, label)
    holdout: list[SeriesObs] = []
    if fit_until is not None:
        from carespiral.errors import FileFormatError

        end = int(table["year"].max()) if horizon is None else fit_until + horizon
        test_spec = replace(spec, series=tuple(replace(s, period=None) for s in spec.series),
                            period=(fit_until + 1, max(end, fit_until + 1)))
        for s in test_spec.series:
            one = replace(test_spec, series=(s,))
            try:
                holdout += observations_for(one, model, table, label)
            except FileFormatError:
                continue  # no published values after the cut-off for this series
        if not holdout:
            raise CarespiralError(
                f"--fit-until {fit_until}: no published values of the spec's series after "
                f"{fit_until} for {label} to forecast (the data end in "
                f"{int(table['year'].max())}); give a later release with --data or an earlier "
                "--fit-until")
    fixed = dict(spec.fixed)
    for pname, sname in spec.scale.items():
        fixed[model.parameter(pname).name] = _scale_value(spec, pname, sname, table, first)
    known = ex_ante and fit_until is not None
    cut_date = max(pd.Timestamp(d) for s in series for d in s.dates) if known else None
    inputs: dict[str, pd.Series] = {}
    notes: list[str] = []
    if spec.drivers:
        from carespiral.calibration.drivers import driver_inputs

        d = driver_inputs(spec.drivers, label.rsplit("(", 1)[-1].rstrip(")"),
                          data, until=cut_date, after=drivers_after)
        fixed.update(d.params)
        inputs = {model.resolve(k): v for k, v in d.inputs.items()}
        notes += d.notes
    unknown_events: dict[str, float] = {}
    if spec.calendar and known:
        from carespiral.calibration.drivers import (
            calendar_events,
            later_event_sizes,
            resolve_calendar,
        )

        path = resolve_calendar(spec.path, Path(model.mdl_path), spec.calendar)
        cut_month = max(float(s.times.max()) for s in series)
        unknown_events = later_event_sizes(calendar_events(path), cut_month)
        fixed.update(unknown_events)
        if unknown_events:
            notes.append("events after the last fitted figure left out (size 0): "
                         + ", ".join(unknown_events))
    fixed = {model.parameter(k).name: v for k, v in fixed.items()}
    fitted = {model.parameter(p.name).name for p in spec.parameters}
    fixed.update(_need_trend_window(model, series, set(fixed) | fitted))
    idle = {} if fit_idle_events else _idle_event_sizes(model, series, inputs, fitted)
    fixed.update(dict.fromkeys(idle, 0.0))
    notes += [f"{n} not fitted (0): {why}" for n, why in idle.items()]
    params = []
    for p in spec.parameters:
        real = model.parameter(p.name).name
        if real in unknown_events or real in idle:
            continue  # an event after the origin, or one the area never had: not fitted
        if real in fixed:
            raise spec.error(f"parameter {p.name!r} is also set from the data (drivers or "
                             "[scale]); fit it or set it, not both", "parameters", p.name)
        params.append(FitParameter(real, p.lower, p.upper, p.prior, p.initial))
    problem = Problem(model, params, series, fixed=fixed, scenario=spec.scenario,
                      inputs=inputs, notes=tuple(notes))
    return problem, holdout, label


def calibrate(
    spec: str | Path | CalibrationSpec,
    area: str | None = None,
    method: str | None = None,
    fit_until: int | None = None,
    seed: int = 0,
    budget: int | None = None,
    profiles: bool = True,
    data: pd.DataFrame | None = None,
    progress: Progress | None = None,
    command: str | None = None,
    method_options: dict | None = None,
    horizon: int | None = None,
    ex_ante: bool = True,
    drivers_after: str = DEFAULT_AFTER,
) -> CalibrationResult:
    """Calibrate a spec (bundled name, path or object) to one area's published data.

    data: the published table to fit (`carespiral.data.load()` by default; a user's release
    merged in by `carespiral.data.releases`). fit_until, horizon, ex_ante, drivers_after: see
    `build_problem`.
    method_options override the spec's `[options.METHOD]` (e.g. {"walkers": 1024} for emcee).
    """
    if not isinstance(spec, CalibrationSpec):
        spec = read_spec(spec)
    problem, holdout, label = build_problem(spec, area, fit_until, data, horizon, ex_ante,
                                            drivers_after)
    labels = {"model": spec.model, "spec": spec.name, "area": label,
              "command": command or " ".join(sys.argv),
              "spec_sha256": hashlib.sha256(spec.text.encode()).hexdigest(),
              "fit_until": "" if fit_until is None else str(fit_until),
              "forecasts": "" if fit_until is None else ("ex ante" if ex_ante else "ex post"),
              "notes": list(problem.notes)}
    return fit_problem(problem, method or spec.method, seed=seed, budget=budget,
                       profiles=profiles, holdout=holdout, progress=progress, labels=labels,
                       method_options={**spec.options.get(method or spec.method, {}),
                                       **(method_options or {})})


def expected_runs(k: int, budget: int, profiles: bool = True, n_draws: int = 200,
                  sampler: bool = False) -> int:
    """About how many model runs a fit of `k` parameters takes: the method's budget (a search
    that meets its stopping test spends less), the Laplace stencil, the profiles (each of k
    parameters walked both ways over about 4 values, each re-fitted by about 5
    Levenberg-Marquardt iterations of k runs) and the predictive draws. For progress bars."""
    lap = 1 + 2 * k + 2 * k * (k - 1)
    prof = 2 * k * 4 * k * 5 if profiles and not sampler else 0
    return int(budget + lap + prof + n_draws + 2)


def _area_data(area: str, data: pd.DataFrame | None) -> tuple[pd.DataFrame, str]:
    """The area's rows of the published table (one area code) and a label `Name (code)`."""
    from carespiral import data as published

    table = published.load() if data is None else data
    codes = published.find_areas(area, published.areas(table))
    rows = table[table["area_code"].isin(codes)]
    # a name that matches codes before and after a boundary change: fit the current one
    last = rows.groupby("area_code")["year"].max().sort_values()
    code = str(last.index[-1]) if len(last) else codes[-1]
    rows = rows[rows["area_code"] == code]
    name = str(rows["area_name"].iloc[0]) if len(rows) else area
    return rows, f"{name} ({code})"


def _idle_event_sizes(model, series: Sequence[SeriesObs], inputs: dict[str, pd.Series],
                      fitted: set[str]) -> dict[str, str]:
    """Each fitted size of an event driver whose time input is not given (the spec does not
    name the driver) or never on up to the last fitted figure, with the reason: the data cannot
    tell its size, so it is set to 0. (Ex post, an event after the last fitted figure is in the
    run but has no effect unless an earlier one sized it.)"""
    from carespiral.calibration.drivers import EVENT_DRIVERS

    names = {v.name for v in model.variables}
    last = max((float(s.times.max()) for s in series if len(s.times)), default=np.inf)
    out: dict[str, str] = {}
    for driver, (index, size) in EVENT_DRIVERS.items():
        if index not in names or size not in names or size not in fitted:
            continue
        x = inputs.get(index)
        if x is None:
            out[size] = (f"the spec does not name the driver {driver!r} (drivers = [...]), so "
                         f"the run has no {index}")
        elif not bool((x[x.index <= last + 1e-9] > 0).any()):
            out[size] = f"no {index} in the area's run up to the last fitted figure"
    return out


# constants that bound a fitted trend in need to the fitted years (collapse_spiral's
# `Need Growth`): set from the data, so that the trend is held before and after them
NEED_TREND_WINDOW = ("Need Trend Start", "Need Trend End")


def _need_trend_window(model, series: Sequence[SeriesObs], taken: set[str]
                       ) -> dict[str, float]:
    """The months of the first and last fitted figure as the window of a model's trend in need,
    for a model that has one and a spec that neither sets nor fits it (`taken`, the model's
    names): need grows only where the data show it, and a forecast holds it where the data
    left it."""
    names = {p.name for p in model.parameters}
    if not series or any(n not in names or n in taken for n in NEED_TREND_WINDOW):
        return {}
    start = min(float(np.min(s.times)) for s in series)
    end = max(float(np.max(s.times)) for s in series)
    return {NEED_TREND_WINDOW[0]: start, NEED_TREND_WINDOW[1]: end}


def _scale_value(spec: CalibrationSpec, pname: str, sname: str, table: pd.DataFrame,
                 first: int) -> float:
    rows = table[(table["series"] == sname) & table["value"].notna()]
    if "variant" in rows:
        rows = rows[rows["variant"].fillna("") == ""]
    if rows.empty:
        raise spec.error(f"[scale] {pname!r}: series {sname!r} has no values for this area",
                         "scale", pname)
    i = int(np.argmin(np.abs(rows["year"].to_numpy() - first)))
    return float(rows["value"].iloc[i])


def _manifest(problem: Problem, method: str, seed: int, budget: int, labels: dict[str, str],
              fitted: pd.DataFrame) -> dict:
    import emcee
    import pysd
    import scipy

    from carespiral import __version__

    mdl = Path(getattr(problem.model, "mdl_path", ""))
    data_bytes = fitted[["series", "year", "time", "observed"]].to_csv(index=False).encode()
    return {
        "command": " ".join(sys.argv),
        **labels,
        "method": method, "seed": seed, "budget": budget,
        "model_file": mdl.name, "model_path": str(mdl.resolve()) if mdl.is_file() else "",
        "model_sha256": hashlib.sha256(mdl.read_bytes()).hexdigest() if mdl.is_file() else "",
        "data_sha256": hashlib.sha256(data_bytes).hexdigest(),
        "parameters": problem.names, "fixed": dict(problem.fixed),
        "scenario": str(getattr(problem.scenario, "name", problem.scenario) or ""),
        "versions": {"carespiral": __version__, "python": platform.python_version(),
                     "numpy": np.__version__, "scipy": scipy.__version__,
                     "pandas": pd.__version__, "pysd": pysd.__version__,
                     "emcee": emcee.__version__},
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def _profile_from_the_top(problem, best: np.ndarray, lap: Laplace
                          ) -> tuple[pd.DataFrame, np.ndarray, float, Laplace, int]:
    """Profiles at `best`; when a re-fit on them climbs above it (the optimiser stopped short
    of the top, or on a lower peak), the fit moves to that point, polished with every parameter
    free, and the Hessian and profiles are taken again there, so that the reported estimate is
    the highest point found and lies inside its own interval. Returns the profiles, the
    estimate, its log-posterior, its Laplace approximation and how many times it moved."""
    from carespiral.calibration.lm import batched_lm

    moves = 0
    while True:
        found: dict = {}
        prof = profile(problem, best, lap.sd, found=found)
        if moves >= MAX_MOVES or found.get("logpost", -np.inf) <= found["optimum"] + MOVE_GAIN:
            return prof, best, found["optimum"], lap, moves
        u0 = problem.to_unit(np.asarray(found["theta"], dtype=float))[None, :]
        u = batched_lm(problem, u0, np.ones_like(u0, dtype=bool), None, iterations=40,
                       tol=1e-4)
        theta = problem.from_unit(u[0])
        if float(problem.logpost(theta)[0]) < found["logpost"]:
            theta = np.asarray(found["theta"], dtype=float)
        best, lap, moves = theta, laplace(problem, theta), moves + 1
