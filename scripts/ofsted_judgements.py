"""Write data/ofsted/ilacs_judgements_2018_to_2023.csv from Ofsted's published workbook.

    python scripts/ofsted_judgements.py LA_Inspection_Outcomes_as_at_31_March_2025.ods

Ofsted's "Local authority inspection outcomes as at 31 March 2025" (official statistics,
published 25 September 2025) lists every short and standard ILACS inspection since January 2018
in its sheet `ILACS_inspection_history`. The project keeps the rows published up to 30 September
2023, the date of the last workforce census it holds: later judgements belong to the years kept
aside for an independent check of forecast skill (docs/data.md). The columns are renamed to
snake case, dates written as YYYY-MM-DD and the sheet's row number kept (`source_row`); the
values are otherwise as published. Reading .ods needs odfpy, which only this script uses.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pandas as pd

SHEET = "ILACS_inspection_history"
CUT = pd.Timestamp("2023-09-30")
OUT = Path(__file__).resolve().parents[1] / "data" / "ofsted" / "ilacs_judgements_2018_to_2023.csv"
COLUMNS = {
    "Local authority area code": "area_code",
    "Local authority name": "area_name",
    "Local authority status": "status",
    "Inspection date": "inspection_date",
    "Publication date": "publication_date",
    "Inspection type": "inspection_type",
    "Overall effectiveness": "overall_effectiveness",
    "The impact of leaders on social work practice with children and families": "leaders",
    "The experiences and progress of children who need help and protection":
        "help_and_protection",
    "The experiences and progress of children in care": "children_in_care",
}


def main(path: str) -> None:
    try:
        raw = pd.read_excel(path, engine="odf", sheet_name=SHEET, header=2)
    except ImportError:
        sys.exit("reading .ods needs odfpy: pip install odfpy")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        sys.exit(f"{path}: cannot read sheet {SHEET!r} ({exc}); give Ofsted's local authority "
                 "inspection outcomes workbook (.ods)")
    missing = sorted(set(COLUMNS) - set(raw.columns))
    if missing:
        sys.exit(f"{path}: sheet {SHEET!r} has no column(s) {missing}; is this Ofsted's "
                 "local authority inspection outcomes workbook?")
    t = raw[list(COLUMNS)].rename(columns=COLUMNS)
    t["source_row"] = raw.index + 4  # the sheet's own row number (header on row 3)
    for c in ("inspection_date", "publication_date"):
        dates = pd.to_datetime(t[c], errors="coerce")
        if dates.isna().any():
            row = int(t.loc[dates.isna(), "source_row"].iloc[0])
            sys.exit(f"{path}, sheet {SHEET!r}, row {row}: {c} is not a date")
        t[c] = dates.dt.strftime("%Y-%m-%d")
    kept = t[pd.to_datetime(t["publication_date"]) <= CUT].sort_values(
        ["area_code", "inspection_date"])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    kept.to_csv(OUT, index=False)
    print(f"wrote {OUT} ({len(kept)} of {len(t)} inspections, published up to {CUT:%d %B %Y})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
