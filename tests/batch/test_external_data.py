"""GET DIRECT CONSTANTS, LOOKUPS and DATA read at lowering, under the external file rule.

Reference answers: the numbers written in the model's CSV files (`models/external/data`), with
linear interpolation, hold-backward reading and Euler's sum done by hand.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import FileFormatError
from carespiral.pysd_runner.batch import compile_model

HERE = Path(__file__).parent / "models" / "external"
T = np.arange(13.0)
ARRIVALS = np.interp(T, [0, 4, 10], [2, 6, 10])  # the empty cell at time 6 is no point
HELD = np.where(T < 6, 5.0, np.where(T < 10, 7.0, 9.0))  # empty at 4: 5 is held until 6
DEMAND = np.interp(T, [0, 10, 20], [1, 3, 2])


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_values_read_from_files(engine) -> None:
    ds = compile_model(HERE / "external.mdl").run(engine=engine)
    assert ds["Capacity[North]"].to_numpy()[0, 0] == 12.5
    assert ds["Capacity[South]"].to_numpy()[0, 0] == 40.0
    np.testing.assert_allclose(ds["Arrivals"].to_numpy()[0], ARRIVALS, rtol=1e-12)
    np.testing.assert_array_equal(ds["Held"].to_numpy()[0], HELD)
    np.testing.assert_allclose(ds["Load[South]"].to_numpy()[0], 40 * DEMAND, rtol=1e-12)
    received = np.r_[0.0, np.cumsum(ARRIVALS[:-1])]  # Euler, TIME STEP 1
    np.testing.assert_allclose(ds["Received"].to_numpy()[0], received, rtol=1e-12)


def test_a_constant_from_a_file_is_a_parameter() -> None:
    bm = compile_model(HERE / "external.mdl")
    ds = bm.run(pd.DataFrame({"Capacity[North]": [1.0, 2.0]}), outputs=["Load[North]"])
    np.testing.assert_allclose(ds["Load[North]"].to_numpy(), [DEMAND, 2 * DEMAND], rtol=1e-12)


def test_an_edited_data_file_is_read_again(tmp_path) -> None:
    shutil.copytree(HERE, tmp_path / "m")
    mdl = tmp_path / "m" / "external.mdl"
    assert compile_model(mdl).run()["Capacity[South]"].to_numpy()[0, 0] == 40.0
    csv = tmp_path / "m" / "data" / "capacity.csv"
    csv.write_text("region,capacity\nNorth,12.5\nSouth,41\n", encoding="utf-8")
    stat = csv.stat()
    os.utime(csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert compile_model(mdl).run()["Capacity[South]"].to_numpy()[0, 0] == 41.0


def test_a_file_outside_the_models_folder_is_refused(tmp_path, monkeypatch) -> None:
    (tmp_path / "m").mkdir()
    shutil.copytree(HERE / "data", tmp_path / "data")
    text = (HERE / "external.mdl").read_text(encoding="utf-8")
    mdl = tmp_path / "m" / "external.mdl"
    mdl.write_text(text.replace("'data/", "'../data/"), encoding="utf-8")
    monkeypatch.delenv("CARESPIRAL_ALLOW_EXTERNAL", raising=False)
    with pytest.raises(FileFormatError, match="outside the model's folder"):
        compile_model(mdl)
    monkeypatch.setenv("CARESPIRAL_ALLOW_EXTERNAL", "1")  # the user allows it
    assert compile_model(mdl).run()["Capacity[North]"].to_numpy()[0, 0] == 12.5


def test_a_missing_file_names_the_variable(tmp_path) -> None:
    shutil.copytree(HERE, tmp_path / "m")
    (tmp_path / "m" / "data" / "table.csv").unlink()
    with pytest.raises(FileFormatError, match=r"Demand Table.*table\.csv.*does not exist"):
        compile_model(tmp_path / "m" / "external.mdl")
