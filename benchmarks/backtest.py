"""Does the calibrated collapse-spiral model forecast better than naive rules?

    nice python benchmarks/backtest.py                       # England and the panel
    nice python benchmarks/backtest.py --areas Haringey,Kent --budget-local 600
    nice python benchmarks/backtest.py --rescore DIR1,DIR2        # pickled fits, scored again

Rolling-origin backtests (`carespiral.calibration.rolling.rolling_backtest`): at each origin
2016-2022 the spec is fitted to the years up to it and forecasts the published values one to
three years ahead, ex ante (after the last fitted figure: population held, funded posts grown
as England's by its damped trend, calendar events left out; as `carespiral backtest` does by
default). Each forecast's absolute error is scaled
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
model runs, only what happens after the origin differs. The headline is the default mode,
`nested` (`calibration.nested`): at each origin, per series, the candidate (ar1, rw, skill, run)
whose forecasts from earlier origins did best on the years published by then, intervals
recalibrated from the earlier nested forecasts' errors. For it, warm-up origins are fitted too
and not scored (`--warmup`, England 2012-2015; `--panel-warmup`, the panel 2015, 2017, 2019).
Reported beside it: every plain mode, `nested_norecal` (the choice with the modes' own
intervals) and `nested_naive` (persistence and trend added as candidates: forecast combination
with naive rules, not a model-based forecast).

`--records DIR` pickles each area's recorded fits; `--rescore DIR[,DIR...]` scores them again
without fitting (e.g. after fitting England and two halves of the panel in parallel).

Fits here use reduced budgets (stated in the output and the tables) so that the whole run
takes tens of minutes on a shared two-core machine, not hours; the goals are judged on these
figures. Writes `backtest_summary.md` and CSV tables to `--out` (default benchmarks/backtest).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.calibration import calibrate
from carespiral.calibration.backtest import score_forecasts
from carespiral.calibration.drivers import AFTER_RULES, DEFAULT_AFTER
from carespiral.calibration.errors_model import FORECAST_MODES
from carespiral.calibration.nested import CANDIDATES, naive_candidate, nested_forecasts
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


def local_spec(spec: str = "local"):
    """The local spec (bundled `local` by default, or a spec file) with the authority's own
    drivers and England's calendar."""
    return replace(with_drivers(read_spec(spec)), calendar="history_calendar.toml")


def variant_rows(records: list[dict], area: str, scored: list[int], modes: list[str],
                 seed: int) -> dict[str, pd.DataFrame]:
    """The forecast rows of the scored origins under each variant, from one area's recorded
    fits (warm-up origins inform the nested choice only): every mode of `modes`, `nested` (the
    default: candidates `calibration.nested.CANDIDATES`, intervals recalibrated),
    `nested_norecal` (the same choice, intervals as the modes made them) and `nested_naive`
    (forecast combination: persistence and the linear trend added to the candidates)."""
    every = {m: forecasts_under(records, m, area, seed) for m in
             dict.fromkeys([*modes, *CANDIDATES])}
    out = {m: every[m][every[m]["origin"].isin(scored)].reset_index(drop=True) for m in modes}
    by = {m: every[m] for m in CANDIDATES}
    out["nested"] = nested_forecasts(by, origins=scored)
    out["nested_norecal"] = nested_forecasts(by, origins=scored, recalibrate=False)
    naive = {**by, "persistence": naive_candidate(every["rw"], "persistence"),
             "trend": naive_candidate(every["rw"], "trend")}
    out["nested_naive"] = nested_forecasts(naive, origins=scored,
                                           candidates=(*CANDIDATES, "persistence", "trend"))
    return out


def _scored(f: pd.DataFrame) -> pd.DataFrame:
    return f[np.isfinite(f["scale"].to_numpy(dtype=float)) & f["observed"].notna()]


