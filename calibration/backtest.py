"""Out-of-sample checks: forecasts after a cut-off year against what was published.

The model's forecast (fitted parameters, 95% predictive interval from parameter uncertainty and
the error model) is compared with three naive forecasts made from the fitted years only:
persistence (the last value fitted), a linear trend (least squares over the fitted years) and
the in-sample mean. Accuracy is the mean absolute scaled error (Hyndman & Koehler 2006): the
absolute forecast error divided by the mean absolute one-step change within the fitted years,
so below 1 beats the in-sample naive step and the forecasts can be compared across series.

`score_forecasts` scores any table of forecasts this way (one row per series, origin and
forecast year), whoever made them; `summarise_backtest` does it for one cut-off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "NAIVE_RULES",
    "add_naive_forecasts",
    "mase",
    "mase_scale",
    "naive_forecasts",
    "score_forecasts",
    "summarise_backtest",
]

# column -> what it is, for tables and reports
NAIVE_RULES = {"persistence": "the last value fitted", "trend": "a linear trend over the "
               "fitted years", "mean": "the mean of the fitted years"}


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


def mase_scale(train_values: np.ndarray) -> float:
    """The in-sample mean absolute one-step change; NaN with fewer than two values or none."""
    d = np.abs(np.diff(np.asarray(train_values, dtype=float)))
    scale = float(np.mean(d)) if len(d) else float("nan")
    return scale if np.isfinite(scale) and scale > 0 else float("nan")


def mase(actual: np.ndarray, forecast: np.ndarray, train_values: np.ndarray) -> float:
    """Mean absolute scaled error; NaN when the training series has no one-step changes."""
    scale = mase_scale(train_values)
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))) / scale)


def add_naive_forecasts(forecasts: pd.DataFrame, fitted: pd.DataFrame) -> pd.DataFrame:
    """`forecasts` (series, year, ...) with persistence, trend and mean columns made from the
    fitted rows (series, year, observed) of the same series."""
    out = []
    for name, g in forecasts.groupby("series", sort=False):
        train = fitted[fitted["series"] == name].sort_values("year")
        tv = train["observed"].to_numpy(dtype=float)
        pers, trend = naive_forecasts(train["year"].to_numpy(), tv, g["year"].to_numpy())
        out.append(g.assign(persistence=pers, trend=trend, mean=float(np.mean(tv))))
    return pd.concat(out, ignore_index=True)


def summarise_backtest(backtest: pd.DataFrame, fitted: pd.DataFrame) -> pd.DataFrame:
    """MASE per series for the model and the naive forecasts, and the 95% interval coverage.

    `backtest` has series, observed, forecast, lower, upper, persistence, trend (and run, mean
    when present); `fitted` the training rows (series, year, observed).
    """
    rows = []
    for name, g in backtest.groupby("series", sort=False):
        train = fitted[fitted["series"] == name].sort_values("year")["observed"].to_numpy()
        a = g["observed"].to_numpy(dtype=float)
        row = {"series": name, "n": len(g),
               "mase_model": mase(a, g["forecast"].to_numpy(), train)}
        if "run" in g:
            row["mase_run"] = mase(a, g["run"].to_numpy(), train)
        for col in NAIVE_RULES:
            if col in g:
                row[f"mase_{col}"] = mase(a, g[col].to_numpy(), train)
        row["coverage"] = float(np.mean((a >= g["lower"].to_numpy())
                                        & (a <= g["upper"].to_numpy())))
        rows.append(row)
    return pd.DataFrame(rows)


def score_forecasts(forecasts: pd.DataFrame, by: tuple[str, ...] = ("series",)) -> pd.DataFrame:
    """Mean scaled errors and coverage of a table of forecasts, grouped by `by`.

    `forecasts` has one row per forecast: series, origin, year, horizon, observed, forecast,
    lower, upper, the naive columns (persistence, trend, mean), `scale` (the in-sample MASE
    scale at that origin) and optionally `run` and `area`. Each error is scaled by its own
    origin's scale, then averaged: MASE over origins and horizons. Rows without a scale (a
    series with fewer than two fitted values at that origin) are left out.
    """
    f = forecasts[np.isfinite(forecasts["scale"].to_numpy(dtype=float))
                  & forecasts["observed"].notna()]
    cols = [c for c in ("forecast", "run", *NAIVE_RULES) if c in f]
    scaled = {c: (f[c] - f["observed"]).abs() / f["scale"] for c in cols}
    frame = f[list(by)].copy()
    for c in cols:
        frame[f"mase_{'model' if c == 'forecast' else c}"] = scaled[c]
    frame["inside"] = ((f["observed"] >= f["lower"]) & (f["observed"] <= f["upper"])).astype(float)
    g = frame.groupby(list(by), sort=False)
    out = g.mean().rename(columns={"inside": "coverage"})
    out.insert(0, "n", g.size())
    return out.reset_index()
