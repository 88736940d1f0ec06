"""DELAY N / SMOOTH N orders given by expressions, and division helpers with a zero denominator.

Reference answers: PySD's own results for the same model (`order_and_division.mdl`), where the
order of DELAY N changes over time (Vensim and PySD keep its initial value) and XIDZ, ZIDZ,
QUANTUM and MODULO divide by a constant zero (Vensim and PySD give x, 0, a and 0).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch import compile_model
from carespiral.pysd_runner.batch import runtime as rt

OUTPUTS = ["Delayed", "Smoothed", "Ratio X", "Ratio Z", "Quantised", "Total"]
ROWS = [(3, 4.0), (2, 0.5), (1, 8.0)]  # (Order Base, Delay Time): within the built stages


@pytest.fixture(scope="module")
def pysd_runs(tmp_path_factory) -> list[pd.DataFrame]:
    import pysd

    here = tmp_path_factory.mktemp("order")
    src = Path(__file__).parent / "models" / "order_and_division.mdl"
    shutil.copy(src, here / src.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pysd.read_vensim(str(here / src.name))
        return [model.run(params={"Order Base": o, "Delay Time": d}) for o, d in ROWS]


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_expression_orders_and_zero_denominators_match_pysd(pysd_runs, engine, helpers) -> None:
    bm = compile_model(helpers.models / "order_and_division.mdl")
    params = pd.DataFrame({"Order Base": [float(o) for o, _ in ROWS],
                           "Delay Time": [d for _, d in ROWS]})
    ds = bm.run(params, outputs=OUTPUTS, engine=engine)
    for i, ref in enumerate(pysd_runs):
        for v in OUTPUTS:
            helpers.assert_close(ds[v].to_numpy()[i], ref[v].to_numpy(), f"{engine} run {i} {v}")
    # the constant-zero denominators: Vensim's answers, x and 0 (QUANTUM gives a, MODULO 0)
    assert np.all(ds["Ratio X"].to_numpy() == 7.0)
    assert np.all(ds["Ratio Z"].to_numpy() == 0.0)
    np.testing.assert_array_equal(ds["Quantised"].to_numpy()[0], pysd_runs[0]["Input"].to_numpy())


def test_order_above_the_built_stages_is_a_clear_error(helpers) -> None:
    bm = compile_model(helpers.models / "order_and_division.mdl")
    with pytest.raises(CarespiralError, match=r"order of 5 .* built 3 stages"):
        bm.run(pd.DataFrame({"Order Base": [5.0]}))


def test_division_helpers_choose_before_dividing() -> None:
    # plain Python zeros (how constants reach the generated code) must not raise
    assert rt.xidz(3.0, 0.0, 7.0) == 7.0
    assert rt.zidz(3.0, 0.0) == 0.0
    assert rt.quantum(3.5, 0.0) == 3.5
    assert rt.modulo(3.5, 0.0) == 0.0
    assert rt.xidz(3.0, 2.0, 7.0) == 1.5 and rt.quantum(7.0, 2.0) == 6.0
    assert rt.initial_order(3, 2.9, 1.0, 10.0, True) == 2
