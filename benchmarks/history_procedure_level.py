"""The pre-2008 procedural level at which the calibrated history's compliance load averages 1.

    python benchmarks/history_procedure_level.py [FIT_FOLDER]

`Compliance Burden` 1 is, by the model's definition, the 2013-2019 reference load, and the
recording constants describe that load. With `History` on, the procedure ratchet integrates the
inspection pressure of the 2009 regime, so the history's effective load (`Compliance
Multiplier`, burden x procedural burden) in those years depends on where procedure started.
No published series measures recording time, so that start (`Procedural Burden before 2008`)
cannot be fitted; it is derived here as the level at which the `baseline` run's load averages 1
over the reporting years 2012-13 to 2018-19 (model months 84 to 167, monthly values) with the
model's defaults (or, given a `carespiral calibrate national` result folder, with its
estimates). The run's load rises almost one for one with the start (the ratchet adds the same
procedure above any floor), so one batch over a grid brackets the root and a few secant steps
settle it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.pysd_runner import load

NAME = "Procedural Burden before 2008"
FIRST, LAST = 84, 167  # April 2012 to March 2019: reporting years 2012-13 to 2018-19


def mean_load(model, params: dict[str, float], levels: np.ndarray) -> np.ndarray:
    """The baseline's mean Compliance Multiplier over the reference years, per start level."""
    frame = pd.DataFrame([params | {NAME: float(x)} for x in levels])
    ds = model.run_batch(frame, scenario="baseline", saveper=1, engine="numpy",
                         outputs=["Compliance Multiplier"])
    load_ = ds["Compliance Multiplier"]
    window = load_.sel(time=slice(FIRST, LAST))
    assert window.sizes["time"] == LAST - FIRST + 1, "monthly output expected"
    return window.mean("time").to_numpy()


def solve(params: dict[str, float], tol: float = 1e-4) -> tuple[float, float]:
    model = load("collapse_spiral")
    grid = np.linspace(0.6, 1.2, 13)
    gap = mean_load(model, params, grid) - 1.0
    if not (gap[0] < 0 < gap[-1]):
        raise SystemExit(f"{NAME}: the mean load is not bracketed by {grid[0]}..{grid[-1]}: "
                         f"{gap[0] + 1:.3f}..{gap[-1] + 1:.3f}")
    i = int(np.argmax(gap > 0))
    a, b, fa, fb = grid[i - 1], grid[i], gap[i - 1], gap[i]
    for _ in range(20):
        x = b - fb * (b - a) / (fb - fa)
        fx = float(mean_load(model, params, np.array([x]))[0] - 1.0)
        if abs(fx) < tol:
            return x, fx + 1.0
        a, fa, b, fb = b, fb, x, fx
    raise SystemExit(f"{NAME}: no convergence (last {x:.4f}, mean load {fx + 1:.4f})")


def main(argv: list[str]) -> None:
    params: dict[str, float] = {}
    if argv:
        est = pd.read_csv(Path(argv[0]) / "parameters.csv").set_index("parameter")["estimate"]
        params = {k: float(v) for k, v in est.items() if k != NAME}
    x, achieved = solve(params)
    source = f"the estimates of {argv[0]}" if argv else "the model's defaults"
    print(f"{NAME} = {x:.4f}: the baseline's Compliance Multiplier averages {achieved:.4f} over "
          f"months {FIRST}-{LAST} (reporting years 2012-13 to 2018-19) with {source}")


if __name__ == "__main__":
    main(sys.argv[1:])
