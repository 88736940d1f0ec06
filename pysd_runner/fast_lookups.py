"""PySD's one-dimensional lookup tables, evaluated by `numpy.interp` instead of xarray.

PySD evaluates a lookup table by building xarray objects and interpolating through
`DataArray.interp` on every call (about 1-8 ms a call, depending on load). `collapse_spiral` reads
three tables of time (child population, funded posts, the COVID calendar) at every step, which
was nine tenths of a PySD run (12-16 CPU s for 1,680 steps). For a table without subscripts,
read at one number within its range, linear interpolation between the two neighbouring points
is what both compute (`y0 + (x - x0) (y1 - y0) / (x1 - x0)`; at a table point, its value); every
other call (subscripted tables, x outside the range with PySD's warning, `hold_backward` and
`extrapolate` tables, arrays of x) goes to PySD's own code. Tested bit for bit against PySD.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pysd.py_backend.lookups import HardcodedLookups

__all__ = ["install"]


class FastLookups(HardcodedLookups):
    """A PySD lookup whose in-range scalar calls go through `numpy.interp`."""

    def _call(self, data, x, final_subs=None):
        if (self.is_float and self.interp == "interpolate" and isinstance(x, (float, int))
                and getattr(data, "dims", None) == ("lookup_dim",)):
            if getattr(self, "_fast_of", None) is not data:  # new values set by a run
                self._fast = (np.asarray(data["lookup_dim"].values, dtype=float),
                              np.asarray(data.values, dtype=float))
                self._fast_of = data
            xs, ys = self._fast
            if xs[0] <= x <= xs[-1]:
                return float(np.interp(x, xs, ys))
        return super()._call(data, x, final_subs)


def _speed_up(pm: Any) -> None:
    for element in getattr(pm, "_lookup_elements", ()):
        if type(element) is HardcodedLookups:  # PySD's own class only, never a subclass
            element.__class__ = FastLookups


def install(pm: Any) -> Any:
    """Make `pm`'s lookup tables fast now and after every `pm.reload()` (which rebuilds them)."""
    _speed_up(pm)
    reload = type(pm).reload

    def reload_fast() -> None:
        reload(pm)
        _speed_up(pm)

    pm.reload = reload_fast
    return pm
