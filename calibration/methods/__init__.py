"""Calibration methods, one module each, behind an explicit registry.

Every method has the same contract: `fit(problem, rng, budget, progress) -> MethodOutput`, where
`budget` is the number of model runs it may spend (roughly) and `progress(runs, best)` is called
as it goes with the best log-posterior so far.
"""

from __future__ import annotations

from collections.abc import Callable

from carespiral.calibration.methods import differential_evolution, emcee_sampler, least_squares
from carespiral.calibration.methods.base import MethodOutput
from carespiral.errors import UnknownNameError

__all__ = ["METHODS", "MethodOutput", "get_method"]

METHODS: dict[str, Callable[..., MethodOutput]] = {
    "least_squares": least_squares.fit,
    "differential_evolution": differential_evolution.fit,
    "emcee": emcee_sampler.fit,
}


def get_method(name: str) -> Callable[..., MethodOutput]:
    """The fit function of a method by name; unknown names list the methods."""
    key = name.strip().lower().replace("-", "_")
    if key in ("de",):
        key = "differential_evolution"
    if key not in METHODS:
        raise UnknownNameError("method", name, METHODS, hint="methods: " + ", ".join(METHODS))
    return METHODS[key]
