"""Vectorised Vensim built-ins used by the generated batch code (`rt.` in generated source).

Each function works on numpy arrays (one element per run) and on plain floats, and computes what
PySD's `py_backend.functions` computes for one run, in the same floating-point order.
"""

from __future__ import annotations

import numpy as np

# ALLOCATE AVAILABLE's solve (a loop over its targets; see `allocation`)
from carespiral.pysd_runner.batch.allocation import available_curve as allocate_available_curve
from carespiral.pysd_runner.batch.allocation import available_level as allocate_available_level
from carespiral.pysd_runner.batch.random_streams import (
    random_0_1,
    random_exponential,
    random_normal,
    random_uniform,
)
from carespiral.pysd_runner.batch.recording import Rows

__all__ = [
    "FixedPipe",
    "Rows",
    "Table",
    "allocate_available_curve",
    "allocate_available_level",
    "as_numpy",
    "delay_n_order",
    "erfc",
    "initial_order",
    "lookup_extrapolate",
    "lookup_hold_backward",
    "lookup_interpolate",
    "lookup_look_forward",
    "lookup_raw",
    "modulo",
    "pulse",
    "pulse_train",
    "quantum",
    "ramp",
    "random_0_1",
    "random_exponential",
    "random_normal",
    "random_uniform",
    "step",
    "xidz",
    "zidz",
]

SMALL_VENSIM = 1e-6  # what Vensim treats as zero (ZIDZ, XIDZ, ramp and pulse edges)


def erfc(x):
    """The complementary error function (ALLOCATE AVAILABLE's normal priority profile)."""
    from scipy.special import erfc as _erfc

    return _erfc(x)


def as_numpy(x):
    """A state's value as numpy data (np.float64 for a number shared by all runs)."""
    return x if isinstance(x, np.ndarray) else np.float64(x)


def step(time: float, time_step: float, value, tstep):
    # Vensim switches on half a time step early, so STEP at a grid time is seen at that time.
    return value * (time + time_step / 2 > tstep)


def ramp(time: float, slope, start, finish):
    final = time if finish is None else np.minimum(finish, time)
    return (time + SMALL_VENSIM > start) * slope * (final - start)


def pulse(time: float, time_step: float, start, width):
    # Vensim: a width of 0 means one TIME STEP (PySD would never fire such a pulse)
    width = np.where(width == 0, time_step, width)
    return np.where((start - SMALL_VENSIM <= time) & (time < start + width), 1.0, 0.0)


def pulse_train(time: float, start, repeat, width, end):
    # a repeat time of 0 is one pulse of that width (its end ignored), as in PySD
    once = (start - SMALL_VENSIM <= time) & (time < start + width)
    on = (start <= time) & (time < end)
    train = on & (np.mod(time - start + SMALL_VENSIM, np.where(repeat == 0, 1.0, repeat)) < width)
    return np.where(np.where(repeat == 0, once, train), 1.0, 0.0)


# The division helpers choose before dividing: where the denominator counts as zero, it is
# replaced by 1 so that a / b is never computed with it (a constant zero would otherwise raise
# ZeroDivisionError on Python floats); elsewhere the quotient is the same a / b.


def xidz(a, b, x):
    small = np.abs(b) < SMALL_VENSIM
    return np.where(small, x, np.divide(a, np.where(small, 1.0, b)))


def zidz(a, b):
    small = np.abs(b) < SMALL_VENSIM
    return np.where(small, 0.0, np.divide(a, np.where(small, 1.0, b)))


def quantum(a, b):
    small = b < SMALL_VENSIM
    return np.where(small, a, b * np.trunc(np.divide(a, np.where(small, 1.0, b))))


def modulo(x, m):
    return x - quantum(x, m)


def lookup_interpolate(x, xs: np.ndarray, ys: np.ndarray):
    # Vensim holds the end values outside the table; np.interp does the same.
    return np.interp(x, xs, ys)


class Table:
    """A lookup table prepared for fast vectorised interpolation.

    np.interp binary-searches each element; when runs spread over the table its branches
    mispredict. For small tables counting the knots at or below x is faster and branch-free, and
    the formula is np.interp's own (slope_j * (x - x_j) + y_j, exact at knots, end values held),
    so the results are the same bits as np.interp for every finite x.
    """

    def __init__(self, xs: list[float], ys: list[float]) -> None:
        self.xs = np.asarray(xs, dtype=float)
        self.ys = np.asarray(ys, dtype=float)
        self.fast = 2 <= len(self.xs) <= 24 and bool(np.all(np.diff(self.xs) > 0))
        if self.fast:
            self.col = self.xs[:, None]
            inner = (self.ys[1:] - self.ys[:-1]) / (self.xs[1:] - self.xs[:-1])
            slope = np.concatenate([[0.0], inner, [0.0]])
            xe = np.concatenate([[self.xs[0]], self.xs])
            ye = np.concatenate([[self.ys[0]], self.ys])
            self.rows = np.stack([slope, xe, ye])  # one gather fetches all three

    def __call__(self, x):
        if not self.fast or np.ndim(x) == 0:
            return np.interp(x, self.xs, self.ys)
        # knots at or below x, summed in uint8 (tables have at most 24 points): 0..len(xs);
        # x may be a block of cells by runs (a subscripted model's numpy engine)
        col = self.col if np.ndim(x) == 1 else self.xs.reshape((-1,) + (1,) * np.ndim(x))
        i = np.add.reduce(x >= col, axis=0, dtype=np.uint8)
        slope, xj, yj = self.rows.take(i, axis=1)  # a fresh array: computed in place
        np.subtract(x, xj, out=xj)
        np.multiply(slope, xj, out=xj)
        return np.add(xj, yj, out=xj)  # slope * (x - x_j) + y_j, as np.interp


