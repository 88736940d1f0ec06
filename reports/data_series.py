"""What a published series is, for a reader, and how counts are put per 10,000 children:
shared by the data report's figures, its ranking and its verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carespiral.data.series import SERIES
from carespiral.pysd_runner.catalog import naming

__all__ = ["describe", "is_count", "lower_first", "per_10k", "population", "published_form",
           "unit_of"]


def unit_of(tab: pd.DataFrame, series: str) -> str:
    units = tab.loc[tab["series"] == series, "unit"].dropna()
    return str(units.iloc[0]) if len(units) else ""


def _is_rate(unit: str) -> bool:
    u = unit.lower()
    return "%" in u or "per" in u or "rate" in u or "ratio" in u or u in ("1", "dmnl")


def is_count(tab: pd.DataFrame, series: str) -> bool:
    """Counts (stocks and flows) scale with an area's size; rates and ratios do not."""
    if "kind" in tab.columns:
        kinds = tab.loc[tab["series"] == series, "kind"].dropna()
        if len(kinds):
            return str(kinds.iloc[0]) in ("stock", "flow")
    return not _is_rate(unit_of(tab, series))


def describe(series: str) -> str:
    """A series' name for a reader: the catalogue's label of its role, else its published
    description, else its name in words."""
    nm = naming(series)
    if nm.role:
        return nm.label
    d = SERIES.get(series)
    return d.description if d is not None else series.replace("_", " ").capitalize()


_CENSUS = {"mar31": "31 March", "sep30": "30 September", "jun30": "30 June"}


def published_form(series: str, unit: str = "") -> str:
    """What a published value is, with its date: "children in need on 31 March",
    "% of referrals in the year to 31 March"."""
    nm = naming(series)
    if nm.role and nm.published:
        return nm.published
    d = SERIES.get(series)
    unit = unit or (d.unit if d else "")
    if d is None:
        return unit or "value (unit not given)"
    when = _CENSUS.get(d.census, "")
    words = {"count": "number", "%": "%"}.get(unit, unit)
    if not when:
        return words
    return f"{words} in the year to {when}" if d.span == "year" else f"{words} at {when}"


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def population(tab: pd.DataFrame) -> dict[tuple[str, int], float]:
    """Child population by (area code, calendar year), from a child_population series if any."""
    pop = tab[(tab["series"] == "child_population") & tab["value"].notna()]
    return {(str(c), int(d.year)): float(v)
            for c, d, v in zip(pop["area_code"], pop["date"], pop["value"], strict=True)}


def per_10k(rows: pd.DataFrame, pop: dict[tuple[str, int], float]) -> np.ndarray:
    """Values per 10,000 children (mid-year estimate of the same calendar year, within six
    months of both the 31 March and the 30 September censuses); NaN without an estimate."""
    denom = np.array([pop.get((str(c), int(d.year)), np.nan)
                      for c, d in zip(rows["area_code"], rows["date"], strict=True)], dtype=float)
    return rows["value"].to_numpy(dtype=float) / denom * 1e4
