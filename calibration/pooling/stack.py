"""Many areas' problems run as one batch: authority as a dimension of the runs.

An `AreaCase` is one area's calibration problem (its published series, the constants its own
data set, e.g. child population) with its drivers over time (time inputs such as the child
population index). `AreaStack` runs parameter sets of any mix of areas together: each row of a
batch belongs to one area (`owner`), gets that area's constants and that area's drivers as
per-run time inputs, and is observed against that area's published rows. One `run_batch` call
(in chunks, to bound memory) serves every area, on the compiled engine, with the runs split over
the machine's cores.

Observing is shared too: for each series, the union of all areas' reporting periods is observed
once over every run (`carespiral.data.observe.observe_batch`), and each area then reads its own
periods from its own runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carespiral.calibration.errors_model import (
    AR1_MIN_N,
    RHO_MAX,
    ErrorFit,
    deviance_residuals,
    fit_error,
    raw_residuals,
)
from carespiral.calibration.observations import SeriesObs
from carespiral.calibration.problem import Problem
from carespiral.errors import CarespiralError, ModelRunError

__all__ = ["AreaCase", "AreaStack", "national_rho"]

_KEY = ["date", "period_start", "period_end"]


@dataclass
class AreaCase:
    """One area to fit: its Problem, held-out series and drivers over time.

    inputs: model variable -> Series (model month -> value), the area's time inputs.
    """

    code: str
    name: str
    problem: Problem
    holdout: list[SeriesObs] = field(default_factory=list)
    inputs: Mapping[str, pd.Series] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


class _Template:
    """One series' reporting periods over all areas, and where each area's rows sit in it."""

    def __init__(self, name: str, pairs: Sequence[tuple[int, SeriesObs]]) -> None:
        obs = [s for _, s in pairs]
        rows = pd.concat([o.rows for o in obs], ignore_index=True)
        rows = rows.drop_duplicates(_KEY).sort_values("date").reset_index(drop=True)
        self.name = name
        self.rows = rows
        self.needs = obs[0].needs
        self.roles = obs[0].roles
        self.start = obs[0].start
        key = rows[_KEY].astype("int64").apply(tuple, axis=1)
        where = {k: i for i, k in enumerate(key)}
        self.index = [np.array([where[k] for k in o.rows[_KEY].astype("int64").apply(
            tuple, axis=1)], dtype=int) for o in obs]


class AreaStack:
    """The areas of `cases` (same model, parameters and scenario) as one batch problem."""

    def __init__(self, cases: Sequence[AreaCase], chunk: int = 1500,
                 engine: str | None = "numba", seed: int = 0) -> None:
        if not cases:
            raise CarespiralError("no areas to fit")
        self.cases = list(cases)
        first = self.cases[0].problem
        self.model = first.model
        self.parameters = list(first.parameters)
        self.names = first.names
        self.scenario = first.scenario
        self.time_step = first.time_step
        for c in self.cases:
            if c.problem.names != self.names:
                raise CarespiralError(f"area {c.name}: fits {c.problem.names}, not {self.names}")
        self.chunk, self.engine = chunk, engine
        self.seed = seed  # the model's RANDOM functions': see `predict`
        self.n_runs = 0
        self.series_names = list(dict.fromkeys(s.name for c in self.cases
                                               for s in c.problem.series))
        self._fixed = sorted({k for c in self.cases for k in c.problem.fixed})
        self._fixed_values = np.array([[c.problem.fixed.get(k, np.nan) for k in self._fixed]
                                       for c in self.cases], dtype=float)
        if np.isnan(self._fixed_values).any():
            raise CarespiralError("every area must set the same constants")
        self._inputs = self._input_grids()

    # ---- shapes ----------------------------------------------------------------------------

    @property
    def n_areas(self) -> int:
        return len(self.cases)

    @property
    def k(self) -> int:
        return len(self.names)

    def n_obs(self, area: int) -> int:
        return self.cases[area].problem.n_obs

    def templates(self, which: str = "fit") -> list[_Template]:
        """Per series: the union of the areas' rows (`fit`: fitted series; `holdout`)."""
        cache = self.__dict__.setdefault("_templates", {})
        if which not in cache:
            cache[which] = self._build_templates(which)
        return cache[which]

    def set_series(self, which: str, series: Sequence[Sequence[SeriesObs]]) -> None:
        """Other series to predict per area (e.g. future reporting periods), by a name."""
        if which in ("fit", "holdout") or len(series) != self.n_areas:
            raise CarespiralError("set_series needs a new name and one list per area")
        self.__dict__.setdefault("_extra", {})[which] = [list(s) for s in series]
        self.__dict__.setdefault("_templates", {}).pop(which, None)

    def _series_of(self, which: str, area: int) -> list[SeriesObs]:
        case = self.cases[area]
        if which == "fit":
            return list(case.problem.series)
        if which == "holdout":
            return list(case.holdout)
        return self.__dict__["_extra"][which][area]

    def _build_templates(self, which: str) -> list[_Template]:
        by_name: dict[str, list[tuple[int, SeriesObs]]] = {}
        where: dict[tuple[int, int], tuple[int, int]] = {}  # (area, its series) -> (template, entry)
        for a in range(self.n_areas):
            for i, s in enumerate(self._series_of(which, a)):
                pairs = by_name.setdefault(s.name, [])
                where[(a, i)] = (list(by_name).index(s.name), len(pairs))
                pairs.append((a, s))
        self.__dict__.setdefault("_where", {})[which] = where
        return [_Template(name, pairs) for name, pairs in by_name.items()]

    def _input_grids(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per time input: a common time grid and every area's values on it (grid x areas).

        Linear interpolation on the union of the areas' points reproduces each area's own
        piecewise-linear input exactly (ends held)."""
        names = sorted({k for c in self.cases for k in c.inputs})
        grids = {}
        for name in names:
            if any(name not in c.inputs for c in self.cases):
                raise CarespiralError(f"time input {name!r} is given for some areas only")
            t = np.unique(np.concatenate([c.inputs[name].index.to_numpy(dtype=float)
                                          for c in self.cases]))
            vals = np.column_stack([np.interp(t, c.inputs[name].index.to_numpy(dtype=float),
                                              c.inputs[name].to_numpy(dtype=float))
                                    for c in self.cases])
            grids[name] = (t, vals)
        return grids

    # ---- running ---------------------------------------------------------------------------

    def predict(self, theta: np.ndarray, owner: np.ndarray, which: str = "fit",
                templates: Sequence[_Template] | None = None, stop: float | None = None
                ) -> list[np.ndarray]:
        """Observed model values of every row: per template, an array (rows x template rows).

        Rows whose run fails for its numbers (`ModelRunError`) are NaN. Row i draws the
        model's RANDOM stream (`seed`, i) whatever the chunks (or the halves a failed chunk is
        run again in).
        """
        from carespiral.pysd_runner.batch.model import TimeInput

        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        owner = np.asarray(owner, dtype=int)
        temps = list(self.templates(which) if templates is None else templates)
        out = [np.full((len(theta), len(t.rows)), np.nan) for t in temps]
        if not len(theta) or not temps:
            return out
        outputs = list(dict.fromkeys(v for t in temps for v in t.needs))
        last = max(float(np.max(_months(t))) for t in temps)
        stop = float(np.ceil(last)) if stop is None else stop
        step = self.time_step or self.model.control("time_step")

        def run(rows: np.ndarray) -> None:
            frame = pd.DataFrame(theta[rows], columns=self.names)
            for j, name in enumerate(self._fixed):
                frame[name] = self._fixed_values[owner[rows], j]
            inputs = {name: TimeInput(t, vals[:, owner[rows]])
                      for name, (t, vals) in self._inputs.items()}
            options = {"engine": self.engine} if self.engine else {}
            # rows are consecutive: row i keeps its stream in any chunk or half of one
            ds = self.model.run_batch(frame, outputs=outputs, saveper=step,
                                      scenario=self.scenario, stop=stop,
                                      time_step=self.time_step, backend="auto", inputs=inputs,
                                      seed=self.seed, first_run=int(rows[0]), **options)
            self.n_runs += len(rows)
            from carespiral.data.observe import observe_batch

            for j, t in enumerate(temps):
                seen = observe_batch(ds[list(t.needs)], t.rows, self.model, roles=t.roles)
                out[j][rows] = seen.to_numpy().T

        def guarded(rows: np.ndarray) -> None:
            try:
                run(rows)
            except (ModelRunError, ArithmeticError):
                # only a run that fails for its numbers is NaN (scored -inf); anything else
                # is a set-up mistake and is raised
                if len(rows) == 1:
                    return
                half = len(rows) // 2
                guarded(rows[:half])
                guarded(rows[half:])

        for start in range(0, len(theta), self.chunk):
            guarded(np.arange(start, min(start + self.chunk, len(theta))))
        return out

    def area_values(self, preds: Sequence[np.ndarray], owner: np.ndarray, area: int,
                    which: str = "fit") -> list[np.ndarray]:
        """One area's model values per series (its rows x its observations) from `predict`."""
        rows = np.flatnonzero(np.asarray(owner) == area)
        temps = self.templates(which)
        where = self.__dict__["_where"][which]
        out = []
        for i in range(len(self._series_of(which, area))):
            j, entry = where[(area, i)]
            out.append(preds[j][np.ix_(rows, temps[j].index[entry])])
        return out

    # ---- scoring ---------------------------------------------------------------------------

    def residuals(self, theta: np.ndarray, owner: np.ndarray, errors: Sequence[Sequence],
                  width: int) -> np.ndarray:
        """Weighted standardised residuals per row (whitened where the series' residuals are
        autocorrelated), padded with zeros to `width` columns.

        errors: per area, the `ErrorFit` (scale, autocorrelation) of each of its series, fixed
        during a fit round (`error_fits`).
        """
        owner = np.asarray(owner, dtype=int)
        preds = self.predict(theta, owner)
        out = np.zeros((len(owner), width))
        for a in np.unique(owner):
            rows = np.flatnonzero(owner == a)
            parts = [np.sqrt(s.weight) * deviance_residuals(s.values, m, s.error, fit)
                     for s, m, fit in zip(self.cases[a].problem.series,
                                          self.area_values(preds, owner, a), errors[a],
                                          strict=True)]
            r = np.concatenate(parts, axis=1)
            out[rows, :r.shape[1]] = r
        return out

    def loglik(self, theta: np.ndarray, owner: np.ndarray) -> np.ndarray:
        """Log-likelihood per row with each series' error model profiled (`Problem.loglik_of`)."""
        owner = np.asarray(owner, dtype=int)
        preds = self.predict(theta, owner)
        out = np.zeros(len(owner))
        for a in np.unique(owner):
            rows = np.flatnonzero(owner == a)
            out[rows] = self.cases[a].problem.loglik_of(self.area_values(preds, owner, a))
        return np.where(np.isfinite(out), out, -np.inf)

    def error_fits(self, theta: np.ndarray, pooled_weight: float = 0.0) -> list[list[ErrorFit]]:
        """Each area's error model per series (scale and lag-1 autocorrelation) at its
        parameters `theta` (areas x k).

        Alone (`pooled_weight` 0): each at its maximum-likelihood values for that area, as the
        single-area fit has them; a series shorter than `AR1_MIN_N` values is independent.

        Pooled (`pooled_weight` nu > 0), for normal and lognormal series: the series'
        autocorrelation is first estimated nationally (`national_rho`: one rho, by maximum
        likelihood over every area's residuals of that series, each area with its own scale),
        so a short series (the workforce census has 2-4 values at the backtest's origins) gets
        the national serial correlation instead of none. Each area's rho is then its own
        estimate shrunk towards the national one as if nu more observations had shown it,
        (n rho_a + nu rho_0) / (n + nu) (not below 0, see `national_rho`), or the national one
        where the series is too short to have its own; and its scale, re-profiled at that rho, is shrunk towards the series'
        pooled mean square likewise (relative to each area's level for a normal series):
        s^2 = (n s_a^2 + nu s_0^2) / (n + nu). A short series then claims neither an error
        near zero nor a serial correlation from a handful of points.
        """
        owner = np.arange(self.n_areas)
        preds = self.predict(theta, owner)
        values = [self.area_values(preds, owner, a) for a in owner]
        fits = [[fit_error(s.values, m[0], s.error, s.dispersion, getattr(s, "ar1", False))
                 for s, m in zip(self.cases[a].problem.series, values[a], strict=True)]
                for a in owner]
        if pooled_weight <= 0:
            return fits
        nu = pooled_weight
        for name in self.series_names:
            at = [(a, i, s) for a in owner for i, s in enumerate(self.cases[a].problem.series)
                  if s.name == name and s.error in ("normal", "lognormal")]
            if not at:
                continue
            n = np.array([len(s) for _, _, s in at], dtype=float)
            level = np.array([max(float(np.mean(np.abs(s.values))), 1e-12)
                              if s.error == "normal" else 1.0 for _, _, s in at])
            e = [raw_residuals(s.values, values[a][i][0], s.error) / lv
                 for (a, i, s), lv in zip(at, level, strict=True)]
            own = np.array([fits[a][i].rho for a, i, _ in at])
            if any(getattr(s, "ar1", False) for _, _, s in at):
                s2_alone = np.array([fits[a][i].scale for a, i, _ in at]) ** 2 / level**2
                r0 = national_rho(e, s2_alone)
                long = n >= AR1_MIN_N
                rho = np.maximum(np.where(long, (n * own + nu * r0) / (n + nu), r0), 0.0)
            else:
                rho = np.zeros(len(at))
            s2 = np.array([max(_q(r, rh) / len(r), 1e-6) if np.all(np.isfinite(r)) else np.inf
                           for r, rh in zip(e, rho, strict=True)])
            ok = np.isfinite(s2)
            s0 = np.sum(n[ok] * s2[ok]) / max(np.sum(n[ok]), 1.0)
            new_s = np.sqrt((n * np.where(ok, s2, s0) + nu * s0) / (n + nu)) * level
            for (a, i, _), sc, r in zip(at, new_s, rho, strict=True):
                fits[a][i] = ErrorFit(float(sc), float(r))
        return fits

    def scale_table(self, fits: Sequence[Sequence[ErrorFit]]) -> np.ndarray:
        """Scales as an (areas x series) array, NaN where an area lacks a series."""
        out = np.full((self.n_areas, len(self.series_names)), np.nan)
        for a, c in enumerate(self.cases):
            for s, f in zip(c.problem.series, fits[a], strict=True):
                out[a, self.series_names.index(s.name)] = f.scale
        return out


