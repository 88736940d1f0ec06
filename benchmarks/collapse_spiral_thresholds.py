"""Collapse thresholds of the collapse-spiral model, found by bisection, and its margins.

    python benchmarks/collapse_spiral_thresholds.py "Compliance Burden" 1 3
    python benchmarks/collapse_spiral_thresholds.py "Underlying Need" 0.0325 0.06
    nice python benchmarks/collapse_spiral_thresholds.py --margins [FIT_FOLDER] [--folds]

`--margins`: how far from collapse the model sits, at the reference steady state (no shocks)
and at the calibrated history (the `baseline` scenario with the shipped defaults, and with the
estimates of a `carespiral calibrate national` result folder if given): the margin of
`carespiral.exploration.margin.collapse_margin` (the smallest rise of compliance burden or need
that meets the default collapse criteria by 2040), when the undisturbed run collapses, and the
effective compliance load (Compliance Burden x Procedural Burden) and inspection pressure in
2019 and 2023; then the baseline with each unidentified part of the ratchet changed in turn.
`--folds` adds the continuation's fold in compliance burden with and without the ratchets
(minutes each). The table goes to benchmarks/collapse_spiral_margins.csv.

No shocks (the defaults: History off); the lever is held at the tried value from month 0 to
2040. Two criteria: the backlog ends above twice its normal size, and the permanent workforce
ends below 70% of the funded establishment (a collapsed service keeps a workforce, as failing
authorities do: the worst authority-year on record had 38% of England's posts per child in
post). Bisection assumes each criterion switches once between the two bounds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from carespiral.exploration.criteria import classify, default_criteria, outputs_needed
from carespiral.exploration.margin import collapse_margin
from carespiral.exploration.tipping import continuation
from carespiral.pysd_runner import load

STATE = ["Compliance Multiplier", "Inspection Pressure", "Procedural Burden", "Risk Aversion",
         "Help Quality"]
# the baseline with one unidentified part of the ratchet changed (docs/models/collapse_spiral.md)
VARIANTS = {
    # without the ratchet the load never moves, so by the reference's definition (burden 1 is
    # the 2013-2019 load) procedure starts at the reference, not at the derived pre-2008 level
    "no procedure ratchet (Procedure Growth Rate 0)": {"Procedure Growth Rate": 0.0,
                                                       "Procedural Burden before 2008": 1.0},
    "procedure lapses in 5 years (Procedure Decay Time 60)": {"Procedure Decay Time": 60.0},
    "the 2023 reforms act (Reforms 2023 Size 1)": {"Reforms 2023 Size": 1.0},
    "ILACS back to the pre-2009 stringency (ILACS Stringency -0.2)": {"ILACS Stringency": -0.2},
}
RATCHETS_OFF = {"Procedure Growth Rate": 0.0, "Scrutiny Risk Rate": 0.0,
                "Incident Risk Impact": 0.0}


def main(name: str, lo: float, hi: float, steps: int = 12) -> None:
    model = load("collapse_spiral")
    children = model.parameter("Child Population").default
    normal_backlog = children * model.parameter("Reference Backlog per Child").default

    def final(value: float):  # the batch backend gives PySD's numbers (tests/batch), faster
        ds = model.run_batch(pd.DataFrame({name: [value]}), saveper=12, engine="numpy",
                             outputs=["Social Workers", "Awaiting Assessment",
                                      "Funded Establishment"])
        return ds.isel(run=0, time=-1)

    criteria = {
        "backlog above twice normal by 2040":
            lambda v: float(final(v)["Awaiting Assessment"]) > 2 * normal_backlog,
        "permanent workforce below 70% of the establishment by 2040":
            lambda v: (lambda r: float(r["Social Workers"])
                       < 0.7 * float(r["Funded Establishment"]))(final(v)),
    }
    for label, crossed in criteria.items():
        a, b = lo, hi
        if crossed(a) or not crossed(b):
            print(f"{name}: {label}: not bracketed by [{lo:g}, {hi:g}]")
            continue
        for _ in range(steps):
            mid = (a + b) / 2
            a, b = (a, mid) if crossed(mid) else (mid, b)
        print(f"{name}: {label} from {b:.4g} (default {model.parameter(name).default:g})")


def _state(model, rows: list[dict], scenario: str | None) -> pd.DataFrame:
    """Regime by 2040 (default criteria), collapse month, and the ratchet's state in 2019/2023."""
    criteria = [c.bind(model) for c in default_criteria(model)]
    frame = pd.DataFrame(rows, index=range(len(rows)))
    ds = model.run_batch(frame if len(frame.columns) else None, scenario=scenario, saveper=12,
                         outputs=outputs_needed(criteria) + STATE)
    if not len(frame.columns):
        frame = pd.DataFrame(index=range(len(rows)))
    out = classify(ds, criteria, frame)[["regime", "collapse_time"]].reset_index(drop=True)
    for year, month in ((2019, 168), (2023, 216)):
        for var in ("Compliance Multiplier", "Inspection Pressure", "Help Quality"):
            out[f"{var} {year}"] = ds[var].sel(time=month).to_numpy()
    return out


def margins(fit: Path | None, folds: bool) -> None:
    model = load("collapse_spiral")
    states: dict[str, tuple[dict, str | None]] = {
        "reference (no shocks, defaults)": ({}, None),
        "history (baseline, defaults)": ({}, "baseline"),
    }
    if fit is not None:
        est = pd.read_csv(fit / "parameters.csv").set_index("parameter")["estimate"]
        states[f"history (baseline, fit {fit.name})"] = (est.to_dict(), "baseline")
    for label, changed in VARIANTS.items():
        states[f"history (baseline, defaults), {label}"] = (changed, "baseline")
    rows = []
    for label, (values, scenario) in states.items():
        row = {"state": label} | _state(model, [values], scenario).iloc[0].to_dict()
        for role in ("compliance_burden", "underlying_need"):
            m = collapse_margin(model, values, role, scenario=scenario)
            row[f"margin {role}"] = m["margin"]
        rows.append(row)
    if folds:
        for label, values in (("reference, with the ratchets", {}),
                              ("reference, ratchets off", RATCHETS_OFF)):
            # start below the default: near the fold (1.02 with the plans-started fit) the
            # reference run settles too slowly for the continuation to take it as a start
            b = continuation(model, "Compliance Burden", 0.85, 1.6, params=values, start=0.9)
            upper = b.folds[(b.folds["kind"] == "fold") & (b.folds["direction"] == "upper")]
            rows.append({"state": f"fold in compliance burden: {label}",
                         "fold": float(upper["param"].iloc[0]) if len(upper) else np.nan})
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    table.to_csv(Path(__file__).parent / "collapse_spiral_margins.csv", index=False)


if __name__ == "__main__":
    if sys.argv[1] == "--margins":
        rest = [a for a in sys.argv[2:] if a != "--folds"]
        margins(Path(rest[0]) if rest else None, "--folds" in sys.argv)
    else:
        main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
