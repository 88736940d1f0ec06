"""Sampling designs: where an exploration's runs sit in the space of its factors.

One registry entry per design (`DESIGNS`): its name, the function that places the runs, whether
its analysis needs independent uniform ranges (then posterior draws cannot replace a factor),
and the sensitivity analysis it is made for. A design function takes the factors' names and
ranges, the number of runs asked for and a seed, and returns the points (runs x factors) with
facts about the design (e.g. Saltelli's base sample size). A new design is a function here and
one entry in `DESIGNS`.

    >>> x = sample_ranges({"a": (0.0, 1.0), "b": (10.0, 20.0)}, 4, seed=1)
    >>> x.shape, bool(((x["b"] >= 10) & (x["b"] <= 20)).all())
    ((4, 2), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carespiral.errors import CarespiralError, UnknownNameError

__all__ = ["DESIGNS", "Design", "get_design", "latin_hypercube", "sample_ranges"]

Sampler = Callable[[Sequence[str], np.ndarray, np.ndarray, int, int],
                   tuple[np.ndarray, dict[str, Any]]]


@dataclass(frozen=True)
class Design:
    """A design's registry entry (see the module docstring)."""

    name: str
    sample: Sampler
    independent: bool = False  # its analysis needs independent uniform ranges
    analysis: str = ""  # the sensitivity analysis it is made for (`sensitivity.ANALYSES`)
    summary: str = ""


def latin_hypercube(lower: np.ndarray, upper: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`n` Latin-hypercube points between `lower` and `upper` (one stratum per run per factor)."""
    from scipy.stats import qmc

    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    unit = qmc.LatinHypercube(d=max(len(lo), 1), seed=seed).random(n)[:, :len(lo)]
    return lo + unit * (hi - lo)


def _lhs(names: Sequence[str], lo: np.ndarray, hi: np.ndarray, runs: int,
         seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    return latin_hypercube(lo, hi, runs, seed), {}


def _sobol(names: Sequence[str], lo: np.ndarray, hi: np.ndarray, runs: int,
           seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    from scipy.stats import qmc

    m = max(0, math.ceil(math.log2(runs)))  # a power of two keeps the sequence balanced
    unit = qmc.Sobol(d=max(len(lo), 1), scramble=True, seed=seed).random_base2(m)[:, :len(lo)]
    return lo + unit * (hi - lo), {}


def _salib_problem(names: Sequence[str], lo: np.ndarray, hi: np.ndarray) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names),
            "bounds": [[float(a), float(b)] for a, b in zip(lo, hi, strict=True)]}


def _saltelli(names: Sequence[str], lo: np.ndarray, hi: np.ndarray, runs: int,
              seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    from SALib.sample import sobol as salsobol

    d = len(names)
    if runs < 8 * (d + 2):  # fewer base samples give total indices far outside [0, 1]
        raise CarespiralError(f"a Saltelli design for {d} factors needs at least {8 * (d + 2)} "
                              f"runs (8 base samples x (factors + 2)), got {runs}; Sobol "
                              "indices settle only with hundreds of base samples")
    # Total runs are base_n * (d + 2) without second-order indices; base_n a power of two.
    base = 2 ** max(1, math.ceil(math.log2(max(runs / (d + 2), 2))))
    x = salsobol.sample(_salib_problem(names, lo, hi), base, calc_second_order=False, seed=seed)
    return x, {"base_n": base}


def _morris(names: Sequence[str], lo: np.ndarray, hi: np.ndarray, runs: int,
            seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    from SALib.sample import morris

    traj = max(2, runs // (len(names) + 1))
    x = morris.sample(_salib_problem(names, lo, hi), traj, num_levels=4, seed=seed)
    return x, {"trajectories": traj}


DESIGNS: dict[str, Design] = {d.name: d for d in (
    Design("lhs", _lhs, summary="Latin hypercube: every factor's range cut into one stratum "
           "per run"),
    Design("sobol", _sobol, summary="scrambled Sobol sequence (runs rounded up to a power of "
           "two)"),
    Design("saltelli", _saltelli, independent=True, analysis="sobol",
           summary="Saltelli's design for first-order and total Sobol indices"),
    Design("morris", _morris, independent=True, analysis="morris",
           summary="Morris trajectories for elementary-effects screening"),
)}


def get_design(name: str) -> Design:
    """A design's registry entry by name."""
    if name not in DESIGNS:
        raise UnknownNameError("design", name, DESIGNS, hint="designs: " + ", ".join(DESIGNS))
    return DESIGNS[name]


def sample_ranges(ranges: Mapping[str, tuple[float, float]], runs: int, seed: int,
                  design: str = "lhs") -> pd.DataFrame:
    """Points of a design over named ranges, one column per name."""
    names = list(ranges)
    lo = np.array([r[0] for r in ranges.values()], dtype=float)
    hi = np.array([r[1] for r in ranges.values()], dtype=float)
    x, _ = get_design(design).sample(names, lo, hi, runs, seed)
    return pd.DataFrame(x, columns=names)
