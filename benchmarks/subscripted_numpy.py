"""The numpy engine on subscripted models: a block per equation (arrays.py) against a statement per
cell (the former code, `codegen.generate(arrays=False)`), measured in the same run.

For each model and each form of the code, a fresh process with an empty cache directory:
- first run: CPU seconds from import to the end of the first `run(engine="numpy")` (lowering,
  generating, compiling and one run recording every variable: what a new user waits for);
- steady: runs per CPU second of `run(engine="numpy")` of N runs, every bounded constant drawn
  per run (uniform within its bounds), recording a few stocks, once that configuration is
  compiled (a warm-up run first).

    python benchmarks/subscripted_numpy.py                      # 153 areas, two suite models
    python benchmarks/subscripted_numpy.py --areas 10 153 --runs 200
    python benchmarks/subscripted_numpy.py --models vector_order --areas

The all-areas models are derived from models/collapse_spiral.mdl with the first N authorities
of models/generated/collapse_spiral_all_areas.mdl's `Area` range.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subscripted_compile import REPO, SUITE, areas_of_generated

CHILD = r"""
import functools, json, sys, time
t, w = time.process_time(), time.perf_counter()
from carespiral.pysd_runner.batch import codegen, compile_model
from carespiral.pysd_runner.batch import model as batch_model
if sys.argv[2] == "cells":  # a statement per cell (the former numpy code)
    batch_model.generate = functools.partial(codegen.generate, arrays=False)
bm = compile_model(sys.argv[1])
ds = bm.run(engine="numpy")
first, first_wall = time.process_time() - t, time.perf_counter() - w
assert ("W[" in next(iter(bm._gen.values()))[0].source) == (sys.argv[2] == "arrays")
outs = bm.stocks[:8]
n = int(sys.argv[3])
import numpy as np, pandas as pd
rng = np.random.default_rng(1)  # every bounded constant drawn per run (as an exploration)
params = pd.DataFrame({p.name: rng.uniform(p.lower, p.upper, n) for p in bm.parameters
                       if p.lower is not None and p.upper is not None
                       and np.isfinite(p.lower) and np.isfinite(p.upper) and p.upper > p.lower})
run = {"params": params} if len(params.columns) else {"n": n}
bm.run(engine="numpy", outputs=outs, **run)  # compiles this configuration
t, w = time.process_time(), time.perf_counter()
ds = bm.run(engine="numpy", outputs=outs, **run)
steady, steady_wall = time.process_time() - t, time.perf_counter() - w
print(json.dumps({"first": first, "first_wall": first_wall, "steady": steady,
                  "steady_wall": steady_wall, "n": n, "nodes": len(bm.program.aux) +
                  len(bm.program.states)}))
"""


def measure(mdl: Path, form: str, runs: int, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="carespiral-cache-") as cache:
        env = {**os.environ, "CARESPIRAL_CACHE_DIR": cache}
        try:
            out = subprocess.run([sys.executable, "-c", CHILD, str(mdl), form, str(runs)],
                                 env=env, capture_output=True, text=True, timeout=timeout,
                                 check=True)
        except subprocess.TimeoutExpired:
            return {"timeout": timeout}
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=["subscripted_delays", "vector_order"])
    ap.add_argument("--areas", nargs="*", type=int, default=[153])
    ap.add_argument("--runs", type=int, default=100, help="runs of the steady measurement")
    ap.add_argument("--timeout", type=float, default=1800.0, help="wall seconds per process")
    args = ap.parse_args()
    from carespiral.pysd_runner.batch.all_areas import subscript_by_area

    targets = [(name, next((SUITE / name).glob("*.mdl"))) for name in args.models]
    tmp = Path(tempfile.mkdtemp(prefix="carespiral-areas-"))
    every = areas_of_generated()
    for n in args.areas:
        mdl = tmp / f"all_areas_{n}.mdl"
        mdl.write_text(subscript_by_area(REPO / "models" / "collapse_spiral.mdl", every[:n]),
                       encoding="utf-8")
        targets.append((f"all_areas_{n}", mdl))
    print(f"numpy engine, blocks (arrays) vs a statement per cell (cells); steady: "
          f"{args.runs} runs of drawn constants, 8 stocks recorded; CPU seconds", flush=True)
    for name, mdl in targets:
        t = time.perf_counter()
        r = {form: measure(mdl, form, args.runs, args.timeout) for form in ("cells", "arrays")}
        if any("timeout" in v for v in r.values()):
            print(f"{name}: timed out ({r})", flush=True)
            continue
        c, a = r["cells"], r["arrays"]
        print(f"{name} ({a['nodes']} nodes): first run cells {c['first']:.1f} s, arrays "
              f"{a['first']:.1f} s ({c['first'] / a['first']:.1f}x); steady cells "
              f"{c['n'] / c['steady']:.1f} runs/s, arrays {a['n'] / a['steady']:.1f} runs/s "
              f"({c['steady'] / a['steady']:.1f}x); wall first {c['first_wall']:.1f} / "
              f"{a['first_wall']:.1f} s [{time.perf_counter() - t:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