def area_row(area: str, kind: str, f: pd.DataFrame, fits: pd.DataFrame, scored: list[int]
             ) -> dict:
    """One area's headline: mean over its series of each MASE, coverage over its forecasts."""
    s = score_forecasts(f)
    ok = _scored(f)
    fs = fits[fits["origin"].isin(scored)]
    row = {"area": area, "kind": kind, "series": len(s), "forecasts": len(ok),
           **{k: float(s[k].mean()) for k in MASE},
           "coverage": float(((ok["observed"] >= ok["lower"])
                              & (ok["observed"] <= ok["upper"])).mean()),
           "origins_ok": int((fs["status"] == "ok").sum()),
           "origins_converged": int(fs.get("converged", pd.Series(dtype=bool))
                                    .fillna(False).astype(bool).sum())}
    row["beats_persistence"] = bool(row["mase_model"] < row["mase_persistence"])
    row["beats_trend"] = bool(row["mase_model"] < row["mase_trend"])
    row["beats_both"] = row["beats_persistence"] and row["beats_trend"]
    return row


def recorded_backtest(seed: int, *args, origins: list[int], warmup: list[int],
                      records: Path | None = None, kind: str = "", **kwargs) -> dict:
    """rolling_backtest at the scored and warm-up origins, keeping the model runs behind every
    forecast (`predict.recording`); pickled to `records` (one file per area) when given, so that
    the forecasts can be scored again without fitting (`--rescore`)."""
    with recording() as rec:
        bt = rolling_backtest(*args, origins=sorted(set(origins) | set(warmup)), seed=seed,
                              mode="ar1", **kwargs)
    fits = bt.fits.assign(area=bt.area, scored=bt.fits["origin"].isin(origins))
    area = {"area": bt.area, "kind": kind, "records": rec, "fits": fits,
            "horizon": bt.horizon, "scored": list(origins), "warmup": list(warmup)}
    if records is not None:
        records.mkdir(parents=True, exist_ok=True)
        slug = "".join(c if c.isalnum() else "_" for c in bt.area.split(" (")[0]).lower()
        with open(records / f"{slug}.pkl", "wb") as fh:
            pickle.dump(area, fh)
    return area


def mode_row(area: str, mode: str, f: pd.DataFrame) -> dict:
    s = score_forecasts(f)
    ok = _scored(f)
    row = {"area": area, "mode": mode, **{k: float(s[k].mean()) for k in MASE},
           "coverage": float(((ok["observed"] >= ok["lower"])
                              & (ok["observed"] <= ok["upper"])).mean()),
           "forecasts": len(ok)}
    row["beats_both"] = bool(row["mase_model"] < min(row["mase_persistence"],
                                                     row["mase_trend"]))
    return row


def markdown(frame: pd.DataFrame, floats: str = "{:.2f}") -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
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
        cov = (g["coverage"] * g["forecasts"]).sum() / g["forecasts"].sum()
        md.append(_mode_line(m, cov, int(g["forecasts"].sum()), g))
    out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(md) + "\n"
    (out / "combined.md").write_text(text, encoding="utf-8")
    print(text)


def _mode_line(mode: str, coverage: float, n: int, g: pd.DataFrame) -> str:
    """One forecast mode's line: coverage, England's MASE against the naive rules, the panel."""
    pm = g[~g["area"].str.startswith("England")]
    nat = g[g["area"].str.startswith("England")]
    line = f"- `{mode}`: coverage {coverage:.1%} of {n} forecasts; "
    if len(nat):
        r = nat.iloc[0]
        line += (f"England {r['mase_model']:.2f} (persistence {r['mase_persistence']:.2f}, "
                 f"trend {r['mase_trend']:.2f}); ")
    return line + (f"panel beats both in {int(pm['beats_both'].sum())} of {len(pm)} "
                   f"(mean MASE {pm['mase_model'].mean():.2f}).")


