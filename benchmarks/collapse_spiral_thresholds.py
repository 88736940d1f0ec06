"""Collapse thresholds of the collapse-spiral model, found by bisection.

    python benchmarks/collapse_spiral_thresholds.py "Compliance Burden" 1 3
    python benchmarks/collapse_spiral_thresholds.py "Underlying Need" 0.0315 0.06

No shocks; the lever is held at the tried value from month 0 to 2040. Two criteria: the
backlog ends above twice its normal size, and the permanent workforce ends below half the
establishment. Bisection assumes each criterion switches once between the two bounds.
"""

from __future__ import annotations

import sys

from carespiral.pysd_runner import load

NORMAL_BACKLOG = 25_200.0
ESTABLISHMENT = 36_000.0


def main(name: str, lo: float, hi: float, steps: int = 12) -> None:
    model = load("collapse_spiral")

    def final(value: float):
        df = model.run(params={name: value}, saveper=12,
                       outputs=["Social Workers", "Awaiting Assessment"])
        return df.iloc[-1]

    criteria = {
        "backlog above twice normal by 2040": lambda v: final(v)["Awaiting Assessment"] > 2 * NORMAL_BACKLOG,
        "permanent workforce below half the establishment by 2040":
            lambda v: final(v)["Social Workers"] < 0.5 * ESTABLISHMENT,
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
