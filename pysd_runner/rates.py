"""The model's rate function f(stocks, parameters) -> d(stocks)/dt, for equilibrium finding.

Continuation needs the right-hand side of the model's differential equations, not a simulated
trajectory. PySD builds exactly that (each stock's net flow); `RateFunction` sets the stocks and
parameters, clears PySD's caches and asks for the derivatives. Stocks are ordered as
`RateFunction.stocks` (Vensim names). Get one with `Model.rate_function(params)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from carespiral.errors import CarespiralError

if TYPE_CHECKING:
    from carespiral.pysd_runner.model import Model

__all__ = ["RateFunction"]


class RateFunction:
    """d(state)/dt of `model` at given state and parameter values (time-independent).

    The state is every stock (INTEG) plus the hidden stocks of smooths and delays (SMOOTH, DELAY:
    one entry per internal stage, named e.g. "Perceived Pressure (smooth)"), flattened in PySD's
    order; `stocks` names each entry.
    """

    def __init__(self, model: Model, params: Mapping[str, float] | None = None) -> None:
        self.model = model
        pm = model._pysd
        pm.reload()
        self._pm = pm
        pm.initialize()
        self._elements = list(pm._dynamicstateful_elements)
        py_to_name = {v.py_name: v.name for v in model.variables}
        names: list[str] = []
        self._shapes: list[tuple[int, ...]] = []
        for e in self._elements:
            kind, _, py = e.py_name.lstrip("_").partition("_")
            real = py_to_name.get(py, py)
            shape = np.shape(e.state)
            size = int(np.prod(shape)) if shape else 1
            if not np.issubdtype(np.asarray(e.state).dtype, np.number):
                raise CarespiralError(
                    f"model {model.name!r}: state {e.py_name} is not numeric; the rate function "
                    "cannot use it (use the hysteresis sweep instead)"
                )
            self._shapes.append(shape)
            if kind == "integ":
                names.append(real)
            elif size == 1:
                names.append(f"{real} ({kind})")
            else:
                names += [f"{real} ({kind} {i + 1})" for i in range(size)]
        self.stocks: list[str] = names
        self._py = {p.name: p.py_name for p in model.parameters}
        self._current: dict[str, float] = {}
        if params:
            self.set_params(params)

    def set_params(self, params: Mapping[str, float]) -> None:
        """Set constants (Vensim names, Python names or roles)."""
        changes = {}
        for k, v in params.items():
            name = self.model.parameter(k).name
            if self._current.get(name) != float(v):
                changes[self._py[name]] = float(v)
                self._current[name] = float(v)
        if changes:
            self._pm.set_components(changes)

    def initial_state(self) -> np.ndarray:
        """The state's initial values under the current parameters."""
        self._pm.initialize()
        return np.concatenate([np.ravel(np.asarray(e.state, dtype=float)) for e in self._elements])

    def settle(self, months: float) -> np.ndarray:
        """Simulate `months` from the model's initial state under the current parameters and
        return the final state (a starting guess for an equilibrium)."""
        import warnings

        pm = self._pm
        values = {self._py[k]: v for k, v in self._current.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # record one variable only (the one the first state belongs to): we want the end state
            var = self._elements[0].py_name.lstrip("_").partition("_")[2]
            pm.run(params=values or None, final_time=float(months), return_columns=[var])
        return np.concatenate([np.ravel(np.asarray(e.state, dtype=float)) for e in self._elements])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        k = 0
        for e, shape in zip(self._elements, self._shapes, strict=True):
            size = int(np.prod(shape)) if shape else 1
            e.update(x[k] if not shape else x[k:k + size].reshape(shape))
            k += size
        self._pm.clean_caches()
        return np.concatenate([np.ravel(np.asarray(e.ddt(), dtype=float)) for e in self._elements])

    def jacobian(self, x: np.ndarray, rel: float = 1e-6) -> np.ndarray:
        """Central-difference Jacobian d f / d x.

        Central, not forward: stock-and-flow models are full of MIN/MAX kinks (hiring stops at the
        establishment), and an equilibrium often sits on one; the two one-sided slopes average to
        the restoring force, where a forward difference would see only the flat side.
        """
        x = np.asarray(x, dtype=float)
        jac = np.empty((len(x), len(x)))
        for j in range(len(x)):
            h = rel * max(abs(x[j]), 1.0)
            xp, xm = x.copy(), x.copy()
            xp[j] += h
            xm[j] -= h
            jac[:, j] = (self(xp) - self(xm)) / (2 * h)
        return jac

    def reset(self) -> None:
        """Re-apply parameters after something else (a simulation run) reloaded the model."""
        current = dict(self._current)
        self._pm.reload()
        self._current = {}
        self._pm.initialize()
        self.set_params(current)

    def close(self) -> None:
        """Leave the model as written (later runs start clean either way)."""
        self._pm.reload()
