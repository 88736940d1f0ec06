"""What real authorities look like: observed ranges across all authorities and years.

    >>> from carespiral.data.ranges import observed_ranges
    >>> r = observed_ranges()
    >>> r.loc["awaiting_assessment", "unit"]
    'per 10,000 children'

Counts are put per 10,000 children (the authority's ONS mid-year estimate of the same year;
years before the first estimate, mid-2012, use mid-2012's), rates and caseloads are taken as
published. A model that claims to show a failing authority should stay within these ranges:
the worst authority-year on record is the edge of what a real service has looked like.

Authorities with fewer than `min_children` children (the Isles of Scilly and the City of London,
under 2,000) are left out: a handful of children there moves a rate per 10,000 by hundreds.
"""

from __future__ import annotations

import pandas as pd

from carespiral.data.loader import load

__all__ = ["COUNT_SERIES", "RATE_SERIES", "observed_ranges"]

# Counts compared per 10,000 children: stocks at their date, flows over their year.
COUNT_SERIES = ("referrals", "awaiting_assessment", "children_in_need", "cp_plans",
                "s47_enquiries", "social_workers_fte", "agency_fte")
# Rates (percent) and ratios compared as published.
RATE_SERIES = ("re_referral_rate", "referrals_nfa_rate", "vacancy_rate", "agency_rate",
               "turnover_rate", "caseload")


def observed_ranges(table: pd.DataFrame | None = None, min_children: float = 2000.0
                    ) -> pd.DataFrame:
    """Per series: unit, number of authority-years, min, 1st percentile, median, 99th
    percentile and max, and the authority and year of the min and the max."""
    t = load(level="la") if table is None else table[table["level"] == "la"]
    t = t[t["value"].notna() & (t["variant"].fillna("") == "")]
    pop = t[t["series"] == "child_population"][["area_code", "year", "value"]]
    pop = pop.rename(columns={"value": "children"})
    first_pop = int(pop["year"].min())
    rows = []
    for series in (*COUNT_SERIES, *RATE_SERIES):
        g = t[t["series"] == series][["area_code", "area_name", "year", "value"]].copy()
        g["py"] = g["year"].clip(lower=first_pop, upper=int(pop["year"].max()))
        g = g.merge(pop.rename(columns={"year": "py"}), on=["area_code", "py"], how="inner")
        g = g[g["children"] >= min_children]
        if series in COUNT_SERIES:
            g["v"] = g["value"] / g["children"] * 10_000
            unit = "per 10,000 children"
        else:
            g["v"] = g["value"]
            unit = "cases per FTE" if series == "caseload" else "%"
        lo, hi = g["v"].idxmin(), g["v"].idxmax()
        q = g["v"].quantile([0.01, 0.5, 0.99]).to_numpy()
        rows.append({
            "series": series, "unit": unit, "n": len(g), "min": g.loc[lo, "v"], "p01": q[0],
            "median": q[1], "p99": q[2], "max": g.loc[hi, "v"],
            "min_at": f"{g.loc[lo, 'area_name']} {int(g.loc[lo, 'year'])}",
            "max_at": f"{g.loc[hi, 'area_name']} {int(g.loc[hi, 'year'])}",
        })
    return pd.DataFrame(rows).set_index("series")
