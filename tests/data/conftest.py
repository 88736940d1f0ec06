"""Fixtures for the data tests: the shipped table, and a writable copy of the data folder."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from carespiral import data


@pytest.fixture(scope="session")
def table():
    return data.load(include_variants=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(str(resources.files("carespiral.data")))


@pytest.fixture
def data_copy(tmp_path, data_dir) -> Path:
    """A copy of the shipped CSVs that a test may damage."""
    out = tmp_path / "data"
    for sub in ("dfe", "curated"):
        (out / sub).mkdir(parents=True)
        for f in (data_dir / sub).glob("*.csv"):
            shutil.copy(f, out / sub / f.name)
    return out
