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

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from carespiral.data.loader import load
from carespiral.results import Result

__all__ = ["COUNT_SERIES", "FLOW_SERIES", "RATE_SERIES", "ModelRanges", "model_ranges",
           "observed_ranges"]

# Counts compared per 10,000 children: stocks at their date, flows over their year.
COUNT_SERIES = ("referrals", "awaiting_assessment", "children_in_need", "cp_plans",
                "s47_enquiries", "social_workers_fte", "agency_fte")
# Of those, flows: published over a year, the models' flows are per month (or per year).
FLOW_SERIES = ("referrals", "s47_enquiries")
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


# ---- the ranges in one model's units ---------------------------------------------------------


@dataclass
class ModelRanges(Result):
    """The observed ranges put in the units of one model's variables, for its catalogue roles.

    `table`: one row per model variable: variable, series (= role), low and high as published
    (per 10,000 children for counts, else % or cases per FTE), unit (the published form), where
    the low and high were recorded, the years on record, `per_child` (a count compared per
    10,000 children) and `factor` (model units per published unit: 1/12 for a monthly flow
    against a yearly figure, 0.01 for a share against a percentage). `children` is the child
    population of the run the ranges are for (None when the model has none: counts are then
    left out). `bounds` gives a variable's range in the model's units for any population.
    """

    table: pd.DataFrame
    model: str
    children: float | None = None

    kind: ClassVar[str] = "observed_ranges"

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def summary(self) -> dict[str, Any]:
        return {"model": self.model, "children": self.children,
                "variables": list(self.table["variable"]) if len(self.table) else []}

    def row(self, variable: str) -> pd.Series | None:
        """The range of a model variable (None when it has none)."""
        hit = self.table[self.table["variable"] == variable] if len(self.table) else self.table
        return hit.iloc[0] if len(hit) else None

    def bounds(self, variable: str, children: float | None = None
               ) -> tuple[float, float] | None:
        """(low, high) in the model's units of `variable`, for `children` children (default:
        the run's); None when the variable has no range or a count lacks a population."""
        r = self.row(variable)
        if r is None:
            return None
        scale = float(r["factor"])
        if bool(r["per_child"]):
            n = self.children if children is None else children
            if n is None or not np.isfinite(n) or n <= 0:
                return None
            scale *= float(n) / 10_000
        return float(r["low"]) * scale, float(r["high"]) * scale

    def published(self, variable: str, value: float, children: float | None = None) -> float:
        """A model value of `variable` in the published form of its range (per 10,000
        children, %, ...); NaN when it cannot be put so."""
        r = self.row(variable)
        b = self.bounds(variable, children)
        if r is None or b is None:
            return float("nan")
        scale = b[1] / float(r["high"]) if float(r["high"]) else float("nan")
        return float(value) / scale if scale else float("nan")


def _is_percent(units: str) -> bool:
    u = (units or "").lower()
    return "%" in u or "percent" in u


def model_ranges(model: Any, children: float | None = None,
                 ranges: pd.DataFrame | None = None) -> ModelRanges:
    """`observed_ranges` in the units of `model`'s variables (a `Model` of the runner), for
    each output role that has a range.

    `children`: the child population of the run (default: the model's `child_population`
    driver at its default value; without one, count series are left out). Flows are compared
    at their yearly rate (a monthly flow times 12), shares as percentages, as the observation
    operators of `carespiral.data.observe` put them.
    """
    r = observed_ranges() if ranges is None else ranges
    units = {v.name: v.units for v in getattr(model, "variables", [])}
    roles = dict(getattr(model, "outputs", {}) or {})
    entry = getattr(model, "entry", None)
    per_year = str(getattr(entry, "time_unit", "Month") or "Month").lower().startswith("year")
    if children is None and "child_population" in (getattr(model, "drivers", {}) or {}):
        children = float(model.parameter(model.drivers["child_population"]).default)
    rows = []
    for role, var in roles.items():
        if role not in r.index:
            continue
        per_child = role in COUNT_SERIES
        if per_child and children is None:
            continue
        factor = 1.0
        if role in FLOW_SERIES and not per_year:
            factor = 1.0 / 12.0
        if role in RATE_SERIES and r.loc[role, "unit"] == "%" and not _is_percent(units.get(var, "")):
            factor = 0.01
        rows.append({"variable": var, "series": role, "low": float(r.loc[role, "min"]),
                     "high": float(r.loc[role, "max"]), "unit": str(r.loc[role, "unit"]),
                     "low_at": str(r.loc[role, "min_at"]), "high_at": str(r.loc[role, "max_at"]),
                     "per_child": per_child, "factor": factor})
    cols = ["variable", "series", "low", "high", "unit", "low_at", "high_at", "per_child",
            "factor"]
    return ModelRanges(pd.DataFrame(rows, columns=cols), str(getattr(model, "name", "")),
                       children)
