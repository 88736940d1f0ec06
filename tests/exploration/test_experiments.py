"""Experiments: designs, chunking invariance, resuming after an interruption or a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError
from carespiral.exploration import load_result, read_spec, run_experiments
from carespiral.exploration.experiments import build_design
from carespiral.exploration.spec import spec_from_dict


def _frame(res):
    return res.to_frame().sort_index()


def test_same_result_for_any_chunking(small_spec, tmp_path):
    spec = read_spec(small_spec)
    whole = run_experiments(spec.__class__(**{**spec.__dict__, "chunk": 12}))
    pieces = run_experiments(spec.__class__(**{**spec.__dict__, "chunk": 5}), out=tmp_path / "a")
    ones = run_experiments(spec.__class__(**{**spec.__dict__, "chunk": 1}))
    pd.testing.assert_frame_equal(_frame(whole), _frame(pieces))
    pd.testing.assert_frame_equal(_frame(whole), _frame(ones))
    assert len(list((tmp_path / "a" / "chunks").glob("*.parquet"))) == 3
    # both regimes appear in this design, so the comparison covers collapse times too
    assert set(whole.outcomes["regime"]) == {"collapse", "sustainable"}


def test_resume_after_interruption_equals_uninterrupted(small_spec, tmp_path):
    spec = read_spec(small_spec)
    full = run_experiments(spec, out=tmp_path / "full")

    class Stop(Exception):
        pass

    def stop_after_first(n_done):
        if n_done >= 5:
            raise Stop

    with pytest.raises(Stop):
        run_experiments(spec, out=tmp_path / "cut", on_chunk=stop_after_first)
    assert not (tmp_path / "cut" / "manifest.json").exists()
    with pytest.raises(CarespiralError, match="--resume"):
        run_experiments(spec, out=tmp_path / "cut")
    seen = []
    resumed = run_experiments(spec, out=tmp_path / "cut", resume=True,
                              progress=lambda d, t: seen.append(d))
    assert seen[0] == 5  # the first chunk was kept, not redone
    pd.testing.assert_frame_equal(_frame(full), _frame(resumed))
    pd.testing.assert_frame_equal(_frame(full), _frame(load_result(tmp_path / "cut")))


def test_resume_after_kill_equals_uninterrupted(tmp_path):
    spec_file = tmp_path / "kill.toml"
    spec_file.write_text(
        'model = "workforce_spiral"\nruns = 120\nchunk = 3\nseed = 5\nstop = 120\n'
        '[uncertainties]\n"Referral Rate" = [200, 450]\n"Normal Leaving Rate" = [0.008, 0.02]\n'
    )
    out = tmp_path / "killed"
    # the command kills itself (SIGKILL, nothing runs after it) as soon as its second chunk is
    # saved: the same cut every time, with no polling against a deadline
    script = (
        "import os, signal, sys\n"
        "import carespiral.exploration as ex\n"
        "run = ex.run_experiments\n"
        "def cut(n_done):\n"
        "    if n_done >= 6:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "ex.run_experiments = lambda *a, **k: run(*a, on_chunk=cut, **k)\n"
        "from carespiral.cli import main\n"
        "sys.argv = ['carespiral', 'explore', sys.argv[1], '--out', sys.argv[2]]\n"
        "main()\n")
    proc = subprocess.run([sys.executable, "-c", script, str(spec_file), str(out)],
                          env={**os.environ, "PYTHONWARNINGS": "ignore"},
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    chunks = out / "chunks"
    assert len(list(chunks.glob("*.parquet"))) == 2
    assert not (out / "manifest.json").exists()
    assert (out / "INCOMPLETE.txt").is_file()  # the folder says it is not finished
    spec = read_spec(spec_file)
    resumed = run_experiments(spec, out=out, resume=True)
    fresh = run_experiments(spec)
    pd.testing.assert_frame_equal(_frame(fresh), _frame(resumed))


def test_resume_refuses_a_changed_spec(small_spec, tmp_path):
    spec = read_spec(small_spec)
    run_experiments(spec.with_runs(4), out=tmp_path / "x")
    with pytest.raises(CarespiralError, match="differs"):
        run_experiments(spec.with_runs(6), out=tmp_path / "x", resume=True)


@pytest.mark.parametrize("design", ["lhs", "sobol", "saltelli", "morris"])
def test_designs_stay_in_range_and_are_reproducible(design):
    spec = spec_from_dict({"model": "m", "design": design, "runs": 40, "seed": 9,
                           "uncertainties": {"a": [1, 2], "b": [-5, 5], "c": [0, 0.1]}})
    x1, info = build_design(spec)
    x2, _ = build_design(spec)
    pd.testing.assert_frame_equal(x1, x2)
    for col, (lo, hi) in zip("abc", [(1, 2), (-5, 5), (0, 0.1)], strict=True):
        assert x1[col].between(lo, hi).all()
    if design == "lhs":  # one point in each of the 40 strata of every factor
        for col, (lo, hi) in zip("abc", [(1, 2), (-5, 5), (0, 0.1)], strict=True):
            strata = np.floor((x1[col] - lo) / (hi - lo) * 40)
            assert sorted(strata) == list(range(40))
    if design == "saltelli":
        assert len(x1) == info["base_n"] * (3 + 2)


V1_CALIBRATION = Path(__file__).resolve().parents[1] / "core" / "v1_results" / "calibration"


def _posterior_design(workforce, posterior) -> tuple[pd.DataFrame, dict]:
    spec = spec_from_dict({"model": "workforce_spiral", "runs": 20,
                           "uncertainties": {"Referral Rate": [200, 400],
                                             "posterior": str(posterior)}})
    return build_design(spec.bind(workforce), workforce)


def test_designs_come_from_one_registry():
    from carespiral.exploration.designs import DESIGNS, get_design, sample_ranges
    from carespiral.exploration.spec import spec_from_dict

    assert set(DESIGNS) == {"lhs", "sobol", "saltelli", "morris"}
    with pytest.raises(CarespiralError, match="design must be one of lhs, sobol"):
        spec_from_dict({"model": "m", "design": "grid", "uncertainties": {"a": [0, 1]}})
    with pytest.raises(CarespiralError, match="unknown design 'grid'"):
        get_design("grid")
    # one Latin hypercube: the ranges' sampler and an exploration's design agree
    x = sample_ranges({"a": (1.0, 2.0), "b": (-5.0, 5.0)}, 40, seed=7)
    ref = build_design(spec_from_dict({"model": "m", "runs": 40, "seed": 7, "uncertainties": {
        "a": [1.0, 2.0], "b": [-5.0, 5.0]}}))[0]
    np.testing.assert_array_equal(x.to_numpy(), ref.to_numpy())


def test_posterior_draws_feed_the_design(workforce, tmp_path):
    from carespiral.calibration.result import CalibrationResult

    draws = pd.DataFrame({"Normal Leaving Rate": [0.01, 0.011, 0.012], "log_prob": [-1, -2, -3]})
    draws.to_csv(tmp_path / "draws.csv", index=False)
    x, info = _posterior_design(workforce, tmp_path / "draws.csv")
    assert set(x["Normal Leaving Rate"]) <= {0.01, 0.011, 0.012}
    assert "log_prob" not in x.columns and info["posterior_draws"] == 3
    # a calibration result folder: its draws, read by the calibration's own loader
    empty = pd.DataFrame({"parameter": [], "estimate": []})
    CalibrationResult("workforce_spiral", "s", "a", "emcee", 1, empty, empty, empty, empty,
                      draws=draws[["Normal Leaving Rate"]] * 2).save(tmp_path / "cal")
    x, info = _posterior_design(workforce, tmp_path / "cal")
    assert set(x["Normal Leaving Rate"]) <= {0.02, 0.022, 0.024} and info["posterior_draws"] == 3
    # and a folder written before the one result format
    want = pd.read_parquet(V1_CALIBRATION / "draws.parquet")
    x, info = _posterior_design(workforce, V1_CALIBRATION)
    assert info["posterior_draws"] == len(want)
    assert set(x["Reference Caseload"]) <= set(want["Reference Caseload"])
    with pytest.raises(CarespiralError, match="calibration result folder"):
        _posterior_design(workforce, tmp_path / "nothing.txt")


def test_dask_workers_give_the_same_result(small_spec, tmp_path):
    spec = read_spec(small_spec)
    local = run_experiments(spec)
    distributed = run_experiments(spec, out=tmp_path / "dask", scheduler="local")
    pd.testing.assert_frame_equal(_frame(local), _frame(distributed))
    assert len(list((tmp_path / "dask" / "chunks").glob("*.parquet"))) == 3
