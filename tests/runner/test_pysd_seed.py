"""PySD's RANDOM functions draw from numpy's global generator. A seed given to `Model.run`, to
`run_batch(backend="pysd")` or to `carespiral run --seed` makes those draws reproducible, keeps a
row's draws whatever else is in the batch, and leaves the caller's generator as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from carespiral.cli import app
from carespiral.pysd_runner import load

NOISY = Path(__file__).resolve().parents[1] / "exploration" / "noisy_caseload.mdl"


@pytest.fixture(scope="module")
def noisy():
    return load(NOISY)


def _inflow(df: pd.DataFrame) -> np.ndarray:
    return df["Inflow"].to_numpy()


def test_a_seed_repeats_the_draws_and_another_seed_changes_them(noisy):
    a = _inflow(noisy.run(seed=3, stop=24, outputs=["Inflow"]))
    b = _inflow(noisy.run(seed=3, stop=24, outputs=["Inflow"]))
    c = _inflow(noisy.run(seed=4, stop=24, outputs=["Inflow"]))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # the noise is really drawn: inflow = demand x burden (1 x 1) + noise, not constant
    assert np.std(a - 1.0) > 0.1


def test_a_seeded_run_leaves_the_callers_generator_alone(noisy):
    np.random.seed(123)
    expected = np.random.uniform(size=5)
    np.random.seed(123)
    noisy.run(seed=7, stop=12)
    np.testing.assert_array_equal(np.random.uniform(size=5), expected)


def test_a_pysd_batch_row_draws_the_same_whatever_else_is_in_the_batch(noisy):
    three = pd.DataFrame({"Noise Scale": [1.0, 1.0, 1.0]})
    whole = noisy.run_batch(three, backend="pysd", seed=5, stop=24, outputs=["Inflow"])
    alone = noisy.run_batch(three.iloc[[2]], backend="pysd", seed=5, first_run=2, stop=24,
                            outputs=["Inflow"])
    np.testing.assert_array_equal(whole["Inflow"].isel(run=2).to_numpy(),
                                  alone["Inflow"].isel(run=0).to_numpy())
    # the rows are different draws, not copies of one
    assert not np.array_equal(whole["Inflow"].isel(run=0).to_numpy(),
                              whole["Inflow"].isel(run=1).to_numpy())


def test_pysd_rows_given_streams_draw_those_positions(noisy):
    three = pd.DataFrame({"Noise Scale": [1.0, 1.0, 1.0]})
    whole = noisy.run_batch(three, backend="pysd", seed=5, stop=24, outputs=["Inflow"])
    picked = noisy.run_batch(three, backend="pysd", seed=5, streams=np.array([2, 0, 2]),
                             stop=24, outputs=["Inflow"])
    for row, pos in enumerate([2, 0, 2]):
        np.testing.assert_array_equal(picked["Inflow"].isel(run=row).to_numpy(),
                                      whole["Inflow"].isel(run=pos).to_numpy())


def test_a_bad_seed_is_refused_before_running(noisy):
    from carespiral.errors import CarespiralError

    with pytest.raises(CarespiralError, match="seed must be a whole number from 0"):
        noisy.run_batch(None, backend="pysd", seed=-1, stop=12)


def test_the_run_command_is_reproducible_and_checks_its_seed(tmp_path):
    runner = CliRunner()
    files = []
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        out = tmp_path / f"{name}.csv"
        r = runner.invoke(app, ["run", str(NOISY), "--stop", "24", "--seed", seed,
                                "--outputs", "Inflow", "--out", str(out)])
        assert r.exit_code == 0, r.output
        files.append(pd.read_csv(out)["Inflow"].to_numpy())
    np.testing.assert_array_equal(files[0], files[1])
    assert not np.array_equal(files[0], files[2])
    r = runner.invoke(app, ["run", str(NOISY), "--seed", "-1"])
    assert r.exit_code == 2
    assert "--seed -1" in r.output
