"""Forecasts whose residual model borrows strength across authorities.

The single-area forecast (`calibration.predict.forecast_table`) estimates, for one authority,
how the gap between its last published value and the model run carries on (one lag-1
autocorrelation phi for all its series) and each series' innovation scale, from that
authority's own residuals: five to seven values per series, two to four for the workforce
census. Pooled, the same residual model is estimated from every authority at once:

- **phi per series, nationally**: `errors_model.pooled_phi` over that series' residuals in
  every authority (hundreds of pairs instead of a handful; median-unbiased for their lengths,
  since each authority's handful of residuals biases the raw estimate towards 0), or over all
  series where one has too few pairs (`MIN_PAIRS`), e.g. a census series of two values at the
  first origin;
- **innovation scale**: each authority's own innovations with a prior worth `PRIOR_DOF` of
  them at the series' national relative scale (the normal-inverse-chi-square posterior of
  `errors_model.forecast_errors`, whose prior there is the authority's own other series).

Everything else (centre, Student-t draws, parameter uncertainty through each draw's run) is the
single-area forecast's (`errors_model.forecast_draws`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from carespiral.calibration.errors_model import (
    PRIOR_DOF,
    ForecastError,
    pooled_phi,
    raw_residuals,
)

__all__ = ["MIN_PAIRS", "national_forecast_errors", "pooled_forecast_table"]

MIN_PAIRS = 100  # lag-1 pairs a series needs nationally for a phi of its own


def _gaussian(s) -> bool:
    return s.error in ("normal", "lognormal")


def _level(s) -> float:
    return 1.0 if s.error == "lognormal" else max(float(np.mean(np.abs(s.values))), 1e-12)


def _residuals(record: dict) -> dict[int, np.ndarray]:
    """Each Gaussian fitted series' residuals at the best fit (finite ones, in time order)."""
    out = {}
    for i, s in enumerate(record["train"]):
        if _gaussian(s):
            e = raw_residuals(s.values, record["at_best"][i][0], s.error)
            out[i] = e[np.isfinite(e)]
    return out


def national_forecast_errors(records: Sequence[dict], prior_dof: float = PRIOR_DOF
                             ) -> list[dict[int, ForecastError]]:
    """Per authority (one `predict.recording()` record each), the forecast residual model of
    each Gaussian fitted series (by its index), estimated across all authorities."""
    res = [_residuals(r) for r in records]
    names = [[s.name for s in r["train"]] for r in records]
    by_name: dict[str, list[tuple[int, int]]] = {}
    for a, rs in enumerate(res):
        for i in rs:
            by_name.setdefault(names[a][i], []).append((a, i))
    overall = pooled_phi([e for rs in res for e in rs.values()])
    phi, s0sq = {}, {}
    for name, at in by_name.items():
        es = [res[a][i] for a, i in at]
        pairs = sum(max(len(e) - 1, 0) for e in es if len(e) >= 3)
        phi[name] = pooled_phi(es) if pairs >= MIN_PAIRS else overall
        ss = k = 0.0
        for (a, i), e in zip(at, es, strict=True):
            d = e[1:] - phi[name] * e[:-1]
            ss += float(np.sum(d * d)) / _level(records[a]["train"][i]) ** 2
            k += len(d)
        s0sq[name] = max(ss / k, 1e-6) if k else 1e-4
    out = []
    for a, rs in enumerate(res):
        fes = {}
        for i, e in rs.items():
            s, name = records[a]["train"][i], names[a][i]
            d = e[1:] - phi[name] * e[:-1]
            dof = prior_dof + len(d)
            scale = np.sqrt((prior_dof * s0sq[name] * _level(s) ** 2 + float(np.sum(d * d)))
                            / dof)
            fes[i] = ForecastError(phi[name], float(scale), float(dof), 1.0, "national")
        out.append(fes)
    return out


def pooled_forecast_table(record: dict, fes: dict[int, ForecastError],
                          rng: np.random.Generator) -> pd.DataFrame:
    """One authority's held-out forecasts (the rows `predict.forecast_table` gives) under the
    national residual model `fes`."""
    from carespiral.calibration.predict import forecast_rows

    return forecast_rows(record["train"], record["holdout"], record["at_best"], record["preds"],
                         record["fits"], fes, rng)
