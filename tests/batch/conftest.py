"""Shared fixtures for the batch backend tests."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

RTOL, ATOL = 1e-9, 1e-12


def _draws_within_bounds(parameters, n: int, seed: int) -> pd.DataFrame:
    """Uniform draws of every constant with finite declared bounds."""
    rng = np.random.default_rng(seed)
    cols = {}
    for p in parameters:
        lo, hi = p.lower, p.upper
        if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            cols[p.name] = rng.uniform(lo, hi, n)
    return pd.DataFrame(cols)


def _assert_close(got, expected, what: str) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(expected, dtype=float),
                               rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.fixture
def helpers() -> SimpleNamespace:
    return SimpleNamespace(draws=_draws_within_bounds, assert_close=_assert_close,
                           models=Path(__file__).parent / "models")
