"""The data files, loader and `carespiral data` work from a plain (non-editable) install."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_data_and_cli_reads_it(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("carespiral-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("dfe/c1_children_in_need_referrals_and_rereferrals_2013_to_2023.csv",
              "dfe/csww_indicators_2017_to_2023.csv", "curated/haringey.csv",
              "ofsted/ilacs_judgements_2018_to_2023.csv",
              "PROVENANCE.md", "README.md"):
        assert f"carespiral/data/{f}" in names, f
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    code = ("import sys; from carespiral.cli import main; import carespiral.data.loader as d;"
            "print(d.__file__);"
            "sys.argv = ['carespiral', 'data', 'show', 'referrals', '--area', 'haringey'];"
            "main()")
    env = dict(os.environ, PYTHONPATH=str(target), CARESPIRAL_CACHE_DIR=str(tmp_path / "c"))
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    first, *rest = res.stdout.splitlines()
    assert Path(first).is_relative_to(target)
    assert any("3,456" in line and "2022-23" in line for line in rest)
