"""Does the calibrated collapse-spiral model follow England's history?

    nice python benchmarks/history_fit.py               # fit, backtest, write benchmarks/history/
    nice python benchmarks/history_fit.py --band-only   # the in-sample fit and the shock band only
    python benchmarks/history_fit.py --out DIR --results  # tables to DIR, and both fitted results

Two calibrations of the bundled `national` spec (its own method, seed 0):

1. In-sample, the whole period: per national role series, the observed and fitted trend slope
   (least squares over 2013-2023; the workforce census series over 2017-2023) and whether the
   signs agree, the signed correlation r, and R² as 1 - SSE/SST (negative when the fit is worse
   than the series' own mean).
2. Backtest, `fit_until=2019`: forecasts for 2020-2023 scored by the mean absolute scaled error
   (MASE, scale: the in-sample mean absolute one-step change) of the model, persistence (the
   last fitted value), the linear trend over the fitted years and the in-sample mean.

The 2008 shock: section 47 enquiries, child protection plans and referrals from 2009-10 to 2023
against the 95% predictive band of the in-sample fit. The spec fits from 2010-11 (2009-10 is the
children in need census's transition year; plans in force from March 2007, with the CPR3
figures, so their band runs from 2007), so the band for 2009-10 is built here the way the
calibration builds its bands: the model run for each parameter draw, plus the series' error
model with its maximum-likelihood scale (the root mean square of the fitted log residuals).
`history_shock_band_summary.csv` gives, per series, how many published values lie inside and
which lie outside; benchmarks/README.md records the figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.calibration import calibrate
from carespiral.calibration.backtest import mase
from carespiral.data import load as load_data
from carespiral.pysd_runner import load as load_model

WORKFORCE = {"social_workers_fte", "turnover_rate", "vacancy_rate", "agency_rate", "caseload"}
SHOCK_SERIES = {"s47_enquiries": "S47 Enquiries", "cp_plans": "CP Plans",
                "referrals": "Referrals"}
FLOWS = {"s47_enquiries", "referrals"}


def trend_table(fitted: pd.DataFrame) -> pd.DataFrame:
    """Per series: observed vs fitted slope (a year) and sign, signed r, R² = 1 - SSE/SST."""
    rows = []
    for name, g in fitted.groupby("series", sort=False):
        first = 2017 if name in WORKFORCE else 2013
        g = g[(g["year"] >= first) & (g["year"] <= 2023)].sort_values("year")
        x = g["year"].to_numpy(dtype=float)
        y = g["observed"].to_numpy(dtype=float)
        f = g["fitted"].to_numpy(dtype=float)
        so, sf = np.polyfit(x, y, 1)[0], np.polyfit(x, f, 1)[0]
        sse, sst = float(np.sum((y - f) ** 2)), float(np.sum((y - y.mean()) ** 2))
        rows.append({"series": name, "years": f"{int(x[0])}-{int(x[-1])}",
                     "slope_observed": so, "slope_fitted": sf,
                     "sign_ok": bool(np.sign(so) == np.sign(sf)),
                     "r": float(np.corrcoef(y, f)[0, 1]) if np.std(f) > 0 else float("nan"),
                     "r2": 1.0 - sse / sst})
    return pd.DataFrame(rows)


def backtest_table(result) -> pd.DataFrame:
    """MASE per series of the model, persistence, linear trend and in-sample mean."""
    rows = []
    for name, g in result.backtest.groupby("series", sort=False):
        train = result.fitted[result.fitted["series"] == name].sort_values("year")
        tv = train["observed"].to_numpy(dtype=float)
        a = g["observed"].to_numpy(dtype=float)
        inside = (a >= g["lower"].to_numpy()) & (a <= g["upper"].to_numpy())
        rows.append({"series": name, "n": len(g),
                     "model": mase(a, g["forecast"].to_numpy(), tv),
                     "persistence": mase(a, g["persistence"].to_numpy(), tv),
                     "trend": mase(a, g["trend"].to_numpy(), tv),
                     "mean": mase(a, np.full(len(a), tv.mean()), tv),
                     "in_95": float(inside.mean())})
    return pd.DataFrame(rows)


def shock_band_table(result, seed: int = 0) -> pd.DataFrame:
    """Section 47s, plans and referrals against the 95% band from their first fitted year, and
    from 2009-10 where that year is not fitted (built here: section 47s, referrals)."""
    fitted = result.fitted
    rng = np.random.default_rng(seed)
    model = load_model(result.model)
    draws = result.draws.sample(n=min(200, len(result.draws)), random_state=seed)
    ds = model.run_batch(draws.reset_index(drop=True), scenario="baseline", stop=61,
                         saveper=model.control("time_step"), outputs=list(SHOCK_SERIES.values()))
    t = ds["time"].to_numpy()
    dt = float(t[1] - t[0])
    published = load_data(series=list(SHOCK_SERIES), area="England")
    rows = []
    for name, var in SHOCK_SERIES.items():
        g = fitted[fitted["series"] == name]
        for r in g.itertuples():
            rows.append({"series": name, "year": int(r.year), "observed": r.observed,
                         "lower": r.lower, "upper": r.upper})
        if 2010 in set(g["year"].astype(int)):  # fitted (plans in force are, from 2007)
            continue
        s = float(np.sqrt(np.mean(np.log(g["observed"] / g["fitted"]) ** 2)))
        x = ds[var].to_numpy()
        if name in FLOWS:  # the reporting year 2009-10: months 48 to 60
            m = x[:, (t >= 48 - 1e-9) & (t < 60 - 1e-9)].sum(axis=1) * dt
        else:  # a stock at 31 March 2010
            m = x[:, np.argmin(np.abs(t - 60))]
        pred = m * np.exp(s * rng.standard_normal(m.shape))
        lo, hi = np.quantile(pred, [0.025, 0.975])
        obs = published[(published["series"] == name) & (published["year"] == 2010)]["value"]
        rows.append({"series": name, "year": 2010, "observed": float(obs.iloc[0]),
                     "lower": lo, "upper": hi})
    out = pd.DataFrame(rows).sort_values(["series", "year"], kind="stable")
    out = out.set_index("series").loc[list(SHOCK_SERIES)].reset_index()
    out["inside"] = (out["observed"] >= out["lower"]) & (out["observed"] <= out["upper"])
    return out


def band_summary(band: pd.DataFrame) -> pd.DataFrame:
    """Per series: published values inside the 95% band, their share, and the years outside."""
    rows = []
    for name, g in band.groupby("series", sort=False):
        out = g[~g["inside"]]
        rows.append({"series": name, "years": f"{int(g['year'].min())}-{int(g['year'].max())}",
                     "n": len(g), "inside": int(g["inside"].sum()),
                     "share_inside": float(g["inside"].mean()),
                     "outside": "; ".join(
                         f"{int(r.year)}: {r.observed:,.0f} (band {r.lower:,.0f}-{r.upper:,.0f})"
                         for r in out.itertuples())})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "history",
                    help="folder for the CSV tables (default: benchmarks/history)")
    ap.add_argument("--results", action="store_true",
                    help="also save both calibration results in --out")
    ap.add_argument("--band-only", action="store_true",
                    help="only the in-sample fit: trend signs and the 2008 shock band")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    full = calibrate("national", seed=args.seed)
    t1 = time.perf_counter()
    trends = trend_table(full.fitted)
    band = shock_band_table(full, args.seed)
    summary = band_summary(band)
    pd.set_option("display.width", 140)
    print(f"In-sample fit ({t1 - t0:.0f} s; slopes a year, 2013-2023, workforce 2017-2023)")
    print(trends.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nTrend signs right: {int(trends['sign_ok'].sum())} of {len(trends)}")
    print("\nThe 2008 shock: published values 2009-10 to 2023 inside the 95% band")
    for r in summary.itertuples():
        print(f"  {r.series:15s} {r.inside} of {r.n} ({r.share_inside:.0%})"
              + (f"; outside: {r.outside}" if r.outside else ""))
    args.out.mkdir(parents=True, exist_ok=True)
    trends.to_csv(args.out / "history_trends.csv", index=False)
    band.to_csv(args.out / "history_shock_band.csv", index=False)
    summary.to_csv(args.out / "history_shock_band_summary.csv", index=False)
    if args.results:
        full.save(args.out / "national")
    if args.band_only:
        return
    t2 = time.perf_counter()
    back = calibrate("national", seed=args.seed, fit_until=2019)
    t3 = time.perf_counter()
    bt = backtest_table(back)
    print(f"\nBacktest fit until 2019, forecasts 2020-2023 ({t3 - t2:.0f} s; MASE)")
    print(bt.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    means = bt[["model", "persistence", "trend", "mean"]].mean()
    print("mean MASE: " + ", ".join(f"{k} {v:.3g}" for k, v in means.items()))
    bt.to_csv(args.out / "history_backtest.csv", index=False)
    if args.results:
        back.save(args.out / "national-fit-until-2019")


if __name__ == "__main__":
    main()
