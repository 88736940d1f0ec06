"""Imports point one way down the pipeline: models -> runner -> data -> calibration ->
exploration -> reports -> CLI, with the core modules (errors, the atomic writer, the result base,
the Dask client) below them all. Every import of every module counts, including those inside
functions (lazy imports) and `importlib.import_module` calls."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Each layer's modules (longest prefix wins) and its rank: a module may import its own layer and
# the layers ranked below it. Exploration sits beside calibration but may read its results
# (posterior draws), so it ranks above it. `carespiral` itself (the package's __init__) is the
# public API: it re-exports the runner.
LAYERS = {
    "carespiral.errors": 0,
    "carespiral._atomic": 0,
    "carespiral.results": 0,
    "carespiral._dask": 0,
    "carespiral.schema": 0,
    "carespiral.models": 1,
    "carespiral.model_docs": 1,
    "carespiral.pysd_runner": 2,
    "carespiral": 2.5,
    "carespiral.data": 3,
    "carespiral.calibration": 4,
    "carespiral.exploration": 5,
    "carespiral.reports": 6,
    "carespiral.cli": 7,
}


def _layer(module: str) -> str | None:
    best = None
    for name in LAYERS:
        if (module == name or module.startswith(name + ".")) and (
                best is None or len(name) > len(best)):
            best = name
    return best


def _modules() -> dict[str, Path]:
    """Every Python module of the installed package, by its importable name."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    out: dict[str, Path] = {}
    for package, folder in cfg["package-dir"].items():
        base = ROOT / folder
        for path in base.rglob("*.py"):
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            # a folder mapped to its own package (cli under carespiral) is named once
            out.setdefault(name, path)
    return out


def imports_of(source: str, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(imported carespiral module, line) for every import in `source`, at any depth."""
    found = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join([*parent, base]) if base else ".".join(parent)
            for a in node.names:
                # `from carespiral import data` imports the module carespiral.data
                sub = f"{base}.{a.name}"
                found.append((sub if _layer(sub) != _layer(base) else base, node.lineno))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(
                node.func, "id", "")) == "import_module" and node.args):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((arg.value, node.lineno))
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(
                    arg.values[0], ast.Constant):
                found.append((str(arg.values[0].value).rstrip("."), node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "carespiral"]


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    own = _layer(module)
    assert own is not None, module
    out = []
    for target, line in imports_of(source, module, is_package):
        dest = _layer(target)
        if dest is not None and LAYERS[dest] > LAYERS[own]:
            out.append(f"{module}:{line} imports {target} ({dest} is above {own})")
    return out


def test_imports_point_down_the_pipeline():
    modules = _modules()
    assert {"carespiral.data.loader", "carespiral.calibration.engine", "carespiral.cli.calibrate",
            "carespiral.reports.results", "carespiral.results"} <= set(modules)
    bad = []
    for name, path in sorted(modules.items()):
        if _layer(name) is None:
            continue
        bad += violations(path.read_text(encoding="utf-8"), name,
                          path.name == "__init__.py")
    assert not bad, "imports against the pipeline:\n" + "\n".join(bad)


def test_the_check_sees_lazy_and_relative_imports():
    lazy = "def f():\n    from carespiral.reports import data_report\n"
    assert violations(lazy, "carespiral.data.loader") == [
        "carespiral.data.loader:2 imports carespiral.reports (carespiral.reports is above "
        "carespiral.data)"]
    relative = "from ..exploration import margin\n"
    assert violations(relative, "carespiral.calibration.engine")
    dynamic = "import importlib\nimportlib.import_module('carespiral.cli.run')\n"
    assert violations(dynamic, "carespiral.results")
    assert violations("from carespiral import data\n", "carespiral.pysd_runner.model")
    assert not violations("from carespiral import data\n", "carespiral.calibration.engine")
    assert not violations("from carespiral.errors import CarespiralError\n",
                          "carespiral.pysd_runner.model")
