"""Published statistics as one tidy long table, validated, with boundary changes and breaks.

    >>> from carespiral.data import load
    >>> t = load(series="referrals", area="haringey")
    >>> sorted(set(t["area_name"]))
    ['Haringey']

One row per area, series and reporting period. Columns (see `COLUMNS`):

- area_code, area_name, level (`national`, `regional`, `la`), region_code, region_name, la_code
  (the DfE three-digit LA number);
- series (canonical name, see `carespiral.data.series`), variant (`""` for the primary
  figure; `curated` for a national or Haringey figure that the open data also give; `alt`,
  `as_published`, `revised`, ... for second sources and other vintages);
- year (the published `time_period`), period (a label: `2022-23`, `Sep 2023`, `mid-2023`,
  `2008-12`), period_start, period_end, date (the date the value refers to: 31 March for the
  children in need census, 30 September for the workforce census, 30 June for ONS estimates;
  flows cover period_start..period_end, the 12 months to `date`);
- value (float; NaN where the file has a marker), unit, kind (stock/flow/rate/ratio/change),
  source, confidence (`high` for DfE open data), note (the marker and its meaning, or remarks),
  file and line (where the value was read).

Rule where two sources give the same figure: the DfE open data (2013 onwards, revised) are
primary; the curated figure is kept as variant `curated`. Nothing is spliced across a boundary
change: a reorganised authority has a new area code (see `area_changes()`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import pandas as pd

from carespiral.data.areas import AREA_CHANGES, find_areas
from carespiral.data.published import ENGLAND, RECODED_CODES, Published, read_published
from carespiral.data.series import BREAKS
from carespiral.data.tidy import COLUMNS, LEVELS, MARKERS, validate
from carespiral.data.user_data import load_csv
from carespiral.errors import CarespiralError, UnknownNameError

__all__ = [
    "COLUMNS",
    "ENGLAND",
    "MARKERS",
    "SeriesBreakError",
    "area_changes",
    "areas",
    "check_breaks",
    "coverage",
    "load",
    "load_csv",
    "problems",
    "read_published",
    "select",
    "series_breaks",
    "validate",
]


class SeriesBreakError(CarespiralError):
    """A fit or comparison asked to span a break in a series' definition."""


@functools.lru_cache(maxsize=1)
def _cached() -> Published:
    return read_published()


@functools.lru_cache(maxsize=1)
def _cached_areas() -> pd.DataFrame:
    return areas(_cached().table)


def problems() -> list[str]:
    """Data problems found in the shipped files while loading them."""
    return list(_cached().problems)


def load(
    series: str | Iterable[str] | None = None,
    area: str | Iterable[str] | None = None,
    level: str | None = None,
    include_variants: bool = False,
    dropna: bool = False,
) -> pd.DataFrame:
    """The published statistics as one tidy long table (a copy; the parse is cached).

    series: canonical names (case-insensitive); area: ONS codes, DfE LA numbers or names
    (`"haringey"`); level: national, regional or la; include_variants: also second sources,
    other vintages and curated duplicates of open-data figures; dropna: leave out rows whose
    value is a marker.
    """
    t = _cached().table
    return select(t, series=series, area=area, level=level,
                  include_variants=include_variants, dropna=dropna)


def select(
    table: pd.DataFrame,
    series: str | Iterable[str] | None = None,
    area: str | Iterable[str] | None = None,
    level: str | None = None,
    include_variants: bool = False,
    dropna: bool = False,
) -> pd.DataFrame:
    """Rows of a tidy table by series, area and level, with name checks and suggestions."""
    mask = np.ones(len(table), dtype=bool)
    if not include_variants:
        mask &= (table["variant"] == "").to_numpy()
    if series is not None:
        wanted = [series] if isinstance(series, str) else list(series)
        known = list(table["series"].unique())
        lower = {s.lower(): s for s in known}
        names = []
        for s in wanted:
            if s.strip().lower() not in lower:
                raise UnknownNameError("series", s, known,
                                       hint="`carespiral data list` lists the series.")
            names.append(lower[s.strip().lower()])
        mask &= table["series"].isin(names).to_numpy()
    if level is not None:
        lv = {"local authority": "la", "local": "la", "region": "regional"}.get(
            level.lower(), level.lower())
        if lv not in LEVELS:
            raise UnknownNameError("level", level, LEVELS)
        mask &= (table["level"] == lv).to_numpy()
    if area is not None:
        queries = [area] if isinstance(area, str) else list(area)
        codes: list[str] = []
        known = _cached_areas() if table is _cached().table else areas(table)
        for q in queries:
            codes += find_areas(q, known)
        mask &= table["area_code"].isin(codes).to_numpy()
    out = table[mask]
    if dropna:
        out = out[out["value"].notna()]
    return out.reset_index(drop=True).copy()


