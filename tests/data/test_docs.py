"""docs/data.md documents every series the loader returns, and the roles in bold."""

from __future__ import annotations

from pathlib import Path

from carespiral import data
from carespiral.data.series import ROLE_SERIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data.md"


def test_every_series_is_documented_and_roles_are_bold():
    text = DOC.read_text()
    for s in data.coverage()["series"]:
        assert f"| {s} |" in text or f"| **{s}** |" in text, s
    for role in ROLE_SERIES:
        assert f"| **{role}** |" in text, role
