"""The catalogue of published series: canonical names, units, what date a value refers to, breaks.

Every series the loader can return is defined here once. Thirteen of them carry the name of a
canonical model role (`referrals`, `caseload`, ...) so that data and model meet by name; the rest
have descriptive snake_case names. `docs/data.md` documents the same list for readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["BREAKS", "ROLE_SERIES", "SERIES", "SeriesBreak", "SeriesDef"]

Kind = Literal["stock", "flow", "rate", "ratio", "change"]
Span = Literal["point", "year", "month"]
Census = Literal["mar31", "sep30", "jun30"]


@dataclass(frozen=True)
class SeriesDef:
    """One series: what it counts, its unit, and how a published year maps to dates.

    kind: `stock` (a count at a date), `flow` (a count over a period), `rate` (a percentage
    share, 0-100), `ratio` (any other non-negative ratio, e.g. cases per FTE, days), `change`
    (a signed percentage change). span: `point` values refer to one date, `year` values to the
    12 months ending on it. census: the date in a published year Y a value refers to
    (31 March Y for children in need, 30 September Y for the workforce, 30 June Y for ONS).
    """

    name: str
    description: str
    unit: str
    kind: Kind
    span: Span
    census: Census = "mar31"


def _s(name: str, description: str, unit: str, kind: Kind, span: Span,
       census: Census = "mar31") -> SeriesDef:
    return SeriesDef(name, description, unit, kind, span, census)


_DEFS = [
    # --- referrals (DfE c1, year to 31 March) ---------------------------------------------------
    _s("referrals", "Referrals to children's social care in the year", "count", "flow", "year"),
    _s("re_referrals", "Referrals within 12 months of a previous referral", "count", "flow", "year"),
    _s("re_referral_rate", "Re-referrals as a percentage of referrals", "%", "rate", "year"),
    _s("referrals_nfa", "Referrals resulting in no further action", "count", "flow", "year"),
    _s("referrals_nfa_rate", "Referrals resulting in no further action, % of referrals", "%",
       "rate", "year"),
    _s("referrals_not_in_need", "Referrals assessed as not in need", "count", "flow", "year"),
    _s("referrals_not_in_need_rate", "Referrals assessed as not in need, % of referrals", "%",
       "rate", "year"),
    _s("referred_children", "Children referred in the year (each child once)", "count", "flow",
       "year"),
    _s("re_referred_children", "Children re-referred within 12 months", "count", "flow", "year"),
    _s("re_referred_children_rate", "Children re-referred, % of children referred", "%", "rate",
       "year"),
    # --- assessments (curated national series) ---------------------------------------------------
    _s("assessments", "Single assessments completed in the year (from 2013-14)", "count", "flow",
       "year"),
    _s("initial_assessments", "Initial assessments completed (to 2012-13)", "count", "flow", "year"),
    _s("core_assessments", "Core assessments completed (to 2012-13)", "count", "flow", "year"),
    # --- children in need (DfE b1) ---------------------------------------------------------------
    _s("children_in_need", "Children in need episodes open at 31 March", "count", "stock", "point"),
    _s("awaiting_assessment", "Children referred and awaiting assessment at 31 March", "count",
       "stock", "point"),
    _s("cin_episodes_in_year", "Children in need episodes open at any point in the year", "count",
       "flow", "year"),
    _s("cin_children_in_year", "Children in need at any point in the year", "count", "flow",
       "year"),
    _s("cin_episodes_started", "Children in need episodes starting in the year", "count", "flow",
       "year"),
    _s("cin_children_started", "Children starting an episode of need in the year", "count", "flow",
       "year"),
    _s("cin_episodes_ended", "Children in need episodes ending in the year", "count", "flow",
       "year"),
    _s("cin_children_ended", "Children ending an episode of need in the year", "count", "flow",
       "year"),
    # --- section 47 and conferences (DfE c4) -----------------------------------------------------
    _s("s47_enquiries", "Section 47 enquiries started in the year", "count", "flow", "year"),
    _s("s47_children", "Children subject of a section 47 enquiry in the year", "count", "flow",
       "year"),
    _s("initial_cp_conferences", "Initial child protection conferences in the year", "count",
       "flow", "year"),
    _s("icpc_children", "Children subject of an initial child protection conference", "count",
       "flow", "year"),
    _s("icpc_days_0_10", "Conferences held 0-10 working days after the s47 started", "count",
       "flow", "year"),
    _s("icpc_days_11_15", "Conferences held 11-15 working days after the s47 started", "count",
       "flow", "year"),
    _s("icpc_days_16_20", "Conferences held 16-20 working days after the s47 started", "count",
       "flow", "year"),
    _s("icpc_days_21_plus", "Conferences held 21 or more working days after the s47 started",
       "count", "flow", "year"),
    _s("icpc_days_p25", "Working days from s47 to conference, 25th percentile", "days", "ratio",
       "year"),
    _s("icpc_days_median", "Working days from s47 to conference, median", "days", "ratio", "year"),
    _s("icpc_days_p75", "Working days from s47 to conference, 75th percentile", "days", "ratio",
       "year"),
    # --- child protection plans (DfE d3, d5) -----------------------------------------------------
    _s("cp_plans", "Children on a child protection plan at 31 March", "count", "stock", "point"),
    _s("cp_plans_started", "Child protection plans started in the year", "count", "flow", "year"),
    _s("cp_plans_subsequent", "Plans started that were a second or subsequent plan", "count",
       "flow", "year"),
    _s("cp_plans_subsequent_rate", "Second or subsequent plans, % of plans started", "%", "rate",
       "year"),
    *[
        _s(f"cp_plans_duration_{k}", f"Plans at 31 March open {label}", "count", "stock", "point")
        for k, label in (("0_3m", "3 months or less"), ("3_6m", "more than 3 up to 6 months"),
                         ("6_12m", "more than 6 months, under 1 year"),
                         ("1_2y", "1 year, under 2 years"), ("2y_plus", "2 years or more"))
    ],
    *[
        _s(f"cp_plans_duration_{k}_rate", f"Plans at 31 March open {label}, % of plans", "%",
           "rate", "point")
        for k, label in (("0_3m", "3 months or less"), ("3_6m", "more than 3 up to 6 months"),
                         ("6_12m", "more than 6 months, under 1 year"),
                         ("1_2y", "1 year, under 2 years"), ("2y_plus", "2 years or more"))
    ],
    # --- children looked after (DfE cla, curated) ------------------------------------------------
    _s("children_looked_after", "Children looked after at 31 March", "count", "stock", "point"),
    _s("children_looked_after_rate_per_10k", "Children looked after at 31 March per 10,000 "
       "children", "per 10,000 children", "ratio", "point"),
    _s("cla_started", "Children starting to be looked after in the year", "count", "flow", "year"),
    _s("cla_started_rate_per_10k", "Children starting to be looked after per 10,000 children",
       "per 10,000 children", "ratio", "year"),
    _s("cla_ceased", "Children ceasing to be looked after in the year", "count", "flow", "year"),
    _s("cla_ceased_rate_per_10k", "Children ceasing to be looked after per 10,000 children",
       "per 10,000 children", "ratio", "year"),
    # --- workforce (DfE csww, 30 September) ------------------------------------------------------
    _s("social_workers_fte", "Children and family social workers in post (FTE) at 30 September",
       "FTE", "stock", "point", "sep30"),
    _s("social_workers_headcount", "Children and family social workers in post (headcount)",
       "headcount", "stock", "point", "sep30"),
    _s("sw_starters_fte", "Social workers starting in the year to 30 September (FTE)", "FTE",
       "flow", "year", "sep30"),
    _s("sw_starters_headcount", "Social workers starting in the year (headcount)", "headcount",
       "flow", "year", "sep30"),
    _s("sw_leavers_fte", "Social workers leaving in the year to 30 September (FTE)", "FTE", "flow",
       "year", "sep30"),
    _s("sw_leavers_headcount", "Social workers leaving in the year (headcount)", "headcount",
       "flow", "year", "sep30"),
    _s("turnover_rate", "Turnover: FTE leavers in the year / FTE in post at 30 September", "%",
       "rate", "year", "sep30"),
    _s("turnover_rate_headcount", "Turnover by headcount", "%", "rate", "year", "sep30"),
    _s("agency_fte", "Agency social workers (FTE) at 30 September", "FTE", "stock", "point",
       "sep30"),
    _s("agency_headcount", "Agency social workers (headcount) at 30 September", "headcount",
       "stock", "point", "sep30"),
    _s("agency_rate", "Agency rate: agency FTE / (agency + in post FTE)", "%", "rate", "point",
       "sep30"),
    _s("agency_rate_headcount", "Agency rate by headcount", "%", "rate", "point", "sep30"),
    _s("agency_covering_vacancies_fte", "Agency FTE covering vacancies at 30 September", "FTE",
       "stock", "point", "sep30"),
    _s("agency_covering_vacancies_rate", "Agency FTE covering vacancies, % of agency FTE", "%",
       "rate", "point", "sep30"),
    _s("sw_vacancies_fte", "Vacant social worker posts (FTE) at 30 September", "FTE", "stock",
       "point", "sep30"),
    _s("vacancy_rate", "Vacancy rate: vacancies / (vacancies + FTE in post)", "%", "rate",
       "point", "sep30"),
    _s("vacancies_covered_by_agency_rate", "Vacancies covered by agency workers, % of vacancies",
       "%", "rate", "point", "sep30"),
    _s("case_holders_fte", "Case-holding social workers (FTE) at 30 September", "FTE", "stock",
       "point", "sep30"),
    _s("sw_cases", "Cases held by case-holding social workers at 30 September", "count", "stock",
       "point", "sep30"),
    _s("caseload", "Average caseload: cases / case-holding FTE at 30 September", "cases per FTE",
       "ratio", "point", "sep30"),
    _s("sw_working_days_lost", "Working days lost to sickness in the year to 30 September",
       "days", "flow", "year", "sep30"),
    _s("sw_absence_rate", "Sickness absence: days lost as % of working days", "%", "rate", "year",
       "sep30"),
    # --- population (ONS mid-year estimates) -----------------------------------------------------
    _s("child_population", "Children aged 0-17, ONS mid-year estimate (30 June)", "count",
       "stock", "point", "jun30"),
    # --- Cafcass ------------------------------------------------------------------------------
    _s("cafcass_care_applications", "Care (s31) applications received by Cafcass in the "
       "financial year", "count", "flow", "year"),
    _s("cafcass_care_applications_month", "Care (s31) applications received by Cafcass in the "
       "month", "count", "flow", "month"),
]

SERIES: dict[str, SeriesDef] = {d.name: d for d in _DEFS}

# The canonical model roles that have published data (workload_pressure has none).
ROLE_SERIES: tuple[str, ...] = (
    "referrals", "re_referral_rate", "assessments", "awaiting_assessment", "children_in_need",
    "cp_plans", "cp_plans_started", "s47_enquiries", "social_workers_fte", "agency_fte",
    "vacancy_rate", "turnover_rate", "agency_rate", "caseload",
)


@dataclass(frozen=True)
class SeriesBreak:
    """A change of definition or source: values dated up to `last_before` are not comparable
    with values dated from `first_after`; values in between belong to a transition year."""

    name: str
    series: tuple[str, ...]
    last_before: pd.Timestamp
    first_after: pd.Timestamp
    description: str

    def applies_to(self, series: str) -> bool:
        return series in self.series or any(
            p.endswith("*") and series.startswith(p[:-1]) for p in self.series
        )

    def sides(self, dates: pd.Series | pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
        """Which dates lie before the break (comparable up to it) and which after it."""
        d = pd.DatetimeIndex(pd.to_datetime(dates))
        return np.asarray(d <= self.last_before), np.asarray(d >= self.first_after)

    def spanned(self, dates: pd.Series | pd.DatetimeIndex) -> bool:
        """True when dates lie on both sides of the break, or in its transition and beside it."""
        before, after = self.sides(dates)
        within = ~before & ~after
        return bool((before.any() and after.any()) or (within.any() and (before.any() or after.any())))


_CIN_CENSUS = (
    "referrals", "re_referrals", "re_referral_rate", "children_in_need", "cp_plans",
    "cp_plans_started", "s47_enquiries", "initial_cp_conferences", "initial_assessments",
    "core_assessments", "cin_*",
)
BREAKS: tuple[SeriesBreak, ...] = (
    SeriesBreak(
        "cin_census_2009_10", _CIN_CENSUS,
        pd.Timestamp("2009-03-31"), pd.Timestamp("2011-03-31"),
        "Source changed from the aggregate CPR3 return to the child-level children in need census "
        "in 2009-10; DfE says robust comparisons start in 2010-11 (2009-10 is a transition year, "
        "mixing the change of source with the post-Baby-P surge).",
    ),
    SeriesBreak(
        "single_assessment_2013_14", ("assessments", "initial_assessments", "core_assessments"),
        pd.Timestamp("2013-03-31"), pd.Timestamp("2015-03-31"),
        "Initial and core assessments were replaced by one single assessment; 2013-14 was a "
        "transition year. Counts before and after are not comparable.",
    ),
    SeriesBreak(
        "workforce_census_2017",
        ("social_workers_fte", "social_workers_headcount", "agency_fte", "agency_headcount",
         "agency_rate", "vacancy_rate", "turnover_rate", "caseload", "sw_*"),
        pd.Timestamp("2016-09-30"), pd.Timestamp("2017-09-30"),
        "Workforce figures before the September 2017 census are aggregates or surveys and must "
        "not be spliced onto the census series.",
    ),
)
