"""The two teaching models show the regimes their loops imply (behaviour, not copied numbers)."""

from __future__ import annotations

import numpy as np
import pytest

from carespiral.pysd_runner import load


@pytest.fixture(scope="module")
def wf():
    return load("workforce_spiral")


@pytest.fixture(scope="module")
def fd():
    return load("failure_demand")


def _capacity(wf) -> float:
    """Closures the full establishment can make a month: the workforce spiral's tipping point."""
    return wf.parameter("Funded Establishment").default * wf.parameter("Cases Closed per FTE").default


def test_workforce_spiral_is_sustainable_below_capacity(wf):
    demand = 0.95 * _capacity(wf)
    df = wf.run(params={"Referral Rate": demand}, outputs=["Open Cases", "Social Workers", "Caseload"])
    last = df[df.index >= df.index[-1] - 120]  # last ten years
    establishment = wf.parameter("Funded Establishment").default
    assert last["Social Workers"].min() >= 0.99 * establishment
    assert last["Caseload"].max() / last["Caseload"].min() < 1.01  # settled
    # open cases settle where closures at the normal pace match demand
    assert last["Open Cases"].iloc[-1] == pytest.approx(demand * wf.parameter("Normal Case Duration").default, rel=1e-3)


def test_workforce_spiral_collapses_above_capacity(wf):
    demand = 1.05 * _capacity(wf)
    df = wf.run(params={"Referral Rate": demand}, outputs=["Open Cases", "Social Workers", "Vacancy Rate"])
    establishment = wf.parameter("Funded Establishment").default
    backlog = df["Open Cases"].to_numpy()
    assert np.all(np.diff(backlog[60:]) > 0), "backlog must run away"
    assert df["Social Workers"].iloc[-1] < 0.6 * establishment, "workforce must drain away"
    assert df["Vacancy Rate"].iloc[-1] > 0.3


def test_workforce_spiral_shows_hysteresis(wf):
    """After collapse, returning demand to its old level does not bring recovery."""
    t = np.arange(0, 241, 0.25)
    base = 0.95 * _capacity(wf)
    import pandas as pd

    surge = pd.Series(np.where((t >= 24) & (t < 96), 1.3 * _capacity(wf), base), index=t)
    df = wf.run(params={"Referral Rate": surge}, outputs=["Open Cases", "Social Workers"])
    before = wf.run(params={"Referral Rate": base}, outputs=["Open Cases"])
    after_surge = df[df.index >= 96]
    assert after_surge["Open Cases"].iloc[-1] > 3 * before["Open Cases"].iloc[-1]
    assert after_surge["Social Workers"].iloc[-1] < 0.6 * wf.parameter("Funded Establishment").default


def test_failure_demand_low_regime_keeps_re_referrals_near_normal(fd):
    df = fd.run(params={"Compliance Share": 0.5}, outputs=["Re Referral Fraction", "Failure Demand Share"])
    normal = fd.parameter("Normal Re Referral Fraction").default
    # with ample direct time, re-referral is at or just below its normal share
    assert 0.8 * normal < df["Re Referral Fraction"].iloc[-1] <= normal * 1.01


def test_failure_demand_takes_over_with_heavy_compliance(fd):
    light = fd.run(params={"Compliance Share": 0.5}, outputs=["Open Cases", "Failure Demand Share"])
    heavy = fd.run(scenario="heavy_compliance", outputs=["Open Cases", "Failure Demand Share"])
    # the same upstream demand, but most incoming work is now the service's own failure
    assert heavy["Failure Demand Share"].iloc[-1] > 0.5 > light["Failure Demand Share"].iloc[-1]
    assert heavy["Open Cases"].iloc[-1] > 2 * light["Open Cases"].iloc[-1]
    assert np.all(np.diff(heavy["Failure Demand Share"].to_numpy()[:120]) > 0)


def test_failure_demand_conserves_cases(fd):
    """Open + recently closed grow only by new referrals minus cases that stay closed."""
    df = fd.run(time_step=0.25, saveper=0.25,
                outputs=["Open Cases", "Recently Closed", "New Referrals", "Closures Kept Closed"])
    total = (df["Open Cases"] + df["Recently Closed"]).to_numpy()
    net = (df["New Referrals"] - df["Closures Kept Closed"]).to_numpy()
    euler = total[0] + np.concatenate([[0], np.cumsum(net[:-1] * 0.25)])
    np.testing.assert_allclose(total, euler, rtol=1e-9)
