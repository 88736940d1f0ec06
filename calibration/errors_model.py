"""Error models: the likelihood of published values given model values, vectorised over runs.

- `normal`: y = m + e, e ~ N(0, s^2) with s estimated. The scale is profiled out (s^2 = mean
  squared residual, floored at 0.1% of the series' level), which for a flat prior on log s gives the same shape in the parameters as
  integrating it out: log L = -n/2 log(SSR) + const.
- `lognormal`: log y = log m + e, e ~ N(0, s^2), s profiled the same way; m must be positive.
- `negbin`: y ~ NegBin(mean m, size r), variance m + m^2/r, for counts; r fixed in the spec or
  profiled over a grid of sizes (1 to 1e9, log-spaced).

A series' weight multiplies its log-likelihood (a weight of 0.5 counts the series half).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

__all__ = ["deviance_residuals", "estimate_scale", "loglik", "sample_noise"]

_SIZES = np.logspace(0, 9, 46)


def _ssr(y: np.ndarray, m: np.ndarray, error: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.log(y) - np.log(m) if error == "lognormal" else y - m
    return np.sum(r * r, axis=-1)


def _floor(y: np.ndarray, error: str) -> float:
    """Smallest error scale: 0.1% of the series' level. Without it a short series that the
    model can match exactly would have an unbounded profiled likelihood."""
    return 1e-3 if error == "lognormal" else max(1e-3 * float(np.mean(np.abs(y))), 1e-12)


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


def loglik(y: np.ndarray, m: np.ndarray, error: str, dispersion: float | None = None
           ) -> np.ndarray:
    """Log-likelihood of data `y` (n_obs) under model values `m` (runs x n_obs), per run."""
    y = np.asarray(y, dtype=float)
    m = np.atleast_2d(np.asarray(m, dtype=float))
    n = y.size
    bad = ~np.all(np.isfinite(m), axis=1)
    if error in ("lognormal", "negbin"):
        bad |= np.any(m <= 0, axis=1)
    out = np.full(m.shape[0], -np.inf)
    ok = ~bad
    if not ok.any():
        return out
    mm = m[ok]
    if error in ("normal", "lognormal"):
        ssr = _ssr(y, mm, error)
        s2 = np.maximum(ssr / n, _floor(y, error) ** 2)
        ll = -0.5 * n * np.log(2 * np.pi * s2) - 0.5 * ssr / s2
        if error == "lognormal":
            ll = ll - np.sum(np.log(y))  # Jacobian: the density is of y, not of log y
        out[ok] = ll
    elif error == "negbin":
        if dispersion is None:
            out[ok] = _best_size(y, mm)[1]
        else:
            out[ok] = _nb_loglik(y, mm, dispersion).sum(axis=-1)
    else:
        raise ValueError(f"unknown error model {error!r}")
    return out


def estimate_scale(y: np.ndarray, m: np.ndarray, error: str, dispersion: float | None = None
                   ) -> float:
    """The error model's nuisance parameter at model values `m` (one run): s, or the NB size."""
    y = np.asarray(y, dtype=float)
    m = np.asarray(m, dtype=float).reshape(1, -1)
    if error in ("normal", "lognormal"):
        return float(np.sqrt(max(_ssr(y, m, error)[0] / y.size, _floor(y, error) ** 2)))
    if dispersion is not None:
        return float(dispersion)
    return float(_best_size(y, m)[0][0])


def deviance_residuals(y: np.ndarray, m: np.ndarray, error: str, scale: float) -> np.ndarray:
    """Residuals whose sum of squares is -2 log L up to a constant, at a fixed scale.

    normal: (y - m)/s; lognormal: (log y - log m)/s; negbin: signed deviance residuals.
    `m` is runs x n_obs; non-finite model values give large residuals, not NaN.
    """
    y = np.asarray(y, dtype=float)
    m = np.atleast_2d(np.asarray(m, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        if error == "normal":
            r = (y - m) / scale
        elif error == "lognormal":
            r = (np.log(y) - np.log(m)) / scale
        else:
            sat = _nb_loglik(y, np.maximum(y, 1e-12), scale)
            d = 2.0 * (sat - _nb_loglik(y, m, scale))
            r = np.sign(y - m) * np.sqrt(np.maximum(d, 0.0))
    return np.where(np.isfinite(r), r, 1e6)


def sample_noise(rng: np.random.Generator, m: np.ndarray, error: str, scale: float
                 ) -> np.ndarray:
    """Published-like values drawn around model values `m` from the error model."""
    m = np.asarray(m, dtype=float)
    if error == "normal":
        return m + scale * rng.standard_normal(m.shape)
    if error == "lognormal":
        return m * np.exp(scale * rng.standard_normal(m.shape))
    mm = np.maximum(m, 1e-12)
    return rng.negative_binomial(scale, scale / (scale + mm)).astype(float)
