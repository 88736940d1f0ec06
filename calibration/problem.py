"""The calibration objective: parameters in, log-posterior out, for whole batches of parameter sets.

`Problem.simulate(theta)` runs every row of `theta` (runs x parameters) through
`Model.run_batch` (one batch, so the vectorised backend does the work when present) and applies
the observation rules; `loglik`, `logprior` and `logpost` score the predictions with each
series' error model. Rows outside the bounds are not simulated (log-posterior -inf); runs that
fail or give non-finite values score -inf without spoiling the rest of the batch.

Methods work in the unit cube (`to_unit` / `from_unit`), so one step size suits every parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carespiral.calibration.errors_model import (
    ErrorFit,
    deviance_residuals,
    fit_error,
    loglik,
    sample_noise,
)
from carespiral.calibration.observations import SeriesObs, observe_runs
from carespiral.calibration.priors import Prior
from carespiral.errors import ModelRunError

__all__ = ["FitParameter", "Problem"]


@dataclass(frozen=True)
class FitParameter:
    """A parameter being fitted: its model (Vensim) name, bounds and prior."""

    name: str
    lower: float
    upper: float
    prior: Prior | None = None
    initial: float | None = None

    def __post_init__(self) -> None:
        if self.prior is None:
            object.__setattr__(self, "prior", Prior("uniform", self.lower, self.upper))


@dataclass
class Problem:
    """Parameters, published series and a model: the thing every method maximises or samples."""

    model: object
    parameters: Sequence[FitParameter]
    series: Sequence[SeriesObs]
    fixed: Mapping[str, float] = field(default_factory=dict)
    scenario: object = None
    stop: float | None = None
    time_step: float | None = None
    backend: str = "auto"  # Model.run_batch's: auto (batch backend, PySD if it refuses) | pysd
    # the batch backend's engine: "fast" is numba for every batch when numba compiles the model
    # (the same numbers as numpy; a batch costs a tenth of numpy's fixed cost per time step, which
    # dominates the small batches of an optimiser), else numpy; or "numpy" | "numba" | "auto"
    engine: str = "fast"
    inputs: Mapping[str, pd.Series] = field(default_factory=dict)  # drivers over model time
    notes: tuple[str, ...] = ()  # what the set-up did (drivers, events left out), for reports
    on_batch: Callable[[int], None] | None = None
    n_runs: int = 0
    # the RANDOM functions' seed: every candidate draws the stream (seed, 0) (common random
    # numbers), so the objective depends on the parameters only (`fit_problem` sets it)
    seed: int = 0
    _random: bool | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.parameters = list(self.parameters)
        self.series = list(self.series)
        self.lower = np.array([p.lower for p in self.parameters], dtype=float)
        self.upper = np.array([p.upper for p in self.parameters], dtype=float)
        if not self.series:
            raise ValueError("a calibration needs at least one series")
        if self.stop is None:
            self.stop = float(np.ceil(max(s.times.max() for s in self.series)))

    # ---- shapes and coordinates ----------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def k(self) -> int:
        return len(self.parameters)

    @property
    def n_obs(self) -> int:
        return sum(len(s) for s in self.series)

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        return (np.asarray(theta, dtype=float) - self.lower) / (self.upper - self.lower)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        return self.lower + np.asarray(u, dtype=float) * (self.upper - self.lower)

    def inside(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        return np.all((theta >= self.lower) & (theta <= self.upper), axis=1)

    # ---- simulation ----------------------------------------------------------------------------

    def _variables(self, series: Sequence[SeriesObs] | None = None) -> list[str]:
        series = self.series if series is None else series
        return list(dict.fromkeys(v for s in series for v in (s.needs or (s.variable,))))

    def trajectories(self, theta: np.ndarray, stop: float | None = None,
                     series: Sequence[SeriesObs] | None = None, extra: Sequence[str] = ()):
        """Run every row of `theta`; an xarray Dataset (run x time) of the observed variables."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        frame = pd.DataFrame(theta, columns=self.names)
        for name, value in self.fixed.items():
            frame[name] = value
        needs_step = any(s.how != "point" for s in self.series)
        model = self.model
        step = self.time_step or model.control("time_step")
        kw = dict(outputs=list(dict.fromkeys([*self._variables(series), *extra])),
                  saveper=step if needs_step else None, scenario=self.scenario,
                  stop=stop or self.stop, time_step=self.time_step)
        if self.inputs:
            kw["inputs"] = dict(self.inputs)
        ds = self._run(frame, kw)
        self.n_runs += len(frame)
        if self.on_batch is not None:
            self.on_batch(len(frame))
        return ds

    def _run(self, frame: pd.DataFrame, kw: dict):
        engine = self.engine
        if self.backend == "pysd" or engine not in ("fast", "numpy", "numba", "auto"):
            if engine not in ("fast", "numpy", "numba", "auto"):
                raise ValueError(f"unknown engine {engine!r}: fast, numpy, numba or auto")
            return self._call(frame, kw)
        if engine == "fast":
            from carespiral.pysd_runner.batch import numba_engine

            if not numba_engine.available():
                self.engine = engine = "numpy"
            else:
                try:
                    return self._call(frame, kw, engine="numba")
                except numba_engine.NumbaUnavailableError:
                    self.engine = engine = "numpy"  # numba cannot compile this model
        return self._call(frame, kw, engine=engine)

    def _call(self, frame: pd.DataFrame, kw: dict, **engine: str):
        """One batch, every row on the stream (seed, 0) when the model draws random numbers."""
        if self.backend != "pysd" and getattr(self.model, "mdl_path", None) is not None:
            from carespiral.pysd_runner.streams import draws_random, run_on_streams

            if self._random is None:
                self._random = draws_random(self.model)
            if self._random:
                kw = dict(kw)
                return run_on_streams(self.model, frame, np.zeros(len(frame), dtype=np.int64),
                                      self.seed, inputs=kw.pop("inputs", None),
                                      backend=self.backend, **engine, **kw)
        return self.model.run_batch(frame, backend=self.backend, seed=self.seed, **engine, **kw)

    def simulate(self, theta: np.ndarray, series: Sequence[SeriesObs] | None = None,
                 stop: float | None = None) -> list[np.ndarray]:
        """Model values for each series (runs x observations); NaN rows for failed runs."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        series = self.series if series is None else list(series)
        out = [np.full((len(theta), len(s)), np.nan) for s in series]
        if len(theta) == 0:
            return out
        try:
            ds = self.trajectories(theta, stop=stop, series=series)
            out = _observe_all(series, ds, self.model)
        except (ModelRunError, ArithmeticError):
            # only a run that fails for its numbers (division by zero, overflow at these
            # values) scores -inf; anything else is a bug or a set-up mistake and is raised
            if len(theta) == 1:
                return out
            for i in range(len(theta)):  # find the failing run(s), keep the rest
                for j, v in enumerate(self.simulate(theta[i:i + 1], series, stop)):
                    out[j][i] = v[0]
            if all(np.isnan(o).all() for o in out):
                raise  # every run fails: a problem with the set-up, not with parameter values
        return out

    # ---- scoring -------------------------------------------------------------------------------

    def loglik_of(self, preds: Sequence[np.ndarray]) -> np.ndarray:
        total = np.zeros(preds[0].shape[0])
        for s, m in zip(self.series, preds, strict=True):
            total = total + s.weight * loglik(s.values, m, s.error, s.dispersion, s.ar1)
        return np.where(np.isfinite(total), total, -np.inf)

    def logprior(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        lp = np.zeros(len(theta))
        for j, p in enumerate(self.parameters):
            lp = lp + p.prior.logpdf(theta[:, j])
        return lp

    def loglik(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        out = np.full(len(theta), -np.inf)
        ok = self.inside(theta)
        if ok.any():
            out[ok] = self.loglik_of(self.simulate(theta[ok]))
        return out

    def logpost(self, theta: np.ndarray) -> np.ndarray:
        """Log-posterior (unnormalised) per row; -inf outside the bounds or for failed runs."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        lp = self.logprior(theta)
        out = np.full(len(theta), -np.inf)
        ok = np.isfinite(lp) & self.inside(theta)
        if ok.any():
            out[ok] = lp[ok] + self.loglik_of(self.simulate(theta[ok]))
        return out

    def scales(self, theta: np.ndarray) -> list[ErrorFit]:
        """Each series' error model at one parameter set: scale (s or negative-binomial size)
        and lag-1 autocorrelation of the residuals, both at their maximum-likelihood values."""
        preds = self.simulate(np.atleast_2d(theta))
        return [fit_error(s.values, m[0], s.error, s.dispersion, s.ar1)
                for s, m in zip(self.series, preds, strict=True)]

    def residuals(self, theta: np.ndarray, scales: Sequence[ErrorFit | float]) -> np.ndarray:
        """Weighted standardised residuals (runs x all observations) plus prior terms.

        Their half sum of squares is the negative log-posterior up to a constant at fixed
        scales (and autocorrelations), which is what least squares minimises.
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        preds = self.simulate(theta)
        parts = [np.sqrt(s.weight) * deviance_residuals(s.values, m, s.error, sc)
                 for s, m, sc in zip(self.series, preds, scales, strict=True)]
        for j, p in enumerate(self.parameters):
            mode = p.prior.mode()
            d = p.prior.logpdf(np.array([mode]))[0] - p.prior.logpdf(theta[:, j])
            parts.append((np.sign(theta[:, j] - mode) * np.sqrt(2 * np.maximum(d, 0)))[:, None])
        return np.concatenate(parts, axis=1)

    def profiled_residuals(self, theta: np.ndarray, owner: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
        """Residuals of every row of `theta` at the nuisance values (error scales and
        autocorrelations, at their maximum-likelihood values) of row `owner[i]`, and the
        log-posterior of every owning row (those values profiled out, as `logpost` does; NaN
        for the other rows).

        A row that owns itself (`owner[i] == i`) gets its own nuisance values: at such a row the
        residuals' half sum of squares has the gradient of the negative log-posterior, so a
        Gauss-Newton step on them climbs the profiled posterior, not a fixed-scale one. Rows
        outside the bounds or whose runs fail have log-posterior -inf.
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        owner = np.asarray(owner, dtype=int)
        ok = self.inside(theta)
        preds = [np.full((len(theta), len(s)), np.nan) for s in self.series]
        if ok.any():
            for j, m in enumerate(self.simulate(theta[ok])):
                preds[j][ok] = m
        heads = np.unique(owner)
        lp = np.full(len(theta), np.nan)
        lp[heads] = self.logprior(theta[heads]) + self.loglik_of([m[heads] for m in preds])
        lp[heads] = np.where(ok[heads] & np.isfinite(lp[heads]), lp[heads], -np.inf)
        parts = []
        for s, m in zip(self.series, preds, strict=True):
            fits = dict(zip(heads.tolist(), _error_fits(s, m[heads]), strict=True))
            r = np.empty_like(m)
            for h, fit in fits.items():
                rows = owner == h
                r[rows] = deviance_residuals(s.values, m[rows], s.error, fit)
            parts.append(np.sqrt(s.weight) * r)
        for j, p in enumerate(self.parameters):
            mode = p.prior.mode()
            with np.errstate(invalid="ignore"):
                d = p.prior.logpdf(np.array([mode]))[0] - p.prior.logpdf(theta[:, j])
            d = np.where(np.isfinite(d), d, 0.0)
            parts.append((np.sign(theta[:, j] - mode) * np.sqrt(2 * np.maximum(d, 0)))[:, None])
        return np.concatenate(parts, axis=1), lp

    def predictive(self, theta_draws: np.ndarray, rng: np.random.Generator,
                   series: Sequence[SeriesObs] | None = None,
                   scales: Sequence[ErrorFit | float] | None = None,
                   stop: float | None = None) -> list[np.ndarray]:
        """Draws of published-like values: parameter draws through the model plus error noise
        (in-sample: autocorrelated noise is the stationary AR(1) process)."""
        series = self.series if series is None else list(series)
        preds = self.simulate(theta_draws, series, stop=stop)
        if scales is None:
            scales = [1.0] * len(series)
        return [sample_noise(rng, m, s.error, sc) for s, m, sc in zip(series, preds, scales,
                                                                       strict=True)]



