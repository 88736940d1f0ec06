"""Typed results save to a folder and load back unchanged; unfinished folders are refused."""

from __future__ import annotations

import pandas as pd
import pytest

from carespiral.errors import CarespiralError
from carespiral.exploration import Bifurcation, ExperimentResult, continuation, load_result


def test_bifurcation_round_trip(fold_model, tmp_path):
    b = continuation(fold_model, "Drive", -1.0, 1.0, max_step=0.1)
    back = Bifurcation.load(b.save(tmp_path / "b"))
    pd.testing.assert_frame_equal(back.branch, b.branch)
    pd.testing.assert_frame_equal(back.folds, b.folds)
    assert back.summary() == b.summary() and back.stocks == ["Level", "Perceived Level"]
    with pytest.raises(CarespiralError, match="not 'experiments'"):
        ExperimentResult.load(tmp_path / "b")


def test_unfinished_folder_is_refused(tmp_path):
    (tmp_path / "chunks").mkdir()
    with pytest.raises(CarespiralError, match="--resume"):
        load_result(tmp_path)
