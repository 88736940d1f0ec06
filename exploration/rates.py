"""The model's rate function f(stocks, parameters) -> d(stocks)/dt, for equilibrium finding.

Continuation needs the right-hand side of the model's differential equations, not a simulated
trajectory. PySD builds exactly that (each stock's net flow); `RateFunction` sets the stocks and
parameters, clears PySD's caches and asks for the derivatives. Stocks are ordered as
`RateFunction.stocks` (Vensim names).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from carespiral.errors import CarespiralError

__all__ = ["RateFunction"]


class RateFunction:
    """d(stocks)/dt of `model` at given stock values and parameter values (time-independent).

    Only models whose dynamic state is scalar stocks (INTEG) qualify: delays and smooths carry
    hidden internal stocks that continuation would have to see as well.
    """

    def __init__(self, model, params: Mapping[str, float] | None = None) -> None:
        self.model = model
        pm = model._pysd
        pm.reload()
        self._pm = pm
        elements = list(pm._dynamicstateful_elements)
        py_to_name = {v.py_name: v.name for v in model.variables}
        names = []
        for e in elements:
            py = e.py_name.removeprefix("_integ_")
            if not e.py_name.startswith("_integ_") or py not in py_to_name:
                raise CarespiralError(
                    f"model {model.name!r} has a {type(e).__name__} element ({e.py_name}); the rate "
                    "function supports models whose only state is stocks (INTEG); use the "
                    "hysteresis sweep (`sweep`) instead"
                )
            names.append(py_to_name[py])
        self.stocks: list[str] = names
        self._py = {p.name: p.py_name for p in model.parameters}
        self._current: dict[str, float] = {}
        pm.initialize()
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
        """The stocks' initial values under the current parameters."""
        self._pm.initialize()
        return np.array([float(s) for s in self._pm.state], dtype=float)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        pm = self._pm
        pm.state = np.asarray(x, dtype=float)
        pm.clean_caches()
        return np.array([float(d) for d in pm.ddt()], dtype=float)

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
