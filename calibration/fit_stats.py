"""Fit statistics the way system-dynamics practice reads a historical fit (Sterman 1984).

For simulated values S and actual values A (n points):

- R²: the squared correlation of S and A (Sterman's usage; it ignores bias, hence Theil);
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

__all__ = ["fit_statistics", "fit_table", "theil"]


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


def fit_statistics(simulated: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """All statistics of one series as a dict (see the module docstring)."""
    s = np.asarray(simulated, dtype=float)
    a = np.asarray(actual, dtype=float)
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
    return {
        "n": float(n), "r2": r * r if np.isfinite(r) else float("nan"), "mape": mape,
        "rmse": float(np.sqrt(np.mean(e * e))), "mean_error": float(np.mean(-e)),
        "u_m": um, "u_s": us, "u_c": uc, "resid_acf1": ac1, "durbin_watson": dw,
    }


def fit_table(fitted: pd.DataFrame) -> pd.DataFrame:
    """One row of statistics per series from a long table with series, observed, fitted."""
    rows = []
    for name, g in fitted.groupby("series", sort=False):
        rows.append({"series": name, **fit_statistics(g["fitted"].to_numpy(),
                                                      g["observed"].to_numpy())})
    return pd.DataFrame(rows)
