"""Cost of a time step that changes over time: the engines' varying-grid code against their
ordinary fixed-grid code on the same model.

`models/collapse_spiral.mdl` as it is (TIME STEP 0.25: 1,680 steps) and with its first time unit
at half the step (`TIME STEP = IF THEN ELSE(Time < 1, 0.125, 0.25)`: 1,684 steps, which runs the
varying-grid code of `pysd_runner/batch/time_grid.py`). Each configuration is warmed once (the
numba kernel compiled or loaded from the cache), then run three times; the figure is the best
CPU time (one thread) and the grid's preparation time (stepping the control equations).

    nice python benchmarks/varying_grid.py            # 2,000 runs on numba, 200 on numpy
    nice python benchmarks/varying_grid.py --runs 10000
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000, help="numba runs (numpy: a tenth)")
    args = ap.parse_args()
    from carespiral.pysd_runner.batch import compile_model

    text = (REPO / "models" / "collapse_spiral.mdl").read_text(encoding="utf-8")
    varying, n = re.subn(r"TIME STEP\s*=\s*0\.25\b",
                         "TIME STEP = IF THEN ELSE(Time < 1, 0.125, 0.25)", text)
    if n != 1:
        raise SystemExit("models/collapse_spiral.mdl: TIME STEP = 0.25 not found")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"fixed": Path(tmp) / "fixed.mdl", "varying": Path(tmp) / "varying.mdl"}
        paths["fixed"].write_text(text, encoding="utf-8")
        paths["varying"].write_text(varying, encoding="utf-8")
        print(f"{'grid':8s} {'engine':6s} {'runs':>6s} {'steps':>6s} {'prepare':>9s} "
              f"{'best CPU s':>10s} {'runs/CPU s':>10s}")
        for label, path in paths.items():
            bm = compile_model(path)
            for engine in ("numpy", "numba"):
                runs = args.runs if engine == "numba" else max(1, args.runs // 10)
                bm.run(n=runs, engine=engine, threads=1, reduce="final")  # compile / warm
                t = time.process_time()
                job = bm.prepare(n=runs, engine=engine, reduce="final")
                prep = time.process_time() - t
                assert (job.grid is not None) == (label == "varying")
                best = min(_cpu(bm, runs, engine) for _ in range(3))
                print(f"{label:8s} {engine:6s} {runs:6d} {job.nsteps:6d} "
                      f"{prep * 1e3:7.1f}ms {best:10.3f} {runs / best:10,.0f}")


def _cpu(bm, runs: int, engine: str) -> float:
    t = time.process_time()
    bm.run(n=runs, engine=engine, threads=1, reduce="final")
    return time.process_time() - t


if __name__ == "__main__":
    main()
