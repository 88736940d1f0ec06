"""Benchmark of calibration: the national fit, posterior sampling and all local authorities.

    python benchmarks/calibration.py            # national DE fit, 100k-run posterior estimate
    python benchmarks/calibration.py --quick    # smaller budgets, for a smoke test
    python benchmarks/calibration.py --areas 4  # also time 4 local fits, extrapolated to all

Reports, all measured in this run on this machine:
- wall time of `calibrate national` with differential evolution on the batch backend, without
  and (unless --quick) with profiles, as the main job runs it;
- the same fit's cost on the PySD backend, estimated from PySD's per-run time (measured on a few
  runs of the same problem) times the number of runs the fit used;
- posterior sampling throughput (emcee, model runs per second) and the time a 100,000-run
  posterior would take at that rate;
- with --areas N: mean time per local-authority fit (no profiles) and the estimate for every
  authority on this machine's cores.
Goals (2 cores): national fit (with profiles) under 60 s; a 100,000-run posterior under 3 minutes.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--areas", type=int, default=0)
    args = ap.parse_args()

    from carespiral.calibration.engine import build_problem, calibrate, fit_problem
    from carespiral.calibration.spec import read_spec

    spec = read_spec("national")
    budget = 600 if args.quick else 6000
    t = time.perf_counter()
    r = calibrate(spec, method="differential_evolution", budget=budget, seed=1, profiles=False)
    de_wall = time.perf_counter() - t
    runs = int(r.diagnostics["runs"])
    print(f"national DE fit (batch backend): {de_wall:.1f} s wall, {runs} runs, "
          f"best log-posterior {r.diagnostics['best_logpost']:.2f}")

    if not args.quick:  # the main job's fit: the same with profiles and intervals
        t = time.perf_counter()
        c = time.process_time()
        full = calibrate(spec, seed=1)
        print(f"national fit with profiles: {time.perf_counter() - t:.1f} s wall, "
              f"{time.process_time() - c:.1f} s CPU, {int(full.diagnostics['runs'])} runs, "
              f"best log-posterior {full.diagnostics['best_logpost']:.2f}, "
              f"{'converged' if full.converged else 'NOT converged'}")

    problem, _, _ = build_problem(spec)
    problem.backend = "pysd"
    theta = np.array([[p.prior.mode() for p in problem.parameters]] * 3)
    t = time.perf_counter()
    problem.simulate(theta)
    pysd_per_run = (time.perf_counter() - t) / len(theta)
    print(f"PySD backend: {pysd_per_run * 1000:.0f} ms a run -> the same fit would take about "
          f"{pysd_per_run * runs:.0f} s ({pysd_per_run * runs / de_wall:.0f}x the batch fit)")

    problem, _, _ = build_problem(spec)
    n = 10_000 if args.quick else 100_000
    t = time.perf_counter()
    # many walkers: a batch of 1,000+ runs goes to the batch backend's compiled engine
    post = fit_problem(problem, "emcee", seed=1, budget=n, profiles=False, n_draws=50,
                       method_options={"walkers": 1024})
    wall = time.perf_counter() - t
    rate = post.diagnostics["runs"] / wall
    print(f"emcee (1024 walkers): {post.diagnostics['runs']} runs in {wall:.1f} s = "
          f"{rate:,.0f} runs/s -> a 100,000-run posterior in about {100_000 / rate:.0f} s; "
          f"{post.message}")

    if args.areas:
        from carespiral.calibration.areas_all import current_authorities

        local = read_spec("local")
        names = current_authorities(local.period[1])
        pick = names.sample(args.areas, random_state=1)
        times = []
        for code in pick["area_code"]:
            t = time.perf_counter()
            try:
                calibrate(local, area=code, profiles=False, seed=1)
            except Exception as exc:  # recorded, as `--area all` does
                print(f"  {code}: failed ({exc})")
            times.append(time.perf_counter() - t)
        cores = os.cpu_count() or 1
        print(f"local fits: {np.mean(times):.1f} s each (n={len(times)}) -> all {len(names)} "
              f"authorities in about {np.mean(times) * len(names) / cores / 60:.0f} min on "
              f"{cores} cores")


if __name__ == "__main__":
    main()
