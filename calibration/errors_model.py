"""Error models: the likelihood of published values given model values, vectorised over runs.

- `normal`: y = m + e with e ~ N(0, s^2), s estimated. The scale is profiled out (s^2 = mean
  squared residual, floored at 0.1% of the series' level), which for a flat prior on log s gives
  the same shape in the parameters as integrating it out: log L = -n/2 log(SSR) + const.
- `lognormal`: log y = log m + e, e ~ N(0, s^2), s profiled the same way; m must be positive.
- `negbin`: y ~ NegBin(mean m, size r), variance m + m^2/r, for counts; r fixed in the spec or
  profiled over a grid of sizes (1 to 1e9, log-spaced).

Autocorrelated residuals (`ar1=True`, for `normal` and `lognormal`): the residuals of one series,
in the order published, follow a stationary AR(1) process e_t = rho e_(t-1) + u_t with
u_t ~ N(0, s^2), so e_1 ~ N(0, s^2 / (1 - rho^2)). The exact Gaussian likelihood is

    log L = -n/2 log(2 pi s^2) + 1/2 log(1 - rho^2) - Q(rho) / (2 s^2),
    Q(rho) = (1 - rho^2) e_1^2 + sum_(t>1) (e_t - rho e_(t-1))^2 = A - 2 B rho + C rho^2

(A = sum e_t^2, B = sum e_t e_(t-1), C = sum of e_t^2 for t = 2..n-1). s^2 is profiled out
(Q/n, with the same floor) and rho too: setting the derivative of the concentrated likelihood
to zero gives the cubic (n-1) C rho^3 + (2-n) B rho^2 - (n C + A) rho + n B = 0, which has
exactly one root in (-1, 1) (Beach and MacKinnon 1978); it is found by bisection, for every run
at once, and kept within +-`RHO_MAX`. A series shorter than `AR1_MIN_N` values is treated as
independent: a handful of points cannot tell serial correlation from noise.

A series' weight multiplies its log-likelihood (a weight of 0.5 counts the series half).

Forecasts (`forecast_errors`, `forecast_draws`) use a residual model of their own, estimated at
the best fit from all the fitted series of one problem together, because one series of 1-13
yearly values cannot estimate its own autocorrelation and scale (see `forecast_errors`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from carespiral.calibration.median_unbiased import median_unbiased_phi, raw_pooled_phi

__all__ = [
    "AR1_MIN_N",
    "FORECAST_MODES",
    "PRIOR_DOF",
    "RHO_MAX",
    "ErrorFit",
    "ForecastError",
    "ar1_rho",
    "best_nb_size",
    "change_weight",
    "deviance_residuals",
    "estimate_scale",
    "fit_error",
    "forecast_draws",
    "forecast_errors",
    "forecast_noise",
    "gaussian_profile",
    "loglik",
    "pooled_phi",
    "raw_residuals",
    "sample_noise",
]

_SIZES = np.logspace(0, 9, 46)
# Beyond it, a level offset passes for noise in a series of 7-13 values: a run off by b every
# year costs (1 - rho)^2 b^2 a year. At 0.8 (a 25th of b^2) England's fit to March 2018 put
# every referral figure 8% above the published one with rho at the bound; at 0.5 it does not.
RHO_MAX = 0.5
AR1_MIN_N = 5


@dataclass(frozen=True)
class ErrorFit:
    """An error model's nuisance parameters at one parameter set: the scale (s, or the
    negative-binomial size) and the lag-1 autocorrelation of the residuals (0: independent)."""

    scale: float
    rho: float = 0.0

    @property
    def marginal_sd(self) -> float:
        """The standard deviation of one residual on its own: s / sqrt(1 - rho^2)."""
        return float(self.scale / np.sqrt(1.0 - self.rho**2))


def raw_residuals(y: np.ndarray, m: np.ndarray, error: str) -> np.ndarray:
    """y - m (normal) or log y - log m (lognormal), runs x observations; NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(y) - np.log(m) if error == "lognormal" else y - m


