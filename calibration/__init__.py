"""Fitting models to the published table (`carespiral.data`): specs, the objective, methods,
intervals, fit statistics, backtests and the result.

    >>> from carespiral.calibration import METHODS, calibrate, load_result
    >>> sorted(METHODS)
    ['differential_evolution', 'emcee', 'least_squares']
    >>> result = calibrate("national", method="least_squares", fit_until=2019)  # doctest: +SKIP
    >>> result.to_frame()                                                       # doctest: +SKIP

Names are imported on first use, so importing the package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "METHODS",
    "CalibrationResult",
    "CalibrationSpec",
    "calibrate",
    "export_mdl",
    "fit_problem",
    "load_result",
    "read_spec",
]

_WHERE = {
    "METHODS": "methods",
    "CalibrationResult": "result",
    "CalibrationSpec": "spec",
    "calibrate": "engine",
    "export_mdl": "export",
    "fit_problem": "engine",
    "load_result": "result",
    "read_spec": "spec",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"carespiral.calibration.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'carespiral.calibration' has no attribute {name!r}")
