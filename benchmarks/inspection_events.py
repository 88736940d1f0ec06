"""Event study: what followed an Ofsted judgement of inadequate, in the published local series.

    python benchmarks/inspection_events.py [--out benchmarks/history/inspection_events.csv]

For every short or standard ILACS inspection in the shipped file (reports published by
September 2023, `carespiral.data.inspections`) with its report published before April 2021, the
reporting year it falls in is y0 (the year to 31 March). For each series the log change of the
authority's figure from year y0-1 to year y0+k (k = 1, 2) is compared with the median log change
of all authorities over the same years ("excess change"), and the excess changes are averaged
by overall judgement. Only reporting years up to 2023 are read. This is descriptive evidence for
the model's local shock (`Inadequate Judgement Size` in models/collapse_spiral.mdl), not a
causal estimate: inspections are not random, and an authority may be inspected because it was
already struggling.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SERIES = ("referrals", "s47_enquiries", "cp_plans_started", "cp_plans", "children_in_need",
          "re_referral_rate", "caseload", "social_workers_fte")
LAST_INSPECTION = pd.Timestamp("2021-03-31")


def excess_changes(table: pd.DataFrame, judged: pd.DataFrame, ks=(1, 2)) -> pd.DataFrame:
    la = table[(table["level"] == "la") & (table["variant"].fillna("") == "")]
    rows = []
    for s in SERIES:
        wide = la[la["series"] == s].pivot_table(index="area_code", columns="year",
                                                 values="value")
        logs = np.log(wide.where(wide > 0))
        for _, r in judged.iterrows():
            a, y0 = r["area_code"], int(r["year"])
            if a not in logs.index:
                continue
            for k in ks:
                if y0 - 1 not in logs.columns or y0 + k not in logs.columns:
                    continue
                change = logs[y0 + k] - logs[y0 - 1]
                if not np.isfinite(change.get(a, np.nan)):
                    continue
                rows.append({"series": s, "k": k, "judgement": r["overall_effectiveness"],
                             "area_code": a, "year": y0,
                             "excess": float(change[a] - change.median())})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None, help="write the summary table here (CSV)")
    args = ap.parse_args()
    from carespiral import data
    from carespiral.data.inspections import judgements

    table = data.load()
    table = table[table["year"] <= 2023]
    j = judgements()
    j = j[j["publication_date"] <= LAST_INSPECTION].copy()
    d = j["publication_date"]
    j["year"] = np.where(d.dt.month >= 4, d.dt.year + 1, d.dt.year)
    ex = excess_changes(table, j)
    summary = (ex.groupby(["series", "k", "judgement"])["excess"]
               .agg(mean="mean", sem="sem", n="count").reset_index())
    summary["mean"] = summary["mean"].round(3)
    summary["sem"] = summary["sem"].round(3)
    wide = summary.pivot_table(index=["series", "k"], columns="judgement", values="mean")
    print(f"{len(j)} inspections published January 2018 to March 2021; excess log change "
          "from the year before the report's year, against the median authority:")
    print(wide.to_string())
    bad = summary[summary["judgement"] == "Inadequate"]
    print("\nInadequate, mean (standard error, n):")
    for _, r in bad.iterrows():
        print(f"  {r['series']:<20} +{r['k']} year(s): {r['mean']:+.3f} ({r['sem']:.3f}, "
              f"{int(r['n'])})")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        summary.to_csv(args.out, index=False)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
