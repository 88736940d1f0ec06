"""Model time (months from a start date) and calendar dates: every conversion, in one place.

Model time 0 is the model's start date (1 April 2005 for the bundled models, `DEFAULT_START`);
a month is a calendar month, and a time between two whole months is spread over the days of
that month. A published figure refers to the END of its day (31 March 2013 is model month 96,
30 September 2017 month 150), so `reference_months` and `reference_dates` convert those.

    >>> reference_months(["2013-03-31", "2017-09-30"]).tolist()
    [96.0, 150.0]
    >>> str(reference_dates([96.0])[0].date())
    '2013-03-31'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_START",
    "date_to_month",
    "dates_to_months",
    "months_to_dates",
    "reference_dates",
    "reference_months",
]

DEFAULT_START = dt.date(2005, 4, 1)
_DAY = pd.Timedelta(days=1)


def months_to_dates(months: np.ndarray | Iterable[float], start: Any = DEFAULT_START
                    ) -> pd.DatetimeIndex:
    """Calendar dates for model times in months; fractions of a month are spread over its days."""
    months = np.atleast_1d(np.asarray(months, dtype=float))
    whole = np.floor(months).astype(int)
    edges = _month_starts(np.concatenate([whole, whole + 1]), start)
    firsts = pd.DatetimeIndex([edges[m] for m in whole])
    nexts = pd.DatetimeIndex([edges[m + 1] for m in whole])
    return firsts + (nexts - firsts) * (months - whole)


def dates_to_months(dates: Any, start: Any = DEFAULT_START) -> np.ndarray:
    """Model times (months since `start`) of calendar dates (at the start of their day)."""
    d = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(np.asarray(dates, dtype=object))))
    s = pd.Timestamp(start)
    whole = np.asarray((d.year - s.year) * 12 + (d.month - s.month), dtype=int)
    edges = _month_starts(np.concatenate([whole - 1, whole, whole + 1]), start)
    # a start late in a month (the 31st) can put a date before its own month's boundary
    whole = whole - (d < pd.DatetimeIndex([edges[w] for w in whole]))
    first = pd.DatetimeIndex([edges[w] for w in whole])
    nxt = pd.DatetimeIndex([edges[w + 1] for w in whole])
    return np.asarray(whole + (d - first) / (nxt - first), dtype=float)


def date_to_month(date: Any, start: Any = DEFAULT_START) -> float:
    """Model time (months since `start`) of one calendar date."""
    return float(dates_to_months([date], start)[0])


def reference_months(dates: Any, start: Any = DEFAULT_START) -> np.ndarray:
    """Model times at the END of each date's day (the date plus one day): the time a published
    figure refers to."""
    d = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(np.asarray(dates, dtype=object))))
    return dates_to_months(d + _DAY, start)


def reference_dates(months: np.ndarray | Iterable[float], start: Any = DEFAULT_START
                    ) -> pd.DatetimeIndex:
    """The dates whose end falls at each model time (whole months give the month's last day)."""
    return months_to_dates(months, start) - _DAY


def _month_starts(whole: np.ndarray, start: Any) -> dict[int, pd.Timestamp]:
    """`start` moved by each number of whole months (each distinct number computed once)."""
    base = pd.Timestamp(start)
    return {int(w): base + pd.DateOffset(months=int(w)) for w in np.unique(whole)}
