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
    first = _month_starts(whole, start)
    return pd.DatetimeIndex(first + (_month_starts(whole + 1, start) - first) * (months - whole))


def dates_to_months(dates: Any, start: Any = DEFAULT_START) -> np.ndarray:
    """Model times (months since `start`) of calendar dates (at the start of their day)."""
    d = _as_dates(dates)
    s = pd.Timestamp(start)
    whole = np.asarray((d.year - s.year) * 12 + (d.month - s.month), dtype=int)
    at = d.to_numpy(dtype="datetime64[ns]")
    # a start late in a month (the 31st) can put a date before its own month's boundary
    whole = whole - (at < _month_starts(whole, start))
    first = _month_starts(whole, start)
    return np.asarray(whole + (at - first) / (_month_starts(whole + 1, start) - first),
                      dtype=float)


def date_to_month(date: Any, start: Any = DEFAULT_START) -> float:
    """Model time (months since `start`) of one calendar date."""
    return float(dates_to_months([date], start)[0])


def reference_months(dates: Any, start: Any = DEFAULT_START) -> np.ndarray:
    """Model times at the END of each date's day (the date plus one day): the time a published
    figure refers to."""
    d = _as_dates(dates)
    return dates_to_months(d + _DAY, start)


def reference_dates(months: np.ndarray | Iterable[float], start: Any = DEFAULT_START
                    ) -> pd.DatetimeIndex:
    """The dates whose end falls at each model time (whole months give the month's last day)."""
    return months_to_dates(months, start) - _DAY


def _as_dates(dates: Any) -> pd.DatetimeIndex:
    if isinstance(dates, str | dt.date | np.datetime64):  # one date (Timestamp is a date)
        dates = [dates]
    return pd.DatetimeIndex(pd.to_datetime(dates))


def _month_starts(whole: np.ndarray, start: Any) -> np.ndarray:
    """`start` moved by each number of whole months (datetime64[ns])."""
    base = pd.Timestamp(start)
    if base.day == 1 and base == base.normalize():  # the first of a month: numpy month steps
        return (np.datetime64(base.date(), "M") + whole).astype("datetime64[ns]")
    # later in a month, a short month clamps the day (31 January + 1 month = 28 February)
    moved = {w: base + pd.DateOffset(months=int(w)) for w in np.unique(whole).tolist()}
    return np.array([moved[w] for w in whole.tolist()], dtype="datetime64[ns]")
