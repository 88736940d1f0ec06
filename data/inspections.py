"""Ofsted's judgements of each authority's children's services, and the local shocks they are.

    >>> from carespiral.data.inspections import judgements, inadequate_input
    >>> j = judgements("E06000002")                        # Middlesbrough
    >>> j.loc[0, ["publication_date", "overall_effectiveness"]].tolist()
    [Timestamp('2020-01-24 00:00:00'), 'Inadequate']
    >>> inadequate_input("E06000002").max()                # the model's time input
    1.0

The shipped file (`ofsted/ilacs_judgements_2018_to_2023.csv`, written from Ofsted's workbook by
`scripts/ofsted_judgements.py`; PROVENANCE.md) holds every short and standard inspection under
the ILACS framework from January 2018 whose report was published by 30 September 2023. Earlier
frameworks' judgements (2013-2017) are not in it, so an authority judged inadequate only then
has no local shock in its run.

`inadequate_input` is the collapse-spiral model's time input `Inadequate Judgement`: 1 for
`JUDGEMENT_MONTHS` months from the publication of each report that judged the services
inadequate overall, 0 otherwise; the model turns it into a local scandal of calibrated size
(`Inadequate Judgement Size`). Six months is the model's `Scandal Duration` (how long a national
scandal stays in the news); a judgement's monitoring visits go on longer, and their pressure
reaches the model through the inspection pressure and risk aversion it raises, which decay at
their own calibrated speeds. With `until`, only reports published up to it count (ex ante).

An authority created by a reorganisation inherits the judgements of the council whose
children's services it took over that were published before it existed (`PREDECESSORS`): North
and West Northamptonshire (1 April 2021) inherit Northamptonshire's, whose services, staff and
procedures passed on through the Northamptonshire Children's Trust; Bournemouth, Christchurch
and Poole and Dorset (1 April 2019) inherit Bournemouth's, Poole's and Dorset County Council's.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.calendar import reference_months

__all__ = ["INADEQUATE", "JUDGEMENT_FILE", "JUDGEMENT_MONTHS", "PREDECESSORS", "inadequate_input",
           "judgements"]

JUDGEMENT_FILE = Path(__file__).resolve().parent / "ofsted" / "ilacs_judgements_2018_to_2023.csv"
JUDGEMENT_MONTHS = 6.0
INADEQUATE = "Inadequate"
_EDGE = 1e-3  # months: the pulse's edges, steep under linear interpolation
# successor -> (the date it took over, the councils whose children's services it took over)
PREDECESSORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "E06000061": ("2021-04-01", ("E10000021",)),  # North Northamptonshire <- Northamptonshire
    "E06000062": ("2021-04-01", ("E10000021",)),  # West Northamptonshire <- Northamptonshire
    "E06000058": ("2019-04-01", ("E06000028", "E06000029")),  # BCP <- Bournemouth, Poole
    "E06000059": ("2019-04-01", ("E10000009",)),  # Dorset <- Dorset County Council
}


@lru_cache(maxsize=1)
def _all() -> pd.DataFrame:
    hint = "reinstall carespiral or rewrite it with scripts/ofsted_judgements.py"
    try:
        t = pd.read_csv(JUDGEMENT_FILE, parse_dates=["inspection_date", "publication_date"])
    except (OSError, ValueError) as exc:
        raise CarespiralError(f"{JUDGEMENT_FILE}: cannot read Ofsted's judgements ({exc}); "
                              f"{hint}") from exc
    bad = t[t[["inspection_date", "publication_date"]].isna().any(axis=1)]
    if len(bad):
        raise CarespiralError(f"{JUDGEMENT_FILE}, line {int(bad.index[0]) + 2}: no inspection or "
                              f"publication date; {hint}")
    return t


@lru_cache(maxsize=1)
def _codes() -> frozenset[str]:
    """The shipped data's area codes (grouping the whole table takes about 40 ms: once)."""
    from carespiral.data.loader import areas

    return frozenset(areas()["area_code"])


def _known(area_code: str) -> None:
    if area_code not in _codes():
        raise CarespiralError(f"Ofsted judgements: {area_code!r} is not an area code in the "
                              "shipped data; give an ONS code such as E06000002 (find one with "
                              "`carespiral data list --areas`)")


def judgements(area_code: str | None = None, until: pd.Timestamp | None = None) -> pd.DataFrame:
    """The inspections (one row each, oldest first) of `area_code` (ONS code; all when None)
    whose reports were published up to `until` (all shipped when None). An authority created
    by a reorganisation also has its predecessors' inspections published before it existed
    (`PREDECESSORS`: North and West Northamptonshire have Northamptonshire's 2019 judgement of
    inadequate); their rows keep the predecessor's code and name."""
    t = _all()
    if area_code is not None:
        _known(area_code)
        own = t["area_code"] == area_code
        if area_code in PREDECESSORS:
            created, before = PREDECESSORS[area_code]
            own |= t["area_code"].isin(before) & (t["publication_date"] < pd.Timestamp(created))
        t = t[own]
    if until is not None:
        t = t[t["publication_date"] <= pd.Timestamp(until)]
    return t.sort_values("inspection_date").reset_index(drop=True)


def inadequate_input(area_code: str, until: pd.Timestamp | None = None) -> pd.Series:
    """The model's `Inadequate Judgement` over model months for one authority: points (month ->
    0 or 1) for linear interpolation, 1 for JUDGEMENT_MONTHS from each inadequate report's
    publication; a single 0 when there is none (held, so 0 throughout)."""
    j = judgements(area_code, until)
    dates = j.loc[j["overall_effectiveness"] == INADEQUATE, "publication_date"]
    if dates.empty:
        return pd.Series([0.0], index=[0.0], name="Inadequate Judgement")
    spells: list[list[float]] = []  # [start, end] of each spell on, overlapping ones joined
    for start in np.sort(reference_months(pd.DatetimeIndex(dates))):
        end = float(start) + JUDGEMENT_MONTHS
        if spells and start <= spells[-1][1] + _EDGE:
            spells[-1][1] = max(spells[-1][1], end)
        else:
            spells.append([float(start), end])
    points = [(0.0, 0.0)]
    for start, end in spells:
        points += [(start - _EDGE, 0.0), (start, 1.0), (end, 1.0), (end + _EDGE, 0.0)]
    return pd.Series(dict(points), name="Inadequate Judgement")
