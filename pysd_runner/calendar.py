"""Model time (months from a start date) to calendar dates, and back."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = ["date_to_month", "months_to_dates"]


def months_to_dates(months: np.ndarray, start: dt.date) -> pd.DatetimeIndex:
    """Calendar dates for model times in months; fractions of a month are spread over its days."""
    months = np.asarray(months, dtype=float)
    whole = np.floor(months).astype(int)
    frac = months - whole
    base = pd.Timestamp(start)
    firsts = pd.DatetimeIndex([base + pd.DateOffset(months=int(m)) for m in whole])
    nexts = pd.DatetimeIndex([base + pd.DateOffset(months=int(m) + 1) for m in whole])
    return firsts + (nexts - firsts) * frac


def date_to_month(date: dt.date | str, start: dt.date) -> float:
    """Model time (months since `start`) of a calendar date."""
    d = pd.Timestamp(date)
    s = pd.Timestamp(start)
    whole = (d.year - s.year) * 12 + (d.month - s.month)
    first = s + pd.DateOffset(months=whole)
    nxt = s + pd.DateOffset(months=whole + 1)
    return whole + (d - first) / (nxt - first)
