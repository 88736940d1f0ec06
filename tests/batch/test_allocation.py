"""ALLOCATE BY PRIORITY, ALLOCATE AVAILABLE and INVERT MATRIX on both engines.

Reference answers: PySD's own implementations, run one case at a time (its piecewise algorithm
for ALLOCATE BY PRIORITY, its least-squares solve for ALLOCATE AVAILABLE) and numpy's matrix
inverse; and the algebra every allocation obeys (the shares add up to the supply, or to the
requests when the supply covers them). Each run draws its own requests, priorities, widths and
matrix, so one batch checks many cases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pysd.py_backend.allocation import _allocate_available_1d, _allocate_by_priority_1d

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.batch import compile_model

MODEL = Path(__file__).parent / "models" / "allocation.mdl"
T = ["A", "B", "C", "D"]
N = 24
TYPES = [1, 2, 3, 4]  # the model's profile types, one per target


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(7)
    params = pd.DataFrame({
        **{f"Request[{t}]": rng.uniform(0.0, 6.0, N) for t in T},
        **{f"Priority[{t}]": rng.uniform(0.0, 10.0, N) for t in T},
        "Width": rng.uniform(0.5, 4.0, N),
        **{f"Profile[{t},ppriority]": rng.uniform(0.0, 10.0, N) for t in T},
        **{f"Profile[{t},pwidth]": rng.uniform(0.5, 3.0, N) for t in T},
        **{f"Matrix[{t},{c}]": rng.uniform(-3.0, 3.0, N) for t in T for c in "WXYZ"},
    })
    params.loc[3, "Request[B]"] = 0.0  # a target that asks for nothing
    params.loc[5, "Priority[C]"] = params.loc[5, "Priority[A]"]  # a tie
    bm = compile_model(MODEL)
    outs = [f"{v}[{t}]" for v in ("By Priority", "Available") for t in T]
    outs += [f"Inverse[{t},{c}]" for t in T for c in "WXYZ"] + ["Supply"]
    runs = {e: bm.run(params, outputs=outs, engine=e) for e in ("numpy", "numba")}
    return params, runs


def _matrix(ds, var: str, cols) -> np.ndarray:
    return np.stack([ds[f"{var}[{c}]"].to_numpy() for c in cols], axis=-1)


def test_allocations_match_pysd(case) -> None:
    params, runs = case
    ds = runs["numpy"]
    supply = ds["Supply"].to_numpy()
    by_priority = _matrix(ds, "By Priority", T)
    available = _matrix(ds, "Available", T)
    request = params[[f"Request[{t}]" for t in T]].to_numpy()
    steps = range(0, supply.shape[1], 4)  # supply from 1 to 15: short of the requests and not
    for i in range(N):
        prio = params.loc[i, [f"Priority[{t}]" for t in T]].to_numpy(dtype=float)
        pp = np.column_stack([TYPES, params.loc[i, [f"Profile[{t},ppriority]" for t in T]],
                              params.loc[i, [f"Profile[{t},pwidth]" for t in T]],
                              np.zeros(4)]).astype(float)
        for k in steps:
            s = supply[i, k]
            want = _allocate_by_priority_1d(request[i], prio, params.loc[i, "Width"], s)
            np.testing.assert_allclose(by_priority[i, k], want, rtol=1e-9, atol=1e-9)
            want = np.asarray(_allocate_available_1d(request[i], pp, s), dtype=float)
            # PySD's least-squares solve stops at its own tolerance: agreement to 1e-6
            np.testing.assert_allclose(available[i, k], want, rtol=1e-6, atol=1e-6)
            for got in (by_priority[i, k], available[i, k]):  # the algebra of a share-out
                assert np.all(got >= -1e-12) and np.all(got <= request[i] + 1e-12)
                assert got.sum() == pytest.approx(min(s, request[i].sum()), rel=1e-9, abs=1e-9)
    assert (supply[:, list(steps)] < request.sum(axis=1)[:, None]).any()  # some cases short
    assert (supply[:, list(steps)] > request.sum(axis=1)[:, None]).any()  # and some covered


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_inverse_matches_numpy(case, engine) -> None:
    params, runs = case
    ds = runs[engine]
    for i in range(N):
        m = np.array([[params.loc[i, f"Matrix[{t},{c}]"] for c in "WXYZ"] for t in T])
        got = np.array([[ds[f"Inverse[{t},{c}]"].to_numpy()[i, 0] for c in "WXYZ"] for t in T])
        np.testing.assert_allclose(got, np.linalg.inv(m), rtol=1e-9, atol=1e-9)


def test_engines_agree(case) -> None:
    _, runs = case
    assert any(v.startswith("Available") for v in runs["numba"].data_vars)
    for var in runs["numba"].data_vars:
        if var.startswith(("By Priority", "Inverse", "Available")):
            # the same operations; numba's exp and erfc may round the last bit differently
            np.testing.assert_allclose(runs["numba"][var], runs["numpy"][var], rtol=1e-12,
                                       atol=1e-12)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_available_profile_type_chosen_per_run(engine) -> None:
    """A profile type given at run time (not a literal of the model): every run takes its own
    curve, as PySD does for that type."""
    bm = compile_model(MODEL.with_name("allocation_kind.mdl"))
    kinds = [1.0, 2.0, 3.0, 4.0]
    ds = bm.run(pd.DataFrame({"Kind A": kinds}), outputs=["Available[A]", "Available[B]",
                                                          "Supply"], engine=engine)
    supply = ds["Supply"].to_numpy()
    for i, kind in enumerate(kinds):
        pp = np.array([[kind, 6, 3, 0], [3, 5, 1.5, 0]], dtype=float)
        for k in (2, 6, 11, 15):
            want = _allocate_available_1d(np.array([3.0, 6.0]), pp, supply[i, k])
            got = [ds[f"Available[{t}]"].to_numpy()[i, k] for t in "AB"]
            np.testing.assert_allclose(got, np.asarray(want, float), rtol=1e-6, atol=1e-6)


def test_available_engines_agree() -> None:
    """ALLOCATE AVAILABLE (a rectangular and a normal profile) on both engines, against PySD."""
    bm = compile_model(MODEL.with_name("allocation_two.mdl"))
    rng = np.random.default_rng(3)
    params = pd.DataFrame({"Profile[A,ppriority]": rng.uniform(3.0, 8.0, 8),
                           "Profile[B,pwidth]": rng.uniform(0.5, 2.0, 8)})
    outs = ["Available[A]", "Available[B]", "Supply"]
    a, b = (bm.run(params, outputs=outs, engine=e) for e in ("numpy", "numba"))
    for var in outs:
        np.testing.assert_allclose(b[var], a[var], rtol=1e-9, atol=1e-12)
    got = np.stack([a["Available[A]"].to_numpy(), a["Available[B]"].to_numpy()], axis=-1)
    for i in range(len(params)):
        pp = np.array([[1, params.loc[i, "Profile[A,ppriority]"], 3, 0],
                       [3, 5, params.loc[i, "Profile[B,pwidth]"], 0]], dtype=float)
        for k in (1, 4, 9, 13, 20):
            want = _allocate_available_1d(np.array([3.0, 6.0]), pp, a["Supply"].to_numpy()[i, k])
            np.testing.assert_allclose(got[i, k], np.asarray(want, float), rtol=1e-6, atol=1e-6)


def test_a_fixed_profile_type_cannot_be_set_per_run() -> None:
    bm = compile_model(MODEL)
    with pytest.raises(CarespiralError, match=r"priority profile type.*cannot be set per run"):
        bm.run(pd.DataFrame({"Profile[A,ptype]": [2.0]}))
    assert "Profile[A,ptype]" not in {p.name for p in bm.parameters}
    assert "Profile[A,ppriority]" in {p.name for p in bm.parameters}
