"""A result folder names its files in its manifest; a hand-edited or received one must not make
carespiral read a file elsewhere (and copy it into a report page): every such path stays inside
the result folder, or the folder is refused naming its manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.errors import FileFormatError
from carespiral.reports.results import save_run_results
from carespiral.results import inside, load_result

SECRET = "SECRET-LINE-7d1f"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A table outside the result folder holding a line that must never reach a page."""
    path = tmp_path / "private.csv"
    path.write_text(f"time,{SECRET}\n0,1\n1,2\n")
    return path


def _run_results(tmp_path: Path) -> Path:
    folder = tmp_path / "res"
    run = pd.DataFrame({"Stock": [0.0, 1.0]}, index=pd.Index([0.0, 1.0], name="time"))
    save_run_results(folder, {"base": run}, title="a run")
    return folder


@pytest.mark.parametrize("path", ["absolute", "../private.csv", "run_runs/../../private.csv"])
def test_a_run_item_naming_a_file_outside_is_refused(tmp_path, outside, path):
    folder = _run_results(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["items"][0]["runs"]["base"] = str(outside) if path == "absolute" else path
    (folder / "manifest.json").write_text(json.dumps(manifest))
    r = CliRunner().invoke(app, ["report", str(folder)])
    assert r.exit_code == 2, r.output
    assert "is not inside the result folder" in " ".join(r.output.split())
    assert "manifest.json" in r.output and "Traceback" not in r.output
    assert not any(SECRET in p.read_text(errors="ignore") for p in folder.rglob("*.html"))


def test_a_link_out_of_the_folder_counts_as_outside(tmp_path, outside):
    folder = _run_results(tmp_path)
    link = folder / "run_runs" / "link.csv"
    link.symlink_to(outside)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["items"][0]["runs"]["base"] = "run_runs/link.csv"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    r = CliRunner().invoke(app, ["report", str(folder)])
    assert r.exit_code == 2 and "is not inside the result folder" in r.output, r.output


def test_a_result_table_outside_its_folder_is_refused(tmp_path, outside):
    """A saved result names its tables in its manifest (`"tables"`): each must be inside."""
    folder = tmp_path / "v2"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(
        {"format": "carespiral", "version": 2, "kind": "results", "items": [],
         "tables": {"table": "table.parquet"}}))
    pd.DataFrame({"a": [1, 2]}).to_parquet(folder / "table.parquet")
    load_result(folder)  # as written, it loads
    for rel in (str(outside), "../private.csv"):
        meta = json.loads((folder / "manifest.json").read_text())
        meta["tables"]["table"] = rel
        (folder / "manifest.json").write_text(json.dumps(meta))
        with pytest.raises(FileFormatError, match="is not inside the result folder"):
            load_result(folder)


def test_inside_accepts_plain_relative_paths(tmp_path):
    assert inside(tmp_path, "a/b.csv") == tmp_path / "a" / "b.csv"
    for bad in ["/etc/passwd", "../x.csv", "", None, 5]:
        with pytest.raises(FileFormatError):
            inside(tmp_path, bad)
