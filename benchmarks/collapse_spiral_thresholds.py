"""Collapse thresholds of the collapse-spiral model, found by bisection.

    python benchmarks/collapse_spiral_thresholds.py "Compliance Burden" 1 3
    python benchmarks/collapse_spiral_thresholds.py "Underlying Need" 0.0325 0.06

No shocks (the defaults: History off); the lever is held at the tried value from month 0 to
2040. Two criteria: the backlog ends above twice its normal size, and the permanent workforce
ends below 70% of the funded establishment (a collapsed service keeps a workforce, as failing
authorities do: the worst authority-year on record had 38% of England's posts per child in
post). Bisection assumes each criterion switches once between the two bounds.
"""

from __future__ import annotations

import sys

import pandas as pd

from carespiral.pysd_runner import load


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


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
