"""The model's rate function d(state)/dt, for equilibria: the runner provides it
(`Model.rate_function`); exploration only calls it."""

from __future__ import annotations

from carespiral.pysd_runner.rates import RateFunction

__all__ = ["RateFunction"]
