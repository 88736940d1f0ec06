"""Sobol indices of the Ishigami function match their analytic values; Morris ranks factors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from SALib.test_functions import Ishigami

from carespiral.errors import CarespiralError
from carespiral.exploration import morris, sobol
from carespiral.exploration.experiments import ExperimentResult, build_design
from carespiral.exploration.sensitivity import sobol_indices
from carespiral.exploration.spec import spec_from_dict

PI = math.pi
# Analytic indices for A = 7, B = 0.1 (Ishigami and Homma 1990; Saltelli et al. 2008).
S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def _result(design_kind: str, runs: int, f) -> ExperimentResult:
    spec = spec_from_dict({"model": "ishigami", "design": design_kind, "runs": runs, "seed": 11,
                           "uncertainties": {n: [-PI, PI] for n in ("x1", "x2", "x3")}})
    x, info = build_design(spec)
    y = f(x.to_numpy())
    outcomes = pd.DataFrame({"collapse": y > 5, "collapse_time": np.nan, "y": y}, index=x.index)
    factors = [{"name": n, "lower": -PI, "upper": PI, "role": "uncertainty"} for n in ("x1", "x2", "x3")]
    return ExperimentResult(x, outcomes, "ishigami", factors, {**info, "stop": 1.0})


def test_sobol_indices_of_ishigami_match_known_values():
    res = _result("saltelli", 2**12 * 5, Ishigami.evaluate)
    assert res.settings["base_n"] == 2**12
    idx = sobol(res, outcomes=["y"]).indices.set_index("factor")
    for name in ("x1", "x2", "x3"):
        assert idx.loc[name, "S1"] == pytest.approx(S1[name], abs=0.05)
        assert idx.loc[name, "ST"] == pytest.approx(ST[name], abs=0.05)


def test_sobol_of_a_constant_outcome_is_zero():
    df = sobol_indices([{"name": "a", "lower": 0, "upper": 1}], np.ones(8))
    assert (df[["S1", "ST"]].to_numpy() == 0).all()


def test_morris_ranks_a_linear_function():
    res = _result("morris", 200, lambda x: 10 * x[:, 0] + 1 * x[:, 1] + 0 * x[:, 2])
    idx = morris(res, outcomes=["y"]).indices.set_index("factor")
    assert list(idx["mu_star"].sort_values(ascending=False).index) == ["x1", "x2", "x3"]
    # elementary effects of a linear function are its slopes (SALib scales inputs to [0, 1])
    assert idx.loc["x1", "mu_star"] == pytest.approx(10 * 2 * PI, rel=1e-6)
    assert idx.loc["x3", "mu_star"] == pytest.approx(0.0, abs=1e-9)


def test_sobol_needs_a_saltelli_design():
    res = _result("lhs", 64, Ishigami.evaluate)
    with pytest.raises(CarespiralError, match="saltelli"):
        sobol(res)
