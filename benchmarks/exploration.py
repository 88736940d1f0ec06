"""Exploration throughput: experiments through the vectorised backend versus the PySD loop.

    python benchmarks/exploration.py [MODEL] [RUNS]

Runs the same Latin hypercube chunk (default collapse_spiral, 64 runs, 240 months, the default
collapse criteria and outcomes) through `exploration.experiments.evaluate` twice: with the batch
backend, and with `Model.run_batch` (one PySD run per row, on the first 8 rows only). Prints
seconds per run of each and their ratio, measured in one run on one machine, and checks that
how far the two differ on the shared rows.
"""

from __future__ import annotations

import sys
import time


def main(model_name: str = "collapse_spiral", runs: int = 64) -> None:
    from carespiral.exploration import backend
    from carespiral.exploration.experiments import build_design, evaluate
    from carespiral.exploration.spec import spec_from_dict
    from carespiral.pysd_runner import load

    model = load(model_name)
    roles = model.levers or model.drivers
    name = next(iter(roles.values()))
    par = model.parameter(name)
    lo, hi = par.default * 0.8, par.default * 1.2
    spec = spec_from_dict({"model": model_name, "runs": runs, "stop": 240, "seed": 1,
                           "uncertainties": {name: [lo, hi]}}).bind(model)
    design, _ = build_design(spec, model)
    evaluate(model, spec, design.iloc[:2])  # compile once, outside the timing
    t = time.perf_counter()
    fast = evaluate(model, spec, design)
    per_fast = (time.perf_counter() - t) / len(design)
    backend._COMPILED[str(model.mdl_path)] = None  # force the PySD loop
    few = design.iloc[:8]
    t = time.perf_counter()
    slow = evaluate(model, spec, few)
    per_slow = (time.perf_counter() - t) / len(few)
    del backend._COMPILED[str(model.mdl_path)]
    num = slow.select_dtypes("number").columns
    rel = ((fast.loc[few.index, num] - slow[num]).abs() / slow[num].abs().clip(lower=1e-12)).max().max()
    same_regime = (fast.loc[few.index, "regime"] == slow["regime"]).all()
    print(f"{model_name}: {per_fast * 1000:.1f} ms a run batched ({len(design)} runs), "
          f"{per_slow * 1000:.1f} ms a run with the PySD loop; ratio {per_slow / per_fast:.1f}x; "
          f"largest relative difference {rel:.2g}, same regimes: {same_regime}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0] if args else "collapse_spiral", int(args[1]) if len(args) > 1 else 64)
