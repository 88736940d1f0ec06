"""Fixtures of the security tests: a marker file the payloads would create, a private cache."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "PWNED"


@pytest.fixture
def private_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CARESPIRAL_CACHE_DIR", str(cache))
    return cache