def _floor(y: np.ndarray, error: str) -> float:
    """Smallest error scale: 0.1% of the series' level. Without it a short series that the
    model can match exactly would have an unbounded profiled likelihood."""
    return 1e-3 if error == "lognormal" else max(1e-3 * float(np.mean(np.abs(y))), 1e-12)


def _moments(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A, B, C of the module docstring for residuals r (runs x n)."""
    a = np.sum(r * r, axis=-1)
    b = np.sum(r[..., 1:] * r[..., :-1], axis=-1)
    c = np.sum(r[..., 1:-1] ** 2, axis=-1)
    return a, b, c


def ar1_rho(r: np.ndarray, iterations: int = 60) -> np.ndarray:
    """Maximum-likelihood lag-1 autocorrelation of residuals `r` (runs x n), within +-RHO_MAX.

    The root in (-1, 1) of the cubic of the module docstring: it is positive at -1 and negative
    at +1 (it equals +-Q(+-1) there), so bisection always finds it.
    """
    r = np.atleast_2d(np.asarray(r, dtype=float))
    n = r.shape[-1]
    a, b, c = _moments(r)

    def f(rho: np.ndarray) -> np.ndarray:
        return (n - 1) * c * rho**3 + (2 - n) * b * rho**2 - (n * c + a) * rho + n * b

    lo = np.full(a.shape, -1.0)
    hi = np.full(a.shape, 1.0)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        pos = f(mid) > 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
    rho = np.clip(0.5 * (lo + hi), -RHO_MAX, RHO_MAX)
    return np.where(a > 0, rho, 0.0)


def _nb_loglik(y: np.ndarray, m: np.ndarray, r: np.ndarray | float) -> np.ndarray:
    """Log-likelihood per observation (broadcast over m and r)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (gammaln(y + r) - gammaln(r) - gammaln(y + 1.0)
                + r * np.log(r / (r + m)) + y * np.log(m / (r + m)))


def best_nb_size(y: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Profile the negative-binomial size over a grid: (best size, log-likelihood) per run."""
    ll = _nb_loglik(y[None, None, :], m[:, None, :], _SIZES[None, :, None]).sum(axis=-1)
    ll = np.where(np.isfinite(ll), ll, -np.inf)
    k = np.argmax(ll, axis=1)
    return _SIZES[k], ll[np.arange(len(k)), k]


def _uses_ar1(ar1: bool, error: str, n: int) -> bool:
    if ar1 and error == "negbin":
        raise ValueError("autocorrelated residuals apply to the normal and lognormal error "
                         "models, not to negbin")
    return ar1 and n >= AR1_MIN_N


def gaussian_profile(y: np.ndarray, m: np.ndarray, error: str, ar1: bool
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log-likelihood, s, rho) per run of the normal or lognormal model, profiled."""
    n = y.size
    r = raw_residuals(y, m, error)
    if _uses_ar1(ar1, error, n):
        rho = ar1_rho(r)
        a, b, c = _moments(r)
        q = a - 2 * b * rho + c * rho**2
    else:
        rho = np.zeros(m.shape[0])
        q = np.sum(r * r, axis=-1)
    s2 = np.maximum(q / n, _floor(y, error) ** 2)
    ll = -0.5 * n * np.log(2 * np.pi * s2) - 0.5 * q / s2 + 0.5 * np.log(1.0 - rho**2)
    if error == "lognormal":
        ll = ll - np.sum(np.log(y))  # Jacobian: the density is of y, not of log y
    return ll, np.sqrt(s2), rho


def loglik(y: np.ndarray, m: np.ndarray, error: str, dispersion: float | None = None,
           ar1: bool = False) -> np.ndarray:
    """Log-likelihood of data `y` (n_obs) under model values `m` (runs x n_obs), per run."""
    y = np.asarray(y, dtype=float)
    m = np.atleast_2d(np.asarray(m, dtype=float))
    if error not in ("normal", "lognormal", "negbin"):
        raise ValueError(f"unknown error model {error!r}")
    bad = ~np.all(np.isfinite(m), axis=1)
    if error in ("lognormal", "negbin"):
        bad |= np.any(m <= 0, axis=1)
    out = np.full(m.shape[0], -np.inf)
    ok = ~bad
    if not ok.any():
        return out
    mm = m[ok]
    if error in ("normal", "lognormal"):
        out[ok] = gaussian_profile(y, mm, error, ar1)[0]
    elif dispersion is None:
        _uses_ar1(ar1, error, y.size)
        out[ok] = best_nb_size(y, mm)[1]
    else:
        _uses_ar1(ar1, error, y.size)
        out[ok] = _nb_loglik(y, mm, dispersion).sum(axis=-1)
    return out


def fit_error(y: np.ndarray, m: np.ndarray, error: str, dispersion: float | None = None,
              ar1: bool = False) -> ErrorFit:
    """The error model's nuisance parameters at model values `m` (one run)."""
    y = np.asarray(y, dtype=float)
    m = np.asarray(m, dtype=float).reshape(1, -1)
    if error in ("normal", "lognormal"):
        _, s, rho = gaussian_profile(y, m, error, ar1)
        return ErrorFit(float(s[0]), float(rho[0]))
    _uses_ar1(ar1, error, y.size)
    if dispersion is not None:
        return ErrorFit(float(dispersion))
    return ErrorFit(float(best_nb_size(y, m)[0][0]))


def estimate_scale(y: np.ndarray, m: np.ndarray, error: str, dispersion: float | None = None
                   ) -> float:
    """The error scale at model values `m` (one run) with independent residuals."""
    return fit_error(y, m, error, dispersion).scale


def deviance_residuals(y: np.ndarray, m: np.ndarray, error: str, scale: float | ErrorFit
                       ) -> np.ndarray:
    """Residuals whose sum of squares is -2 log L up to a constant, at fixed nuisance values.

    normal: (y - m)/s; lognormal: (log y - log m)/s; with autocorrelation the whitened ones
    (sqrt(1 - rho^2) e_1, e_t - rho e_(t-1)) / s; negbin: signed deviance residuals.
    `m` is runs x n_obs; non-finite model values give large residuals, not NaN.
    """
    fit = scale if isinstance(scale, ErrorFit) else ErrorFit(float(scale))
    y = np.asarray(y, dtype=float)
    m = np.atleast_2d(np.asarray(m, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        if error in ("normal", "lognormal"):
            e = raw_residuals(y, m, error)
            if fit.rho:
                e = np.concatenate([np.sqrt(1 - fit.rho**2) * e[:, :1],
                                    e[:, 1:] - fit.rho * e[:, :-1]], axis=1)
            r = e / fit.scale
        else:
            sat = _nb_loglik(y, np.maximum(y, 1e-12), fit.scale)
            d = 2.0 * (sat - _nb_loglik(y, m, fit.scale))
            r = np.sign(y - m) * np.sqrt(np.maximum(d, 0.0))
    return np.where(np.isfinite(r), r, 1e6)


def _apply(m: np.ndarray, e: np.ndarray, error: str) -> np.ndarray:
    return m * np.exp(e) if error == "lognormal" else m + e


def sample_noise(rng: np.random.Generator, m: np.ndarray, error: str, scale: float | ErrorFit
                 ) -> np.ndarray:
    """Published-like values drawn around model values `m` (runs x n) from the error model;
    autocorrelated residuals are a stationary AR(1) along the last axis."""
    fit = scale if isinstance(scale, ErrorFit) else ErrorFit(float(scale))
    m = np.asarray(m, dtype=float)
    if error == "negbin":
        mm = np.maximum(m, 1e-12)
        return rng.negative_binomial(fit.scale, fit.scale / (fit.scale + mm)).astype(float)
    z = rng.standard_normal(m.shape)
    if not fit.rho or m.ndim == 0 or m.shape[-1] == 0:
        return _apply(m, fit.scale * z, error)
    e = np.empty_like(z)
    e[..., 0] = fit.marginal_sd * z[..., 0]
    for t in range(1, m.shape[-1]):
        e[..., t] = fit.rho * e[..., t - 1] + fit.scale * z[..., t]
    return _apply(m, e, error)


def forecast_noise(rng: np.random.Generator, m: np.ndarray, error: str, fit: ErrorFit,
                   last: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts after the last fitted value: (median forecast, predictive draws), runs x h.

    `m` holds the model's values at the forecast dates, `last` each run's residual at the last
    fitted value (on the error model's scale) and `steps` the number of years from it to each
    forecast. With autocorrelation the residual carries over, rho^steps of it, and the noise
    grows towards its marginal spread: e_(T+k) = rho^g e_(T+j) + u with var
    s^2 (1 - rho^(2g)) / (1 - rho^2) over a gap of g years.
    """
    m = np.atleast_2d(np.asarray(m, dtype=float))
    steps = np.asarray(steps, dtype=float)
    last = np.asarray(last, dtype=float).reshape(-1)
    if error == "negbin":
        return m, sample_noise(rng, m, error, fit)
    rho = fit.rho
    carried = np.where(np.isfinite(last), last, 0.0)[:, None] * rho ** steps[None, :]
    centre = _apply(m, carried, error)
    if not rho:
        return centre, _apply(m, fit.scale * rng.standard_normal(m.shape), error)
    e = np.empty(m.shape)
    prev, prev_step = np.where(np.isfinite(last), last, 0.0), 0.0
    for j, g_abs in enumerate(steps):
        g = max(g_abs - prev_step, 0.0)
        sd = fit.scale * np.sqrt((1 - rho ** (2 * g)) / (1 - rho**2))
        prev = rho**g * prev + sd * rng.standard_normal(m.shape[0])
        e[:, j] = prev
        prev_step = g_abs
    return centre, _apply(m, e, error)


# --- the residual model of forecasts -------------------------------------------------------

FORECAST_MODES = ("ar1", "rw", "skill", "run", "auto")
PRIOR_DOF = 2.0  # the pooled scale counts as two innovations of each series' own


@dataclass(frozen=True)
class ForecastError:
    """How a series' residual (on the error model's scale) goes on after the last fitted value:
    e_(T+g) = phi^g e_T plus innovations of scale `scale` each step, Student-t with `dof`
    degrees of freedom (the scale is estimated from few values). `weight` multiplies the
    model's change after the last fitted value (1: the model's own change)."""

    phi: float
    scale: float
    dof: float
    weight: float = 1.0
    mode: str = ""

    def sd(self, steps: np.ndarray) -> np.ndarray:
        """Scale of the sum of innovations g steps on: s sqrt(sum_(j<g) phi^(2j))."""
        g = np.maximum(np.round(np.asarray(steps, dtype=float)), 0)
        if self.phi == 1.0:
            return self.scale * np.sqrt(g)
        return self.scale * np.sqrt((1 - self.phi ** (2 * g)) / (1 - self.phi**2))


def pooled_phi(residuals: list[np.ndarray], min_n: int = 3, unbiased: bool = True) -> float:
    """One lag-1 autocorrelation for all series (least squares on each series' residuals over
    its own mean square, so series in different units count alike), within [0, 1]. Series of
    fewer than `min_n` values are left out. `unbiased` (the default): each series centred on
    its own mean and the estimate made median-unbiased for series of these lengths
    (`calibration.median_unbiased`), since the raw one from 5-7 residuals each is biased far
    towards 0; centring first makes the correction's assumption hold whether or not the fit
    happened to centre a series. Otherwise the raw estimate, clipped."""
    kept = [e for e in (np.asarray(r, dtype=float) for r in residuals)
            if len(e) >= min_n and float(np.mean(e * e)) > 0]
    if unbiased:  # centred; a series constant to rounding has nothing to say about phi
        centred = [(e - e.mean(), float(np.mean(e * e))) for e in kept]
        kept = [c for c, ms in centred if float(np.mean(c * c)) > 1e-12 * ms]
    raw = raw_pooled_phi(kept)
    if not np.isfinite(raw):
        return 0.0
    if unbiased:
        return median_unbiased_phi(raw, [len(e) for e in kept])
    return float(np.clip(raw, 0.0, 1.0))


def change_weight(dz: np.ndarray, dm: np.ndarray) -> float:
    """Least-squares weight of the model's one-step changes `dm` in the observed ones `dz`
    (through the origin), within [0, 1]; NaN when the model does not change."""
    den = float(np.sum(dm * dm))
    return float(np.clip(np.sum(dz * dm) / den, 0.0, 1.0)) if den > 0 else float("nan")


def forecast_errors(residuals: list[np.ndarray], levels: list[float], mode: str = "ar1",
                    prior_dof: float = PRIOR_DOF, model: list[np.ndarray] | None = None
                    ) -> list[ForecastError]:
    """The forecast residual model of each series from its in-sample residuals at the best fit.

    `residuals[i]` are series i's fitted residuals in time order on the error model's scale
    (y - m, or log y - log m); `levels[i]` its typical size in those units' terms (1 for a log
    scale, the mean absolute value for a normal one), so that scales can be pooled as relative
    ones. `mode`:

    - `rw`: the residual is a random walk (phi = 1). The forecast starts from the last published
      value and adds the model's change: y_T + (m_(T+g) - m_T) (or y_T m_(T+g) / m_T on a log
      scale). Where the model's changes have no skill this falls back to persistence.
    - `ar1`: one autocorrelation phi for all series (`pooled_phi`): the gap to the model run
      closes by a factor phi a year.
    - `skill`: as `rw`, but the model's change counts with a weight w in [0, 1]: the
      least-squares coefficient of the series' observed one-step changes on the model's
      (`change_weight`; `model[i]` are the model values at the fitted dates on the error
      model's scale), pooled over all series (in relative units) for a series with fewer than
      two changes. w = 0 is persistence.
    - `run`: phi = 0, the model run itself.
    - `auto`: `ar1` or `skill`, whichever has the smaller pooled in-sample one-step-ahead
      squared error (the innovations above, in relative units; both have n - 1 per series).

    The innovation scale of each series is the posterior of a normal-inverse-chi-square model:
    its own innovations (e_t - phi e_(t-1), k of them) plus a prior worth `prior_dof` innovations
    at the pooled relative scale of all series, s^2 = (prior_dof s0^2 L^2 + SS) / (prior_dof + k);
    the predictive is Student-t with prior_dof + k degrees of freedom. So a workforce series
    fitted on two census years borrows its scale from the others and gets wide intervals.
    """
    if mode not in FORECAST_MODES:
        raise ValueError(f"unknown forecast mode {mode!r}; one of {', '.join(FORECAST_MODES)}")
    if mode == "auto":
        ar1 = _mode_errors(residuals, levels, "ar1", prior_dof, model)
        skill = _mode_errors(residuals, levels, "skill", prior_dof, model)
        return ar1[0] if ar1[1] <= skill[1] else skill[0]
    return _mode_errors(residuals, levels, mode, prior_dof, model)[0]


def _mode_errors(residuals: list[np.ndarray], levels: list[float], mode: str,
                 prior_dof: float, model: list[np.ndarray] | None
                 ) -> tuple[list[ForecastError], float]:
    """`forecast_errors` of one mode, and its pooled in-sample innovation variance."""
    res = [np.asarray(e, dtype=float) for e in residuals]
    res = [e[np.isfinite(e)] for e in res]
    phi = {"rw": 1.0, "skill": 1.0, "run": 0.0}.get(mode)
    if phi is None:
        phi = pooled_phi(res)
    lev = [max(abs(float(x)), 1e-12) for x in levels]
    weights = [1.0] * len(res)
    if mode == "skill":
        if model is None or len(model) != len(res):
            raise ValueError("forecast mode 'skill' needs the model values of every series")
        dms = [np.diff(np.asarray(mv, dtype=float)[np.isfinite(e0)])
               for mv, e0 in zip(model, residuals, strict=True)]
        num = sum(float(np.sum((np.diff(e) + dm) * dm)) / lv**2
                  for e, dm, lv in zip(res, dms, lev, strict=True) if len(dm) >= 2)
        den = sum(float(np.sum(dm * dm)) / lv**2
                  for dm, lv in zip(dms, lev, strict=True) if len(dm) >= 2)
        pooled = float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 1.0
        for i, (e, dm) in enumerate(zip(res, dms, strict=True)):
            w = change_weight(np.diff(e) + dm, dm) if len(dm) >= 2 else float("nan")
            weights[i] = pooled if not np.isfinite(w) else w
    ss, k = [], []
    for i, e in enumerate(res):
        d = e[1:] - phi * e[:-1] if len(e) > 1 else e[:0]
        if mode == "skill" and len(d):  # observed change less the weighted model change
            d = d + (1.0 - weights[i]) * dms[i]
        if mode == "run" and len(e):  # no carry: every residual is an innovation
            d = e
        ss.append(float(np.sum(d * d)))
        k.append(len(d))
    total = sum(k)
    raw = sum(a / b**2 for a, b in zip(ss, lev, strict=True)) / total if total else np.inf
    s0sq = max(raw if np.isfinite(raw) else 1e-4, 1e-6)  # 0.1% relative: the likelihood's floor
    out = []
    for a, n, lv, w in zip(ss, k, lev, weights, strict=True):
        dof = prior_dof + n
        out.append(ForecastError(phi, float(np.sqrt((prior_dof * s0sq * lv**2 + a) / dof)),
                                 float(dof), float(w), mode))
    return out, raw


def forecast_draws(rng: np.random.Generator, m: np.ndarray, m_last: np.ndarray, y_last: float,
                   error: str, fe: ForecastError, steps: np.ndarray, reps: int = 1
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts of one series: (centre, predictive draws), runs x h and (runs * reps) x h.

    `m` holds each run's model values at the forecast dates, `m_last` its value at the last
    fitted date (where `y_last` was published), `steps` the years from there to each forecast.
    centre = m_last + w (m - m_last) + phi^g (y_last - m_last) on the error model's scale (w = 1:
    m plus the run's own carried residual), so parameter uncertainty enters through each run's
    change since the last fit.
    Draws add the summed innovations, Student-t, `reps` per run (for smooth quantiles).
    """
    m = np.atleast_2d(np.asarray(m, dtype=float))
    m_last = np.asarray(m_last, dtype=float).reshape(-1)
    steps = np.asarray(steps, dtype=float)
    e_last = raw_residuals(np.full(m_last.shape, float(y_last)), m_last, error)
    e_last = np.where(np.isfinite(e_last), e_last, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gm = np.log(m) if error == "lognormal" else m
        gl = (np.log(m_last) if error == "lognormal" else m_last)[:, None]
        base = gm + e_last[:, None] * fe.phi ** np.round(steps)[None, :]
        if fe.weight != 1.0:
            base = base + (fe.weight - 1.0) * (gm - gl)
    centre = np.exp(base) if error == "lognormal" else base
    base = np.repeat(base, max(int(reps), 1), axis=0)
    noise = rng.standard_t(fe.dof, size=base.shape) * fe.sd(steps)[None, :]
    draws = base + noise
    return centre, (np.exp(draws) if error == "lognormal" else draws)
