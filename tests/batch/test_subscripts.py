"""Subscripted models in the batch backend: one node per element, addressable by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import UnknownNameError
from carespiral.pysd_runner.batch import compile_model


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_subscripted_constants_are_parameters_per_element(helpers, engine) -> None:
    bm = compile_model(helpers.models / "subscripted.mdl")  # Level[Region] = INTEG(Noise, 0)
    assert bm.subscripted == {"Noise": ["Noise[North]", "Noise[South]"],
                              "Level": ["Level[North]", "Level[South]"]}
    assert {p.name for p in bm.parameters} >= {"Noise[North]", "Noise[South]"}
    params = pd.DataFrame({"Noise[South]": [2.0, 3.0], "noise [ north ]": [0.5, 1.0]})
    ds = bm.run(params, outputs=["Level"], engine=engine)  # a subscripted name: every element
    assert set(ds.data_vars) >= {"Level[North]", "Level[South]"}
    # INTEG of a constant over 10 time units (algebra)
    np.testing.assert_allclose(ds["Level[South]"].to_numpy()[:, -1], [20.0, 30.0])
    np.testing.assert_allclose(ds["Level[North]"].to_numpy()[:, -1], [5.0, 10.0])
    # one column for a subscripted constant sets every element
    ds = bm.run(pd.DataFrame({"Noise": [4.0]}), outputs=["Level"], engine=engine)
    np.testing.assert_allclose(ds["Level[North]"].to_numpy()[0, -1], 40.0)
    np.testing.assert_allclose(ds["Level[South]"].to_numpy()[0, -1], 40.0)


def test_a_subscripted_name_alone_is_not_one_variable(helpers) -> None:
    bm = compile_model(helpers.models / "subscripted.mdl")
    with pytest.raises(UnknownNameError, match=r"Noise\[North\]"):
        bm.resolve("Noise")
    with pytest.raises(UnknownNameError, match="Noise\\[East\\]"):
        bm.resolve("Noise[East]")


def test_run_batch_takes_elements_of_subscripted_constants(helpers) -> None:
    from carespiral.pysd_runner import load

    model = load(helpers.models / "subscripted.mdl")
    ds = model.run_batch(pd.DataFrame({"Noise[South]": [2.0, 0.5]}),
                         outputs=["Level", "Level[North]"])
    np.testing.assert_allclose(ds["Level[South]"].to_numpy()[:, -1], [20.0, 5.0])
    np.testing.assert_allclose(ds["Level[North]"].to_numpy()[:, -1], [10.0, 10.0])
