"""Shared fixtures for the exploration tests: the teaching models and a small spec."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
FOLD_MDL = HERE / "fold_teaching.mdl"


@pytest.fixture(scope="session")
def workforce():
    from carespiral.pysd_runner import load

    return load("workforce_spiral")


@pytest.fixture(scope="session")
def fold_model():
    from carespiral.pysd_runner import load

    return load(FOLD_MDL)


SMALL_SPEC = """
model = "workforce_spiral"
title = "test"
runs = 12
chunk = 5
seed = 3
stop = 120

[uncertainties]
"Referral Rate" = [200, 450]

[levers]
establishment = { range = [120, 200], cost = 4.5 }
"""


@pytest.fixture
def small_spec(tmp_path) -> Path:
    p = tmp_path / "small.toml"
    p.write_text(SMALL_SPEC)
    return p
