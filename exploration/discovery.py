"""Scenario discovery: which combinations of uncertainties and levers lead to collapse.

PRIM (the `PRIM` package, the standalone version of the EMA Workbench implementation) peels the
input space towards the runs that collapsed. Its peeling trajectory trades coverage (share of all
collapses inside the box) against density (share of the box's runs that collapse). We choose the
box with the highest coverage among those whose density reaches `min_density` (default 0.8: four
in five runs inside the box collapse), else the densest box. Each restricted dimension carries a
quasi-p value (one-sided binomial test of dropping that restriction; Bryant and Lempert 2010).

CART (scikit-learn's decision tree) is a second view: a shallow tree whose leaves are boxes too,
with their collapse share and size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError
from carespiral.exploration.experiments import ExperimentResult
from carespiral.results import Result

__all__ = ["Discovery", "cart_leaves", "discover", "prim_box"]


@dataclass
class Discovery(Result):
    """The PRIM peeling `trajectory`, the chosen `box` (one row per input) and CART `leaves`."""

    trajectory: pd.DataFrame  # coverage, density, mass, res_dim, chosen
    box: pd.DataFrame  # factor, lower, upper, restricted, qp_value, range_lower, range_upper
    leaves: pd.DataFrame  # rule, runs, collapse_share, coverage
    chosen: int
    coverage: float
    density: float
    mass: float
    cases: int
    runs: int

    kind = "discovery"

    def to_frame(self) -> pd.DataFrame:
        return self.box

    @property
    def restricted(self) -> pd.DataFrame:
        return self.box[self.box["restricted"]]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"runs": self.runs, "cases_of_interest": self.cases,
                               "coverage": self.coverage, "density": self.density,
                               "mass": self.mass}
        for r in self.restricted.itertuples(index=False):
            out[r.factor] = f"[{r.lower:.4g}, {r.upper:.4g}] (qp {r.qp_value:.2g})"
        return out


def prim_box(
    x: pd.DataFrame,
    y: np.ndarray | pd.Series,
    min_density: float = 0.8,
    peel_alpha: float = 0.05,
    mass_min: float = 0.05,
) -> Discovery:
    """Run PRIM on inputs `x` (one column per factor) and boolean cases of interest `y`."""
    import prim

    y = np.asarray(y, dtype=bool)
    if len(y) != len(x):
        raise CarespiralError(f"PRIM: {len(x)} input rows but {len(y)} outcomes")
    n_coi = int(y.sum())
    if n_coi == 0 or n_coi == len(y):
        raise CarespiralError(
            f"PRIM needs runs of both kinds; {n_coi} of {len(y)} runs are cases of interest "
            "(widen the ranges or change the collapse criteria)"
        )
    xf = x.reset_index(drop=True).astype(float)
    p = prim.Prim(xf, y.astype(int), threshold=0.5, threshold_type=">",
                  peel_alpha=peel_alpha, mass_min=mass_min)
    box = p.find_box()
    traj = box.peeling_trajectory.reset_index(drop=True).astype(float)
    traj = traj.rename(columns={"res dim": "res_dim"})
    ok = traj.index[traj["density"] >= min_density]
    chosen = int(traj.loc[ok, "coverage"].idxmax()) if len(ok) else int(traj["density"].idxmax())
    box.select(chosen)
    lims = box.limits  # restricted dimensions, with quasi-p values
    full = box._box_lims[0]
    cur = box._box_lims[chosen]
    rows = []
    for name in xf.columns:
        lo, hi = float(cur[name][0]), float(cur[name][1])
        restricted = name in lims.index
        rows.append({"factor": name, "lower": lo, "upper": hi, "restricted": restricted,
                     "qp_value": float(lims.loc[name, "qp values"]) if restricted else np.nan,
                     "range_lower": float(full[name][0]), "range_upper": float(full[name][1])})
    traj["chosen"] = traj.index == chosen
    st = traj.loc[chosen]
    return Discovery(
        trajectory=traj, box=pd.DataFrame(rows), leaves=pd.DataFrame(), chosen=chosen,
        coverage=float(st["coverage"]), density=float(st["density"]), mass=float(st["mass"]),
        cases=n_coi, runs=len(y),
    )


def cart_leaves(x: pd.DataFrame, y: np.ndarray, max_depth: int = 3, seed: int = 1) -> pd.DataFrame:
    """Leaves of a shallow classification tree as boxes: rule, runs, collapse share, coverage."""
    from sklearn.tree import DecisionTreeClassifier

    y = np.asarray(y, dtype=bool)
    leaf_min = max(5, len(y) // 50)
    tree = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=leaf_min, random_state=seed)
    tree.fit(x.to_numpy(dtype=float), y)
    t = tree.tree_
    names = list(x.columns)
    rows = []

    def walk(node: int, rule: list[str]) -> None:
        if t.children_left[node] == -1:
            members = tree.apply(x.to_numpy(dtype=float)) == node
            n = int(members.sum())
            rows.append({"rule": " and ".join(rule) or "(all runs)", "runs": n,
                         "collapse_share": float(y[members].mean()) if n else np.nan,
                         "coverage": float(y[members].sum() / max(y.sum(), 1))})
            return
        f, thr = names[t.feature[node]], float(t.threshold[node])
        walk(int(t.children_left[node]), [*rule, f"{f} <= {thr:.4g}"])
        walk(int(t.children_right[node]), [*rule, f"{f} > {thr:.4g}"])

    walk(0, [])
    return pd.DataFrame(rows).sort_values("collapse_share", ascending=False, ignore_index=True)


def discover(result: ExperimentResult, min_density: float = 0.8, cart: bool = True) -> Discovery:
    """PRIM (and CART) for collapse over an exploration's factors."""
    names = [f["name"] for f in result.factors]
    names += [c for c in result.design.columns if c not in names]  # posterior-drawn parameters
    x = result.design.loc[result.outcomes.index, names]
    y = result.outcomes["collapse"].to_numpy(dtype=bool)
    found = prim_box(x, y, min_density=min_density)
    if cart:
        found.leaves = cart_leaves(x, y)
    return found
