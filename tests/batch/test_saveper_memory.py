"""The memory check before a batch counts the times a SAVEPER that changes over time saves.

Before, the check read SAVEPER at the start only: a SAVEPER of 100 months that falls to a
quarter month at month 10 was counted as 11 saved times where the run keeps 3,962, and one that
rises from a quarter to 100 months as 4,001 where the run keeps 50. Reference answers: the saved
times counted by hand from Vensim's rule (a time is saved when the time since the start is a
multiple of SAVEPER at that time), and the limit's arithmetic (8 bytes a value, 3 copies).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import RunTooLargeError
from carespiral.pysd_runner import load
from carespiral.pysd_runner.batch import compile_model
from carespiral.pysd_runner.limits import BYTES_PER_VALUE, OVERHEAD

MODEL = """{{UTF-8}}
Growth = 0.01 ~ 1/Month [0, 1] ~|
Stock = INTEG(Growth * Stock, 1) ~ widgets ~|
FINAL TIME = 1000 ~ Month ~|
INITIAL TIME = 0 ~ Month ~|
TIME STEP = 0.25 ~ Month ~|
SAVEPER = {saveper} ~ Month ~|
\\\\\\---/// Sketch information
"""

FALLS = {  # 100 months until month 10, then every step (a quarter month)
    "if": "IF THEN ELSE(Time < 10, 100, 0.25)",
    "lookup": "WITH LOOKUP(Time, ([(0,0)-(1000,100)],(0,100),(9.75,100),(10,0.25),"
              "(1000,0.25)))",
}
# saved: month 0, then every quarter month from 10 to 1000
FALLS_SAVED = 1 + len(np.arange(10.0, 1000.0 + 1e-9, 0.25))
# a quarter month until month 10, then 100 months: 0, 0.25, ..., 9.75 and 100, 200, ..., 1000
RISES = "IF THEN ELSE(Time < 10, 0.25, 100)"
RISES_SAVED = len(np.arange(0.0, 10.0 - 1e-9, 0.25)) + 10
RUNS = 10


def _write(tmp_path: Path, name: str, saveper: str) -> Path:
    path = tmp_path / f"{name}.mdl"
    path.write_text(MODEL.format(saveper=saveper), encoding="utf-8")
    return path


def _need(saved: int) -> int:
    """Bytes the check counts for RUNS runs of one output with `saved` saved times."""
    return RUNS * saved * BYTES_PER_VALUE * OVERHEAD


def test_the_hand_counts() -> None:
    assert FALLS_SAVED == 3_962 and RISES_SAVED == 50


@pytest.mark.parametrize("kind", sorted(FALLS))
def test_a_saveper_that_falls_is_counted_by_its_saved_times(tmp_path, monkeypatch,
                                                             kind) -> None:
    path = _write(tmp_path, f"falls_{kind}", FALLS[kind])
    params = pd.DataFrame({"Growth": np.full(RUNS, 0.01)})
    # a limit between what the first SAVEPER implies (11 times) and what is kept (3,962)
    monkeypatch.setenv("CARESPIRAL_MAX_MEMORY", str(_need(FALLS_SAVED) - 1))
    assert _need(11) < _need(FALLS_SAVED) - 1
    with pytest.raises(RunTooLargeError, match=f"{RUNS} runs of 'falls_{kind}' would keep "
                                               "about .* CARESPIRAL_MAX_MEMORY"):
        load(path).run_batch(params, outputs=["Stock"], backend="batch")
    with pytest.raises(RunTooLargeError, match="CARESPIRAL_MAX_MEMORY"):
        compile_model(path).run(params, outputs=["Stock"], engine="numpy")
    # at the limit it runs, and keeps the times counted by hand
    monkeypatch.setenv("CARESPIRAL_MAX_MEMORY", str(_need(FALLS_SAVED)))
    ds = load(path).run_batch(params, outputs=["Stock"], backend="batch", engine="numpy")
    assert ds.sizes["time"] == FALLS_SAVED
    assert ds["time"].to_numpy()[:3] == pytest.approx([0.0, 10.0, 10.25])


def test_a_saveper_that_rises_is_not_refused_for_its_first_value(tmp_path,
                                                                 monkeypatch) -> None:
    path = _write(tmp_path, "rises", RISES)
    params = pd.DataFrame({"Growth": np.full(RUNS, 0.01)})
    # a limit under what the first SAVEPER implies (4,001 times) but over what is kept (50)
    monkeypatch.setenv("CARESPIRAL_MAX_MEMORY", str(_need(RISES_SAVED)))
    assert _need(4_001) > _need(RISES_SAVED)
    ds = load(path).run_batch(params, outputs=["Stock"], backend="batch", engine="numpy")
    assert ds.sizes["time"] == RISES_SAVED
    assert ds["time"].to_numpy()[-3:] == pytest.approx([800.0, 900.0, 1000.0])
    monkeypatch.setenv("CARESPIRAL_MAX_MEMORY", str(_need(RISES_SAVED) - 1))
    with pytest.raises(RunTooLargeError, match="CARESPIRAL_MAX_MEMORY"):
        load(path).run_batch(params, outputs=["Stock"], backend="batch", engine="numpy")


def test_a_fixed_saveper_is_counted_as_before(tmp_path, monkeypatch) -> None:
    # SAVEPER 0.5 with TIME STEP 0.25 over 1000 months: 2,001 saved times
    path = _write(tmp_path, "fixed", "0.5")
    params = pd.DataFrame({"Growth": np.full(RUNS, 0.01)})
    monkeypatch.setenv("CARESPIRAL_MAX_MEMORY", str(_need(2_001) - 1))
    with pytest.raises(RunTooLargeError, match="CARESPIRAL_MAX_MEMORY"):
        load(path).run_batch(params, outputs=["Stock"], backend="batch")
    monkeypatch.setenv("CARESPIRAL_MAX_MEMORY", str(_need(2_001)))
    ds = load(path).run_batch(params, outputs=["Stock"], backend="batch", engine="numpy")
    assert ds.sizes["time"] == 2_001
