"""`carespiral ensemble`: samples or a Latin hypercube in, one table out; clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.pysd_runner import load
from carespiral.pysd_runner.batch.adapter import run_batch

runner = CliRunner()


def test_samples_file_to_parquet_matches_the_library(tmp_path) -> None:
    samples = pd.DataFrame({"Referral Rate": [240.0, 310.0, 390.0], "establishment": [150, 160, 170]})
    src = tmp_path / "samples.csv"
    samples.to_csv(src, index=False)
    out = tmp_path / "out.parquet"
    res = runner.invoke(app, ["ensemble", "workforce_spiral", "--samples", str(src),
                              "--reduce", "final,annual_end:Social Workers",
                              "--outputs", "caseload,Social Workers", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(out)
    ds = run_batch(load("workforce_spiral"), samples, outputs=["caseload", "Social Workers"],
                   reduce="final,annual_end:Social Workers")
    np.testing.assert_array_equal(table["Caseload:final"], ds["Caseload:final"])
    np.testing.assert_array_equal(table["Social Workers:annual_end@240"],
                                  ds["Social Workers:annual_end"].to_numpy()[:, -1])
    assert list(table["Referral Rate"]) == [240.0, 310.0, 390.0]


def test_lhs_trajectories_and_user_errors(tmp_path) -> None:
    out = tmp_path / "traj.csv"
    res = runner.invoke(app, ["ensemble", "failure_demand", "--lhs", "4", "--vary",
                              "Compliance Share=0.5:0.8", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert table["run"].nunique() == 4 and table["time"].nunique() == 241
    shares = table.groupby("run")["Open Cases"].last()
    assert shares.nunique() == 4  # four different compliance shares, four outcomes
    bad = tmp_path / "bad.parquet"
    for args, message in [
        (["--lhs", "3", "--vary", "Compliance Share=0.9:0.2"], "LO must be below HI"),
        (["--lhs", "3", "--vary", "Compliance Shar=0.2:0.5"], "did you mean"),
        (["--lhs", "3", "--vary", "Compliance Share=0.2:5"], "outside its bounds"),
        (["--lhs", "3"], "--vary"),
        (["--lhs", "3", "--vary", "Compliance Share=0.2:0.5", "--reduce", "maxx"],
         "unknown summary"),
    ]:
        res = runner.invoke(app, ["ensemble", "failure_demand", *args, "--out", str(bad)])
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output, (args, res.output)
        assert not bad.exists()


def test_engine_option_gives_the_same_table_and_refuses_unknown_engines(tmp_path) -> None:
    tables = {}
    for engine in ("numpy", "numba"):
        out = tmp_path / f"{engine}.parquet"
        res = runner.invoke(app, ["ensemble", "workforce_spiral", "--lhs", "20", "--vary",
                                  "Referral Rate=200:400", "--reduce", "final,max",
                                  "--engine", engine, "--out", str(out)])
        assert res.exit_code == 0, res.output
        tables[engine] = pd.read_parquet(out)
    pd.testing.assert_frame_equal(tables["numpy"], tables["numba"], rtol=1e-12)
    res = runner.invoke(app, ["ensemble", "workforce_spiral", "--lhs", "5", "--vary",
                              "Referral Rate=200:400", "--engine", "cuda"])
    assert res.exit_code == 2 and "expected numpy, numba or auto" in res.output


def test_option_mistakes_are_clear_errors(tmp_path) -> None:
    base = ["ensemble", "workforce_spiral", "--lhs", "3", "--vary", "Referral Rate=200:400"]
    for extra, message in [
        (["--seed", "-1"], "--seed -1: expected a whole number from 0 up"),
        (["--chunk-size", "-3"], "--chunk-size -3: expected a positive number"),
        (["--chunk-size", "0"], "--chunk-size 0: expected a positive number"),
        (["--scheduler", "bogus"], "expected 'local' or a Dask scheduler address"),
    ]:
        res = runner.invoke(app, [*base, *extra])
        assert res.exit_code == 2, (extra, res.output)
        assert message in res.output, (extra, res.output)
    res = runner.invoke(app, ["ensemble", "workforce_spiral", "--lhs", "100000000000",
                              "--vary", "Referral Rate=200:400"])
    assert res.exit_code == 2 and "--lhs 100,000,000,000 would keep about" in res.output


def test_a_model_the_batch_backend_refuses_runs_on_pysd(tmp_path) -> None:
    """Through Model.run_batch(backend="auto"), like every other caller."""
    model = Path(__file__).parents[1] / "runner" / "models" / "pysd_only.mdl"
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["ensemble", str(model), "--lhs", "5", "--vary", "Rate=1:4",
                              "--reduce", "final", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "ran it on PySD" in " ".join(res.output.split())
    table = pd.read_csv(out)
    # Stock = 2 * Rate * t, exactly (a constant inflow), at t = 24
    np.testing.assert_allclose(table["Stock:final"], 48 * table["Rate"])
