"""How far a (calibrated) system sits from its collapse threshold.

For a lever or driver role (`compliance_burden`, `underlying_need`), run the calibrated model
with that constant raised by factors of its calibrated value and find the smallest factor at which
the run collapses by the end of the model's horizon, by the exploration's default collapse
criteria (caseload, vacancies, workforce drain, queue; `carespiral.exploration.criteria`). The
search is a grid then a refinement, each one model batch. The margin is that factor minus one:
0.25 means a quarter more compliance burden (or need) tips the fitted system into collapse.

`margin_columns(result, spec)` gives the margins of a calibration result as columns of the
table of every local authority (`calibrate_all(..., per_area=margin_columns)`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.exploration.criteria import classify, default_criteria, outputs_needed
from carespiral.pysd_runner.streams import run_on_streams

__all__ = ["MARGIN_ROLES", "collapse_margin", "margin_columns"]

MARGIN_ROLES = ("compliance_burden", "underlying_need")


def collapse_margin(model, values: dict[str, float], role: str, scenario=None,
                    points: int = 24, refine: int = 12, seed: int = 0) -> dict[str, float]:
    """Collapse threshold of `role` for a model with constants `values` set.

    Returns {"value": calibrated value, "threshold": value at collapse (NaN if none within the
    model's bounds), "margin": threshold / value - 1}. `seed`: of the model's RANDOM
    functions; every level tried draws the stream (seed, 0), so levels are compared on the
    same draws.
    """
    name = model.resolve(role)
    p = model.parameter(name)
    base = float(values.get(name, p.default))
    criteria = [c.bind(model) for c in default_criteria(model)]
    outs = outputs_needed(criteria)
    hi = p.upper if np.isfinite(p.upper) else 5 * base
    if base <= 0 or hi <= base:
        return {"value": base, "threshold": float("nan"), "margin": float("nan")}

    def collapsed(levels: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame({k: v for k, v in values.items() if k != name}, index=range(len(levels)))
        frame[name] = levels
        ds = run_on_streams(model, frame, np.zeros(len(frame), dtype=int), seed,
                            outputs=outs, scenario=scenario, backend="auto")
        return (classify(ds, criteria, frame)["regime"] == "collapse").to_numpy()

    grid = np.linspace(base, hi, points)
    hit = collapsed(grid)
    if hit[0]:
        return {"value": base, "threshold": base, "margin": 0.0}
    if not hit.any():
        return {"value": base, "threshold": float("nan"), "margin": float("nan")}
    k = int(np.argmax(hit))
    fine = np.linspace(grid[k - 1], grid[k], refine + 2)[1:]
    thr = float(fine[int(np.argmax(collapsed(fine)))])
    return {"value": base, "threshold": thr, "margin": thr / base - 1.0}


def margin_columns(result: Any, spec: Any) -> dict[str, Any]:
    """The margins to collapse of a calibration result, by `MARGIN_ROLES`, as table columns
    (`ROLE threshold`, `margin ROLE`; a `message` says why a margin is missing); the model's
    RANDOM functions draw with the calibration's seed."""
    from carespiral.pysd_runner import load

    model = load(spec.model_ref)
    fixed = result.manifest.get("fixed", {}) or {}
    values = {**{model.parameter(k).name: v for k, v in fixed.items()}, **result.values}
    row: dict[str, Any] = {}
    notes = []
    for role in MARGIN_ROLES:
        if role not in model.roles:
            continue
        try:
            m = collapse_margin(model, values, role, scenario=spec.scenario,
                                seed=int(getattr(result, "seed", 0)))
        except CarespiralError as exc:
            row[f"margin {role}"] = float("nan")
            notes.append(f"no margin for {role}: {exc}")
            continue
        row[f"{role} threshold"] = m["threshold"]
        row[f"margin {role}"] = m["margin"]
    if notes:
        row["message"] = "; ".join(notes)
    return row
