"""The carry-over of a forecast's gap, estimated median-unbiased from short residual series.

The least-squares lag-1 autocorrelation of a handful of residuals is biased far towards 0 and
below: each series is centred by the fit (its level parameters absorb the mean), and a series
of six values around its own mean from an AR(1) with phi = 0.95 gives about 0.2 on average.
A forecast that carried the gap at the last published value over by that raw estimate would
drop it within a year where it in fact persists.

Andrews (1993, "Exact median-unbiased estimation and confidence intervals for autoregressive
/ unit root models", Econometrica 61) corrects this by inverting the estimator's median: the
estimate is the phi in [0, 1] at which the median of the same estimator, over simulated
demeaned AR(1) series of the same lengths, equals the value found. The estimator here is
`errors_model.pooled_phi`'s, pooled over series of different lengths and units, so its median
curve is simulated for exactly the lengths given (seeded, so the same residuals always give the
same phi, and cached by the lengths).
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import numpy as np

__all__ = ["PHI_GRID", "median_curve", "median_unbiased_phi", "raw_pooled_phi"]

PHI_GRID = np.linspace(0.0, 1.0, 21)
_SEED = 1993
_VALUES = 200_000  # simulated values per grid point, split into replicates of the estimate
_MIN_REPS = 64


def raw_pooled_phi(residuals: list[np.ndarray]) -> float:
    """Least-squares lag-1 autocorrelation pooled over series, each over its own mean square
    (so series in different units count alike); NaN when there is nothing to pool."""
    num = den = 0.0
    for e in residuals:
        e = np.asarray(e, dtype=float)
        v = float(np.mean(e * e)) if len(e) else 0.0
        if len(e) < 2 or v <= 0:
            continue
        num += float(np.sum(e[1:] * e[:-1])) / v
        den += float(np.sum(e[:-1] ** 2)) / v
    return num / den if den > 0 else float("nan")


@lru_cache(maxsize=512)
def median_curve(lengths: tuple[int, ...]) -> np.ndarray:
    """Median of `raw_pooled_phi` at each phi of `PHI_GRID`, over seeded simulations of demeaned
    stationary AR(1) series with these lengths (the start drawn from the stationary law; at
    phi = 1 the start does not matter once the series is demeaned). The same innovations serve
    every phi (common random numbers), so the curve is smooth; non-decreasing, read-only."""
    rng = np.random.default_rng(_SEED)
    reps = max(_MIN_REPS, -(-_VALUES // max(sum(lengths), 1)))
    groups = sorted(Counter(lengths).items())
    shocks = [(n, rng.standard_normal((reps, count, n))) for n, count in groups]
    curve = np.empty(len(PHI_GRID))
    for g, phi in enumerate(PHI_GRID):
        num = np.zeros(reps)
        den = np.zeros(reps)
        for n, z in shocks:
            x = np.empty_like(z)
            x[..., 0] = z[..., 0] / np.sqrt(1.0 - phi**2) if phi < 1 else z[..., 0]
            for t in range(1, n):
                x[..., t] = phi * x[..., t - 1] + z[..., t]
            e = x - x.mean(axis=-1, keepdims=True)
            v = np.mean(e * e, axis=-1)
            num += np.sum(np.sum(e[..., 1:] * e[..., :-1], axis=-1) / v, axis=-1)
            den += np.sum(np.sum(e[..., :-1] ** 2, axis=-1) / v, axis=-1)
        curve[g] = float(np.median(num / den))
    curve = np.maximum.accumulate(curve)
    curve.setflags(write=False)
    return curve


def median_unbiased_phi(raw: float, lengths: tuple[int, ...] | list[int]) -> float:
    """The phi in [0, 1] whose simulated median raw estimate, for series of these `lengths`,
    equals `raw` (0 below the curve's start, 1 above its end); 0 when `raw` is NaN or no series
    has two values (a series of fewer has no lag-1 pair)."""
    kept = tuple(sorted(int(n) for n in lengths if int(n) >= 2))
    if not np.isfinite(raw) or not kept:
        return 0.0
    curve = median_curve(kept)
    if raw <= curve[0]:
        return 0.0
    if raw >= curve[-1]:
        return 1.0
    # strictly increasing for interpolation: a flat stretch (rare, from sampling) is split evenly
    c = curve + np.arange(len(curve)) * 1e-12
    return float(np.clip(np.interp(raw, c, PHI_GRID), 0.0, 1.0))
