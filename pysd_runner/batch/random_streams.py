"""Vensim's RANDOM functions as counter-based streams: reproducible whatever the batching.

A draw is a function of four whole numbers only: the batch's seed, the run's position in the
batch, the call site (which RANDOM call of which variable) and the time step. They are hashed
with the SplitMix64 finaliser (a bijective 64-bit mixer) into 53 random bits, a number u in
(0, 1). So a run draws the same numbers alone or among a million, in any chunk, on any thread,
on either engine (`scalar_runtime` holds the numba twins; both call the arithmetic helpers below
in the same order), and runs, call sites and steps draw independent numbers.

The distributions are PySD's (its translation of Vensim's functions), each by its inverse
cumulative distribution function applied to u:

- RANDOM 0 1(): u;
- RANDOM UNIFORM(min, max, seed): uniform on [min, max];
- RANDOM NORMAL(min, max, mean, sd, seed): normal, truncated to [min, max];
- RANDOM EXPONENTIAL(min, max, shift, stretch, seed): shift + stretch x exponential(1),
  truncated to [min, max] (PySD starts it at max(min, shift), the same law).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from carespiral.errors import CarespiralError

__all__ = ["check_stream_start", "random_0_1", "random_exponential", "random_normal",
           "random_uniform", "site_id", "stream_positions"]

GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
UNIT = 2.0 ** -53
SMALL_VENSIM = 1e-6
MAX_SEED = 2 ** 53  # seeds and run positions travel as exact float64 integers


def check_stream_start(seed: object, first_run: object = 0, runs: int = 1) -> None:
    """Refuse a seed or first run position that is not a whole number from 0 (booleans, floats
    and text included), or whose last run would pass 2**53: the streams (seed, position) of
    runs `first_run` .. `first_run + runs - 1` must be exact."""
    for what, value in (("seed", seed), ("first_run", first_run)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
                not 0 <= value < MAX_SEED - runs:
            raise CarespiralError(f"{what} must be a whole number from 0 (below 2**53), got "
                                  f"{value!r}")


def stream_positions(seed: object, first_run: object, runs: int,
                     streams: object = None) -> np.ndarray:
    """The stream position of each of `runs` rows (float64, exact): `first_run + i`, or row i's
    own `streams[i]` (whole numbers from 0, one per row; rows may share one) when given, in
    which case `first_run` must be left at 0. Checks the seed as `check_stream_start` does."""
    if streams is None:
        check_stream_start(seed, first_run, runs)
        return np.arange(first_run, first_run + runs, dtype=np.float64)  # type: ignore[operator]
    check_stream_start(seed, 0, 1)
    if not (isinstance(first_run, (int, np.integer)) and first_run == 0):
        raise CarespiralError("give either first_run or streams (one position per row), not both")
    pos = np.asarray(streams)
    if pos.ndim != 1 or len(pos) != runs:
        raise CarespiralError(f"streams must hold one position per row: {runs} rows, got "
                              f"shape {pos.shape}")
    if len(pos) and (pos.dtype.kind not in "iu" or pos.min() < 0 or pos.max() >= MAX_SEED):
        raise CarespiralError("streams must be whole numbers from 0 (below 2**53), got "
                              f"{pos[:5].tolist()}...")
    return pos.astype(np.float64)


def site_id(label: str, ordinal: int, seed: float | None) -> int:
    """A stable number for one RANDOM call: its variable (cell), its place in the equation and
    the call's own seed argument (when it is a number)."""
    text = f"{label}\x00{ordinal}\x00{'' if seed is None else repr(float(seed))}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


# ---- arithmetic shared with the numba twins (floats or arrays alike) ---------------------------

def ndtri_central(q):
    """Wichura's AS241 (PPND16) for |p - 0.5| <= 0.425, q = p - 0.5."""
    r = 0.180625 - q * q
    num = (((((((2509.0809287301226727 * r + 33430.575583588128105) * r
                + 67265.770927008700853) * r + 45921.953931549871457) * r
              + 13731.693765509461125) * r + 1971.5909503065514427) * r
            + 133.14166789178437745) * r + 3.387132872796366608)
    den = (((((((5226.495278852545925 * r + 28729.085735721942674) * r
                + 39307.89580009271061) * r + 21213.794301586595867) * r
              + 5394.1960214247511077) * r + 687.1870074920579083) * r
            + 42.313330701600911252) * r + 1.0)
    return q * num / den


