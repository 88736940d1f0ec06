"""Result objects: save/load round trip, atomic writes, text report, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.engine import fit_problem
from carespiral.calibration.result import CalibrationResult, load_result
from carespiral.errors import FileFormatError


@pytest.fixture(scope="module")
def result(make_problem):
    problem, holdout = make_problem(seed=11, cut=180.0)
    return fit_problem(problem, "least_squares", seed=11, budget=120, profiles=True,
                       holdout=holdout, n_draws=30, labels={"spec": "synthetic", "area": "Test"})


def test_round_trip(tmp_path, result):
    out = result.save(tmp_path / "res")
    assert out == tmp_path / "res"
    back = CalibrationResult.load(out)
    assert (back.model, back.spec, back.area, back.method, back.seed) == (
        "workforce_spiral", "synthetic", "Test", "least_squares", 11)
    assert back.values == pytest.approx(result.values, rel=1e-12)
    for attr in ("parameters", "fit", "backtest_summary", "profiles"):
        pd.testing.assert_frame_equal(getattr(back, attr), getattr(result, attr),
                                      check_dtype=False, rtol=1e-12)
    pd.testing.assert_frame_equal(back.fitted.drop(columns="date"),
                                  result.fitted.drop(columns="date"), check_dtype=False)
    assert (back.fitted["date"].to_numpy() == pd.to_datetime(result.fitted["date"]).to_numpy()).all()
    np.testing.assert_allclose(back.correlation.to_numpy(), result.correlation.to_numpy())
    pd.testing.assert_frame_equal(back.draws, result.draws)
    assert back.report() == result.report()
    m = json.loads((out / "manifest.json").read_text())
    for key in ("model_sha256", "data_sha256", "versions", "seed", "command", "created"):
        assert key in m
    assert len(m["model_sha256"]) == 64 and m["versions"]["pysd"]


def test_report_and_summary(result):
    text = result.report()
    assert "Normal Leaving Rate" in text and "U^M" in text and "MASE" in text
    s = result.summary()
    assert set(s["parameters"]) == {"Normal Leaving Rate", "Reference Caseload"}
    assert set(s["fit"]) == {"social_workers_fte", "caseload"}
    assert s["flat"] == []


def test_an_interrupted_save_leaves_no_result(tmp_path, result, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(RuntimeError):
        result.save(tmp_path / "res")
    assert not (tmp_path / "res").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_saving_over_an_old_result_replaces_it(tmp_path, result):
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "stale.txt").write_text("old")
    result.save(tmp_path / "res")
    assert not (tmp_path / "res" / "stale.txt").exists()
    assert load_result(tmp_path / "res").values == pytest.approx(result.values)


def test_loading_something_else_is_a_clear_error(tmp_path):
    with pytest.raises(FileFormatError, match=r"no manifest\.json"):
        load_result(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(FileFormatError, match="line 1"):
        load_result(tmp_path)
