"""The one result format: a round trip, atomic saves, clear errors, and folders written by the
version before it (kept in `v1_results/`) still load and render."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.errors import CarespiralError, FileFormatError
from carespiral.results import MANIFEST, Result, kinds, load_result, read_manifest

V1 = Path(__file__).resolve().parent / "v1_results"


@dataclass
class _Toy(Result):
    """A result with every sort of content: two tables (one CSV), numbers, text, a dict."""

    table: pd.DataFrame
    other: pd.DataFrame
    name: str
    numbers: dict
    missing: pd.DataFrame | None = None

    kind: ClassVar[str] = "toy"
    tables: ClassVar[dict[str, str]] = {"other": "other.csv", "missing": "missing.csv"}

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def summary(self) -> dict:
        return {"name": self.name, "rows": len(self.table)}


@pytest.fixture
def toy() -> _Toy:
    table = pd.DataFrame({"x": [1.0, np.nan, 3.0]}, index=pd.Index([5, 6, 7], name="run"))
    other = pd.DataFrame({"a": ["p", "q"], "b": [0.5, 1.5]})
    return _Toy(table, other, "toy", {"big": float("inf"), "small": -np.inf, "gap": np.nan,
                                      "n": np.int64(3)})


def test_round_trip_in_one_manifest(tmp_path, toy):
    folder = toy.save(tmp_path / "toy")
    meta = json.loads((folder / MANIFEST).read_text())
    assert {k: meta[k] for k in ("format", "version", "kind")} == {
        "format": "carespiral", "version": 2, "kind": "toy"}
    assert meta["tables"] == {"table": "table.parquet", "other": "other.csv"}
    assert meta["numbers"] == {"big": "inf", "small": "-inf", "gap": None, "n": 3}
    assert (folder / "report.txt").read_text() == "toy result\n  name: toy\n  rows: 3\n"
    back = _Toy.load(folder)
    pd.testing.assert_frame_equal(back.table, toy.table)
    pd.testing.assert_frame_equal(back.other, toy.other)
    assert back.numbers["big"] == np.inf and back.numbers["small"] == -np.inf
    assert back.numbers["gap"] is None and back.missing is None
    assert "toy" in kinds() and type(load_result(folder)) is _Toy


def test_a_result_owns_its_folder_and_appears_whole(tmp_path, toy, monkeypatch):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "stale.txt").write_text("old")
    toy.save(tmp_path / "toy")
    assert not (tmp_path / "toy" / "stale.txt").exists()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(RuntimeError):
        toy.save(tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy"]


def test_a_shared_folder_is_incomplete_until_its_manifest_is_written(tmp_path, monkeypatch):
    from carespiral.exploration.experiments import ExperimentResult

    folder = tmp_path / "explore"
    shutil.copytree(V1 / "explore", folder)
    (folder / "chunks").mkdir()
    ex = ExperimentResult.load(folder)
    ex.save(folder)  # a version 1 folder saved again: one manifest, the rest kept
    assert (folder / MANIFEST).is_file() and not (folder / "result.json").exists()
    assert (folder / "chunks").is_dir() and (folder / "discovery" / "result.json").is_file()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(RuntimeError):
        ex.save(folder)
    with pytest.raises(FileFormatError, match=r"no manifest\.json"):
        load_result(folder)


def test_bad_folders_are_explained(tmp_path, toy):
    with pytest.raises(FileFormatError, match=r"not a finished carespiral result"):
        load_result(tmp_path)
    (tmp_path / MANIFEST).write_text('{"format": "carespiral", "version": 3}')
    with pytest.raises(FileFormatError, match="version 3"):
        load_result(tmp_path)
    (tmp_path / MANIFEST).write_text(
        '{"format": "carespiral", "version": 2, "kind": "sankey", "tables": {}}')
    with pytest.raises(FileFormatError, match="unknown result kind 'sankey'"):
        load_result(tmp_path)
    from carespiral.calibration.result import CalibrationResult

    folder = toy.save(tmp_path / "toy")
    with pytest.raises(CarespiralError, match="holds a 'toy' result, not 'calibration'"):
        CalibrationResult.load(folder)
    (folder / "other.csv").unlink()
    with pytest.raises(FileFormatError, match=r"other\.csv"):
        load_result(folder)


# ---- folders of version 1 ---------------------------------------------------------------------


def test_a_version_1_calibration_loads_as_it_was_written():
    from carespiral.calibration.result import load_result as load_calibration

    folder = V1 / "calibration"
    res = load_calibration(folder)
    written = json.loads((folder / MANIFEST).read_text())
    assert (res.model, res.spec, res.area, res.method, res.seed) == (
        written["model"], written["spec"], written["area"], written["method"], written["seed"])
    assert res.manifest["model_sha256"] == written["model_sha256"]
    assert res.diagnostics == written["diagnostics"]
    pd.testing.assert_frame_equal(res.parameters, pd.read_csv(folder / "parameters.csv"))
    assert list(res.correlation.index) == list(res.parameters["parameter"])
    assert res.fitted["date"].dtype.kind == "M" and len(res.backtest) == 10
    pd.testing.assert_frame_equal(res.draws, pd.read_parquet(folder / "draws.parquet"))
    # the text report keeps every figure written then (today's adds a verdict, labels and
    # columns the version 1 result has no values for, shown as a dash, never as nan)
    old, new = (folder / "report.txt").read_text(), res.report()
    numbers = re.compile(r"-?\d+\.\d+%?|\b\d+\b")
    # (but the fit table's RMSE and residual ACF1, which trend slopes and the error model's
    # rho replaced; the fit table on disk keeps them)
    fit_rows = {ln for ln in old.splitlines() if ln.startswith("  ") and len(ln.split()) == 9}
    kept = "\n".join(" ".join(ln.split()[:4] + ln.split()[5:8]) if ln in fit_rows else ln
                     for ln in old.splitlines())
    assert set(numbers.findall(kept)) <= set(numbers.findall(new))
    assert [ln for ln in old.splitlines() if " prior " in ln] == [
        ln for ln in new.splitlines() if " prior " in ln]
    assert "nan" not in new and "up to  " not in new


def test_version_1_exploration_folders_load():
    import carespiral.exploration as ex

    explore = ex.load_result(V1 / "explore")
    assert isinstance(explore, ex.ExperimentResult) and len(explore.design) == 300
    pd.testing.assert_frame_equal(explore.outcomes,
                                  pd.read_parquet(V1 / "explore" / "outcomes.parquet"))
    found = ex.load_result(V1 / "explore" / "discovery")
    assert isinstance(found, ex.Discovery) and found.box["restricted"].any()
    assert ex.Sensitivity.load(V1 / "explore" / "sensitivity").method == "sobol"
    bif = ex.Bifurcation.load(V1 / "tipping" / "bifurcation")
    assert bif.stocks == ["Backlog"] and len(bif.folds) == 2
    assert ex.Sweep.load(V1 / "tipping" / "sweep").thresholds()["tips_up_at"].item() == 0.7
    assert len(ex.PolicyResult.load(V1 / "optimise").front) == 8
    assert read_manifest(V1 / "tipping" / "sweep")["tables"] == {"table": "table.parquet"}


def test_a_version_1_results_directory_renders(tmp_path):
    from carespiral.reports import render_results
    from carespiral.reports.results import load_manifest

    d = shutil.copytree(V1 / "results", tmp_path / "results")
    index = load_manifest(d)
    assert index["title"] == "Version 1 results"
    assert [it["kind"] for it in index["items"]] == ["run", "model", "data", "calibration",
                                                     "exploration"]
    written = render_results(d, plotlyjs="inline")
    assert [p.name for p in written] == ["run.html", "model.html", "data.html",
                                         "calibration.html", "exploration.html", "index.html"]
    assert "Baby P" in (d / "run.html").read_text()
    assert "Test (X01)" in (d / "calibration.html").read_text()


@pytest.mark.parametrize("folder", ["calibration", "explore", "tipping", "optimise"])
def test_version_1_out_folders_render_with_the_report_command(tmp_path, folder):
    from carespiral.cli import app

    d = shutil.copytree(V1 / folder, tmp_path / folder)
    res = CliRunner().invoke(app, ["report", str(d), "--inline"])
    assert res.exit_code == 0, res.output
    assert (d / "report.html").is_file() and not (d / "index.html").exists()