def score_areas(areas: list[dict], modes: list[str], seed: int, out: Path, header: list[str],
                national_scored: list[int], panel_scored: list[int]) -> pd.DataFrame:
    """Score every area's recorded fits under each variant; write the tables and the headline
    (the default `nested`) to `out`; return the summary."""
    rows, mode_rows, forecasts, fits, choices = [], [], [], [], []
    by_variant: dict[str, list[pd.DataFrame]] = {}
    national = None
    for a in areas:
        scored = national_scored if a["kind"] == "national" else panel_scored
        v = variant_rows(a["records"], a["area"], scored, modes, seed)
        for m, f in v.items():
            mode_rows.append(mode_row(a["area"], m, f))
            by_variant.setdefault(m, []).append(f)
        fits_a = a["fits"].assign(area=a["area"], scored=a["fits"]["origin"].isin(scored))
        rows.append(area_row(a["area"], a["kind"], v["nested"], fits_a, scored))
        forecasts.append(v["nested"])
        fits.append(fits_a)
        choices.append(v["nested"].drop_duplicates(["origin", "series"])[
            ["area", "origin", "series", "mode", "basis", "interval_factor"]])
        if a["kind"] == "national":
            national = v["nested"]
        o = rows[-1]
        print(f"  {a['area']:40s} nested {o['mase_model']:.2f}  persistence "
              f"{o['mase_persistence']:.2f}  trend {o['mase_trend']:.2f}  coverage "
              f"{o['coverage']:.0%}", flush=True)
    summary = pd.DataFrame(rows)
    by_mode = pd.DataFrame(mode_rows)
    out.mkdir(parents=True, exist_ok=True)
    by_mode.to_csv(out / "modes.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    pd.concat(forecasts, ignore_index=True).to_csv(out / "forecasts.csv", index=False)
    pd.concat(fits, ignore_index=True).to_csv(out / "fits.csv", index=False)
    pd.concat(choices, ignore_index=True).to_csv(out / "choices.csv", index=False)
    panel = summary[summary["kind"] != "national"]
    mode_lines = []
    for m, parts in by_variant.items():
        ok = _scored(pd.concat(parts, ignore_index=True))
        cov = ((ok["observed"] >= ok["lower"]) & (ok["observed"] <= ok["upper"])).mean()
        mode_lines.append(_mode_line(m, cov, len(ok), by_mode[by_mode["mode"] == m]))
    ok = _scored(pd.concat(forecasts, ignore_index=True))
    inside = ((ok["observed"] >= ok["lower"]) & (ok["observed"] <= ok["upper"])).mean()
    md = [*header, "",
          "Headline: the default forecast mode `nested` (`calibration.nested`): at each origin, "
          "per series, the candidate mode (ar1, rw, skill, run) whose forecasts from earlier "
          "origins did best on the years published by then, intervals recalibrated from the "
          "earlier forecasts' errors; warm-up origins are fitted to inform the choice and not "
          "scored. Mean MASE over each area's series (below 1 beats the in-sample one-step "
          "change); coverage: share of published values inside the 95% predictive interval.",
          "", markdown(summary), "",
          f"- Coverage of the 95% intervals over all {len(ok)} forecasts: {inside:.1%}.",
          f"- Panel: the model beats persistence in {int(panel['beats_persistence'].sum())} of "
          f"{len(panel)}, the trend in {int(panel['beats_trend'].sum())}, both in "
          f"{int(panel['beats_both'].sum())} ({panel['beats_both'].mean():.0%}).",
          "", "## The same fits under each forecast mode", "",
          "`nested_norecal`: the nested choice with the modes' own intervals; `nested_naive`: "
          "persistence and the linear trend added to the candidates (forecast combination with "
          "naive rules, not a model-based forecast). Intervals are drawn afresh for each mode.",
          "", markdown(by_mode), "", *mode_lines]
    if national is not None:
        sc = score_forecasts(national)
        md += ["", "## England per series (nested)", "", markdown(sc[["series", "n", *MASE,
                                                                     "coverage"]])]
        sc.to_csv(out / "england_scores.csv", index=False)
        score_forecasts(national, by=("series", "horizon")).to_csv(
            out / "england_scores_by_horizon.csv", index=False)
        ch = pd.concat(choices, ignore_index=True)
        ch = ch[ch["area"].str.startswith("England")]
        table = ch.pivot(index="series", columns="origin", values="mode")
        md += ["", "## England: the mode chosen at each origin", "",
               markdown(table.reset_index()), "",
               "Interval factors by origin: " + ", ".join(
                   f"{o} {f:.2f}" for o, f in ch.groupby("origin")["interval_factor"].first()
                   .items()) + "."]
    (out / "backtest_summary.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "backtest")
    ap.add_argument("--origins", default="2016:2022")
    ap.add_argument("--warmup", default="2012:2015",
                    help="national origins fitted only to inform the nested choice")
    ap.add_argument("--panel-origins", default="2016,2018,2020",
                    help="origins for the panel (every other year by default, to save time)")
    ap.add_argument("--panel-warmup", default="2015,2017,2019",
                    help="panel origins fitted only to inform the nested choice")
    ap.add_argument("--horizon", type=int, default=3)
    ap.add_argument("--areas", default=",".join(PANEL), help="comma-separated panel")
    # differential evolution stops by its own test well inside these budgets (every fit of the
    # 665f5a0 run converged, in the same 7 minutes as at 2,000 and 600 runs)
    ap.add_argument("--budget-national", type=int, default=6000,
                    help="model runs at most per national fit (the method's default)")
    ap.add_argument("--budget-local", type=int, default=2000,
                    help="model runs at most per authority fit")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ex-post", action="store_true",
                    help="give every fit the drivers and calendar events after its origin as "
                         "they happened (a diagnostic of the structure, not a forecast)")
    ap.add_argument("--drivers-after", default=DEFAULT_AFTER, choices=AFTER_RULES,
                    help="ex-ante drivers after each origin: national (the default: population "
                         "held, posts grown as England's), hold (the last known value) or "
                         "damped (each driver's own damped trend, "
                         "carespiral.data.drivers.damped_trend)")
    ap.add_argument("--local-spec", default="local",
                    help="the panel's spec: the bundled `local` or a spec file")
    ap.add_argument("--skip-national", action="store_true")
    ap.add_argument("--skip-history", action="store_true",
                    help="leave out the full national fit (trend signs, 2008 shock)")
    ap.add_argument("--modes", default=",".join(FORECAST_MODES),
                    help="forecast residual models to score the same fits under, beside the "
                         "nested variants")
    ap.add_argument("--records", type=Path, default=None,
                    help="directory to pickle each area's recorded fits in (for --rescore)")
    ap.add_argument("--rescore", default="",
                    help="comma-separated directories of pickled fits (--records of earlier "
                         "runs): score them again, fitting nothing")
    ap.add_argument("--note", default="",
                    help="a line for the summary's header (e.g. how the rescored fits were made)")
    ap.add_argument("--combine", default="",
                    help="comma-separated result directories of earlier runs: write "
                         "combined.md to --out from their summary.csv and modes.csv, and run "
                         "nothing")
    args = ap.parse_args()
    if args.combine:
        combine([Path(d) for d in args.combine.split(",") if d.strip()], args.out)
        return
    from carespiral.calibration.rolling import parse_origins

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    origins, warmup = parse_origins(args.origins), parse_origins(args.warmup)
    panel_origins = parse_origins(args.panel_origins)
    panel_warmup = parse_origins(args.panel_warmup)
    areas_wanted = [a.strip() for a in args.areas.split(",") if a.strip()]
    t_start = time.perf_counter()
    areas: list[dict] = []
    if args.rescore:
        for d in args.rescore.split(","):
            for path in sorted(Path(d.strip()).glob("*.pkl")):
                with open(path, "rb") as fh:
                    areas.append(pickle.load(fh))
        def rank(a: dict) -> int:  # the area's place in --areas (99: not asked for)
            name = a["area"].lower()
            return next((i for i, n in enumerate(areas_wanted) if name.startswith(n.lower())),
                        99)

        areas = [a for a in areas if (a["kind"] == "national" and not args.skip_national)
                 or (a["kind"] != "national" and rank(a) < 99)]
        areas.sort(key=lambda a: (a["kind"] != "national", rank(a)))
        how = (f"`nice python benchmarks/backtest.py --rescore {args.rescore} --origins "
               f"{args.origins} --panel-origins {args.panel_origins} --seed {args.seed}`: the "
               "recorded fits scored again (fitted earlier by the command with --records)")
    else:
        if not args.skip_national:
            print(f"England: national spec, origins {args.origins} (warm-up {args.warmup}), "
                  f"horizons 1-{args.horizon}, budget {args.budget_national}", flush=True)
            areas.append(recorded_backtest(args.seed, "national", origins=origins,
                                           warmup=warmup, horizon=args.horizon,
                                           budget=args.budget_national,
                                           records=args.records, kind="national",
                                           ex_ante=not args.ex_post,
                                           drivers_after=args.drivers_after))
        spec = local_spec(args.local_spec)
        for name in areas_wanted:
            try:
                areas.append(recorded_backtest(args.seed, spec, area=name,
                                               origins=panel_origins, warmup=panel_warmup,
                                               horizon=args.horizon,
                                               budget=args.budget_local, records=args.records,
                                               kind=KIND.get(name, ""),
                                               ex_ante=not args.ex_post,
                                               drivers_after=args.drivers_after))
            except Exception as exc:  # one authority must not stop the panel; recorded
                print(f"  {name}: failed ({type(exc).__name__}: {exc})", flush=True)
            print(f"  {name} fitted ({time.perf_counter() - t_start:.0f} s so far)", flush=True)
        how = (f"`nice python benchmarks/backtest.py --origins {args.origins} --warmup "
               f"{args.warmup} --panel-origins {args.panel_origins} --panel-warmup "
               f"{args.panel_warmup} --horizon {args.horizon} --budget-national "
               f"{args.budget_national} --budget-local {args.budget_local} --seed {args.seed} "
               f"--areas {args.areas} --modes {args.modes} --drivers-after "
               f"{args.drivers_after}"
               + (" --ex-post" if args.ex_post else "")
               + (f" --local-spec {args.local_spec}" if args.local_spec != "local" else "")
               + (" --skip-national" if args.skip_national else "")
               + (" --skip-history" if args.skip_history else "") + "`")
    t_back = time.perf_counter() - t_start
    kind_of = ("EX POST (drivers and events after each origin as they happened: a diagnostic "
               "of the structure, not a forecast)" if args.ex_post else "ex ante")
    header = ["# Rolling-origin backtest of collapse_spiral", "",
              f"Command: {how}; {kind_of} forecasts; took {t_back / 60:.0f} min (shared two-core "
              "machine)."] + ([args.note] if args.note else [])
    score_areas(areas, modes, args.seed, args.out, header, origins, panel_origins)

    if not args.skip_national and not args.skip_history and not args.rescore:
        print("Full national fit (the spec's own budget) for trend signs and the 2008 shock",
              flush=True)
        t0 = time.perf_counter()
        full = calibrate("national", seed=args.seed, profiles=False)
        trends = trend_table(full.fitted)
        band = shock_band_table(full, args.seed)
        trends.to_csv(args.out / "england_trends.csv", index=False)
        band.to_csv(args.out / "shock_band.csv", index=False)
        md = ["", f"## England in-sample trends (full fit, {time.perf_counter() - t0:.0f} s; "
              "slopes a year)", "", markdown(trends, "{:.4g}"), "",
              f"Trend signs right: {int(trends['sign_ok'].sum())} of {len(trends)}.",
              "", "## The 2008 shock: published values inside the full fit's 95% band", ""]
        for name, g in band.groupby("series", sort=False):
            outside = g.loc[~g["inside"], "year"].tolist()
            md.append(f"- {name}: {int(g['inside'].sum())} of {len(g)}"
                      + (f" (outside: {', '.join(map(str, outside))})" if outside else ""))
        with open(args.out / "backtest_summary.md", "a", encoding="utf-8") as fh:
            fh.write("\n".join(md) + "\n")
        print("\n".join(md))


if __name__ == "__main__":
    main()
