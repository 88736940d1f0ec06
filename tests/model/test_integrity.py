"""Structure checks: PySD translates without warnings, stocks conserve, no stock goes negative,
and the time step is small enough (check 6, the property part of check 5, integration error)."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

from carespiral.pysd_runner.catalog import get_entry

DT = 0.25

# Each stock with its named inflows and outflows, as the model documentation lists them.
STOCK_FLOWS = {
    "Awaiting Assessment": (["Referrals Accepted"], [
        "Assessed Not in Need", "Children in Need Starts", "CP Plans Started", "Queue Triage Closures"]),
    "Open Cases": (["Children in Need Starts", "CP Plans Ended"],
                   ["Case Closures", "Closures without Help"]),
    "CP Plans": (["CP Plans Started"], ["CP Plans Ended"]),
    "Recently Closed": (["No Further Action", "Queue Triage Closures", "Assessed Not in Need",
                         "Case Closures", "Closures without Help"],
                        ["Re Referrals", "Closures Past Window"]),
    "Social Workers": (["Starters"], ["Leaving"]),
    "Recruits in Pipeline": (["Recruitment Starts"], ["Starters"]),
    "Agency Workers": (["Agency Change"], []),
    "Total Experience": (["Experience of Starters", "Experience Gained"], ["Experience Lost"]),
    "Burnout": (["Burnout Change"], []),
    "Perceived Pressure": (["Perceived Pressure Change"], []),
    "Inspection Pressure": (["Inspection Pressure Change"], []),
    "Risk Aversion": (["Risk Aversion Rise"], ["Risk Aversion Decay"]),
    "Procedural Burden": (["Procedure Added"], ["Procedure Removed"]),
    "Deferred Leavers": (["Leaving Deferred"], ["Deferred Leaving"]),
    "Redesign Progress": (["Redesign Progress Change"], []),
}


def test_pysd_translates_and_runs_without_warnings(tmp_path):
    import pysd

    copy = tmp_path / "collapse_spiral.mdl"
    shutil.copy(get_entry("collapse_spiral").path, copy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = pysd.read_vensim(str(copy))
        df = model.run(final_time=24, return_columns=["Social Workers"])
    assert len(df) == 25


def test_every_stock_is_listed(model):
    assert sorted(model.stocks) == sorted(STOCK_FLOWS)


@pytest.mark.parametrize("scenario", ["baseline", "heavy_compliance"])
def test_mass_balance(model, scenario):
    """Each stock equals its initial value plus the (Euler) integral of its flows."""
    names = sorted({n for ins, outs in STOCK_FLOWS.values() for n in ins + outs} | set(STOCK_FLOWS))
    df = model.run(scenario=scenario, stop=240, saveper=DT, outputs=names)
    for stock, (ins, outs) in STOCK_FLOWS.items():
        net = df[ins].sum(axis=1) - (df[outs].sum(axis=1) if outs else 0.0)
        integral = df[stock].iloc[0] + DT * net.cumsum().shift(1, fill_value=0.0)
        scale = df[stock].abs().max() + 1e-12
        assert np.allclose(df[stock], integral, rtol=0, atol=1e-9 * scale), stock


def test_children_and_staff_are_conserved(model):
    """Children enter only as new referrals and leave only past the re-referral window; permanent
    staff enter only through recruitment and leave only by leaving."""
    cols = ["Awaiting Assessment", "Open Cases", "CP Plans", "Recently Closed", "New Referrals",
            "Closures Past Window", "Social Workers", "Recruits in Pipeline", "Recruitment Starts",
            "Leaving"]
    df = model.run(scenario="recovery_package", saveper=DT, outputs=cols)
    children = df[["Awaiting Assessment", "Open Cases", "CP Plans", "Recently Closed"]].sum(axis=1)
    net = (df["New Referrals"] - df["Closures Past Window"]).cumsum().shift(1, fill_value=0.0)
    assert np.allclose(children, children.iloc[0] + DT * net, rtol=1e-9)
    staff = df["Social Workers"] + df["Recruits in Pipeline"]
    net = (df["Recruitment Starts"] - df["Leaving"]).cumsum().shift(1, fill_value=0.0)
    assert np.allclose(staff, staff.iloc[0] + DT * net, rtol=1e-9)


@pytest.fixture(scope="module")
def free_parameters(model):
    return [p for p in model.parameters if p.upper > p.lower]


def test_no_stock_goes_negative_within_bounds(model, free_parameters):
    """Every stock stays finite and non-negative over the parameters' whole box: 400 seeded
    uniform draws, the two corners (every parameter at its lower, then upper bound) and every
    parameter alone at each bound, in one batch (the batch backend equals PySD on this model,
    tests/batch/test_equivalence.py)."""
    n = len(free_parameters)
    u = np.random.default_rng(20261202).random((400, n))
    one_at_a_time = np.vstack([np.where(np.eye(n, dtype=bool), edge, 0.5) for edge in (0.0, 1.0)])
    u = np.vstack([u, np.zeros(n), np.ones(n), one_at_a_time])
    frame = pd.DataFrame({p.name: np.clip(p.lower + u[:, i] * (p.upper - p.lower), p.lower,
                                          p.upper)  # the bounds exactly, not rounded past
                          for i, p in enumerate(free_parameters)})
    ds = model.run_batch(frame, outputs=model.stocks, stop=180, saveper=3, engine="numpy")
    for stock in model.stocks:
        values = ds[stock].to_numpy()
        assert np.isfinite(values).all(), stock
        worst = values.min(axis=1)
        scale = np.abs(values).max(axis=1) + 1
        bad = np.flatnonzero(worst < -1e-9 * scale)
        assert not len(bad), (stock, frame.iloc[bad[0]].to_dict(), worst[bad[0]])


OUTPUTS = ["Referrals", "Re Referral Rate", "Assessments Completed", "Awaiting Assessment",
           "Children in Need", "CP Plans", "S47 Enquiries", "Social Workers", "Agency Workers",
           "Vacancy Rate", "Turnover Rate", "Agency Rate", "Caseload", "Workload Pressure"]
TOLERANCE = 0.02  # halving the step moves no output by more than 2% of its largest value


@pytest.mark.parametrize("scenario", ["baseline", "recovery_package"])
def test_halving_the_time_step_changes_outputs_little(model, scenario):
    coarse = model.run(scenario=scenario, saveper=1, outputs=OUTPUTS)
    fine = model.run(scenario=scenario, time_step=DT / 2, saveper=1, outputs=OUTPUTS)
    error = ((coarse[OUTPUTS] - fine[OUTPUTS]).abs().max() / fine[OUTPUTS].abs().max())
    assert (error < TOLERANCE).all(), error[error >= TOLERANCE].to_dict()
    assert isinstance(error, pd.Series)


def test_one_model_serves_england_and_one_authority(model, baseline):
    """Behavioural constants are per child or per case, so an authority of 60,000 children
    behaves as England scaled down: stocks and flows in proportion, rates identical."""
    authority = model.run(scenario="baseline", params={"Child Population": 60_000})
    ratio = 60_000 / model.parameter("Child Population").default
    for column in ("Referrals", "Awaiting Assessment", "Children in Need", "Social Workers",
                   "Agency Workers", "Leaving"):
        assert np.allclose(authority[column], ratio * baseline[column], rtol=1e-6), column
    for column in ("Re Referral Rate", "Vacancy Rate", "Turnover Rate", "Agency Rate", "Caseload",
                   "Workload Pressure"):
        assert np.allclose(authority[column], baseline[column], rtol=1e-6), column
