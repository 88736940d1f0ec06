"""Out-of-sample checks: forecasts after the fit-until year against what was published.

The model's forecast (fitted parameters, 95% predictive interval from parameter uncertainty and
the error model) is compared with two naive forecasts made from the fitted years only:
persistence (the last value fitted) and a linear trend (least squares over the fitted years).
Accuracy is the mean absolute scaled error (Hyndman & Koehler 2006): mean absolute forecast
error divided by the mean absolute one-step change within the fitted years, so below 1 beats
the in-sample naive step and the three forecasts can be compared across series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["mase", "naive_forecasts", "summarise_backtest"]


def naive_forecasts(train_years: np.ndarray, train_values: np.ndarray,
                    years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Persistence and linear-trend forecasts for `years` from the training series."""
    order = np.argsort(train_years)
    ty = np.asarray(train_years, dtype=float)[order]
    tv = np.asarray(train_values, dtype=float)[order]
    years = np.asarray(years, dtype=float)
    persistence = np.full(len(years), tv[-1])
    if len(ty) >= 2:
        slope, intercept = np.polyfit(ty, tv, 1)
        trend = intercept + slope * years
    else:
        trend = persistence.copy()
    return persistence, trend


def mase(actual: np.ndarray, forecast: np.ndarray, train_values: np.ndarray) -> float:
    """Mean absolute scaled error; NaN when the training series has no one-step changes."""
    scale = float(np.mean(np.abs(np.diff(np.asarray(train_values, dtype=float)))))
    if not np.isfinite(scale) or scale == 0.0:
        return float("nan")
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))) / scale)


def summarise_backtest(backtest: pd.DataFrame, fitted: pd.DataFrame) -> pd.DataFrame:
    """MASE per series for the model and both naive forecasts, and the 95% interval coverage.

    `backtest` has series, observed, forecast, lower, upper, persistence, trend; `fitted` the
    training rows (series, year, observed).
    """
    rows = []
    for name, g in backtest.groupby("series", sort=False):
        train = fitted[fitted["series"] == name].sort_values("year")["observed"].to_numpy()
        a = g["observed"].to_numpy(dtype=float)
        rows.append({
            "series": name, "n": len(g),
            "mase_model": mase(a, g["forecast"].to_numpy(), train),
            "mase_persistence": mase(a, g["persistence"].to_numpy(), train),
            "mase_trend": mase(a, g["trend"].to_numpy(), train),
            "coverage": float(np.mean((a >= g["lower"].to_numpy()) & (a <= g["upper"].to_numpy()))),
        })
    return pd.DataFrame(rows)
