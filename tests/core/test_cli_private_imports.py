"""The CLI's modules share helpers through the shared modules (`cli/_common.py`,
`cli/_progress.py`, `cli/_fitting.py`), never by reaching into one another's private names:
no module of `carespiral.cli` imports a name starting with `_` from another `carespiral.cli`
module, nor reads one as an attribute of such a module (`calibrate._command`). Every import
counts, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "carespiral" / "cli"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(source: str, module: str) -> list[tuple[int, str]]:
    """(line, what) for each private name of another `carespiral.cli` module that `source`
    (the module `module`, e.g. "carespiral.cli.backtest") imports or reads."""
    found: list[tuple[int, str]] = []
    aliases: dict[str, str] = {}  # local name -> the cli module it stands for
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from .calibrate import _x, from . import calibrate
                base = ".".join(["carespiral", "cli", *([base] if base else [])])
            if base != "carespiral.cli" and not base.startswith("carespiral.cli."):
                continue
            for a in node.names:
                if base == "carespiral.cli":  # `from carespiral.cli import calibrate`: a module
                    aliases[a.asname or a.name] = f"{base}.{a.name}"
                elif base != module and _is_private(a.name):
                    found.append((node.lineno, f"{base}.{a.name}"))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("carespiral.cli.") and a.asname:
                    aliases[a.asname] = a.name
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = _dotted(node.value)
            target = aliases.get(owner or "", owner or "")
            if target.startswith("carespiral.cli.") and target != module:
                found.append((node.lineno, f"{target}.{node.attr}"))
    return found


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def _cli_modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(CLI.glob("*.py")):
        name = "carespiral.cli" if path.stem == "__init__" else f"carespiral.cli.{path.stem}"
        out.append((name, path))
    return out


def test_no_cli_module_imports_a_private_name_of_another() -> None:
    modules = _cli_modules()
    assert len(modules) > 10  # the folder was found
    bad = [f"{path.name}:{line} uses {what}" for name, path in modules
           for line, what in private_imports(path.read_text(encoding="utf-8"), name)]
    assert not bad, "private names of other CLI modules:\n" + "\n".join(bad)


@pytest.mark.parametrize(("source", "expected"), [
    ("from carespiral.cli.calibrate import _command, read_data\n",
     ["carespiral.cli.calibrate._command"]),
    ("def f():\n    from carespiral.cli.backtest import _check_mode\n",
     ["carespiral.cli.backtest._check_mode"]),
    ("from .calibrate import _command\n", ["carespiral.cli.calibrate._command"]),
    ("from carespiral.cli import calibrate\ncalibrate._command('x', True)\n",
     ["carespiral.cli.calibrate._command"]),
    ("import carespiral.cli.calibrate as c\nc._one()\n", ["carespiral.cli.calibrate._one"]),
    ("import carespiral.cli.calibrate\ncarespiral.cli.calibrate._one()\n",
     ["carespiral.cli.calibrate._one"]),
    ("from carespiral.cli._common import _CLAIMS\n", ["carespiral.cli._common._CLAIMS"]),
    # allowed: public names, the module's own private names, dunders, other packages
    ("from carespiral.cli._fitting import command_line, run_backtest\n", []),
    ("from carespiral.cli.explore import observed_ranges\n", []),
    ("from carespiral.cli.tipping import _range\n", []),
    ("from carespiral.cli.calibrate import __doc__\n", []),
    ("from carespiral.pysd_runner.batch.model import _choose_engine\n", []),
])
def test_the_check_finds_each_form(source: str, expected: list[str]) -> None:
    got = [what for _, what in private_imports(source, "carespiral.cli.tipping")]
    assert got == expected