def lookup_extrapolate(x, xs: np.ndarray, ys: np.ndarray):
    out = np.interp(x, xs, ys)
    lo = ys[0] + (ys[1] - ys[0]) / (xs[1] - xs[0]) * (x - xs[0])
    hi = ys[-1] + (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) * (x - xs[-1])
    return np.where(x < xs[0], lo, np.where(x > xs[-1], hi, out))


def lookup_hold_backward(x, xs: np.ndarray, ys: np.ndarray):
    idx = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 1)
    return ys[idx]


def lookup_look_forward(x, xs: np.ndarray, ys: np.ndarray):
    # a data series read forward: the value at the first time at or after x (ends held)
    idx = np.clip(np.searchsorted(xs, x, side="left"), 0, len(xs) - 1)
    return ys[idx]


def lookup_raw(x, xs: np.ndarray, ys: np.ndarray):
    # a data series read raw: its value at its own times only, NaN between and outside them
    idx = np.clip(np.searchsorted(xs, x, side="left"), 0, len(xs) - 1)
    return np.where(xs[idx] == x, ys[idx], np.nan)


def delay_n_order(order: int, time_step: float, delay_time):
    """The order DELAY N really uses: lowered while order * TIME STEP exceeds the delay time."""
    d = np.asarray(delay_time, dtype=float)
    m = np.full(d.shape, order, dtype=np.int64)
    while True:
        too_long = (m * time_step > d) & (m > 1)
        if not too_long.any():
            break
        m = np.where(too_long, m - 1, m)
    return m if m.ndim else int(m)


def initial_order(cap: int, order, time_step: float, delay_time, lower: bool):
    """A DELAY N / SMOOTH N order given by an expression, fixed at the initial time: truncated
    to a whole number (as PySD does), at most `cap` (the stages built), and for DELAY N lowered
    while order * TIME STEP exceeds the delay time."""
    from carespiral.errors import CarespiralError

    m = np.trunc(np.asarray(order, dtype=float))
    if np.any(~(m >= 1)) or np.any(m > cap):
        bad = float(m.flat[int(np.argmax(~(m >= 1) | (m > cap)))])
        raise CarespiralError(
            f"a DELAY N or SMOOTH N order of {bad:g} at the initial time: the batch backend "
            f"built {cap} stages (the order with the model's defaults); orders from 1 to {cap} "
            "can be run, so raise the default order to allow larger ones")
    m = m.astype(np.int64)
    if lower:
        d = np.asarray(delay_time, dtype=float)
        m = np.broadcast_to(m, np.broadcast_shapes(m.shape, d.shape)).copy()
        while True:
            too_long = (m * time_step > d) & (m > 1)
            if not too_long.any():
                break
            m = np.where(too_long, m - 1, m)
    return m if m.ndim else int(m)


class FixedPipe:
    """DELAY FIXED as a ring buffer per run: length round(delay / TIME STEP), fixed at the start.

    Matches PySD's DelayFixed: the input at time t is the output at t + length * TIME STEP.
    """

    def __init__(self, initial, delay_time, time_step: float, n: int) -> None:
        d = np.asarray(delay_time, dtype=float)
        order = np.maximum(d / time_step, 1.0)
        self.length = np.round(order + SMALL_VENSIM).astype(np.int64)
        depth = int(self.length.max()) if self.length.size else 1
        init = np.broadcast_to(np.asarray(initial, dtype=float), (n,))
        self.buf = np.repeat(init[None, :], depth, axis=0)
        self.uniform = self.length.ndim == 0 or bool((self.length == self.length.flat[0]).all())
        self.cols = np.arange(n)
        self.k = 0

    def push(self, value):
        value = np.broadcast_to(value, self.buf.shape[1:])
        if self.uniform:
            length = int(self.length.flat[0])
            self.buf[self.k % length] = value
            self.k += 1
            return self.buf[self.k % length].copy()
        ptr = self.k % self.length
        self.buf[ptr, self.cols] = value
        self.k += 1
        return self.buf[self.k % self.length, self.cols]
