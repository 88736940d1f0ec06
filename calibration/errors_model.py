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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

__all__ = [
    "AR1_MIN_N",
    "RHO_MAX",
    "ErrorFit",
    "ar1_rho",
    "deviance_residuals",
    "estimate_scale",
    "fit_error",
    "forecast_noise",
    "loglik",
    "raw_residuals",
    "sample_noise",
]

_SIZES = np.logspace(0, 9, 46)
RHO_MAX = 0.8  # beyond it, a level offset passes for noise in a series of 7-13 values
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


def _best_size(y: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _gaussian(y: np.ndarray, m: np.ndarray, error: str, ar1: bool
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
        out[ok] = _gaussian(y, mm, error, ar1)[0]
    elif dispersion is None:
        _uses_ar1(ar1, error, y.size)
        out[ok] = _best_size(y, mm)[1]
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
        _, s, rho = _gaussian(y, m, error, ar1)
        return ErrorFit(float(s[0]), float(rho[0]))
    _uses_ar1(ar1, error, y.size)
    if dispersion is not None:
        return ErrorFit(float(dispersion))
    return ErrorFit(float(_best_size(y, m)[0][0]))


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
