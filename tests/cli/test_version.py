"""`carespiral --version` prints the installed version and exits 0 (no command needed)."""

from __future__ import annotations

from typer.testing import CliRunner

import carespiral
from carespiral.cli import app


def test_version_prints_the_package_version_and_exits_0():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"carespiral {carespiral.__version__}"


def test_without_a_command_the_help_is_shown():
    res = CliRunner().invoke(app, [])
    assert "Usage" in res.output and "Missing command" not in res.output
