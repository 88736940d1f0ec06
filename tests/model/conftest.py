"""Shared fixtures for the collapse-spiral model tests: the loaded model and cached runs."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd
import pytest
from carespiral.pysd_runner import load

MODEL = "collapse_spiral"
ESTABLISHMENT = 36_000.0  # default Child Population x Establishment per Child
REFERENCE_BACKLOG = 25_200.0  # default Child Population x Reference Backlog per Child


@pytest.fixture(scope="session")
def model():
    return load(MODEL)


@pytest.fixture(scope="session")
def no_shocks(model) -> pd.DataFrame:
    return model.run(scenario="no_shocks")


@pytest.fixture(scope="session")
def baseline(model) -> pd.DataFrame:
    return model.run(scenario="baseline")


def step(default: float, value: float, on: float, off: float | None = None,
         stop: float = 420.0, dt: float = 0.25) -> pd.Series:
    """A lever held at `value` from month `on` (to `off`), else at its default."""
    t = np.arange(0.0, stop + dt / 2, dt)
    v = np.where(t >= on, value, default)
    if off is not None:
        v = np.where(t >= off, default, v)
    return pd.Series(v, index=t)


@pytest.fixture(scope="session")
def run_cached(model) -> Callable[..., pd.DataFrame]:
    """Runs keyed by constant overrides (tuples), so tests share them."""

    @cache
    def _run(items: tuple[tuple[str, float], ...], saveper: float = 1.0) -> pd.DataFrame:
        return model.run(params=dict(items), saveper=saveper)

    return lambda saveper=1.0, **kw: _run(tuple(sorted(kw.items())), saveper)
