"""The tested versions (constraints/tested.txt) against the ranges pyproject.toml supports."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / "constraints" / "tested.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert m, f"constraints/tested.txt: {line!r} is not NAME==VERSION"
        out[canonicalize_name(m.group(1))] = Version(m.group(2))
    return out


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in
            [*project["dependencies"], *project["optional-dependencies"]["test"]]]


def test_every_dependency_is_pinned_inside_its_supported_range():
    pinned = pins()
    for req in requirements():
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not pinned in constraints/tested.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"constraints/tested.txt pins {req.name}=={pinned[name]}, outside pyproject's "
            f"{req.specifier}")


def test_a_pin_outside_the_range_is_caught():
    """The check above can fail: a pin outside a declared range is found."""
    req = Requirement("pandas>=2.2,<3.1")
    assert not req.specifier.contains(Version("3.1.0"), prereleases=True)
    assert req.specifier.contains(Version("3.0.6"), prereleases=True)


def test_both_install_scripts_use_the_constraints():
    for script in ("test.sh", "main.sh"):
        text = (ROOT / "scripts" / script).read_text(encoding="utf-8")
        assert "constraints/tested.txt" in text, script
