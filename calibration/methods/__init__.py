"""Calibration methods, one module each, behind a named registry.

Every method module defines `fit(problem, rng, budget, progress, **options) -> MethodOutput`
(`budget`: the model runs it may spend, roughly; `progress(runs, best)`: called as it goes with
the best log-posterior so far) and its registry entry `METHOD` (name, default budget, options).
A new method is a new module here and one line in `METHODS`.
"""

from __future__ import annotations

from carespiral.calibration.methods import differential_evolution, emcee_sampler, least_squares
from carespiral.calibration.methods.base import Method, MethodOutput
from carespiral.errors import UnknownNameError

__all__ = ["METHODS", "Method", "MethodOutput", "get_method"]

METHODS: dict[str, Method] = {m.name: m for m in (
    least_squares.METHOD,
    differential_evolution.METHOD,
    emcee_sampler.METHOD,
)}


def get_method(name: str) -> Method:
    """A method's registry entry by name or alias (any case, `-` for `_`)."""
    key = name.strip().lower().replace("-", "_")
    for m in METHODS.values():
        if key == m.name or key in m.aliases:
            return m
    raise UnknownNameError("method", name, METHODS, hint="methods: " + ", ".join(METHODS))
