"""Plans started level off as enquiries widen (issue 13): `Effect of Plan Demand on Plans`.

Plans started per need referral are `Reference Plans per Need Referral` times
h(y) = y * ((1 + s^n) / (1 + (s y)^n))^(1/n), y the `Plan Demand`, s `CP Plan Saturation`, n
`CP Saturation Sharpness`. The references below are algebra of that saturation, worked out by
hand (no effect at s = 0, none at y = 1, the ceiling (1 + s^n)^(1/n) / s as y grows), checked
against runs of the model: at time 0 every run starts from the same stocks, so the assessments
completed do not depend on the saturation and the run without it gives y independently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

NAMES = ["CP Plans Started", "Children in Area", "Assessments Completed", "CP Fraction",
         "Plan Demand", "Effect of Plan Demand on Plans"]


def _default(model, name: str) -> float:
    return next(p.default for p in model.parameters if p.name == name)


@pytest.fixture(scope="module")
def at_start(model) -> pd.DataFrame:
    """Time-0 values for plan conversions from a tenth to 2.4 times the reference (Plan Demand
    about 0.3 to 4.5), each without the saturation (s = 0) and with it (s = 1.25, n = 4)."""
    rows = [{"Plan Conversion Fraction": c, "CP Plan Saturation": s}
            for s in (0.0, 1.25) for c in (0.1, 0.33, 0.6, 0.8)]
    rows = [{**r, "Normal S47 Fraction": 0.6 if r["Plan Conversion Fraction"] == 0.8 else 0.32}
            for r in rows]
    ds = pd.DataFrame(rows)
    out = ds.copy()
    res = model.run_batch(ds, outputs=NAMES, saveper=0.25, stop=1, engine="numpy")
    for name in NAMES:
        out[name] = res[name].isel(time=0).to_numpy()
    return out


def _per_need(model, df: pd.DataFrame) -> np.ndarray:
    need = df["Children in Area"] * _default(model, "Underlying Need") / 12
    return (df["CP Plans Started"] / need).to_numpy()


def test_without_saturation_plans_are_the_share_before_it(model, at_start):
    free = at_start[at_start["CP Plan Saturation"] == 0]
    assert np.allclose(free["Effect of Plan Demand on Plans"], 1.0, rtol=0, atol=1e-12)
    # plans started per need referral, relative to the reference, are the Plan Demand itself
    ref = _default(model, "Reference Plans per Need Referral")
    assert np.allclose(_per_need(model, free) / ref, free["Plan Demand"], rtol=1e-9)
    # and linear in the conversion at the reference section 47 share (runs at 0.32)
    lin = free[free["Normal S47 Fraction"] == 0.32]
    per = lin["CP Plans Started"] / lin["Plan Conversion Fraction"]
    assert np.allclose(per, per.iloc[0], rtol=1e-9)


def test_saturation_matches_its_algebra(model, at_start):
    s, n = 1.25, _default(model, "CP Saturation Sharpness")
    free = at_start[at_start["CP Plan Saturation"] == 0].reset_index(drop=True)
    sat = at_start[at_start["CP Plan Saturation"] == s].reset_index(drop=True)
    y = free["Plan Demand"].to_numpy()  # from the run without saturation
    expected = ((1 + s**n) / (1 + (s * y) ** n)) ** (1 / n)
    got = sat["CP Plans Started"].to_numpy() / free["CP Plans Started"].to_numpy()
    assert np.allclose(got, expected, rtol=1e-9)
    assert y.min() < 0.5 and y.max() > 4  # the check spans both sides of the bend


def test_plans_started_stay_under_the_ceiling_and_approach_it(model, at_start):
    s, n = 1.25, _default(model, "CP Saturation Sharpness")
    ref = _default(model, "Reference Plans per Need Referral")
    ceiling = (1 + s**n) ** (1 / n) / s  # 1.09 times the reference at s 1.25, n 4
    sat = at_start[at_start["CP Plan Saturation"] == s].sort_values("Plan Demand")
    rel = _per_need(model, sat) / ref
    assert np.all(rel < ceiling)
    assert np.all(np.diff(rel) > 0)  # more plan demand never means fewer plans
    # at Plan Demand about 4.5 (s y about 5.7): within (1 + (s y)^-n)^(-1/n) of the ceiling
    sy = s * sat["Plan Demand"].iloc[-1]
    assert rel[-1] == pytest.approx(ceiling * (1 + sy ** -n) ** (-1 / n), rel=1e-9)
    assert rel[-1] > 0.999 * ceiling
    # well below the bend plans scale with demand times (1 + s^n)^(1/n)
    y0 = sat["Plan Demand"].iloc[0]
    assert rel[0] == pytest.approx(y0 * (1 + s**n) ** (1 / n), rel=2 * (s * y0) ** n / n)


def test_the_reference_is_unchanged(model, no_shocks):
    """At the no-shock reference Plan Demand is 1, so the saturation changes nothing there."""
    df = model.run(scenario="no_shocks", saveper=12,
                   outputs=["Plan Demand", "Effect of Plan Demand on Plans"])
    # the run starts a little off its steady state (1.4% at month 0), then holds within 0.1%
    assert df["Plan Demand"].between(0.98, 1.02).all()
    assert df["Plan Demand"].iloc[1:].between(0.999, 1.001).all()
    assert df["Effect of Plan Demand on Plans"].iloc[1:].between(0.999, 1.001).all()
