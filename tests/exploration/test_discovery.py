"""PRIM recovers a planted box; CART's purest leaf is the same box."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.errors import CarespiralError
from carespiral.exploration import prim_box
from carespiral.exploration.discovery import cart_leaves


@pytest.fixture(scope="module")
def planted():
    # Cases of interest: a > 0.6 and b < 0.3 (c and d are noise), with 2% of labels flipped.
    rng = np.random.default_rng(42)
    x = pd.DataFrame(rng.uniform(size=(3000, 4)), columns=list("abcd"))
    y = ((x["a"] > 0.6) & (x["b"] < 0.3)).to_numpy()
    y = y ^ (rng.uniform(size=len(y)) < 0.02)
    return x, y


def test_prim_recovers_the_planted_box(planted):
    x, y = planted
    d = prim_box(x, y, min_density=0.9)
    box = d.box.set_index("factor")
    assert set(d.restricted["factor"]) == {"a", "b"}
    assert box.loc["a", "lower"] == pytest.approx(0.6, abs=0.04)
    assert box.loc["b", "upper"] == pytest.approx(0.3, abs=0.04)
    assert box.loc["a", "upper"] > 0.99 and box.loc["b", "lower"] < 0.01
    assert d.density >= 0.9 and d.coverage >= 0.8
    assert (d.restricted["qp_value"] < 1e-6).all()
    # the trajectory is PRIM's: coverage never rises while peeling, and the chosen box is on it
    peel = d.trajectory["coverage"].to_numpy()
    assert d.trajectory["chosen"].sum() == 1 and d.trajectory.loc[d.chosen, "coverage"] == d.coverage
    assert peel[0] == pytest.approx(1.0)
    assert (np.diff(peel) <= 1e-12).all(), peel  # every step of the trajectory, not one point


def test_cart_purest_leaf_is_the_planted_box(planted):
    x, y = planted
    leaves = cart_leaves(x, y)
    top = leaves.iloc[0]
    assert "a > 0.6" in top["rule"] or "a > 0.59" in top["rule"]
    assert "b <= 0.3" in top["rule"] or "b <= 0.29" in top["rule"]
    assert top["collapse_share"] > 0.9
    assert leaves["runs"].sum() == len(y)


def test_prim_needs_both_kinds_of_run(planted):
    x, _ = planted
    with pytest.raises(CarespiralError, match="both kinds"):
        prim_box(x, np.zeros(len(x), dtype=bool))