def _q(e: np.ndarray, rho: float) -> float:
    """Q(rho) of the AR(1) likelihood: the whitened residuals' sum of squares."""
    e = np.asarray(e, dtype=float)
    if len(e) < 2:
        return float(np.sum(e**2))
    return float((1 - rho**2) * e[0] ** 2 + np.sum((e[1:] - rho * e[:-1]) ** 2))


def national_rho(residuals: Sequence[np.ndarray], scales2: np.ndarray | None = None,
                 weight: float = 0.0, rounds: int = 6) -> float:
    """The lag-1 autocorrelation shared by several areas' residual series, by maximum
    likelihood: the sum over areas of the exact stationary AR(1) log-likelihood
    -Q_a(rho) / (2 s_a^2) + log(1 - rho^2) / 2, on a grid over [0, RHO_MAX]. Not below 0: a
    model's misfit persists from one year to the next, a negative estimate is the noise of
    short series, and a negative rho has no value at the fractional steps a forecast may
    carry it over (rho^steps).

    Each area keeps its own scale s_a, re-profiled at the current rho (and shrunk towards the
    areas' mean as if `weight` more observations had shown it): areas' noise levels differ
    several-fold, and one scale for all would let the noisiest decide. In seeded AR(1) series
    of 2-3 values with scales varying e^N(0, 0.5) this recovers rho 0.3 and 0.45 within about
    0.1 (a little low at 2 values), where shrinking the scales biased it down further. Series with fewer than two finite
    values say nothing about rho and are left out; with none, rho is 0.
    """
    es = [np.asarray(r, dtype=float) for r in residuals]
    keep = [i for i, r in enumerate(es) if len(r) >= 2 and np.all(np.isfinite(r))]
    if not keep:
        return 0.0
    es = [es[i] for i in keep]
    n = np.array([len(r) for r in es], dtype=float)
    grid = np.linspace(0.0, RHO_MAX, 81)
    a = np.array([np.sum(r**2) for r in es])
    b = np.array([np.sum(r[1:] * r[:-1]) for r in es])
    c = np.array([np.sum(r[1:-1] ** 2) for r in es])
    q = a[:, None] - 2 * b[:, None] * grid[None] + c[:, None] * grid[None] ** 2  # areas x grid
    s2 = (np.asarray(scales2, dtype=float)[keep] if scales2 is not None else a / n)
    rho = 0.0
    for _ in range(rounds):
        s2 = np.maximum(s2, 1e-8)
        ll = np.sum(-0.5 * q / s2[:, None] + 0.5 * np.log(1 - grid[None] ** 2), axis=0)
        rho = float(grid[int(np.argmax(ll))])
        own = np.array([_q(r, rho) for r in es]) / n
        pooled = np.sum(n * own) / np.sum(n)
        s2 = (n * own + weight * pooled) / (n + weight)
    return rho


def _months(t: _Template) -> np.ndarray:
    from carespiral.pysd_runner.calendar import reference_months

    return reference_months(t.rows["date"], t.start)
