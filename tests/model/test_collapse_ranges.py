"""A collapse that looks like real ones (issue 13, item 5).

Past the tipping point the model's service must look like a failing authority, not like a
queue without limit: every published measure, per 10,000 children or as a rate, stays within
what some authority in some year has actually shown (`carespiral.data.ranges`, computed here
from the shipped data), while caseloads, vacancies, agency use and delays rise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carespiral.data.ranges import observed_ranges

# series -> (model variable, how the model value is put in the published form)
MEASURES = {
    "referrals": ("Referrals", "year"),
    "awaiting_assessment": ("Awaiting Assessment", "stock"),
    "children_in_need": ("Children in Need", "stock"),
    "cp_plans": ("CP Plans", "stock"),
    "s47_enquiries": ("S47 Enquiries", "year"),
    "social_workers_fte": ("Social Workers", "stock"),
    "agency_fte": ("Agency Workers", "stock"),
    "re_referral_rate": ("Re Referral Rate", "rate"),
    "referrals_nfa_rate": ("NFA Fraction", "share"),
    "vacancy_rate": ("Vacancy Rate", "rate"),
    "agency_rate": ("Agency Rate", "rate"),
    "turnover_rate": ("Turnover Rate", "rate"),
    "caseload": ("Caseload", "rate"),
}


def _step(default: float, value: float, on: float, off: float | None = None) -> pd.Series:
    t = np.arange(0.0, 420.0 + 0.125, 0.25)
    v = np.where(t >= on, value, default)
    if off is not None:
        v = np.where(t >= off, default, v)
    return pd.Series(v, index=t)


@pytest.fixture(scope="module")
def ranges() -> pd.DataFrame:
    return observed_ranges()


@pytest.fixture(scope="module")
def collapses(model) -> dict[str, pd.DataFrame]:
    """Three ways past the tipping point, run to 2040."""
    outputs = [v for v, _ in MEASURES.values()] + ["Children in Area"]
    need = model.parameter("Underlying Need").default
    runs = {
        "compliance tripled from 2010": dict(scenario="heavy_compliance"),
        "compliance doubled 2007-2012, then back": dict(
            params={"Compliance Burden": _step(1.0, 2.0, on=24, off=84)}),
        "need half as high again from 2013": dict(
            params={"Underlying Need": _step(need, 1.5 * need, on=96)}),
    }
    return {k: model.run(saveper=1, outputs=outputs, **kw) for k, kw in runs.items()}


def _published_form(df: pd.DataFrame) -> pd.DataFrame:
    """Each measure as published: stocks and yearly flows per 10,000 children, rates in %."""
    per = 10_000 / df["Children in Area"]
    out = {}
    for series, (var, how) in MEASURES.items():
        if how == "stock":
            out[series] = df[var] * per
        elif how == "year":  # the flow over the 12 months to each month
            out[series] = df[var].rolling(12).sum() * per
        elif how == "share":
            out[series] = 100 * df[var]
        else:
            out[series] = df[var]
    return pd.DataFrame(out).dropna()


@pytest.mark.parametrize("case", ["compliance tripled from 2010",
                                  "compliance doubled 2007-2012, then back",
                                  "need half as high again from 2013"])
def test_a_collapsed_service_stays_within_what_authorities_have_shown(collapses, ranges, case):
    df = _published_form(collapses[case])
    problems = []
    for series in MEASURES:
        lo, hi = ranges.loc[series, "min"], ranges.loc[series, "max"]
        x = df[series]
        if x.min() < lo or x.max() > hi:
            problems.append(f"{series}: model {x.min():.1f}-{x.max():.1f}, observed "
                            f"{lo:.1f}-{hi:.1f} ({ranges.loc[series, 'unit']})")
    assert not problems, f"{case}: " + "; ".join(problems)


@pytest.mark.parametrize("case", ["compliance tripled from 2010",
                                  "need half as high again from 2013"])
def test_in_collapse_caseloads_vacancies_agency_and_delays_rise(collapses, case):
    df = _published_form(collapses[case])
    start, end = df.iloc[0], df.iloc[-1]
    assert end["caseload"] > 1.4 * start["caseload"]  # caseloads rise, never fall
    assert df["caseload"].min() > 0.95 * start["caseload"]
    assert end["vacancy_rate"] > start["vacancy_rate"] + 15
    assert end["agency_rate"] > start["agency_rate"] + 10
    assert end["awaiting_assessment"] > 3 * start["awaiting_assessment"]
    # the queue is held by thresholds and closures without help, which come back
    assert end["referrals_nfa_rate"] > 3 * start["referrals_nfa_rate"]
    assert end["re_referral_rate"] > start["re_referral_rate"] + 10
