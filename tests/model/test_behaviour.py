"""Reality checks of the collapse-spiral model (issue 3, checks 1-5 and 7).

Bounds are the published England ranges (docs/models/collapse_spiral.md, data/), not numbers
copied from a run. Flows are children a month; yearly figures are sums over twelve months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

ESTABLISHMENT = 36_722.7  # default Child Population (11,790,500) x Establishment per Child
REFERENCE_BACKLOG = 24_760.1  # default Child Population x Reference Backlog per Child (0.0021)


def step(default: float, value: float, on: float, off: float | None = None,
         stop: float = 420.0, dt: float = 0.25) -> pd.Series:
    """A lever held at `value` from month `on` (to `off`), else at its default."""
    t = np.arange(0.0, stop + dt / 2, dt)
    v = np.where(t >= on, value, default)
    if off is not None:
        v = np.where(t >= off, default, v)
    return pd.Series(v, index=t)


# DfE reporting years 2013-2019 end at months 96..168 (model time 0 = 1 April 2005).
YEARS_2013_2019 = range(2013, 2020)


def year_sum(df: pd.DataFrame, column: str, year: int) -> float:
    """A flow summed over DfE reporting year `year` (months 12(Y-2006) to 12(Y-2005))."""
    months = np.arange(12 * (year - 2006), 12 * (year - 2005))
    return float(df.loc[months, column].sum())


def at_year_end(df: pd.DataFrame, column: str, year: int) -> float:
    return float(df.loc[12 * (year - 2005), column])


# ---- check 1: sustainable regime with published magnitudes ------------------------------------

PUBLISHED = {  # column: (low, high, how to read it)
    "Referrals": (600_000, 660_000, "year"),
    "Re Referral Rate": (21.5, 25, "end"),
    "Children in Need": (375_000, 410_000, "end"),
    "CP Plans": (43_000, 54_000, "end"),
    "Social Workers": (28_000, 31_000, "end"),
    "Turnover Rate": (13, 17, "end"),
    "Vacancy Rate": (16, 20, "end"),
    "Agency Rate": (15, 18, "end"),
    "Caseload": (16, 18, "end"),
}


@pytest.mark.parametrize("column", sorted(PUBLISHED))
def test_no_shocks_matches_published_ranges_2013_2019(no_shocks, column):
    low, high, how = PUBLISHED[column]
    for year in YEARS_2013_2019:
        value = year_sum(no_shocks, column, year) if how == "year" else at_year_end(no_shocks, column, year)
        assert low <= value <= high, f"{column} {year}: {value:,.1f} outside [{low}, {high}]"


def test_no_shocks_is_sustainable_for_the_whole_run(no_shocks):
    late = no_shocks.loc[60:]  # from 2010 to 2040, 30 years
    for column in ("Awaiting Assessment", "Children in Need", "Social Workers", "Caseload"):
        spread = (late[column].max() - late[column].min()) / late[column].mean()
        assert spread < 0.05, f"{column} moves {spread:.1%} in the no-shock run"
    assert late["Awaiting Assessment"].max() < 1.5 * REFERENCE_BACKLOG
    assert late["Workload Pressure"].between(0.9, 1.1).all()


# ---- check 2: collapse past a threshold ------------------------------------------------------

def collapse_signs(df: pd.DataFrame, since: float) -> dict[str, bool]:
    """What failing authorities look like: delays, caseloads, vacancies and agency all rise.

    The queue no longer runs away (the model bounds it, as real services do, by thresholds,
    drift and closures without help; tests/model/test_collapse_ranges.py holds it within the
    worst authority-year on record, about 9 times England's normal queue per child), so the
    backlog sign is a queue held above three times normal from three years on. "Far below
    establishment" is a workforce under 75% of the funded posts, a vacancy rate of 25% or more:
    the top quarter of authority-years (the 75th percentile of vacancy_rate over authorities
    and years on record is 24.0%, data/).
    """
    before = df.loc[since - 1]
    after = df.loc[since + 72]  # within six years
    return {
        "queue held several times normal": df.loc[since + 36:, "Awaiting Assessment"].min()
        > 3 * REFERENCE_BACKLOG,
        "caseloads rise": after["Caseload"] > 1.4 * before["Caseload"],
        "workforce far below establishment": after["Social Workers"] < 0.75 * ESTABLISHMENT,
        "agency share climbs": after["Agency Rate"] > before["Agency Rate"] + 10,
    }


# Thresholds (the workforce criterion, docs/models/collapse_spiral.md, re-measured with
# benchmarks/collapse_spiral_thresholds.py after the ceiling on plans started, f47ee16):
# Compliance Burden 1.142, Underlying Need 0.03633 (1.14 and 0.0364 before it).
# Near a fold the collapse is slow (critical slowing down: at need 0.040 the queue passes twice
# normal only after seven and a half years), so "within six years" is tested well past each
# threshold: need at 1.5 times its threshold (0.0545, +68%; referrals then reach at most about
# 1,460 a year per 10,000 children, within the authority-years on record, highest 1,854, docs),
# and a tripled compliance load (2.6 times its threshold; at 1.5 and 2 times it the workforce
# signs appear within six years but the queue stays under three times normal until after month
# 36: its minimum from then is 2.5 and 2.8 times normal).
NEED_THRESHOLD = 0.03633


@pytest.mark.parametrize(("lever", "value"), [
    ("Compliance Burden", 3.0),
    ("Underlying Need", 1.5 * NEED_THRESHOLD),
])
def test_past_the_threshold_the_system_collapses_within_six_years(model, lever, value):
    default = model.parameter(lever).default
    df = model.run(params={lever: step(default, value, on=96)})
    signs = collapse_signs(df, since=96)
    assert all(signs.values()), signs


# Below the folds of the sustainable branch (continuation, docs/models/collapse_spiral.md: now
# burden 1.069 and need 0.0343 with the ceiling on plans started; when written, burden 1.033 and
# need 0.0333) the stable state exists and holds.
# (Between a fold and the 2040 thresholds the service also holds to 2040, but only through slow
# passage: burden 1.05 tipped after about 120 years when written; with the ceiling on plans
# started 1.07 tips after about 448 years, 1.08 after 138, and 1.05 and 1.065 hold for 500.)
@pytest.mark.parametrize(("lever", "value"), [("Compliance Burden", 1.02), ("Underlying Need", 0.033)])
def test_below_the_threshold_the_system_holds(model, lever, value):
    default = model.parameter(lever).default
    df = model.run(params={lever: step(default, value, on=96)}, saveper=12)
    assert df["Social Workers"].iloc[-1] > 0.75 * ESTABLISHMENT
    assert df["Awaiting Assessment"].iloc[-1] < 2 * REFERENCE_BACKLOG


# ---- check 3: hysteresis and a recovery package ----------------------------------------------

def test_collapse_persists_after_the_lever_returns(model):
    df = model.run(params={"Compliance Burden": step(1.0, 2.0, on=24, off=84)})
    assert df.loc[83, "Help Quality"] < 0.9  # it was pushed
    five_years_on = df.loc[84 + 60]
    assert five_years_on["Social Workers"] < 0.75 * ESTABLISHMENT
    assert five_years_on["Awaiting Assessment"] > 3 * REFERENCE_BACKLOG
    # and never comes back. The bounded collapse keeps a workforce, as failing authorities do
    # (no authority-year on record had fewer than 11.8 FTE per 10,000 children, 38% of the
    # national establishment), so "never comes back" is a workforce held below 70% of the
    # establishment with help far below the reference, to 2040.
    end = df.iloc[-1]
    assert end["Social Workers"] < 0.7 * ESTABLISHMENT
    assert end["Help Quality"] < 0.5
    assert end["Awaiting Assessment"] > 3 * REFERENCE_BACKLOG


@pytest.mark.xfail(strict=True, reason=(
    "known limit (issue 13, docs/models/collapse_spiral.md): with plans in force fitted from "
    "March 2007, the fitted sensitivities of referrals and plans to risk aversion fell (0.124 to "
    "0.063, 0.40 to 0.30) and the reference's risk feedback with them: after the lever returns "
    "the queue dipped to 2.93 times normal (month 87) and climbed to 3.4 times by 2040; with "
    "the ceiling on plans started (CP Plan Saturation) it dips to 2.989 times (month 87) and "
    "climbs to 3.5 times. Strict: it fails as soon as the model meets it."))
def test_the_queue_never_drops_below_three_times_normal_after_the_lever_returns(model):
    df = model.run(params={"Compliance Burden": step(1.0, 2.0, on=24, off=84)})
    assert df.loc[84:, "Awaiting Assessment"].min() > 3 * REFERENCE_BACKLOG


def test_recovery_package_restores_the_service(model):
    df = model.run(scenario="recovery_package")
    assert df.loc[143, "Awaiting Assessment"] > 3 * REFERENCE_BACKLOG  # collapsed before it
    assert df.loc[143, "Help Quality"] < 0.5
    # eight years on: the procedure accumulated while collapsed lapses only slowly (the
    # ratchet), so recovery takes longer than the five years it took without it
    after = df.loc[144 + 96]
    assert after["Awaiting Assessment"] < 1.5 * REFERENCE_BACKLOG
    assert after["Help Quality"] > 0.9
    posts = ESTABLISHMENT * (1 + 0.0015 / 0.0031146)  # half as many posts again
    assert after["Social Workers"] > 0.9 * posts * (1 - 0.2)
    assert df.iloc[-1]["Help Quality"] > 1.0  # and better than the reference by 2040


def test_ten_percent_more_posts_alone_do_not_rescue_a_collapsed_service(model):
    params = {
        "Compliance Burden": step(1.0, 2.0, on=24, off=84),
        "Establishment per Child": step(0.0031146, 0.0031146 * 1.1, on=144),
    }
    df = model.run(params=params)
    assert df.loc[144 + 60, "Awaiting Assessment"] > 3 * REFERENCE_BACKLOG
    assert df.loc[144 + 60, "Help Quality"] < 0.5


# ---- check 4: the November 2008 shock ---------------------------------------------------------

@pytest.fixture(scope="module")
def without_2008(model) -> pd.DataFrame:
    """The baseline history without the 2008 scandal (and without the tougher inspection that
    followed it): the counterfactual the shock is measured against."""
    return model.run(scenario="baseline", params={"Scandal 2008 Size": 0,
                                                  "Inspections 2009 Stringency": 0})


def test_2008_shock_raises_demand_and_later_leaving(baseline, without_2008):
    shock = 43
    within_two_years = slice(shock + 12, shock + 24)
    # least rises, from the published figures of one source (CPR3, before the 2009-10 change to
    # the children in need census, data/series.py): plans started 34,000 (2007-08) to 37,900
    # (2008-09, +11.5%, only 4.5 months of it after the scandal) -> 5% for enquiries and plans
    # started; referrals 538,500 to 547,000 (+1.6%; the +10% of 2009-10 spans the change of
    # source) -> 1% for referrals accepted. The plans stock follows its starts with a lag of
    # one plan duration (about 10 months): a first-order stock fed by a ramp rising 5% over 24
    # months has risen 5% x (24 - 10(1 - exp(-2.4)))/24 = 3.1% by then (algebra) -> 3%.
    for column, least in (("Referrals Accepted", 1.01), ("S47 Enquiries", 1.05),
                          ("CP Plans Started", 1.05), ("CP Plans", 1.03)):
        rise = (baseline.loc[within_two_years, column]
                / without_2008.loc[within_two_years, column]).max()
        assert rise > least, f"{column} rose only {rise - 1:.1%}"
    # more enquiries in the year after the shock than in the year before it
    assert baseline.loc[shock + 12:shock + 24, "S47 Enquiries"].sum() > 1.15 * baseline.loc[
        shock - 12:shock, "S47 Enquiries"].sum()
    extra_leaving = baseline["Leaving"] - without_2008["Leaving"]
    assert extra_leaving.loc[shock:shock + 12].abs().max() < extra_leaving.loc[shock + 12:].max()
    assert extra_leaving.loc[shock:].max() > 0.02 * without_2008.loc[shock, "Leaving"]
    # and the service holds: England did not collapse
    assert baseline.loc[168, "Awaiting Assessment"] < 1.5 * REFERENCE_BACKLOG


def test_covid_lowers_referrals_in_2020_21(model, baseline):
    without = model.run(scenario="baseline", params={"COVID Referral Drop": 0},
                        outputs=["Referrals"], saveper=1)
    assert year_sum(baseline, "Referrals", 2021) < 0.97 * year_sum(without, "Referrals", 2021)
    assert year_sum(baseline, "Referrals", 2019) == pytest.approx(
        year_sum(without, "Referrals", 2019))


# ---- check 5: extreme conditions -------------------------------------------------------------

def test_zero_need_drains_work_and_workforce_settles_at_establishment(model, no_shocks):
    df = model.run(params={"Underlying Need": 0}, saveper=12)
    end = df.iloc[-1]
    for column in ("Awaiting Assessment", "Children in Need", "Recently Closed", "Referrals"):
        assert end[column] < 0.01 * no_shocks[column].iloc[0], column
    staff = end["Social Workers"] + end["Agency Workers"]
    assert 0.95 * ESTABLISHMENT <= staff <= 1.001 * ESTABLISHMENT
    assert abs(df["Social Workers"].iloc[-1] - df["Social Workers"].iloc[-2]) < 1  # settled


def test_zero_establishment_means_no_assessments(model):
    df = model.run(params={"Establishment per Child": 0}, stop=120, saveper=1)
    assert (df["Assessments Completed"] == 0).all()
    assert (df["Social Workers"] == 0).all() and (df["Agency Workers"] == 0).all()
    assert df["Awaiting Assessment"].is_monotonic_increasing


# ---- check 7: levers move outcomes as the causal story says ------------------------------------

LEVER_EFFECTS = {
    # lever: (change, {output: expected sign of the long-run change})
    "Establishment per Child": (0.0003, {"Help Quality": +1, "Caseload": -1, "Social Workers": +1}),
    "Compliance Burden": (0.05, {"Help Quality": -1, "Workload Pressure": +1}),
    "Upstream Failure Demand": (0.05, {"Referrals": +1, "Help Quality": -1}),
    "Referral Threshold": (0.2, {"Children in Need": -1, "Re Referral Rate": +1}),
    "Agency Cap": (-0.15, {"Workload Pressure": +1, "Agency Workers": -1}),
    "Retention Measures": (0.5, {"Social Workers": +1, "Turnover Rate": -1, "Help Quality": +1}),
    "Redesign": (0.5, {"Referrals": -1, "Re Referral Rate": -1, "Help Quality": +1}),
}


@pytest.mark.parametrize("lever", sorted(LEVER_EFFECTS))
def test_lever_moves_outcomes_in_the_direction_of_the_causal_story(model, no_shocks, lever):
    delta, expected = LEVER_EFFECTS[lever]
    default = model.parameter(lever).default
    df = model.run(params={lever: step(default, default + delta, on=96)}, saveper=12)
    for column, sign in expected.items():
        change = df[column].iloc[-1] - no_shocks[column].iloc[-1]
        assert np.sign(change) == sign, f"{lever} moved {column} by {change:+.4g}"


# Levers whose effect one year after the change and by 2040 differ in sign, on a canonical output
# (changes smaller than 0.1% ignored). Named in docs/models/collapse_spiral.md.
SIGN_FLIPS = {
    # the new posts not filled as they are created (30%) are covered by agency staff; later
    # better conditions fill them. (The vacancy rate no longer flips: 70% of new posts are
    # filled as they are created, New Post Fill Share, so it falls from the first year.)
    ("Establishment per Child", "Agency Rate"),
    # more first-time referrals dilute the re-referral share; worse help later raises it
    ("Upstream Failure Demand", "Re Referral Rate"),
    # the extra workload gets plans stepped down sooner (B6); later, worse help raises risk
    # aversion and with it plans started (without B6 plans rise from the first year)
    ("Compliance Burden", "CP Plans"),
}


def test_levers_whose_short_and_long_run_effects_differ_in_sign(model):
    outputs = list(model.outputs.values())
    base = model.run(saveper=1, outputs=outputs)
    flips = set()
    for lever, (delta, _) in LEVER_EFFECTS.items():
        default = model.parameter(lever).default
        df = model.run(params={lever: step(default, default + delta, on=96)}, saveper=1,
                       outputs=outputs)
        for column in outputs:
            short = (df.loc[108, column] - base.loc[108, column]) / abs(base.loc[108, column])
            long = (df[column].iloc[-1] - base[column].iloc[-1]) / abs(base[column].iloc[-1])
            if min(abs(short), abs(long)) > 1e-3 and np.sign(short) != np.sign(long):
                flips.add((lever, column))
    assert flips == SIGN_FLIPS
