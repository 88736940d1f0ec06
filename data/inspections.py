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
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.pysd_runner.calendar import reference_months

__all__ = ["INADEQUATE", "JUDGEMENT_FILE", "JUDGEMENT_MONTHS", "inadequate_input", "judgements"]

JUDGEMENT_FILE = Path(__file__).resolve().parent / "ofsted" / "ilacs_judgements_2018_to_2023.csv"
JUDGEMENT_MONTHS = 6.0
INADEQUATE = "Inadequate"
_EDGE = 1e-3  # months: the pulse's edges, steep under linear interpolation


@lru_cache(maxsize=1)
def _all() -> pd.DataFrame:
    try:
        t = pd.read_csv(JUDGEMENT_FILE, parse_dates=["inspection_date", "publication_date"])
    except (OSError, ValueError) as exc:
        raise CarespiralError(f"{JUDGEMENT_FILE}: cannot read Ofsted's judgements ({exc}); "
                              "reinstall carespiral or rewrite it with "
                              "scripts/ofsted_judgements.py") from exc
    return t


def judgements(area_code: str | None = None, until: pd.Timestamp | None = None) -> pd.DataFrame:
    """The inspections (one row each, oldest first) of `area_code` (ONS code; all when None)
    whose reports were published up to `until` (all shipped when None)."""
    t = _all()
    if area_code is not None:
        t = t[t["area_code"] == area_code]
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
    starts = np.sort(reference_months(pd.DatetimeIndex(dates)))
    points: dict[float, float] = {0.0: 0.0}
    for s in starts:
        end = s + JUDGEMENT_MONTHS
        points[s - _EDGE] = points.get(s - _EDGE, 0.0)
        points[s] = 1.0
        points[end] = 1.0
        points[end + _EDGE] = 0.0
    s = pd.Series(points, name="Inadequate Judgement").sort_index()
    return s[~s.index.duplicated(keep="last")]
