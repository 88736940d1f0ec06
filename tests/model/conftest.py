"""Shared fixtures for the collapse-spiral model tests: the loaded model and cached runs."""

from __future__ import annotations

import pandas as pd
import pytest

from carespiral.pysd_runner import load


@pytest.fixture(scope="session")
def model():
    return load("collapse_spiral")


@pytest.fixture(scope="session")
def no_shocks(model) -> pd.DataFrame:
    return model.run(scenario="no_shocks")


@pytest.fixture(scope="session")
def baseline(model) -> pd.DataFrame:
    return model.run(scenario="baseline")
