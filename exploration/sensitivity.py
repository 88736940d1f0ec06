"""Global sensitivity: Sobol indices (Saltelli design) and Morris screening, with SALib.

Run an exploration with `design = "saltelli"` (or `"morris"`), then ask which factors decide
collapse: `sobol(result)` / `morris(result)`. Outcomes are columns of the result's outcomes table;
`collapse` (0/1) gives the indices of collapse probability, and `time_to_collapse` counts runs that
never collapse as collapsing at the end of the run (censored), so it stays defined for every run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.exploration.experiments import ExperimentResult
from carespiral.results import Result

__all__ = ["ANALYSES", "Sensitivity", "analyse", "morris", "sobol", "sobol_indices"]


@dataclass
class Sensitivity(Result):
    """Indices per (outcome, factor): Sobol `S1`, `ST` (+ `_conf`) or Morris `mu_star`, `sigma`."""

    indices: pd.DataFrame
    method: str
    runs: int

    kind = "sensitivity"

    def to_frame(self) -> pd.DataFrame:
        return self.indices

    def top(self, outcome: str, n: int = 3) -> pd.DataFrame:
        key = "ST" if self.method == "sobol" else "mu_star"
        df = self.indices[self.indices["outcome"] == outcome]
        return df.sort_values(key, ascending=False).head(n)

    def summary(self) -> dict[str, Any]:
        key = "ST" if self.method == "sobol" else "mu_star"
        out: dict[str, Any] = {"method": self.method, "runs": self.runs}
        for outcome in self.indices["outcome"].unique():
            top = self.top(outcome)
            out[f"top {key} for {outcome}"] = {r.factor: float(getattr(r, key))
                                               for r in top.itertuples(index=False)}
        return out


def _outcome_values(result: ExperimentResult, name: str) -> np.ndarray:
    oc = result.outcomes
    if name == "collapse":
        return oc["collapse"].to_numpy(dtype=float)
    if name == "time_to_collapse":
        stop = result.settings.get("stop")
        end = float(stop) if stop is not None else float(np.nanmax(oc["collapse_time"].to_numpy()))
        return oc["collapse_time"].fillna(end).to_numpy(dtype=float)
    if name not in oc.columns:
        known = ["collapse", "time_to_collapse", *[c for c in oc.columns if oc[c].dtype.kind == "f"]]
        raise CarespiralError(f"unknown outcome {name!r}; available: {', '.join(known)}")
    return oc[name].to_numpy(dtype=float)


def _default_outcomes(result: ExperimentResult) -> list[str]:
    names = ["collapse", "time_to_collapse"]
    names += [c for c in result.outcomes.columns if c.startswith("peak_caseload")]
    return names


def _problem(factors: Sequence[dict]) -> dict[str, Any]:
    return {"num_vars": len(factors), "names": [f["name"] for f in factors],
            "bounds": [[f["lower"], f["upper"]] for f in factors]}


def sobol_indices(factors: Sequence[dict], y: np.ndarray, seed: int = 1) -> pd.DataFrame:
    """First-order and total Sobol indices of `y` from a Saltelli design (no second order)."""
    from SALib.analyze import sobol as salsobol

    y = np.asarray(y, dtype=float)
    if np.nanstd(y) == 0:
        z = np.zeros(len(factors))
        return pd.DataFrame({"factor": [f["name"] for f in factors], "S1": z, "S1_conf": z,
                             "ST": z, "ST_conf": z})
    res = salsobol.analyze(_problem(factors), y, calc_second_order=False, seed=seed)
    return pd.DataFrame({"factor": [f["name"] for f in factors], "S1": res["S1"],
                         "S1_conf": res["S1_conf"], "ST": res["ST"], "ST_conf": res["ST_conf"]})


def sobol(result: ExperimentResult, outcomes: Sequence[str] | None = None, seed: int = 1) -> Sensitivity:
    """Sobol indices of each outcome (default: collapse, time to collapse, peak caseload)."""
    if result.settings.get("design") != "saltelli":
        raise CarespiralError(
            "Sobol indices need an exploration run with design = \"saltelli\" in the spec "
            f"(this one used {result.settings.get('design')!r})"
        )
    if len(result.outcomes) != len(result.design):
        raise CarespiralError("the exploration is unfinished; resume it before computing indices")
    frames = []
    for name in outcomes or _default_outcomes(result):
        df = sobol_indices(result.factors, _outcome_values(result, name), seed=seed)
        df.insert(0, "outcome", name)
        frames.append(df)
    return Sensitivity(pd.concat(frames, ignore_index=True), "sobol", len(result.outcomes))


def morris(result: ExperimentResult, outcomes: Sequence[str] | None = None, seed: int = 1) -> Sensitivity:
    """Morris elementary effects (mu*, sigma) of each outcome: a cheap first screening."""
    from SALib.analyze import morris as salmorris

    if result.settings.get("design") != "morris":
        raise CarespiralError("Morris screening needs an exploration run with design = \"morris\"")
    x = result.design[[f["name"] for f in result.factors]].to_numpy(dtype=float)
    frames = []
    for name in outcomes or _default_outcomes(result):
        y = _outcome_values(result, name)
        res = salmorris.analyze(_problem(result.factors), x, y, num_levels=4, seed=seed)
        frames.append(pd.DataFrame({"outcome": name, "factor": res["names"], "mu_star": res["mu_star"],
                                    "mu_star_conf": res["mu_star_conf"], "sigma": res["sigma"]}))
    return Sensitivity(pd.concat(frames, ignore_index=True), "morris", len(result.outcomes))


ANALYSES: dict[str, Callable[..., Sensitivity]] = {"sobol": sobol, "morris": morris}


def analyse(result: ExperimentResult, outcomes: Sequence[str] | None = None,
            seed: int = 1) -> Sensitivity | None:
    """The sensitivity analysis the result's design was made for (Sobol indices for a Saltelli
    design, Morris screening for a Morris design); None for a design made for none."""
    from carespiral.exploration.designs import DESIGNS

    entry = DESIGNS.get(str(result.settings.get("design")))
    if entry is None or not entry.analysis:
        return None
    return ANALYSES[entry.analysis](result, outcomes, seed=seed)
