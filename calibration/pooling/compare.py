"""Does pooling forecast better? Rolling-origin backtests of every authority, pooled and not.

    >>> from carespiral.calibration.pooling.compare import compare_pooling
    >>> cmp = compare_pooling("local", origins=[2018, 2019, 2020], horizon=3)  # doctest: +SKIP
    >>> cmp.overall                          # mean MASE across authorities, pooled and unpooled

At each origin every authority is fitted to the years up to it (drivers as known then), once:
the unpooled fit (each authority alone with the spec's priors) is the first stage of the pooled
one, so both come from the same runs and the same optimiser, and differ only in whether the
national mean and spread are fitted. Both forecast the next `horizon` years; the forecasts are
scored exactly as the rolling backtest scores one area (`calibration.rolling.forecast_rows`,
`calibration.backtest.score_forecasts`): absolute error over the in-sample mean absolute
one-step change at that origin, beside persistence, the linear trend and the in-sample mean.

`overall` averages per authority first (its mean over series, origins and horizons) and then
over authorities, so every authority counts once; `scores` is per series, where the workforce
series (published from September 2017) are the short ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from carespiral.calibration.spec import CalibrationSpec, read_spec
from carespiral.errors import CarespiralError
from carespiral.results import Result

__all__ = ["PoolingComparison", "compare_pooling"]

_MASE = ("mase_model", "mase_run", "mase_persistence", "mase_trend", "mase_mean")


@dataclass
class PoolingComparison(Result):
    """Rolling-origin forecasts of every authority, pooled (`partial`) and unpooled (`none`).

    forecasts: one row per pooling, authority, origin, series and year. scores: MASE and
    coverage per pooling and series. by_area: per pooling and authority. fits: per origin.
    """

    spec: str
    origins: list[int]
    horizon: int
    forecasts: pd.DataFrame
    scores: pd.DataFrame
    by_area: pd.DataFrame
    fits: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    kind: ClassVar[str] = "pooling_backtest"
    tables: ClassVar[dict[str, str]] = {"forecasts": "forecasts.parquet", "scores": "scores.csv",
                                        "by_area": "by_area.csv", "fits": "fits.csv"}

    def to_frame(self) -> pd.DataFrame:
        return self.scores

    @property
    def overall(self) -> pd.DataFrame:
        """Per pooling: the mean over authorities of each authority's mean scaled errors, the
        share of authorities whose model error is below the unpooled one's, and coverage."""
        b = self.by_area
        cols = [c for c in (*_MASE, "coverage") if c in b]
        out = b.groupby("pooling")[cols].mean()
        out["authorities"] = b.groupby("pooling").size()
        wide = b.pivot_table(index="area_code", columns="pooling", values="mase_model")
        if {"partial", "none"} <= set(wide.columns):
            better = float((wide["partial"] < wide["none"]).mean())
            out["share_better_than_unpooled"] = [
                float((wide[p] < wide["none"]).mean()) if p != "none" else 1 - better
                for p in out.index]
        return out

    def summary(self) -> dict[str, Any]:
        o = self.overall
        out: dict[str, Any] = {"spec": self.spec, "origins": self.origins,
                               "horizon": self.horizon}
        for pooling, r in o.iterrows():
            out[f"{pooling}: mean MASE across authorities"] = round(float(r["mase_model"]), 3)
        for c in ("mase_persistence", "mase_trend", "mase_mean"):
            if c in o:
                out[f"naive {c[5:]}"] = round(float(o[c].iloc[0]), 3)
        if "share_better_than_unpooled" in o and "partial" in o.index:
            out["authorities where pooling forecasts better"] = round(
                float(o.loc["partial", "share_better_than_unpooled"]), 3)
        out["seconds"] = round(float(self.fits["seconds"].sum()), 1) if len(self.fits) else 0
        return out


def compare_pooling(
    spec: str | Path | CalibrationSpec = "local",
    origins: Iterable[int] = (2018, 2019, 2020),
    horizon: int = 3,
    areas: list[str] | None = None,
    seed: int = 0,
    table: pd.DataFrame | None = None,
    n_predictive: int = 40,
    progress: Callable[[str, int], None] | None = None,
) -> PoolingComparison:
    """Backtest every authority (or `areas`) at each origin, pooled and unpooled."""
    from carespiral.calibration.pooling.authorities import authority_cases
    from carespiral.calibration.pooling.fit import fit_stack
    from carespiral.calibration.pooling.run import backtest_rows, predictions
    from carespiral.calibration.pooling.stack import AreaStack

    if not isinstance(spec, CalibrationSpec):
        spec = read_spec(spec)
    if table is None:
        from carespiral import data as published

        table = published.load()
    origins = sorted({int(o) for o in origins})
    if not origins:
        raise CarespiralError("give at least one origin year")
    rows, fits = [], []
    for origin in origins:
        t0 = time.perf_counter()
        cases, failures = authority_cases(spec, areas, origin, table, horizon=horizon)
        if not cases:
            fits.append({"origin": origin, "status": "failed", "authorities": 0,
                         "failed": len(failures), "seconds": time.perf_counter() - t0})
            continue
        stack = AreaStack(cases, seed=seed)
        est = fit_stack(stack, pooling="partial", seed=seed, progress=progress)
        rng = np.random.default_rng(seed + origin)
        for label, e in (("partial", est), ("none", est.unpooled())):
            draws = e.draws(n_predictive, rng)
            own: list[pd.DataFrame] = []
            fitted, held, _ = predictions(stack, e, draws, rng, n_predictive, horizon,
                                          national=label == "partial", own=own)
            if len(held):
                bt, _ = backtest_rows(fitted, held, origin)
                rows.append(bt.assign(pooling=label))
            if own and len(own[0]):  # the pooled fit with each area's own residual model
                bt, _ = backtest_rows(fitted, own[0], origin)
                rows.append(bt.assign(pooling="partial_fit_own_forecast"))
        fits.append({"origin": origin, "status": "ok", "authorities": len(cases),
                     "failed": len(failures), "converged": est.converged,
                     "rounds": len(est.rounds) - 1, "runs": stack.n_runs,
                     "seconds": time.perf_counter() - t0})
        if progress:
            progress(f"origin {origin}", stack.n_runs)
    if not rows:
        raise CarespiralError("no origin gave forecasts to score")
    from carespiral.calibration.backtest import score_forecasts

    forecasts = pd.concat(rows, ignore_index=True)
    return PoolingComparison(
        spec=spec.name, origins=origins, horizon=horizon, forecasts=forecasts,
        scores=score_forecasts(forecasts, by=("pooling", "series")),
        by_area=score_forecasts(forecasts, by=("pooling", "area_code")),
        fits=pd.DataFrame(fits), settings={"seed": seed, "n_predictive": n_predictive})
