"""Statistical neighbours: for each authority, the ten most similar (DfE groupings, April 2021),
for comparisons beside England and the region."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from carespiral.data.areas import find_areas
from carespiral.data.loader import areas
from carespiral.data.published import data_dir
from carespiral.data.tidy import read_rows
from carespiral.errors import CarespiralError, FileFormatError

__all__ = ["neighbours"]

FILE = "dfe/New_Statistical_Neighbour_Groupings_April_2021.csv"


@functools.lru_cache(maxsize=1)
def _groupings(path: Path) -> dict[str, list[tuple[str, str]]]:
    """LA number -> [(neighbour LA number, closeness), ...], closest first."""
    header, rows = read_rows(path, ["LA number", "SN1", "SN10"])
    # The closeness columns are all called SNP; each follows its SN column.
    pos = [header.index(f"SN{k}") for k in range(1, 11)]
    if any(p + 1 >= len(header) or header[p + 1] != "SNP" for p in pos):
        raise FileFormatError(path, "expected an SNP column after each of SN1..SN10", line=1)
    out: dict[str, list[tuple[str, str]]] = {}
    for i, row in enumerate(rows, start=2):
        la = row[header.index("LA number")].strip()
        if not la:  # blank separator rows and the "Old SNs:" heading before pre-2019 areas
            continue
        if not la.isdigit():
            raise FileFormatError(path, f"LA number {la!r} is not a number", line=i,
                                  column="LA number")
        out[la] = [(row[p].strip(), row[p + 1].strip()) for p in pos]
    return out


def neighbours(area: str, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ten statistical neighbours of an authority, closest first.

    Columns: rank, la_code, area_code (the neighbour's latest code in the data), area_name,
    closeness (DfE's words: Extremely Close ... Not Close). Authorities are those of April 2021
    (so Cumbria, not Cumberland; Dorset after 2019).
    """
    known = areas(table)
    las = known[known["area_code"].isin(find_areas(area, known)) & (known["level"] == "la")]
    if las.empty:
        raise CarespiralError(f"{area!r} is not a local authority; neighbours exist only for "
                              "authorities")
    groups = _groupings(data_dir() / FILE)
    latest = known[known["level"] == "la"].sort_values("last_year").drop_duplicates(
        "la_code", keep="last").set_index("la_code")
    for la in las.sort_values("last_year", ascending=False)["la_code"]:
        if la in groups:
            rows = []
            for rank, (code, closeness) in enumerate(groups[la], start=1):
                hit = latest.loc[code] if code in latest.index else None
                rows.append({"rank": rank, "la_code": code,
                             "area_code": "" if hit is None else hit["area_code"],
                             "area_name": "" if hit is None else hit["area_name"],
                             "closeness": closeness})
            return pd.DataFrame(rows)
    raise CarespiralError(f"no statistical neighbours for {area!r}: the April 2021 groupings "
                          f"cover the authorities of 2021 (LA numbers {', '.join(las['la_code'])} "
                          "are not among them)")
