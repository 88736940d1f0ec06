"""The adapter behind Model.run_batch: roles, bounds, scenarios and dates, against Model.run."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import ValueOutOfBoundsError
from carespiral.pysd_runner import load
from carespiral.pysd_runner.batch.adapter import run_batch


@pytest.mark.parametrize("scenario", [None, "demand_surge"])
def test_adapter_equals_single_pysd_runs(scenario) -> None:
    m = load("workforce_spiral")
    params = pd.DataFrame({"establishment": [150.0, 170.0], "Maximum Hiring Rate": [3.0, 4.5]})
    ds = run_batch(m, params, scenario=scenario)
    assert "date" in ds.coords and str(ds["date"].to_numpy()[0])[:10] == "2005-04-01"
    for i in range(len(params)):
        row = {"Funded Establishment": params.iloc[i, 0], "Maximum Hiring Rate": params.iloc[i, 1]}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = m.run(params=row, scenario=scenario)
        for name in m.stocks + list(m.outputs.values()):
            np.testing.assert_allclose(ds[name].to_numpy()[i], ref[name].to_numpy(dtype=float),
                                       rtol=1e-9, atol=1e-12, err_msg=f"run {i}: {name}")


def test_adapter_checks_declared_bounds() -> None:
    m = load("workforce_spiral")
    with pytest.raises(ValueOutOfBoundsError, match="Funded Establishment"):
        run_batch(m, pd.DataFrame({"establishment": [150.0, 5000.0]}))
