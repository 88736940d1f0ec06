"""Fit statistics the way a historical fit is read (Sterman 1984), with its trend.

For simulated values S and actual values A (n points):

- R²: the coefficient of determination 1 - SSE/SST, SSE = sum (A - S)², SST = sum (A - mean A)²:
  the share of the series' variation the fit explains. It is negative when the fit is worse
  than the series' own mean, and never flatters a fit that runs against the data (a squared
  correlation would: r = -0.9 gives 0.81);
- r: the signed correlation of S and A;
- trend: the least-squares slopes of A and of S against time (a year) and whether their signs
  agree. An observed trend is `clear` when its slope is at least twice its standard error (the
  t-statistic of the fitted line); a wrong sign on a clear trend means the fit runs against
  the data;
- MAPE: mean |S - A| / |A|, in percent; RMSE: root mean squared error;
- Theil's decomposition of the mean squared error, with population (1/n) moments:
  MSE = (mean S - mean A)² + (s_S - s_A)² + 2 (1 - r) s_S s_A, and
  U^M, U^S, U^C are the three terms over MSE (they add up to 1): bias, unequal variation and
  unequal covariation. A good fit has small errors concentrated in U^C (unsystematic);
- residual autocorrelation at lag 1 (A - S), and the Durbin-Watson statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["fit_statistics", "fit_table", "theil", "trend"]

CLEAR_TREND_T = 2.0  # an observed slope this many standard errors from 0 is a clear trend


def theil(simulated: np.ndarray, actual: np.ndarray) -> tuple[float, float, float]:
    """Theil's inequality proportions (U^M, U^S, U^C); NaN when the fit is exact."""
    s = np.asarray(simulated, dtype=float)
    a = np.asarray(actual, dtype=float)
    mse = float(np.mean((s - a) ** 2))
    if mse == 0.0:
        return float("nan"), float("nan"), float("nan")
    ss, sa = float(np.std(s)), float(np.std(a))
    r = _corr(s, a)
    um = (float(np.mean(s)) - float(np.mean(a))) ** 2 / mse
    us = (ss - sa) ** 2 / mse
    uc = 2.0 * (1.0 - r) * ss * sa / mse if np.isfinite(r) else 1.0 - um - us
    return um, us, uc


def _corr(s: np.ndarray, a: np.ndarray) -> float:
    ss, sa = np.std(s), np.std(a)
    if ss == 0 or sa == 0:
        return float("nan")
    return float(np.mean((s - s.mean()) * (a - a.mean())) / (ss * sa))


def trend(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on t and its t-statistic (NaN with fewer than 3 points)."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    n = len(t)
    if n < 2 or np.ptp(t) == 0:
        return float("nan"), float("nan")
    tc = t - t.mean()
    slope = float(np.sum(tc * (y - y.mean())) / np.sum(tc * tc))
    if n < 3:
        return slope, float("nan")
    resid = y - y.mean() - slope * tc
    se = float(np.sqrt(np.sum(resid**2) / (n - 2) / np.sum(tc * tc)))
    if se == 0:
        return slope, (float(np.copysign(np.inf, slope)) if slope else float("nan"))
    return slope, slope / se


def fit_statistics(simulated: np.ndarray, actual: np.ndarray,
                   times: np.ndarray | None = None) -> dict[str, float | str]:
    """All statistics of one series as a dict (see the module docstring); `times` in years
    (default 0, 1, 2, ...)."""
    s = np.asarray(simulated, dtype=float)
    a = np.asarray(actual, dtype=float)
    t = np.arange(len(a), dtype=float) if times is None else np.asarray(times, dtype=float)
    e = a - s
    n = len(a)
    r = _corr(s, a) if n > 1 else float("nan")
    um, us, uc = theil(s, a)
    with np.errstate(divide="ignore", invalid="ignore"):
        mape = float(np.mean(np.abs(e) / np.abs(a)) * 100.0)
    if n > 2 and np.std(e) > 0:
        ec = e - e.mean()
        ac1 = float(np.sum(ec[1:] * ec[:-1]) / np.sum(ec * ec))
    else:
        ac1 = float("nan")
    dw = float(np.sum(np.diff(e) ** 2) / np.sum(e * e)) if n > 1 and np.any(e) else float("nan")
    sst = float(np.sum((a - a.mean()) ** 2))
    r2 = 1.0 - float(np.sum(e * e)) / sst if sst > 0 else float("nan")
    slope_obs, t_obs = trend(t, a)
    slope_fit, _ = trend(t, s)
    return {
        "n": float(n), "r2": r2, "r": r, "mape": mape,
        "rmse": float(np.sqrt(np.mean(e * e))), "mean_error": float(np.mean(-e)),
        "slope_observed": slope_obs, "slope_fitted": slope_fit, "trend_t": t_obs,
        "trend_sign": _sign_verdict(slope_obs, slope_fit, t_obs),
        "u_m": um, "u_s": us, "u_c": uc, "resid_acf1": ac1, "durbin_watson": dw,
    }


def _sign_verdict(observed: float, fitted: float, t_obs: float) -> str:
    """`right`, `wrong` (against a clear observed trend), `unclear` (no clear observed trend)
    or `n/a` (too few points)."""
    if not (np.isfinite(observed) and np.isfinite(fitted)):
        return "n/a"
    if not (np.isfinite(t_obs) and abs(t_obs) >= CLEAR_TREND_T):
        return "unclear"
    return "right" if np.sign(observed) == np.sign(fitted) else "wrong"


def fit_table(fitted: pd.DataFrame) -> pd.DataFrame:
    """One row of statistics per series from a long table with series, year, observed, fitted
    (and `time` in months where there is no year)."""
    rows = []
    for name, g in fitted.groupby("series", sort=False):
        if "date" in g and g["date"].notna().all():
            d = pd.to_datetime(g["date"])
            t = (d.dt.year + (d.dt.dayofyear - 1) / 365.25).to_numpy(dtype=float)
        elif "year" in g:
            t = g["year"].to_numpy(dtype=float)
        else:
            t = None
        rows.append({"series": name, **fit_statistics(g["fitted"].to_numpy(),
                                                      g["observed"].to_numpy(), t)})
    return pd.DataFrame(rows)
