"""Every bundled model: the batch backend gives PySD's results (relative 1e-9, absolute 1e-12)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.pysd_runner import load
from carespiral.pysd_runner.batch import compile_model

BUNDLED = sorted((Path(__file__).resolve().parents[2] / "models").glob("*.mdl"))
# a test model using every supported construct at once (SMOOTH*, DELAY*, TREND, FORECAST, ...)
CONSTRUCTS = Path(__file__).parent / "models" / "constructs.mdl"


@pytest.mark.parametrize("mdl", [*BUNDLED, CONSTRUCTS], ids=[p.stem for p in [*BUNDLED, CONSTRUCTS]])
def test_bundled_model_equals_pysd(mdl, helpers) -> None:
    model = load(mdl)
    bm = compile_model(mdl)
    draws = helpers.draws(model.parameters, n=3, seed=20261128)
    assert not draws.empty, "the model should have bounded parameters to vary"
    # run 0: defaults; runs 1..3: random draws of every bounded constant within its bounds
    defaults = {p.name: p.default for p in model.parameters if p.name in draws}
    params = pd.concat([pd.DataFrame([defaults]), draws], ignore_index=True)
    names = [v.name for v in model.variables if v.kind not in ("lookup", "control")]
    ds = bm.run(params, outputs=names)
    assert int(ds.attrs["blowups"]) >= 0
    compared = 0
    for i in range(len(params)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = model.run(params=params.iloc[i].to_dict() if i else None, outputs=names)
        assert np.allclose(ds["time"].to_numpy(), ref.index.to_numpy())
        for name in names:
            helpers.assert_close(ds[name].to_numpy()[i], ref[name].to_numpy(dtype=float),
                         f"{mdl.stem} run {i}: {name}")
            compared += 1
    assert compared == len(params) * len(names)
