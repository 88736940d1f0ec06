"""Does the calibrated collapse-spiral model forecast better than naive rules?

    nice python benchmarks/backtest.py                       # England and the panel
    nice python benchmarks/backtest.py --areas Haringey,Kent --budget-local 600

Rolling-origin backtests (`carespiral.calibration.rolling.rolling_backtest`): at each origin
2016-2022 the spec is fitted to the years up to it and forecasts the published values one to
three years ahead, ex ante (drivers after the last fitted figure held, calendar events after it
left out, as `carespiral backtest` does by default). Each forecast's absolute error is scaled
by the in-sample mean absolute one-step change at its origin (MASE), for the model and for
three naive rules made from the same fitted years: persistence, the linear trend and the
in-sample mean. Coverage is the share of published values inside the 95% predictive interval.

- England: the bundled `national` spec (ten role series; the workforce census series are left
  out at origins before their second census, where they cannot be fitted or scored).
- A panel of authorities of different kinds, at origins 2016, 2018 and 2020 by default (inner and outer London, metropolitan districts,
  unitary authorities, shire counties, small and large): the bundled `local` spec with each
  authority's own drivers over time (child population, funded posts;
  `calibration.pooling.with_drivers`) and England's calendar of events (eight role series; the
  local statistics publish no national-style vacancy and agency rates for every year).

Also, from one full national fit: the in-sample trend sign per national role series and the
2008 shock check (section 47s, plans and referrals 2009-10 to 2023 against the 95% band;
`benchmarks/history_fit.py`).

Forecast modes: every fit's forecasts are made again under each residual model of
`errors_model.forecast_errors` (`--modes`; `calibration.predict.recording`): the same fits and
model runs, only what happens after the origin differs. The headline figures are the default
mode's (`ar1`), as `carespiral backtest` makes them; the others are reported beside them.

Fits here use reduced budgets (stated in the output and the tables) so that the whole run
takes tens of minutes on a shared two-core machine, not hours; the goals are judged on these
figures. Writes `backtest_summary.md` and CSV tables to `--out` (default benchmarks/backtest).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.calibration import calibrate
from carespiral.calibration.backtest import score_forecasts
from carespiral.calibration.errors_model import FORECAST_MODES
from carespiral.calibration.pooling.authorities import with_drivers
from carespiral.calibration.predict import recording
from carespiral.calibration.rolling import forecasts_under, rolling_backtest
from carespiral.calibration.spec import read_spec

sys.path.insert(0, str(Path(__file__).parent))
from history_fit import shock_band_table, trend_table

PANEL = ["Haringey", "Croydon", "Manchester", "Wakefield", "Middlesbrough", "Bristol",
         "Kent", "Devon", "Herefordshire", "Torbay"]
KIND = {"Haringey": "inner London borough", "Croydon": "outer London borough",
        "Manchester": "metropolitan district", "Wakefield": "metropolitan district",
        "Middlesbrough": "unitary (high need)", "Bristol": "unitary (city)",
        "Kent": "shire county (large)", "Devon": "shire county",
        "Herefordshire": "unitary (rural)", "Torbay": "unitary (small, coastal)"}
MASE = ["mase_model", "mase_persistence", "mase_trend", "mase_mean"]


def local_spec():
    """The bundled local spec with the authority's own drivers and England's calendar."""
    return replace(with_drivers(read_spec("local")), calendar="history_calendar.toml")


def area_row(name: str, kind: str, bt) -> dict:
    o = bt.overall()
    row = {"area": bt.area, "kind": kind, "series": len(bt.scores),
           "forecasts": int(o["forecasts"]),
           **{k: o[k] for k in MASE}, "coverage": o["coverage"],
           "origins_ok": int((bt.fits["status"] == "ok").sum()),
           "origins_converged": int(bt.fits.get("converged", pd.Series(dtype=bool))
                                    .fillna(False).astype(bool).sum())}
    row["beats_persistence"] = bool(row["mase_model"] < row["mase_persistence"])
    row["beats_trend"] = bool(row["mase_model"] < row["mase_trend"])
    row["beats_both"] = row["beats_persistence"] and row["beats_trend"]
    return row


def recorded_backtest(modes: list[str], seed: int, *args, **kwargs):
    """rolling_backtest(*args, **kwargs) and its forecasts under each mode (area x mode)."""
    with recording() as rec:
        def tag(origin, _res):
            if rec and "origin" not in rec[-1]:  # an origin with nothing to forecast records none
                rec[-1]["origin"] = origin
        bt = rolling_backtest(*args, on_origin=tag, seed=seed, **kwargs)
    return bt, {m: forecasts_under(rec, m, bt.area, seed) for m in modes}


def mode_row(area: str, mode: str, f: pd.DataFrame) -> dict:
    s = score_forecasts(f)
    ok = f[np.isfinite(f["scale"].to_numpy(dtype=float)) & f["observed"].notna()]
    row = {"area": area, "mode": mode, **{k: float(s[k].mean()) for k in MASE},
           "coverage": float(((ok["observed"] >= ok["lower"])
                              & (ok["observed"] <= ok["upper"])).mean()),
           "forecasts": len(ok)}
    row["beats_both"] = bool(row["mase_model"] < min(row["mase_persistence"],
                                                     row["mase_trend"]))
    return row


def markdown(frame: pd.DataFrame, floats: str = "{:.2f}") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (bool, np.bool_)):
                cells.append("yes" if v else "no")
            elif isinstance(v, (float, np.floating)):
                cells.append(floats.format(v) if np.isfinite(v) else "")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def combine(dirs: list[Path], out: Path) -> None:
    """The goals over runs made separately: each area's default-mode row and, per mode, the
    coverage over all forecasts (weighted by each area's count) and the panel's wins."""
    summary = pd.concat([pd.read_csv(d / "summary.csv") for d in dirs], ignore_index=True)
    modes = pd.concat([pd.read_csv(d / "modes.csv") for d in dirs], ignore_index=True)
    keep = summary.drop(columns=[c for c in ("failed",) if c in summary])
    panel = summary[(summary["kind"] != "national") & summary["mase_model"].notna()]
    md = ["# Rolling-origin backtest: runs combined", "",
          "From " + ", ".join(f"`{d}`" for d in dirs) + ".", "", markdown(keep), "",
          f"- Default mode: coverage over all {int(summary['forecasts'].sum())} forecasts "
          f"{(summary['coverage'] * summary['forecasts']).sum() / summary['forecasts'].sum():.1%}"
          f"; panel: beats persistence and trend in {int(panel['beats_both'].sum())} of "
          f"{len(panel)}.", "", "Per forecast mode (the same fits):", ""]
    for m, g in modes.groupby("mode", sort=False):
        pm = g[~g["area"].str.startswith("England")]
        nat = g[g["area"].str.startswith("England")]
        cov = (g["coverage"] * g["forecasts"]).sum() / g["forecasts"].sum()
        line = f"- `{m}`: coverage {cov:.1%} of {int(g['forecasts'].sum())} forecasts; "
        if len(nat):
            r = nat.iloc[0]
            line += (f"England model {r['mase_model']:.2f} (persistence "
                     f"{r['mase_persistence']:.2f}, trend {r['mase_trend']:.2f}); ")
        md.append(line + f"panel beats both in {int(pm['beats_both'].sum())} of {len(pm)} "
                  f"(mean MASE {pm['mase_model'].mean():.2f}).")
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(md) + "\n"
    (out / "combined.md").write_text(text, encoding="utf-8")
    print(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "backtest")
    ap.add_argument("--origins", default="2016:2022")
    ap.add_argument("--panel-origins", default="2016,2018,2020",
                    help="origins for the panel (every other year by default, to save time)")
    ap.add_argument("--horizon", type=int, default=3)
    ap.add_argument("--areas", default=",".join(PANEL), help="comma-separated panel")
    ap.add_argument("--budget-national", type=int, default=2000,
                    help="model runs per national fit (the spec's method default is 6000)")
    ap.add_argument("--budget-local", type=int, default=600,
                    help="model runs per authority fit (the method default is 6000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-national", action="store_true")
    ap.add_argument("--skip-history", action="store_true",
                    help="leave out the full national fit (trend signs, 2008 shock)")
    ap.add_argument("--modes", default=",".join(FORECAST_MODES),
                    help="forecast residual models to score the same fits under")
    ap.add_argument("--combine", default="",
                    help="comma-separated result directories of earlier runs (e.g. England and "
                         "two halves of the panel run in parallel): write combined.md to --out "
                         "from their summary.csv and modes.csv, and run nothing")
    args = ap.parse_args()
    if args.combine:
        combine([Path(d) for d in args.combine.split(",") if d.strip()], args.out)
        return
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    from carespiral.calibration.rolling import parse_origins

    origins = parse_origins(args.origins)
    panel_origins = parse_origins(args.panel_origins)
    args.out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    rows, forecasts, fits, mode_rows, mode_forecasts = [], [], [], [], {m: [] for m in modes}

    def keep(bt, kind: str, name: str, by_mode: dict) -> None:
        rows.append(area_row(name, kind, bt))
        for m, f in by_mode.items():
            mode_rows.append(mode_row(bt.area, m, f))
            mode_forecasts[m].append(f)
        forecasts.append(bt.forecasts)
        fits.append(bt.fits.assign(area=bt.area))
        o = rows[-1]
        print(f"  {bt.area:40s} model {o['mase_model']:.2f}  persistence "
              f"{o['mase_persistence']:.2f}  trend {o['mase_trend']:.2f}  mean "
              f"{o['mase_mean']:.2f}  coverage {o['coverage']:.0%}  "
              f"({time.perf_counter() - t_start:.0f} s so far)", flush=True)

    national = None
    if not args.skip_national:
        print(f"England: national spec, origins {args.origins}, horizons 1-{args.horizon}, "
              f"budget {args.budget_national} runs a fit", flush=True)
        national, by_mode = recorded_backtest(modes, args.seed, "national", origins=origins,
                                              horizon=args.horizon,
                                              budget=args.budget_national)
        keep(national, "national", "England", by_mode)
        national.scores.to_csv(args.out / "england_scores.csv", index=False)
        national.by_horizon.to_csv(args.out / "england_scores_by_horizon.csv", index=False)
    spec = local_spec()
    areas = [a.strip() for a in args.areas.split(",") if a.strip()]
    print(f"Panel: local spec with own drivers and England's calendar, {len(areas)} "
          f"authorities, origins {args.panel_origins}, budget {args.budget_local} runs a fit",
          flush=True)
    for name in areas:
        try:
            bt, by_mode = recorded_backtest(modes, args.seed, spec, area=name,
                                            origins=panel_origins, horizon=args.horizon,
                                            budget=args.budget_local)
        except Exception as exc:  # one authority must not stop the panel; recorded
            print(f"  {name}: failed ({type(exc).__name__}: {exc})", flush=True)
            rows.append({"area": name, "kind": KIND.get(name, ""), "failed": str(exc)})
            continue
        keep(bt, KIND.get(name, ""), name, by_mode)
    summary = pd.DataFrame(rows)
    by_mode = pd.DataFrame(mode_rows)
    by_mode.to_csv(args.out / "modes.csv", index=False)
    mode_lines = []
    for m in modes:
        if not mode_forecasts[m]:
            continue
        fm = pd.concat(mode_forecasts[m], ignore_index=True)
        okm = fm[np.isfinite(fm["scale"].to_numpy(dtype=float)) & fm["observed"].notna()]
        cov = ((okm["observed"] >= okm["lower"]) & (okm["observed"] <= okm["upper"])).mean()
        pm = by_mode[(by_mode["mode"] == m) & ~by_mode["area"].str.startswith("England")]
        mode_lines.append(f"- `{m}`: coverage over all {len(okm)} forecasts {cov:.1%}; panel: "
                          f"beats persistence and trend in {int(pm['beats_both'].sum())} of "
                          f"{len(pm)}.")
    allf = pd.concat(forecasts, ignore_index=True)
    pd.concat(fits, ignore_index=True).to_csv(args.out / "fits.csv", index=False)
    allf.to_csv(args.out / "forecasts.csv", index=False)
    summary.to_csv(args.out / "summary.csv", index=False)
    ok = allf[np.isfinite(allf["scale"].to_numpy(dtype=float)) & allf["observed"].notna()]
    inside = ((ok["observed"] >= ok["lower"]) & (ok["observed"] <= ok["upper"])).mean()
    panel = summary[(summary["kind"] != "national") & summary["mase_model"].notna()]
    t_back = time.perf_counter() - t_start

    trends = band = None
    t_full = 0.0
    if not args.skip_national and not args.skip_history:
        print("Full national fit (the spec's own budget) for trend signs and the 2008 shock",
              flush=True)
        t0 = time.perf_counter()
        full = calibrate("national", seed=args.seed, profiles=False)
        t_full = time.perf_counter() - t0
        trends = trend_table(full.fitted)
        band = shock_band_table(full, args.seed)
        trends.to_csv(args.out / "england_trends.csv", index=False)
        band.to_csv(args.out / "shock_band.csv", index=False)

    md = ["# Rolling-origin backtest of collapse_spiral", "",
          f"Command: `nice python benchmarks/backtest.py --origins {args.origins} "
          f"--panel-origins {args.panel_origins} --horizon {args.horizon} "
          f"--budget-national {args.budget_national} --budget-local {args.budget_local} "
          f"--seed {args.seed} --areas {args.areas} --modes {args.modes}"
          + (" --skip-national" if args.skip_national else "")
          + (" --skip-history" if args.skip_history else "")
          + f"`; ex ante forecasts; backtests took "
          f"{t_back / 60:.0f} min, the full national fit {t_full:.0f} s (shared two-core "
          "machine).", "",
          "Mean MASE over each area's series (below 1 beats the in-sample one-step change); "
          "coverage: share of published values inside the 95% predictive interval.", "",
          markdown(summary.drop(columns=[c for c in ("failed",) if c in summary])), "",
          f"- Coverage of the 95% intervals over all {len(ok)} forecasts: {inside:.1%}.",
          f"- Panel: the model beats persistence in {int(panel['beats_persistence'].sum())} of "
          f"{len(panel)}, the trend in {int(panel['beats_trend'].sum())}, both in "
          f"{int(panel['beats_both'].sum())} ({panel['beats_both'].mean():.0%})."]
    md += ["", "## The same fits under each forecast mode", "",
           "Default `ar1` (the headline above); the intervals of a mode are drawn afresh, so "
           "`ar1` here differs from the headline by sampling only.", "",
           markdown(by_mode), "", *mode_lines]
    if national is not None:
        md += ["", "## England per series", "",
               markdown(national.scores[["series", "n", *MASE, "coverage"]])]
    if trends is not None:
        md += ["", "## England in-sample trends (full fit; slopes a year)", "",
               markdown(trends, "{:.4g}"),
               "", f"Trend signs right: {int(trends['sign_ok'].sum())} of {len(trends)}.",
               "", "## The 2008 shock: published values inside the full fit's 95% band", ""]
        for name, g in band.groupby("series", sort=False):
            out = g.loc[~g["inside"], "year"].tolist()
            md.append(f"- {name}: {int(g['inside'].sum())} of {len(g)}"
                      + (f" (outside: {', '.join(map(str, out))})" if out else ""))
    text = "\n".join(md) + "\n"
    (args.out / "backtest_summary.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