def ndtri_near(r):
    """AS241 in the tails, r = sqrt(-log(min(p, 1 - p))) <= 5."""
    r = r - 1.6
    num = (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r
                + 0.24178072517745061177) * r + 1.27045825245236838258) * r
              + 3.64784832476320460504) * r + 5.7694972214606914055) * r
            + 4.6303378461565452959) * r + 1.42343711074968357734)
    den = (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r
                + 0.0151986665636164571966) * r + 0.14810397642748007459) * r
              + 0.68976733498510000455) * r + 1.6763848301838038494) * r
            + 2.05319162663775882187) * r + 1.0)
    return num / den


def ndtri_far(r):
    """AS241 in the far tails, r > 5."""
    r = r - 5.0
    num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                + 0.0012426609473880784386) * r + 0.026532189526576123093) * r
              + 0.29656057182850489123) * r + 1.7848265399172913358) * r
            + 5.4637849111641143699) * r + 6.6579046435011037772)
    den = (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r
                + 1.8463183175100546818e-5) * r + 7.868691311456132591e-4) * r
              + 0.0148753612908506148525) * r + 0.13692988092273580531) * r
            + 0.59983220655588793769) * r + 1.0)
    return num / den


# ---- the numpy engine's functions (`rt.random_*` in generated code) ----------------------------

def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
    return z ^ (z >> np.uint64(31))


def _unit(seed, run, site: int, k: int) -> np.ndarray:
    """u in (0, 1) per run, from (seed, run position, call site, step)."""
    run = np.atleast_1d(np.asarray(run, dtype=np.float64)).astype(np.uint64)
    seed = np.broadcast_to(np.asarray(seed, dtype=np.float64), run.shape).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = _mix(seed + np.uint64(GOLDEN))
        h = _mix(h ^ run)
        h = _mix(h ^ np.uint64(site))
        h = _mix(h + np.uint64(k + 1) * np.uint64(GOLDEN))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * UNIT


def _phi(x):
    from scipy.special import erfc

    return 0.5 * erfc(-x / math.sqrt(2.0))


def _ndtri(p):
    q = p - 0.5
    tail = np.sqrt(-np.log(np.where(q < 0, p, 1.0 - p)))
    val = np.where(tail <= 5.0, ndtri_near(tail), ndtri_far(tail))
    val = np.where(q < 0, -val, val)
    return np.where(np.abs(q) <= 0.425, ndtri_central(q), val)


def _xidz(a, b, x):
    small = np.abs(b) < SMALL_VENSIM
    return np.where(small, x, np.divide(a, np.where(small, 1.0, b)))


def random_0_1(seed, run, site: int, k: int):
    return _unit(seed, run, site, k)


def random_uniform(lo, hi, seed, run, site: int, k: int):
    return lo + (hi - lo) * _unit(seed, run, site, k)


def random_normal(lo, hi, mean, sd, seed, run, site: int, k: int):
    u = _unit(seed, run, site, k)
    with np.errstate(all="ignore"):
        a = _xidz(lo - mean, sd, -np.inf)
        b = _xidz(hi - mean, sd, np.inf)
        # both bounds above the mean: draw the mirror image, whose CDF values are small
        flip = a > 0
        a, b = np.where(flip, -b, a), np.where(flip, -a, b)
        pa, pb = _phi(a), _phi(b)
        z = np.minimum(np.maximum(_ndtri(pa + u * (pb - pa)), a), b)
        return mean + sd * np.where(flip, -z, z)


def random_exponential(lo, hi, shift, stretch, seed, run, site: int, k: int):
    u = _unit(seed, run, site, k)
    with np.errstate(all="ignore"):
        loc = np.maximum(lo, shift)
        b = _xidz(hi - loc, stretch, np.inf)
        return loc + stretch * -np.log1p(u * np.expm1(-b))
