"""First-compile cost of subscripted models on the numba engine (and the numpy engine's first run).

Each model is compiled in a fresh process with an empty cache directory, so numba compiles the
kernel from scratch; the figure is that process's CPU seconds for lowering the model, generating
the kernel, compiling it and running a few runs of it (every variable kept).

    python benchmarks/subscripted_compile.py                 # the suite models, 2, 5, 10 areas
    python benchmarks/subscripted_compile.py --areas 2 5 10 153 --models vector_order
    python benchmarks/subscripted_compile.py --kernels straight   # a statement per cell

The all-areas models are derived from models/collapse_spiral.mdl with the first N authorities
of models/generated/collapse_spiral_all_areas.mdl's `Area` range.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "tests" / "conformance" / "models"
CHILD = r"""
import functools, json, sys, time
t = time.process_time()
from carespiral.pysd_runner.batch import compile_model, numba_engine
if sys.argv[3] == "straight":  # the kernel as one statement per cell (before loops)
    numba_engine.generate_numba = functools.partial(numba_engine.generate_numba, loops=False)
bm = compile_model(sys.argv[1])
t_low = time.process_time() - t
ds = bm.run(engine=sys.argv[2])
print(json.dumps({"cpu": time.process_time() - t, "lower": t_low, "cells": len(bm.variables)}))
"""


def areas_of_generated() -> list[str]:
    text = (REPO / "models" / "generated" / "collapse_spiral_all_areas.mdl").read_text("utf-8")
    m = re.search(r"^Area\s*:\s*(.*?)~", text, re.S | re.M)
    assert m, "no Area range in the generated model"
    return [a.strip() for a in m.group(1).replace("\\\n", " ").split(",") if a.strip()]


def measure(mdl: Path, engine: str, timeout: float, kernel: str = "loops") -> dict:
    with tempfile.TemporaryDirectory(prefix="carespiral-cache-") as cache:
        env = {**os.environ, "CARESPIRAL_CACHE_DIR": cache}
        t = time.perf_counter()
        try:
            out = subprocess.run([sys.executable, "-c", CHILD, str(mdl), engine, kernel], env=env,
                                 capture_output=True, text=True, timeout=timeout, check=True)
        except subprocess.TimeoutExpired:
            return {"cpu": None, "wall": time.perf_counter() - t, "timeout": timeout}
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res["wall"] = time.perf_counter() - t
        return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=["subscripted_delays", "vector_order",
                                                    "vector_select"])
    ap.add_argument("--areas", nargs="*", type=int, default=[2, 5, 10])
    ap.add_argument("--engines", nargs="*", default=["numba"])
    ap.add_argument("--timeout", type=float, default=900.0, help="wall seconds per model")
    ap.add_argument("--kernels", nargs="*", default=["loops"], choices=["loops", "straight"],
                    help="numba kernels to time: loops over cells, or one statement per cell "
                    "(the former code)")
    args = ap.parse_args()
    from carespiral.pysd_runner.batch.all_areas import subscript_by_area

    targets: list[tuple[str, Path]] = []
    for name in args.models:
        targets.append((name, next((SUITE / name).glob("*.mdl"))))
    tmp = Path(tempfile.mkdtemp(prefix="carespiral-areas-"))
    single_path = REPO / "models" / "collapse_spiral.mdl"
    every = areas_of_generated()
    for n in args.areas:
        mdl = tmp / f"all_areas_{n}.mdl"
        mdl.write_text(subscript_by_area(single_path, every[:n]), encoding="utf-8")
        targets.append((f"all_areas_{n}", mdl))
    for name, mdl in targets:
        for eng in args.engines:
            kernels = args.kernels if eng == "numba" else ["loops"]
            for kernel in kernels:
                r = measure(mdl, eng, args.timeout, kernel)
                cpu = ("timed out" if r["cpu"] is None else f"{r['cpu']:.1f} CPU s")
                what = f"{eng} ({kernel})" if eng == "numba" else eng
                print(f"{name} ({r.get('cells', '?')} cells) {what}: first compile and run "
                      f"{cpu} (lowering {r.get('lower', float('nan')):.1f} s; wall "
                      f"{r['wall']:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
