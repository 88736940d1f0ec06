"""Scalar twins of `runtime` and of the numpy functions the lowered equations use (numba engine).

The numba engine compiles a loop over runs and steps in which every variable is one float. Each
function here computes, for one run, the same floating-point operations in the same order as its
vectorised counterpart (`runtime` or numpy), so both engines give the same numbers. Compiled with
numba (`error_model="numpy"`: a division by zero gives inf or NaN, never an exception).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from carespiral.pysd_runner.batch import allocation as alloc
from carespiral.pysd_runner.batch import random_streams as rs

__all__ = ["SCALAR"]

SMALL_VENSIM = 1e-6
_jit = nb.njit(cache=True, error_model="numpy")


@_jit
def s_minimum(a, b):
    # np.minimum: NaN if either is NaN
    return a if (a < b or a != a) else b


@_jit
def s_maximum(a, b):
    return a if (a > b or a != a) else b


@_jit
def s_where(c, a, b):
    return a if c else b


@_jit
def s_logical_and(a, b):
    return (a != 0) and (b != 0)


@_jit
def s_logical_or(a, b):
    return (a != 0) or (b != 0)


@_jit
def s_logical_not(a):
    return a == 0


@_jit
def s_step(time, time_step, value, tstep):
    return value * (time + time_step / 2 > tstep)


@_jit
def s_ramp(time, slope, start, finish):
    return (time + SMALL_VENSIM > start) * slope * (s_minimum(finish, time) - start)


@_jit
def s_ramp_open(time, slope, start):
    return (time + SMALL_VENSIM > start) * slope * (time - start)


@_jit
def s_pulse(time, time_step, start, width):
    w = time_step if width == 0 else width
    return 1.0 if (start - SMALL_VENSIM <= time) and (time < start + w) else 0.0


@_jit
def s_mod(a, b):
    # np.mod for floats (numpy's npy_divmod): the result has the divisor's sign
    m = np.fmod(a, b)
    if b == 0:
        return m
    if m != 0:
        if (b < 0) != (m < 0):
            m += b
    else:
        m = math.copysign(0.0, b)
    return m


@_jit
def s_pulse_train(time, start, repeat, width, end):
    if repeat == 0:  # one pulse of that width (its end ignored), as in PySD
        return 1.0 if (start - SMALL_VENSIM <= time) and (time < start + width) else 0.0
    on = (start <= time) and (time < end)
    return 1.0 if on and (s_mod(time - start + SMALL_VENSIM, repeat) < width) else 0.0


@_jit
def s_xidz(a, b, x):
    return x if abs(b) < SMALL_VENSIM else a / b


@_jit
def s_zidz(a, b):
    return 0.0 if abs(b) < SMALL_VENSIM else a / b


@_jit
def s_quantum(a, b):
    return a if b < SMALL_VENSIM else b * np.trunc(a / b)


@_jit
def s_modulo(x, m):
    return x - s_quantum(x, m)


@_jit
def s_table(x, xs, slope, xe, ye):
    # runtime.Table's branch-free formula: i = knots at or below x; slope_i * (x - x_i) + y_i
    i = 0
    for j in range(xs.shape[0]):
        i += x >= xs[j]
    return slope[i] * (x - xe[i]) + ye[i]


@_jit
def s_interp(x, xs, ys):
    return np.interp(x, xs, ys)


@_jit
def s_lookup_extrapolate(x, xs, ys):
    out = np.interp(x, xs, ys)
    lo = ys[0] + (ys[1] - ys[0]) / (xs[1] - xs[0]) * (x - xs[0])
    hi = ys[-1] + (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) * (x - xs[-1])
    return lo if x < xs[0] else (hi if x > xs[-1] else out)


@_jit
def s_lookup_hold_backward(x, xs, ys):
    # np.searchsorted(xs, x, side="right") - 1, clipped: NaN sorts after every knot
    n = xs.shape[0]
    i = n
    if x == x:
        i = 0
        while i < n and xs[i] <= x:
            i += 1
    idx = min(max(i - 1, 0), n - 1)
    return ys[idx]


@_jit
def _s_left(x, xs):
    # np.searchsorted(xs, x, side="left"), clipped: NaN sorts after every knot
    n = xs.shape[0]
    i = n
    if x == x:
        i = 0
        while i < n and xs[i] < x:
            i += 1
    return min(i, n - 1)


@_jit
def s_lookup_look_forward(x, xs, ys):
    return ys[_s_left(x, xs)]


@_jit
def s_lookup_raw(x, xs, ys):
    i = _s_left(x, xs)
    return ys[i] if xs[i] == x else math.nan


# ---- RANDOM functions (random_streams): the same hash and the same inverse CDFs -------------

_c_central = _jit(rs.ndtri_central)
_c_near = _jit(rs.ndtri_near)
_c_far = _jit(rs.ndtri_far)


@_jit
def _s_mix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(rs.MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(rs.MIX2)
    return z ^ (z >> np.uint64(31))


@_jit
def _s_unit(seed, run, site, k):
    h = _s_mix(np.uint64(seed) + np.uint64(rs.GOLDEN))
    h = _s_mix(h ^ np.uint64(run))
    h = _s_mix(h ^ np.uint64(site))
    h = _s_mix(h + np.uint64(k + 1) * np.uint64(rs.GOLDEN))
    return (float(h >> np.uint64(11)) + 0.5) * rs.UNIT


@_jit
def _s_ndtri(p):
    q = p - 0.5
    if abs(q) <= 0.425:
        return _c_central(q)
    tail = math.sqrt(-math.log(p if q < 0 else 1.0 - p))
    val = _c_near(tail) if tail <= 5.0 else _c_far(tail)
    return -val if q < 0 else val


@_jit
def s_random_0_1(seed, run, site, k):
    return _s_unit(seed, run, site, k)


@_jit
def s_random_uniform(lo, hi, seed, run, site, k):
    return lo + (hi - lo) * _s_unit(seed, run, site, k)


@_jit
def s_random_normal(lo, hi, mean, sd, seed, run, site, k):
    u = _s_unit(seed, run, site, k)
    a = s_xidz(lo - mean, sd, -math.inf)
    b = s_xidz(hi - mean, sd, math.inf)
    flip = a > 0
    if flip:
        a, b = -b, -a
    pa = 0.5 * math.erfc(-a / math.sqrt(2.0))
    pb = 0.5 * math.erfc(-b / math.sqrt(2.0))
    z = s_minimum(s_maximum(_s_ndtri(pa + u * (pb - pa)), a), b)
    return mean + sd * (-z if flip else z)


@_jit
def s_random_exponential(lo, hi, shift, stretch, seed, run, site, k):
    u = _s_unit(seed, run, site, k)
    loc = s_maximum(lo, shift)
    b = s_xidz(hi - loc, stretch, math.inf)
    return loc + stretch * -math.log1p(u * math.expm1(-b))


# ---- ALLOCATE AVAILABLE (allocation.available_level / available_curve), one run ------------

_NORMAL_REACH = alloc.reach("normal")
_EXP_REACH = alloc.reach("exp")


@_jit
def s_available_curve(x, t, q, p, w):
    if t == 1.0 or t == 2.0:
        u = (x - p + 0.5 * w) / w
        if t == 1.0:
            return q * (1.0 - s_minimum(s_maximum(u, 0.0), 1.0))
        v = s_minimum(s_maximum(u, 0.0), 1.0)
        a = s_minimum(v, 0.5)
        b = s_maximum(v, 0.5)
        return q * (2.5 - 2.0 * a * a + 2.0 * b * b - 4.0 * b)
    if t == 3.0:
        return q * (1.0 - 0.5 * math.erfc((p - x) / (1.4142135623730951 * w)))
    if t == 4.0:
        half = 0.5 * q * np.exp(-np.abs(x - p) / w)
        return q - half if x < p else half
    return math.nan


@_jit
def _s_available_total(x, t, q, p, w):
    f = s_available_curve(x, t[0], q[0], p[0], w[0])
    for i in range(1, len(q)):
        f = f + s_available_curve(x, t[i], q[i], p[i], w[i])
    return f


@_jit
def _s_reach(t):
    return 0.5 if t <= 2.0 else (_NORMAL_REACH if t == 3.0 else _EXP_REACH)


@_jit
def s_available_level(supply, t, q, p, w):
    # t, q, p, w: tuples of floats, one per target
    r = _s_reach(t[0]) * w[0]
    lo = p[0] - r
    hi = p[0] + r
    for i in range(1, len(q)):
        r = _s_reach(t[i]) * w[i]
        lo = s_minimum(lo, p[i] - r)
        hi = s_maximum(hi, p[i] + r)
    step = 0.5 * (hi - lo)
    x = 0.5 * (lo + hi)
    for _ in range(alloc.ITERATIONS):
        step = 0.5 * step
        x = x + step if _s_available_total(x, t, q, p, w) > supply else x - step
    a = x - step
    b = x + step
    fa = _s_available_total(a, t, q, p, w)
    fb = _s_available_total(b, t, q, p, w)
    return a + (fa - supply) * (b - a) / (fa - fb) if fa > fb else x


# Names of the vectorised code (`np.x` / `rt.x`) -> scalar function names in this module.
SCALAR = {
    "np.minimum": "s_minimum", "np.maximum": "s_maximum", "np.where": "s_where",
    "np.logical_and": "s_logical_and", "np.logical_or": "s_logical_or",
    "np.logical_not": "s_logical_not",
    "rt.step": "s_step", "rt.ramp": "s_ramp", "rt.pulse": "s_pulse", "rt.pulse_train": "s_pulse_train",
    "rt.xidz": "s_xidz", "rt.zidz": "s_zidz", "rt.quantum": "s_quantum", "rt.modulo": "s_modulo",
    "rt.lookup_extrapolate": "s_lookup_extrapolate",
    "rt.lookup_hold_backward": "s_lookup_hold_backward",
    "rt.lookup_look_forward": "s_lookup_look_forward", "rt.lookup_raw": "s_lookup_raw",
    "rt.random_0_1": "s_random_0_1", "rt.random_uniform": "s_random_uniform",
    "rt.random_normal": "s_random_normal", "rt.random_exponential": "s_random_exponential",
    "rt.erfc": "math.erfc",
    "rt.allocate_available_level": "s_available_level",
    "rt.allocate_available_curve": "s_available_curve",
    # numba compiles these numpy functions for floats itself
    "np.abs": "np.abs", "np.exp": "np.exp", "np.log": "np.log", "np.sqrt": "np.sqrt",
    "np.sin": "np.sin", "np.cos": "np.cos", "np.tan": "np.tan", "np.arcsin": "np.arcsin",
    "np.arccos": "np.arccos", "np.arctan": "np.arctan", "np.sinh": "np.sinh",
    "np.cosh": "np.cosh", "np.tanh": "np.tanh", "np.power": "np.power", "np.trunc": "np.trunc",
    "np.pi": "np.pi",
}
