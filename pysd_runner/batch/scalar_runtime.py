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


# Names of the vectorised code (`np.x` / `rt.x`) -> scalar function names in this module.
SCALAR = {
    "np.minimum": "s_minimum", "np.maximum": "s_maximum", "np.where": "s_where",
    "np.logical_and": "s_logical_and", "np.logical_or": "s_logical_or",
    "np.logical_not": "s_logical_not",
    "rt.step": "s_step", "rt.ramp": "s_ramp", "rt.pulse": "s_pulse", "rt.pulse_train": "s_pulse_train",
    "rt.xidz": "s_xidz", "rt.zidz": "s_zidz", "rt.quantum": "s_quantum", "rt.modulo": "s_modulo",
    "rt.lookup_extrapolate": "s_lookup_extrapolate",
    "rt.lookup_hold_backward": "s_lookup_hold_backward",
    # numba compiles these numpy functions for floats itself
    "np.abs": "np.abs", "np.exp": "np.exp", "np.log": "np.log", "np.sqrt": "np.sqrt",
    "np.sin": "np.sin", "np.cos": "np.cos", "np.tan": "np.tan", "np.arcsin": "np.arcsin",
    "np.arccos": "np.arccos", "np.arctan": "np.arctan", "np.sinh": "np.sinh",
    "np.cosh": "np.cosh", "np.tanh": "np.tanh", "np.power": "np.power", "np.trunc": "np.trunc",
    "np.pi": "np.pi",
}
