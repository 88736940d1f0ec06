"""The pooled stack's runs draw the user's seed, the same streams in any chunking.

Model: tests/exploration/noisy_caseload.mdl (a caseload fed by normal noise drawn at every
step, RANDOM NORMAL). Reference answer: the batch model's own run of all rows in one call with
the seed (`BatchModel.run(frame, seed=s)`: row i on the stream (s, i)), read at the observed
months. Before, the stack passed no seed (always 0), and every chunk (or half of a chunk run
again after a failure) started again at stream 0, so row `chunk` repeated row 0's draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.calibration.observations import SeriesObs
from carespiral.calibration.pooling.stack import AreaCase, AreaStack
from carespiral.calibration.problem import FitParameter, Problem
from carespiral.pysd_runner import load
from carespiral.pysd_runner.batch import compile_model

MODEL = Path(__file__).parents[1] / "exploration" / "noisy_caseload.mdl"
TIMES = np.arange(12.0, 121.0, 12.0)


@pytest.fixture(scope="module")
def stack_of():
    model = load(MODEL)

    def make(**options) -> AreaStack:
        cases = []
        for a in range(2):
            obs = SeriesObs.at_times("Noisy cases", "Caseload", TIMES, np.full(len(TIMES), 12.0),
                                     kind="stock")
            problem = Problem(model, [FitParameter("Compliance Burden", 0.5, 3.0)], [obs],
                              fixed={"Noise Scale": 1.0 + a}, stop=120.0)
            cases.append(AreaCase(f"A{a}", f"Area {a}", problem))
        return AreaStack(cases, engine="numpy", **options)

    return make


THETA = np.array([[1.0], [1.0], [1.5], [1.0], [1.0], [2.0], [1.0]])
OWNER = np.array([0, 0, 1, 0, 1, 1, 0])


def _reference(seed: int) -> np.ndarray:
    frame = pd.DataFrame({"Compliance Burden": THETA[:, 0], "Noise Scale": 1.0 + OWNER})
    ds = compile_model(MODEL).run(frame, outputs=["Caseload"], seed=seed, engine="numpy")
    return ds["Caseload"].sel(time=TIMES).transpose("run", "time").to_numpy()


def test_the_stack_draws_the_seeds_streams_in_any_chunking(stack_of) -> None:
    whole = stack_of(seed=3).predict(THETA, OWNER)[0]
    assert whole.shape == (len(THETA), len(TIMES))
    np.testing.assert_allclose(whole, _reference(3), rtol=1e-12, atol=1e-12)
    for chunk in (1, 2, 3):  # before: each chunk restarted at stream 0
        np.testing.assert_allclose(stack_of(seed=3, chunk=chunk).predict(THETA, OWNER)[0],
                                   whole, rtol=1e-12, atol=1e-12)
    # rows 0, 1, 3 and 6 are the same parameters in the same area: four streams, four paths
    assert len({tuple(whole[i]) for i in (0, 1, 3, 6)}) == 4
    other = stack_of(seed=4).predict(THETA, OWNER)[0]
    np.testing.assert_allclose(other, _reference(4), rtol=1e-12, atol=1e-12)
    assert not np.allclose(other, whole)


def test_the_pooled_fit_passes_its_seed_to_the_stack(monkeypatch) -> None:
    from carespiral.calibration.pooling import run as pooled

    seen = []

    class Stack(AreaStack):
        def __init__(self, cases, **options):
            seen.append(options.get("seed"))
            raise RuntimeError("stop here")

    monkeypatch.setattr(pooled, "AreaStack", Stack)
    with pytest.raises(RuntimeError, match="stop here"):
        pooled.fit_cases([object()], seed=17)
    assert seen == [17]