def areas(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per area code: name, level, region, DfE LA number and the years it has data."""
    t = _cached().table if table is None else table
    g = t.groupby(["area_code", "area_name", "level"], sort=False)
    out = g.agg(region_code=("region_code", "first"), region_name=("region_name", "first"),
                la_code=("la_code", "first"), first_year=("year", "min"),
                last_year=("year", "max")).reset_index()
    order = {"national": 0, "regional": 1, "la": 2}
    return out.sort_values(["level", "area_name", "first_year"],
                           key=lambda s: s.map(order) if s.name == "level" else s,
                           ignore_index=True)


def coverage(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per series: unit, kind, levels, number of areas with values, first and last year."""
    t = _cached().table if table is None else table
    t = t[t["value"].notna() & (t["variant"] == "")]
    g = t.groupby("series")
    out = g.agg(unit=("unit", "first"), kind=("kind", "first"),
                levels=("level", lambda s: ",".join(sorted(set(s)))),
                areas=("area_code", "nunique"), first=("year", "min"), last=("year", "max"),
                values=("value", "size")).reset_index()
    return out


# ---- boundary changes and breaks -------------------------------------------------------------

def area_changes(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Reorganisations of local authorities, with the years each file shows old and new codes.

    Columns: effective, kind, old_codes, old_names, new_codes, new_names, last_old, first_new,
    description. last_old/first_new summarise the data: the last year with a value under an
    old code and the first year under a new one (per file, e.g. `cin: 2019/2020`), so a user
    can see that workforce (30 September) and CIN (31 March) years change at different times.
    """
    t = _cached().table if table is None else table
    t = t[(t["level"] == "la") & (t["variant"] == "") & t["value"].notna()]
    name = t.groupby("area_code")["area_name"].first().to_dict()
    fam = t["file"].str.extract(r"/(?:([a-z]+\d?)_)")[0]
    rows = []
    for ch in AREA_CHANGES:
        def years(codes: tuple[str, ...], last: bool) -> str:
            sel = t["area_code"].isin(codes)
            # the combined Northamptonshire workforce code counts as new
            if not last and "E06000061" in codes:
                sel |= t["area_code"] == "E06000061 / E06000062"
            g = t[sel].groupby(fam[sel])["year"]
            ys = g.max() if last else g.min()
            return ", ".join(f"{k}: {v}" for k, v in ys.items())

        rows.append({
            "effective": ch.effective.date(), "kind": ch.kind,
            "old_codes": " ".join(ch.old),
            "old_names": "; ".join(name.get(c) or name.get(RECODED_CODES.get(c, ""), "?")
                                   for c in ch.old),
            "new_codes": " ".join(ch.new), "new_names": "; ".join(name.get(c, "?") for c in ch.new),
            "last_old": years(ch.old, True), "first_new": years(ch.new, False),
            "description": ch.description,
        })
    return pd.DataFrame(rows)


def series_breaks(series: str | None = None) -> pd.DataFrame:
    """Breaks in definitions or sources, optionally only those affecting `series`."""
    rows = [{"name": b.name, "series": ", ".join(b.series), "last_before": b.last_before.date(),
             "first_after": b.first_after.date(), "description": b.description}
            for b in BREAKS if series is None or b.applies_to(series)]
    return pd.DataFrame(rows, columns=["name", "series", "last_before", "first_after",
                                       "description"])


def check_breaks(table: pd.DataFrame) -> None:
    """Raise SeriesBreakError if any series in `table` has values on both sides of a break
    (or in its transition years), so a fit cannot silently span a change of definition."""
    t = table[table["value"].notna()]
    found = []
    for s, g in t.groupby("series"):
        for b in BREAKS:
            if b.applies_to(str(s)) and b.spanned(g["date"]):
                found.append(f"{s} crosses break {b.name} (comparable up to "
                             f"{b.last_before.date()} and from {b.first_after.date()}): "
                             f"{b.description}")
    if found:
        raise SeriesBreakError(
            "; ".join(found) + " Select one side, e.g. rows with date >= the break's first_after."
        )
