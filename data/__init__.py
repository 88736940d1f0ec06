"""Published statistics shipped with carespiral, and the data layer that reads them.

The raw files sit beside this module as published (`dfe/`, `curated/`; provenance in
PROVENANCE.md). `load` reads them into one tidy long table (cached), checked on the way; the
series catalogue, areas and their reorganisations, statistical neighbours and a user's own files
are here too, and `observe` says what a model run gives for a published figure.

    >>> from carespiral import data
    >>> t = data.load(series="re_referral_rate", area="haringey")
    >>> t.loc[t["year"] == 2020, "value"].item()
    17.8
"""

from carespiral.data.areas import AREA_CHANGES, AreaChange, find_areas
from carespiral.data.loader import (
    COLUMNS,
    ENGLAND,
    MARKERS,
    SeriesBreakError,
    area_changes,
    areas,
    check_breaks,
    coverage,
    load,
    load_csv,
    problems,
    read_published,
    select,
    series_breaks,
    validate,
)
from carespiral.data.neighbours import neighbours
from carespiral.data.series import BREAKS, ROLE_SERIES, SERIES, SeriesBreak, SeriesDef

__all__ = [
    "AREA_CHANGES",
    "BREAKS",
    "COLUMNS",
    "ENGLAND",
    "MARKERS",
    "ROLE_SERIES",
    "SERIES",
    "AreaChange",
    "SeriesBreak",
    "SeriesBreakError",
    "SeriesDef",
    "area_changes",
    "areas",
    "check_breaks",
    "coverage",
    "find_areas",
    "load",
    "load_csv",
    "neighbours",
    "problems",
    "read_published",
    "select",
    "series_breaks",
    "validate",
]