def _error_fits(s: SeriesObs, m: np.ndarray) -> list[ErrorFit]:
    """`fit_error` of each row of model values `m` at once (a unit scale for a row that cannot
    be scored: non-finite, or not positive for a lognormal or negative-binomial series)."""
    from carespiral.calibration.errors_model import best_nb_size, gaussian_profile

    out = [ErrorFit(1.0)] * len(m)
    ok = np.all(np.isfinite(m), axis=1)
    if s.error in ("lognormal", "negbin"):
        ok &= np.all(m > 0, axis=1)
    rows = np.flatnonzero(ok)
    if rows.size == 0:
        return out
    if s.error in ("normal", "lognormal"):
        _, sc, rho = gaussian_profile(np.asarray(s.values, dtype=float), m[rows], s.error, s.ar1)
        fits = [ErrorFit(float(a), float(b)) for a, b in zip(sc, rho, strict=True)]
    elif s.dispersion is not None:
        fits = [ErrorFit(float(s.dispersion))] * rows.size
    else:
        size = best_nb_size(np.asarray(s.values, dtype=float), m[rows])[0]
        fits = [ErrorFit(float(a)) for a in size]
    for i, f in zip(rows, fits, strict=True):
        out[i] = f
    return out


def _observe_all(series: Sequence[SeriesObs], ds, model) -> list[np.ndarray]:
    """`observe_runs` of every series (runs x observations each), the series that share an
    explicit role mapping (most often none) observed in one call: each published row is read
    on its own, so the values are those of one call per series, but the dates are converted to
    model time once per batch instead of once per series (that conversion was about a third of
    a small batch's cost)."""
    from carespiral.data.observe import observe_batch

    out: list[np.ndarray] = [np.empty(0)] * len(series)
    groups: dict[tuple, list[int]] = {}
    for j, s in enumerate(series):
        key = (tuple(sorted(dict(s.roles).items())), tuple(s.rows.columns))
        groups.setdefault(key, []).append(j)
    for (roles, _), members in groups.items():
        if len(members) == 1:
            j = members[0]
            out[j] = observe_runs(series[j], ds, model)
            continue
        rows = pd.concat([series[j].rows for j in members], ignore_index=True)
        needs = list(dict.fromkeys(v for j in members for v in series[j].needs))
        values = observe_batch(ds[needs], rows, model, roles=dict(roles)).to_numpy().T
        at = 0
        for j in members:
            n = len(series[j].rows)
            out[j] = values[:, at:at + n]
            at += n
    return out
