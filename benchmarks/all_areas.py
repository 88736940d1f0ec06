"""Every authority fitted together: time, forecast skill of pooling, and the old way.

    python benchmarks/all_areas.py                 # everything (tens of minutes on 2 cores)
    python benchmarks/all_areas.py --quick         # 6 authorities, one origin, 1 sample area
    python benchmarks/all_areas.py --skip-compare --skip-old   # just the fit and the table
    python benchmarks/all_areas.py --compare-only   # just pooled against unpooled forecasts

In one run it measures, with wall time and the process's CPU time (all threads):

1. the pooled fit of every current authority (`calibration.pooling.fit_authorities`, spec
   `local`): building the problems, the fit, the runs;
2. the table of every authority (`exploration.authorities.assess_authorities`): margins to
   collapse with intervals over posterior draws, and the regime today;
3. the old way for comparison: `calibrate_all(method="differential_evolution",
   scheduler="sync", per_area=margin_columns)`, one authority after another, on a sample of
   authorities; the time for all of them is EXTRAPOLATED (mean per authority x authorities,
   and / 2 for a two-process Dask cluster on 2 cores), and printed as such;
4. pooled against unpooled forecasts in rolling-origin backtests (`compare_pooling`): mean MASE
   across authorities, per series, against persistence, trend and the mean;
5. (`--subscripted N`) the generated every-authority model (subscripted by Area) for N
   authorities against authority as a batch dimension: compile and run time.

Figures are printed and written as JSON (`--json PATH`), with a GOAL line per goal saying
whether it was met in this run; nothing here asserts a speed. Run it with `nice`: on a machine
shared with other work wall times are several times the process's CPU time, and both are given.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE = ["E09000014", "E08000025", "E06000052"]  # Haringey, Birmingham, Cornwall


class Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> dict[str, float]:
        return {"wall_s": round(time.perf_counter() - self.wall, 1),
                "cpu_s": round(time.process_time() - self.cpu, 1)}


def load_average() -> float:
    return round(os.getloadavg()[0], 1)


def pooled_fit(areas, out: Path, spec_name: str = "local") -> dict:
    from carespiral.calibration.pooling.authorities import authority_cases
    from carespiral.calibration.pooling.run import HORIZON, fit_authorities
    from carespiral.calibration.spec import read_spec
    from carespiral.exploration.authorities import assess_authorities

    spec = read_spec(spec_name)
    c = Clock()
    prepared = authority_cases(spec, areas, None, horizon=HORIZON)
    built = c.read()
    print(f"problems of {len(prepared[0])} authorities built ({len(prepared[1])} not "
          f"fittable): {built}", flush=True)
    c2 = Clock()
    fit = fit_authorities(spec, areas=areas, prepared=prepared,
                          progress=lambda s, r: print(f"  {s}: {r:,} runs {c2.read()}",
                                                      flush=True))
    fitted = c2.read()
    fit.save(out / "fit")
    total = {k: built[k] + fitted[k] for k in built}
    print(f"pooled fit: {fitted}; with the problems {total}; {fit.diagnostics['runs_total']:,} "
          f"runs; converged {fit.converged} after {len(fit.diagnostics['rounds']) - 1} rounds",
          flush=True)
    print(fit.population.to_string(index=False), flush=True)
    c3 = Clock()
    table = assess_authorities(fit, progress=lambda s, r: None)
    assessed = c3.read()
    table.save(out / "authorities")
    print(f"table of margins and regimes: {assessed}; {table.settings['runs']:,} runs",
          flush=True)
    s = table.summary()
    print(json.dumps(s, indent=1, default=str), flush=True)
    everything = {k: total[k] + assessed[k] for k in total}
    print(f"GOAL all authorities fitted with intervals (problems, fit, table of margins) in "
          f"under 10 min: {everything['wall_s'] / 60:.1f} min wall "
          f"({'met' if everything['wall_s'] < 600 else 'NOT met'}), "
          f"{everything['cpu_s'] / 60:.1f} min CPU of this process", flush=True)
    return {"authorities": len(fit.areas), "fitted": len(fit.fitted_codes),
            "problems": built, "fit": fitted, "fit_and_problems": total,
            "fit_problems_and_table": everything,
            "table": assessed, "runs_fit": fit.diagnostics["runs_total"],
            "runs_table": table.settings["runs"], "converged": fit.converged,
            "rounds": len(fit.diagnostics["rounds"]) - 1,
            "population": fit.population.to_dict("records"), "table_summary": s}


def old_way(sample, n_authorities: int, out: Path) -> dict:
    from carespiral.calibration.areas_all import calibrate_all
    from carespiral.calibration.spec import read_spec
    from carespiral.exploration.margin import margin_columns

    c = Clock()
    table = calibrate_all(read_spec("local"), method="differential_evolution", out=out,
                          scheduler="sync", areas=sample, per_area=margin_columns)
    t = c.read()
    per = {k: v / len(sample) for k, v in t.items()}
    all_one = per["wall_s"] * n_authorities
    print(f"old way, one authority after another: {len(sample)} authorities in {t} "
          f"({int((table['status'] == 'ok').sum())} fitted); per authority {per}; "
          f"EXTRAPOLATED to {n_authorities}: {all_one / 60:.0f} min in one process, "
          f"{all_one / 2 / 60:.0f} min on a two-process cluster", flush=True)
    return {"sample": list(sample), "measured": t, "per_authority": per,
            "extrapolated_one_process_min": round(all_one / 60, 1),
            "extrapolated_two_processes_min": round(all_one / 2 / 60, 1)}


def comparison(areas, origins, out: Path, spec_name: str = "local") -> dict:
    from carespiral.calibration.pooling.compare import compare_pooling

    c = Clock()
    cmp = compare_pooling(spec_name, origins=origins, areas=areas,
                          progress=lambda s, r: print(f"  {s}: {r:,} runs {c.read()}",
                                                      flush=True))
    t = c.read()
    cmp.save(out / "pooling_backtest")
    print(f"pooled vs unpooled, origins {origins}: {t}", flush=True)
    print(cmp.overall.to_string(), flush=True)
    o = cmp.overall["mase_model"]
    if {"partial", "none"} <= set(o.index):
        print(f"GOAL pooled beats unpooled in mean rolling-origin MASE across authorities: "
              f"{o['partial']:.3f} vs {o['none']:.3f} "
              f"({'met' if o['partial'] < o['none'] else 'NOT met'})", flush=True)
    wide = cmp.scores.pivot_table(index="series", columns="pooling",
                                  values=["mase_model", "coverage"])
    print(wide.to_string(), flush=True)
    return {"time": t, "overall": cmp.overall.reset_index().to_dict("records"),
            "by_series": cmp.scores.to_dict("records")}


def subscripted(n: int) -> dict:
    """The generated every-authority model for n authorities against the single-area model
    with authority as a batch dimension (6 runs per authority: an LM iteration's batch)."""
    from carespiral.pysd_runner.batch import compile_model
    from carespiral.pysd_runner.batch.all_areas import subscript_by_area

    mdl = Path(tempfile.mkdtemp(prefix="carespiral-sub-")) / f"collapse_spiral_{n}.mdl"
    single = Path(__file__).resolve().parents[1] / "models" / "collapse_spiral.mdl"
    names = [f"Area {i}" for i in range(n)]
    mdl.write_text(subscript_by_area(single, names), encoding="utf-8")
    out = {"areas": n}
    for label, path, rows, outputs in (
            ("subscripted", mdl, 6, [f"Caseload[{a}]" for a in names]),
            ("batch dimension", single, 6 * n, ["Caseload"])):
        c = Clock()
        bm = compile_model(path)
        params = pd.DataFrame({"History": np.ones(rows)})
        bm.run(params, outputs=outputs, stop=222, saveper=0.25, engine="numba")
        first = c.read()
        c = Clock()
        bm.run(params, outputs=outputs, stop=222, saveper=0.25, engine="numba")
        again = c.read()
        out[label] = {"cells": len(bm.variables), "first_call": first, "run": again}
        print(f"{label} ({n} authorities, {len(bm.variables)} variables): first call "
              f"(lowering + numba compile) {first}, then 6 runs per authority {again}",
              flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-old", action="store_true")
    ap.add_argument("--skip-compare", action="store_true")
    ap.add_argument("--compare-only", action="store_true",
                    help="only the rolling-origin comparison of pooled and unpooled forecasts")
    ap.add_argument("--origins", default="2018,2019,2020")
    ap.add_argument("--spec", default="local",
                    help="the spec of the pooled fit and the comparison: bundled `local` or a file")
    ap.add_argument("--subscripted", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="carespiral-all-areas-"))
    out.mkdir(parents=True, exist_ok=True)
    areas = ["E09000014", "E09000007", "E08000025", "E06000052", "E10000016",
             "E06000058"] if args.quick else None
    origins = [2020] if args.quick else [int(x) for x in args.origins.split(",")]
    report: dict = {"cores": len(os.sched_getaffinity(0)), "load_average_start": load_average(),
                    "quick": args.quick}
    print(f"{report['cores']} cores, load average {report['load_average_start']}", flush=True)
    if not args.compare_only:
        report["pooled"] = pooled_fit(areas, out, args.spec)
    if not args.skip_old and not args.compare_only:
        n_auth = report["pooled"]["authorities"]
        report["old"] = old_way(SAMPLE[:1] if args.quick else SAMPLE, n_auth, out / "old")
        # like with like: the old way fits and computes each authority's margin
        new = report["pooled"]["fit_problems_and_table"]
        new_min = new["wall_s"] / 60
        report["speedup_vs_two_processes"] = round(
            report["old"]["extrapolated_two_processes_min"] / max(new_min, 1e-9), 1)
        old_cpu = report["old"]["per_authority"]["cpu_s"] * n_auth
        report["cpu_ratio"] = round(old_cpu / max(new["cpu_s"], 1e-9), 1)
        print(f"pooled fit and margins of all: {new_min:.1f} min wall; old way EXTRAPOLATED: "
              f"{report['old']['extrapolated_two_processes_min']:.0f} min on 2 processes "
              f"({report['speedup_vs_two_processes']}x); CPU {new['cpu_s'] / 60:.1f} min vs "
              f"{old_cpu / 60:.0f} min extrapolated ({report['cpu_ratio']}x)", flush=True)
    if not args.skip_compare:
        report["comparison"] = comparison(areas, origins, out, args.spec)
    if args.subscripted:
        report["subscripted"] = subscripted(args.subscripted)
    report["load_average_end"] = load_average()
    text = json.dumps(report, indent=1, default=str)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(f"load average at the end {report['load_average_end']}; results in {out}")


if __name__ == "__main__":
    main()
