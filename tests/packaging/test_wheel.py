"""The models travel with a plain (non-editable) install, and pyproject lists every package."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (found,) = out.glob("carespiral-*.whl")
    return found


def test_wheel_contains_models_catalogue_and_scenarios(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in ("workforce_spiral", "failure_demand", "collapse_spiral"):
        assert f"carespiral/models/{model}.mdl" in names
    assert "carespiral/models/catalog.toml" in names
    assert "carespiral/models/scenarios/workforce_spiral/demand_surge.toml" in names
    assert "carespiral/py.typed" in names
    assert "carespiral/model_docs/collapse_spiral.md" in names  # loop inventory for reports
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_loads_and_runs_a_bundled_model(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, text=True)
    code = (
        "import carespiral, carespiral.pysd_runner as r;"
        "m = r.load('workforce_spiral');"
        "print(carespiral.__file__);"
        "print(m.mdl_path);"
        "print(m.run(stop=12, outputs=['Caseload'])['Caseload'].iloc[-1])"
    )
    env = dict(os.environ, PYTHONPATH=str(target), CARESPIRAL_CACHE_DIR=str(tmp_path / "cache"))
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    module_file, mdl, value = res.stdout.strip().splitlines()
    assert Path(module_file).is_relative_to(target)
    assert Path(mdl).is_relative_to(target)
    assert float(value) > 0


def test_pyproject_lists_every_package_folder():
    """Every folder with code or shipped data is listed, so nothing is silently left out."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(conf["packages"])
    mapping = conf["package-dir"]
    shipped = {".py", ".mdl", ".toml", ".csv", ".ods", ".md"}
    found = set()
    for package, folder in mapping.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_dir() or path.suffix not in shipped or "__pycache__" in path.parts:
                continue
            rel = path.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]) if rel.parts else package)
    missing = sorted(found - listed)
    assert not missing, f"add to [tool.setuptools] packages (and package-data): {missing}"
